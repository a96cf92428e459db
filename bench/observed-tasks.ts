// The task store as the benchmarks watch it from outside the engine: unchanged, reporting every write as it happens.
import type { MigrationState } from '../connector/contract/index.ts';
import type { RollbackRecord } from '../connector/engine/rollback.ts';
import type { MigrationTaskRepository, TaskFilter } from '../connector/engine/task-store.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';

/** The task store, unchanged, calling `onWrite` with every record written (after the write). */
export class ObservedTasks implements MigrationTaskRepository {
  constructor(
    private readonly inner: MigrationTaskRepository,
    private readonly onWrite: (t: MigrationRecord) => void,
  ) {}
  async insert(task: MigrationRecord): Promise<MigrationRecord> {
    const rec = await this.inner.insert(task);
    this.onWrite(rec);
    return rec;
  }
  async save(task: MigrationRecord): Promise<boolean> {
    const ok = await this.inner.save(task);
    this.onWrite(task);
    return ok;
  }
  get(id: string): Promise<MigrationRecord | undefined> {
    return this.inner.get(id);
  }
  list(filter: TaskFilter): Promise<{ items: MigrationRecord[]; total: number }> {
    return this.inner.list(filter);
  }
  byStates(states: readonly MigrationState[]): Promise<MigrationRecord[]> {
    return this.inner.byStates(states);
  }
  setVcenterTask(id: string, moRef: string): Promise<void> {
    return this.inner.setVcenterTask(id, moRef);
  }
  claimRollback(id: string, mark: RollbackRecord): Promise<boolean> {
    return this.inner.claimRollback(id, mark);
  }
  setRollback(id: string, mark: RollbackRecord): Promise<void> {
    return this.inner.setRollback(id, mark);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
