import type { SqliteMigration } from './types.ts';

/** The audit log names the VM as well as its id (ids like vm-52 mean nothing to a reader); older entries keep only the id. */
export const auditVmName: SqliteMigration = {
  version: 5,
  name: 'audit entries record the VM name',
  up(db) {
    db.exec('ALTER TABLE audit_log ADD COLUMN vm_name TEXT;');
  },
};
