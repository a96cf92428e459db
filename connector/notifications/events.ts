// Which notifications a task's stored state implies, and their payloads. Derived from the state alone (not from
// the transition), so the observer and the startup sweep agree and the outbox's unique key absorbs repeats.
import { createHash } from 'node:crypto';
import type { NotificationEventKind, NotificationPayload } from '../contract/index.ts';
import type { ExportRecord } from '../engine/task-store.ts';
import type { MigrationRecord } from '../engine/types.ts';

export interface TaskEvent {
  kind: NotificationEventKind;
  /** The task (or other subject) the event is about: one notification per subject, event and target. */
  subject: string;
  environmentId?: string;
  occurredAt: string;
  build(id: string, environmentName: string | undefined): NotificationPayload;
}

/** The idempotency id: the same for every attempt and every re-enqueue of one (subject, event, target). */
export const notificationId = (dedupeKey: string) => `ntf-${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 32)}`;
export const dedupeKey = (subject: string, kind: string, targetId: string) => `${subject}|${kind}|${targetId}`;

const envPart = (name: string | undefined) => (name ? ` (environment ${name})` : '');
/** Ends the text with one full stop: error messages from the engine and AWS are usually sentences already. */
const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);

type TaskSection = { text: string } & (Pick<NotificationPayload, 'migration'> | Pick<NotificationPayload, 'export'>);

/** One event of a task: the envelope every task notification shares around the text and the task's own section. */
function taskEvent(
  kind: NotificationEventKind,
  subject: string,
  task: { environmentId: string; updatedAt: string },
  describe: (envSuffix: string) => TaskSection,
): TaskEvent {
  return {
    kind,
    subject,
    environmentId: task.environmentId,
    occurredAt: task.updatedAt,
    build: (id, envName) => {
      const { text, ...section } = describe(envPart(envName));
      return {
        id,
        kind,
        occurredAt: task.updatedAt,
        text: sentence(text),
        ...(envName ? { environment: { id: task.environmentId, name: envName } } : {}),
        ...section,
        test: false,
      };
    },
  };
}

export function migrationEvents(task: Readonly<MigrationRecord>): TaskEvent[] {
  const warm = task.mode === 'warm';
  const kinds: NotificationEventKind[] = [];
  if (task.state === 'completed') kinds.push('migration.completed', ...(warm ? (['cutover.done'] as const) : []));
  else if (task.state === 'failed') kinds.push('migration.failed');
  else if (warm && task.state === 'running' && task.phase === 'replicating') kinds.push('cutover.ready');
  const vm = task.vmName ?? task.vmId;
  return kinds.map((kind) =>
    taskEvent(kind, `migration:${task.id}`, task, (env) => ({
      text:
        kind === 'migration.completed'
          ? `Migration of ${vm} to Amazon EC2 completed: instance ${task.instanceId ?? '(unknown)'} in ${task.region}${env}`
          : kind === 'cutover.done'
            ? `Cutover of ${vm} is done: instance ${task.instanceId ?? '(unknown)'} runs in ${task.region}${env}`
            : kind === 'cutover.ready'
              ? `${vm} is ready to cut over: the initial sync to ${task.region} is done and replication continues${env}`
              : `Migration of ${vm} to Amazon EC2 failed: ${task.error ?? 'no reason recorded'}${env}`,
      migration: {
        id: task.id,
        vmId: task.vmId,
        ...(task.vmName ? { vmName: task.vmName } : {}),
        mode: warm ? 'warm' : 'cold',
        state: task.state,
        region: task.region,
        ...(task.instanceId ? { instanceId: task.instanceId } : {}),
        ...(task.state === 'failed' && task.error ? { error: task.error } : {}),
        requestedBy: task.requestedBy,
      },
    })),
  );
}

export function exportEvents(task: Readonly<ExportRecord>): TaskEvent[] {
  if (task.state !== 'completed' && task.state !== 'failed') return [];
  const kind: NotificationEventKind = task.state === 'completed' ? 'export.completed' : 'export.failed';
  return [
    taskEvent(kind, `export:${task.id}`, task, (env) => ({
      text:
        kind === 'export.completed'
          ? `Export of instance ${task.instanceId} to S3 completed: s3://${task.bucket}/${task.s3Key ?? task.s3Prefix}${env}`
          : `Export of instance ${task.instanceId} to S3 failed: ${task.statusMessage ?? 'no reason recorded'}${env}`,
      export: {
        id: task.id,
        instanceId: task.instanceId,
        state: task.state,
        region: task.region,
        bucket: task.bucket,
        ...(task.s3Key ? { s3Key: task.s3Key } : {}),
        ...(task.state === 'failed' && task.statusMessage ? { error: task.statusMessage } : {}),
        requestedBy: task.requestedBy,
      },
    })),
  ];
}

/** The payload Send test delivers: marked as a test, with a fresh id each time. */
export function testPayload(id: string, targetName: string, by: string): NotificationPayload {
  return { id, kind: 'test', occurredAt: new Date().toISOString(), text: `Test notification to "${targetName}" sent by ${by} from the AWS Management Portal.`, test: true };
}
