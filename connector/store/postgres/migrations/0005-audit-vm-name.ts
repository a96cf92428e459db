import type { PgMigration } from './types.ts';

/** The audit log names the VM as well as its id. */
export const auditVmName: PgMigration = {
  version: 5,
  name: 'audit entries record the VM name',
  async up(db) {
    await db.query('ALTER TABLE audit_log ADD COLUMN vm_name TEXT');
  },
};
