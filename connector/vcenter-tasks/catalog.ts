// What the plug-in declares to vCenter at registration and reports into it: the extension task types (Recent
// Tasks), the extension event types (a VM's Monitor → Events, alarms) and the custom attributes on migrated VMs.
// The ids are a public interface (administrators build alarms on them): docs/vcenter-integration.md lists them.
import { PLUGIN_KEY } from '../contract/index.ts';
import type { EventSeverity } from '../vsphere/tasks-events.ts';

export const TASK_TYPES = {
  migrate: { id: `${PLUGIN_KEY}.migrate`, label: 'Migrate VM to EC2', summary: 'Migrate the virtual machine to Amazon EC2' },
  export: { id: `${PLUGIN_KEY}.export`, label: 'Export instance to S3', summary: 'Export the migrated EC2 instance to Amazon S3 as an OVA' },
} as const;

interface EventTypeDef {
  id: string;
  severity: EventSeverity;
  description: string;
  /** String arguments the event carries (declared in the type's schema; alarms and filters can use them). */
  args: readonly string[];
  /** The message vCenter formats from the arguments (resource `<id>.fullFormat`). */
  fullFormat: string;
}

function eventType(name: string, severity: EventSeverity, description: string, args: readonly string[], fullFormat: string): EventTypeDef {
  return { id: `${PLUGIN_KEY}.event.${name}`, severity, description, args, fullFormat };
}

export const EVENT_TYPES = {
  requested: eventType('migration.requested', 'info', 'Migration to Amazon EC2 requested', ['migrationId', 'requestedBy', 'environment', 'region'], 'Migration to Amazon EC2 requested by {requestedBy} into {environment} ({region})'),
  disksCopied: eventType('migration.disksCopied', 'info', 'Disks copied for the migration to Amazon EC2', ['migrationId', 'disks'], 'The disks of the virtual machine were copied for the migration to Amazon EC2 ({disks})'),
  imported: eventType('migration.imported', 'info', 'Image imported into Amazon EC2', ['migrationId', 'imageId'], 'The virtual machine was imported into Amazon EC2 as {imageId}'),
  launched: eventType('migration.instanceLaunched', 'info', 'EC2 instance launched', ['migrationId', 'instanceId', 'region'], 'EC2 instance {instanceId} launched in {region} from the virtual machine'),
  cutoverDone: eventType('migration.cutoverDone', 'info', 'Cutover to Amazon EC2 done', ['migrationId', 'instanceId', 'downtimeSeconds'], 'Cutover to Amazon EC2 done: instance {instanceId}, downtime {downtimeSeconds} s'),
  failed: eventType('migration.failed', 'error', 'Migration to Amazon EC2 failed', ['migrationId', 'reason'], 'Migration to Amazon EC2 failed: {reason}'),
  cancelled: eventType('migration.cancelled', 'warning', 'Migration to Amazon EC2 cancelled', ['migrationId', 'cancelledBy'], 'Migration to Amazon EC2 cancelled by {cancelledBy}'),
  rolledBack: eventType('migration.rolledBack', 'warning', 'Migration to Amazon EC2 rolled back', ['migrationId', 'instanceId', 'instanceAction', 'rolledBackBy'], 'Migration to Amazon EC2 rolled back by {rolledBackBy}: EC2 instance {instanceId} {instanceAction}, virtual machine powered on'),
  exportCompleted: eventType('export.completed', 'info', 'Instance exported to Amazon S3', ['exportId', 'instanceId', 'bucket', 'key'], 'EC2 instance {instanceId} exported to s3://{bucket}/{key}'),
  exportFailed: eventType('export.failed', 'error', 'Instance export to Amazon S3 failed', ['exportId', 'instanceId', 'reason'], 'Export of EC2 instance {instanceId} to Amazon S3 failed: {reason}'),
  exportCancelled: eventType('export.cancelled', 'warning', 'Instance export to Amazon S3 cancelled', ['exportId', 'instanceId', 'cancelledBy'], 'Export of EC2 instance {instanceId} to Amazon S3 cancelled by {cancelledBy}'),
} as const;
export type EventTypeKey = keyof typeof EVENT_TYPES;

/** Custom attributes (CustomFieldsManager) on VirtualMachine, set when a migration completes. */
export const CUSTOM_FIELDS = { instanceId: 'EC2 instance ID', region: 'EC2 region', migratedAt: 'Migrated at' } as const;
export const CUSTOM_FIELD_TYPE = 'VirtualMachine';

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** ExtensionEventTypeInfo.eventTypeSchema: the <EventType> descriptor the vSphere API reference defines. */
export function eventTypeSchema(t: EventTypeDef): string {
  const args = t.args.map((a) => `<argument><name>${a}</name><type>string</type></argument>`).join('');
  return `<EventType><eventTypeID>${t.id}</eventTypeID><description>${xml(t.description)}</description><arguments>${args}</arguments></EventType>`;
}

/** What registration adds to the extension: task and event types and their labels (resources per module). */
export function extensionTypes(): {
  taskList: { taskId: string }[];
  eventList: { eventId: string; eventTypeSchema: string }[];
  resources: { locale: string; module: string; data: Record<string, string> }[];
} {
  const tasks = Object.values(TASK_TYPES);
  const events = Object.values(EVENT_TYPES);
  const taskLabels: Record<string, string> = {};
  for (const t of tasks) {
    taskLabels[`${t.id}.label`] = t.label;
    taskLabels[`${t.id}.summary`] = t.summary;
  }
  const eventLabels: Record<string, string> = {};
  for (const e of events) {
    eventLabels[`${e.id}.category`] = e.severity;
    eventLabels[`${e.id}.description`] = e.description;
    eventLabels[`${e.id}.fullFormat`] = e.fullFormat;
  }
  return {
    taskList: tasks.map((t) => ({ taskId: t.id })),
    eventList: events.map((e) => ({ eventId: e.id, eventTypeSchema: eventTypeSchema(e) })),
    resources: [
      { locale: 'en', module: 'task', data: taskLabels },
      { locale: 'en', module: 'event', data: eventLabels },
    ],
  };
}

/** The event's message with its arguments filled in (what vCenter shows where it has no catalog for the type). */
export function formatEvent(key: EventTypeKey, args: Record<string, string>): string {
  return EVENT_TYPES[key].fullFormat.replace(/\{(\w+)\}/g, (_m, name: string) => args[name] ?? '');
}
