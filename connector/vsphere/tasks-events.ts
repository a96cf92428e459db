// Extension tasks, events and custom attributes as typed functions over Vim25Client.invoke (vim25.ts stays the
// general client). Shapes follow the vSphere Web Services API reference: TaskManager.CreateTask, Task.SetTaskState /
// UpdateProgress, EventManager.PostEvent (EventEx) / LogUserEvent / CreateCollectorForEvents, CustomFieldsManager.
import { objectProps } from './cbt.ts';
import { arr, bool, child, el, moRefXml, num, str, text, toMoRef, VimFault, wrap, xmlEscape, xsiType, type XmlValue } from './soap.ts';
import type { MoRef, Vim25Client } from './vim25.ts';

export type TaskState = 'queued' | 'running' | 'success' | 'error';
export type EventSeverity = 'info' | 'warning' | 'error' | 'user';

export interface VcTaskInfo {
  task: MoRef;
  state: TaskState;
  progress?: number;
  descriptionId: string;
  entity?: MoRef;
  entityName?: string;
  /** TaskReasonUser.userName: who the task is shown as started by. */
  initiatedBy?: string;
  cancelable: boolean;
  error?: string;
  queueTime?: string;
  startTime?: string;
  completeTime?: string;
}

export interface VcEvent {
  key: number;
  /** xsi:type of the event (EventEx, GeneralUserEvent, VmPoweredOnEvent, …). */
  type: string;
  /** EventEx.eventTypeId; absent for other event types. */
  eventTypeId?: string;
  severity?: string;
  message: string;
  userName: string;
  createdTime: string;
  vm?: MoRef;
  arguments: Record<string, string>;
}

export interface PostedEvent {
  eventTypeId: string;
  severity: EventSeverity;
  /** The full message (EventEx.message and fullFormattedMessage). */
  message: string;
  vm: { ref: MoRef; name: string };
  /** Declared as string arguments in the event type's schema. */
  arguments?: Record<string, string>;
}

function manager(vc: Vim25Client, name: 'taskManager' | 'eventManager' | 'customFieldsManager'): MoRef {
  const r = vc.serviceContent[name];
  if (!r) throw new VimFault('NotSupported', `This vCenter does not provide ${name}`);
  return r;
}

/** LocalizedMethodFault for SetTaskState: a SystemError (or RequestCanceled) whose message is ours. */
function localizedFault(message: string, faultType: 'SystemError' | 'RequestCanceled'): string {
  const fault = faultType === 'SystemError' ? wrap('fault', el('reason', message), 'SystemError') : wrap('fault', '', 'RequestCanceled');
  return wrap('fault', fault + el('localizedMessage', message));
}

// ---------- tasks ----------

/** TaskManager.CreateTask: a task of an extension-declared type on `obj`, shown as started by `initiatedBy`. */
export async function createTask(vc: Vim25Client, obj: MoRef, taskTypeId: string, initiatedBy: string, cancelable = false): Promise<MoRef> {
  const r = await vc.invoke(
    'CreateTask',
    manager(vc, 'taskManager'),
    moRefXml('obj', obj) + el('taskTypeId', taskTypeId) + el('initiatedBy', initiatedBy) + el('cancelable', cancelable),
  );
  const task = toMoRef(child(r, 'task'));
  if (!task) throw new Error(`vCenter did not return a task for ${taskTypeId} on ${obj.value}`);
  return task;
}

/** Task.SetTaskState; an error state carries our message as the task's LocalizedMethodFault. */
export async function setTaskState(
  vc: Vim25Client,
  task: MoRef,
  state: TaskState,
  error?: { message: string; cancelled?: boolean },
): Promise<void> {
  const fault = error ? localizedFault(error.message, error.cancelled ? 'RequestCanceled' : 'SystemError') : '';
  await vc.invoke('SetTaskState', task, el('state', state) + fault);
}

export async function updateProgress(vc: Vim25Client, task: MoRef, percentDone: number): Promise<void> {
  await vc.invoke('UpdateProgress', task, el('percentDone', Math.max(0, Math.min(100, Math.round(percentDone)))));
}

function parseTaskInfo(task: MoRef, info: XmlValue): VcTaskInfo {
  const state = (str(info, 'state') ?? 'queued') as TaskState;
  const progress = num(info, 'progress');
  const entity = toMoRef(child(info, 'entity'));
  const reason = child(info, 'reason');
  const err = child(info, 'error');
  const optional = <K extends string, V>(k: K, v: V | undefined) => (v === undefined || v === '' ? {} : ({ [k]: v } as Record<K, V>));
  return {
    task,
    state,
    ...optional('progress', progress),
    descriptionId: str(info, 'descriptionId') ?? '',
    ...optional('entity', entity),
    ...optional('entityName', str(info, 'entityName')),
    ...optional('initiatedBy', xsiType(reason) === 'TaskReasonUser' ? str(reason, 'userName') : undefined),
    cancelable: bool(info, 'cancelable') ?? false,
    ...optional('error', err === undefined ? undefined : (str(err, 'localizedMessage') ?? str(child(err, 'fault'), 'reason') ?? 'error')),
    ...optional('queueTime', str(info, 'queueTime')),
    ...optional('startTime', str(info, 'startTime')),
    ...optional('completeTime', str(info, 'completeTime')),
  };
}

/** The task's info; undefined when vCenter no longer has the task (it keeps finished tasks only for a while). */
export async function taskInfo(vc: Vim25Client, task: MoRef): Promise<VcTaskInfo | undefined> {
  try {
    const props = await objectProps(vc, task, ['info']);
    return parseTaskInfo(task, props.get('info'));
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') return undefined;
    throw err;
  }
}

/**
 * TaskManager.recentTask with each task's info, newest first (what the vSphere Client's Recent Tasks shows): one
 * RetrievePropertiesEx for all of them; a task that vanished in between is left out.
 */
export async function recentTasks(vc: Vim25Client): Promise<VcTaskInfo[]> {
  const props = await objectProps(vc, manager(vc, 'taskManager'), ['recentTask']);
  const refs = arr(child(props.get('recentTask'), 'ManagedObjectReference'))
    .map((n) => toMoRef(n))
    .filter((r): r is MoRef => r !== undefined);
  if (refs.length === 0) return [];
  const pc = vc.serviceContent.propertyCollector;
  if (!pc) throw new VimFault('NotSupported', 'This vCenter does not provide propertyCollector');
  const spec = wrap('propSet', el('type', 'Task') + el('all', false) + el('pathSet', 'info'));
  const objectSet = refs.map((r) => wrap('objectSet', moRefXml('obj', r) + el('skip', false))).join('');
  const out: VcTaskInfo[] = [];
  let r = await vc.invoke('RetrievePropertiesEx', pc, wrap('specSet', spec + objectSet) + wrap('options', ''));
  for (;;) {
    for (const o of arr(child(r, 'objects'))) {
      const ref = toMoRef(child(o, 'obj'));
      const info = arr(child(o, 'propSet')).find((p) => str(p, 'name') === 'info');
      if (ref && info) out.push(parseTaskInfo(ref, child(info, 'val')));
    }
    const token = str(r, 'token');
    if (!token) break;
    r = await vc.invoke('ContinueRetrievePropertiesEx', pc, el('token', token));
  }
  const order = new Map(refs.map((ref, i) => [ref.value, i]));
  return out.sort((a, b) => (order.get(b.task.value) ?? 0) - (order.get(a.task.value) ?? 0));
}

// ---------- events ----------

/** EventManager.PostEvent of an EventEx on the VM (its type declared by the extension's eventList). */
export async function postEvent(vc: Vim25Client, e: PostedEvent): Promise<void> {
  const args = Object.entries(e.arguments ?? {})
    .map(([k, v]) => wrap('arguments', el('key', k) + `<value xsi:type="xsd:string">${xmlEscape(v)}</value>`))
    .join('');
  const event =
    el('key', 0) +
    el('chainId', 0) +
    el('createdTime', new Date().toISOString()) +
    el('userName', '') +
    wrap('vm', el('name', e.vm.name) + moRefXml('vm', e.vm.ref)) +
    el('fullFormattedMessage', e.message) +
    el('eventTypeId', e.eventTypeId) +
    el('severity', e.severity) +
    el('message', e.message) +
    args +
    el('objectId', e.vm.ref.value) +
    el('objectType', e.vm.ref.type) +
    el('objectName', e.vm.name);
  await vc.invoke('PostEvent', manager(vc, 'eventManager'), wrap('eventToPost', event, 'EventEx'));
}

/** EventManager.LogUserEvent: a plain user event where extension event types are unavailable. */
export async function logUserEvent(vc: Vim25Client, entity: MoRef, msg: string): Promise<void> {
  await vc.invoke('LogUserEvent', manager(vc, 'eventManager'), moRefXml('entity', entity) + el('msg', msg));
}

function parseEvent(n: XmlValue): VcEvent {
  const args: Record<string, string> = {};
  for (const a of arr(child(n, 'arguments'))) {
    const k = str(a, 'key');
    if (k) args[k] = str(a, 'value') ?? '';
  }
  const vm = toMoRef(child(child(n, 'vm'), 'vm'));
  const eventTypeId = str(n, 'eventTypeId');
  const severity = str(n, 'severity');
  return {
    key: num(n, 'key') ?? 0,
    type: xsiType(n) ?? 'Event',
    ...(eventTypeId ? { eventTypeId } : {}),
    ...(severity ? { severity } : {}),
    message: str(n, 'fullFormattedMessage') || str(n, 'message') || '',
    userName: str(n, 'userName') ?? '',
    createdTime: str(n, 'createdTime') ?? '',
    ...(vm ? { vm } : {}),
    arguments: args,
  };
}

/**
 * The entity's latest events, newest first, through an EventHistoryCollector filtered to it (as the vSphere
 * Client's Monitor → Events reads them); the collector is destroyed afterwards.
 */
export async function entityEvents(vc: Vim25Client, entity: MoRef, max = 100): Promise<VcEvent[]> {
  const filter = wrap('entity', moRefXml('entity', entity) + el('recursion', 'self')) + el('maxCount', max);
  const collector = toMoRef(await vc.invoke('CreateCollectorForEvents', manager(vc, 'eventManager'), wrap('filter', filter)));
  if (!collector) throw new Error(`vCenter did not create an event collector for ${entity.value}`);
  try {
    const props = await objectProps(vc, collector, ['latestPage']);
    return arr(child(props.get('latestPage'), 'Event')).map(parseEvent).sort((a, b) => b.key - a.key);
  } finally {
    await vc.invoke('DestroyCollector', collector).catch(() => undefined);
  }
}

// ---------- custom attributes ----------

export interface CustomFieldDef {
  key: number;
  name: string;
  managedObjectType?: string;
}

export async function customFieldDefs(vc: Vim25Client): Promise<CustomFieldDef[]> {
  const props = await objectProps(vc, manager(vc, 'customFieldsManager'), ['field']);
  return arr(child(props.get('field'), 'CustomFieldDef')).map((f) => {
    const t = str(f, 'managedObjectType');
    return { key: num(f, 'key') ?? 0, name: str(f, 'name') ?? '', ...(t ? { managedObjectType: t } : {}) };
  });
}

/** The definition named `name` for `moType`, added when missing (idempotent; a concurrent add is found again). */
export async function ensureCustomField(vc: Vim25Client, name: string, moType: string): Promise<{ def: CustomFieldDef; added: boolean }> {
  const find = async () => (await customFieldDefs(vc)).find((f) => f.name === name && (f.managedObjectType ?? moType) === moType);
  const existing = await find();
  if (existing) return { def: existing, added: false };
  try {
    const r = await vc.invoke('AddCustomFieldDef', manager(vc, 'customFieldsManager'), el('name', name) + el('moType', moType));
    return { def: { key: num(r, 'key') ?? 0, name, managedObjectType: moType }, added: true };
  } catch (err) {
    const again = err instanceof VimFault && err.faultType === 'DuplicateName' ? await find() : undefined;
    if (again) return { def: again, added: false };
    throw err;
  }
}

/** CustomFieldsManager.SetField; an empty value clears the attribute on the entity. */
export async function setCustomField(vc: Vim25Client, entity: MoRef, key: number, value: string): Promise<void> {
  await vc.invoke('SetField', manager(vc, 'customFieldsManager'), moRefXml('entity', entity) + el('key', key) + el('value', value));
}

/** The entity's custom attribute values by name (the last value of a key wins). */
export async function customValues(vc: Vim25Client, entity: MoRef): Promise<Record<string, string>> {
  const props = await objectProps(vc, entity, ['availableField', 'customValue']);
  const names = new Map(arr(child(props.get('availableField'), 'CustomFieldDef')).map((f) => [num(f, 'key') ?? 0, str(f, 'name') ?? '']));
  const out: Record<string, string> = {};
  for (const v of arr(child(props.get('customValue'), 'CustomFieldValue'))) {
    const name = names.get(num(v, 'key') ?? -1);
    if (name) out[name] = str(v, 'value') ?? '';
  }
  return out;
}

// ---------- notes ----------

/** Appends one line to the VM's notes (config.annotation) with ReconfigVM_Task. */
export async function appendVmNote(vc: Vim25Client, vm: MoRef, line: string): Promise<void> {
  const props = await objectProps(vc, vm, ['config.annotation']);
  const current = text(props.get('config.annotation')) ?? '';
  if (current.split('\n').includes(line)) return;
  const next = current ? `${current.replace(/\n+$/, '')}\n${line}` : line;
  const task = toMoRef(await vc.invoke('ReconfigVM_Task', vm, wrap('spec', el('annotation', next))));
  if (!task) throw new Error(`vCenter did not return a reconfigure task for ${vm.value}`);
  await vc.waitForTask(task, { timeoutMs: 60_000 });
}
