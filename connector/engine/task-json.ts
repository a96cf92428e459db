// The bodies of the two routes every open portal tab polls. Most tasks on a page have ended and their view no longer
// changes, so their JSON is kept with the stored record the repository shares (the same object while the row is
// unchanged), and a page of only such tasks is kept as bytes until the table changes (docs/benchmarks.md).
import type { MigrationTask } from '../contract/index.ts';
import type { MigrationRecord } from './types.ts';
import { viewIsSettled } from './task-view.ts';
import { viewChangesAt } from './rollback.ts';

/** JSON of settled tasks, by shared stored record, until the clock changes the view (a rollback window closing). */
const settledJson = new WeakMap<MigrationRecord, { text: string; until: number }>();
/** Bodies of list pages whose tasks are all settled, by the page object the repository keeps until the table changes. */
const pageBodies = new WeakMap<object, { body: Buffer; until: number }>();

/** What the engine lends to serialise its tasks. */
export interface TaskJsonSource {
  /** The in-memory record of a running or parked task (newer than the stored one). */
  live(id: string): MigrationRecord | undefined;
  view(t: MigrationRecord): MigrationTask;
}

/**
 * The task's view as JSON. `shared`: `stored` is a record the repository shares and nobody mutates (list pages,
 * peek()), so the text of a settled one can be kept with it.
 */
export function taskJson(stored: MigrationRecord, src: TaskJsonSource, shared: boolean): string {
  const live = src.live(stored.id);
  if (live || !shared || !viewIsSettled(stored)) return JSON.stringify(src.view(live ?? stored));
  const kept = settledJson.get(stored);
  if (kept && Date.now() < kept.until) return kept.text;
  const text = JSON.stringify(src.view(stored));
  settledJson.set(stored, { text, until: viewChangesAt(stored) });
  return text;
}

/** A MigrationList body from a page of the repository's list() (its records are shared). */
export function pageJson(page: { items: readonly MigrationRecord[]; total: number }, src: TaskJsonSource): Buffer {
  const kept = pageBodies.get(page);
  if (kept && Date.now() < kept.until) return kept.body;
  const body = Buffer.from(`{"items":[${page.items.map((t) => taskJson(t, src, true)).join(',')}],"total":${page.total}}`);
  if (page.items.every((t) => viewIsSettled(t) && !src.live(t.id))) pageBodies.set(page, { body, until: Math.min(...page.items.map((t) => viewChangesAt(t))) });
  return body;
}
