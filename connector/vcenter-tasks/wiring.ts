// Builds the vCenter reporter from the engine's pieces: its vCenter sessions, and the task stores that keep each
// task's vCenter task (so a restarted connector updates the same one).
import type { EngineVcenterSessions } from '../engine/factory.ts';
import type { ExportTaskRepository, MigrationTaskRepository } from '../engine/task-store.ts';
import { VcenterReporter } from './reporter.ts';

export function createVcenterReporter(deps: {
  sessions: EngineVcenterSessions;
  migrations: MigrationTaskRepository;
  exports?: ExportTaskRepository | undefined;
  log: (msg: string) => void;
}): VcenterReporter {
  return new VcenterReporter({
    session: (_kind, taskId) => deps.sessions.reporting(taskId),
    hold: (taskId, work) => deps.sessions.hold(taskId, work),
    remember: (kind, taskId, moRef) => (kind === 'migration' ? deps.migrations.setVcenterTask(taskId, moRef) : deps.exports?.setVcenterTask(taskId, moRef)),
    // Exports are rare: the completed migration that launched the instance is looked up when one starts.
    sourceVm: async (instanceId) => {
      const m = (await deps.migrations.byStates(['completed'])).find((t) => t.instanceId === instanceId);
      return m ? { vmId: m.vmId, ...(m.vmName ? { vmName: m.vmName } : {}) } : undefined;
    },
    log: deps.log,
  });
}
