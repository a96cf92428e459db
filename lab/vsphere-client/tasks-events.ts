// Recent Tasks and a VM's Monitor → Events, read from vCenter through vim25 with the user's own session, the way the
// vSphere Client reads them: a PropertyCollector over TaskManager.recentTask, and an EventHistoryCollector filtered to
// the VM. So the lab shows what an administrator would see of the connector's tasks and events.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { entityEvents, recentTasks } from '../../connector/vsphere/tasks-events.ts';
import type { RecentTaskDto, VmEventDto } from './api-types.ts';
import type { UiSession } from './sessions.ts';

/** Task type labels of the registered extensions (resource module "task", key "<taskTypeId>.label"), read once. */
async function taskLabels(s: UiSession, extensionKeys: readonly string[], cache: Map<string, string>): Promise<Map<string, string>> {
  if (cache.size) return cache;
  for (const key of extensionKeys) {
    const ext = await s.vim.findExtension(key).catch(() => null);
    for (const r of ext?.resources ?? []) {
      if (r.module !== 'task') continue;
      for (const [k, v] of Object.entries(r.data)) if (k.endsWith('.label')) cache.set(k.slice(0, -'.label'.length), v);
    }
  }
  return cache;
}

export function registerTasksEvents(
  app: FastifyInstance,
  deps: {
    requireSession(request: FastifyRequest, reply: FastifyReply): UiSession | undefined;
    failed(reply: FastifyReply, s: UiSession, err: unknown): Promise<FastifyReply>;
    /** The registered plug-ins' extension keys. */
    extensionKeys(): readonly string[];
  },
): void {
  const labels = new Map<string, string>();
  app.get('/ui/api/recent-tasks', async (request, reply) => {
    const s = deps.requireSession(request, reply);
    if (!s) return reply;
    try {
      const names = await taskLabels(s, deps.extensionKeys(), labels);
      const tasks: RecentTaskDto[] = (await recentTasks(s.vim)).slice(0, 50).map((t) => ({
        key: t.task.value,
        name: names.get(t.descriptionId) ?? t.descriptionId,
        target: t.entityName ?? t.entity?.value ?? '',
        state: t.state,
        ...(t.progress !== undefined ? { progress: t.progress } : {}),
        ...(t.error ? { error: t.error } : {}),
        initiator: t.initiatedBy ?? '',
        ...(t.queueTime ? { queued: t.queueTime } : {}),
        ...(t.startTime ? { started: t.startTime } : {}),
        ...(t.completeTime ? { completed: t.completeTime } : {}),
      }));
      return { tasks };
    } catch (err) {
      return deps.failed(reply, s, err);
    }
  });

  app.get<{ Params: { id: string } }>('/ui/api/vms/:id/events', async (request, reply) => {
    const s = deps.requireSession(request, reply);
    if (!s) return reply;
    try {
      const events: VmEventDto[] = (await entityEvents(s.vim, { type: 'VirtualMachine', value: request.params.id })).map((e) => ({
        key: e.key,
        description: e.message,
        type: e.severity === 'error' ? 'Error' : e.severity === 'warning' ? 'Warning' : 'Information',
        ...(e.eventTypeId ? { eventTypeId: e.eventTypeId } : {}),
        time: e.createdTime,
        user: e.userName,
      }));
      return { events };
    } catch (err) {
      return deps.failed(reply, s, err);
    }
  });
}
