// Who else hears about a task's life: vCenter (Recent Tasks, events, custom attributes) and notification targets.
// The engines call every observer after each persisted save, so what an observer sees is always what the store holds.
import type { MigrationPhase, MigrationState } from '../contract/index.ts';
import type { ExportRecord } from './task-store.ts';
import type { MigrationRecord } from './types.ts';

/** The task as it was before this save; undefined when the save created it. */
export interface MigrationBefore {
  state: MigrationState;
  phase: MigrationPhase;
}
export interface ExportBefore {
  state: ExportRecord['state'];
}

/**
 * An observer must return at once and never throw into the engine: it queues its own work and records its own
 * failures. Throttled progress saves are observed too (at most one per progressSaveMs per task).
 */
export interface TaskObserver {
  migrationSaved?(task: Readonly<MigrationRecord>, before: MigrationBefore | undefined): void;
  exportSaved?(task: Readonly<ExportRecord>, before: ExportBefore | undefined): void;
}
