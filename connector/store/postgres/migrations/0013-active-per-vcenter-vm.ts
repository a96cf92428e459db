import type { PgMigration } from './types.ts';

/** Issue 14: one active task per (vCenter, target), VM IDs being unique only within a vCenter (see the SQLite step). */
export const activePerVcenterVm: PgMigration = {
  version: 13,
  name: 'one active task per vCenter and target',
  async up(db) {
    await db.query(`
      DROP INDEX engine_tasks_one_active_per_target;
      CREATE UNIQUE INDEX engine_tasks_one_active_per_target ON engine_tasks (kind, vcenter_id, active_target) WHERE active_target IS NOT NULL;
    `);
  },
};
