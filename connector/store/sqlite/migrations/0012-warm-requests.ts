import type { SqliteMigration } from './types.ts';

/**
 * Issue 14: warm actions (Launch test instance, Finish test, Cut over) asked on a connector that does not run the task.
 * `warm_requests` holds them for the task's owner, which carries them out at its next poll: a JSON object with at most
 * one entry per action ({"launchTest": {"id","by","at","subnetId"}, ...}), so duplicates asked at once collapse into one.
 */
export const warmRequests: SqliteMigration = {
  version: 12,
  name: 'warm requests for the task owner',
  up(db) {
    db.exec(`ALTER TABLE engine_tasks ADD COLUMN warm_requests TEXT;`);
  },
};
