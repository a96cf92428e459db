import type { SqliteMigration } from './types.ts';

/**
 * Issue 14: VM IDs are only unique within a vCenter (vm-NNN in each), so "one active migration per VM" is per
 * (vCenter, VM). The one-active-task-per-target index of step 0004 is rebuilt with `vcenter_id` (step 0010); tasks
 * without a vCenter ('': exports, single-connector tasks) keep one holder per target as before.
 */
export const activePerVcenterVm: SqliteMigration = {
  version: 13,
  name: 'one active task per vCenter and target',
  up(db) {
    db.exec(`
      DROP INDEX engine_tasks_one_active_per_target;
      CREATE UNIQUE INDEX engine_tasks_one_active_per_target ON engine_tasks (kind, vcenter_id, active_target) WHERE active_target IS NOT NULL;
    `);
  },
};
