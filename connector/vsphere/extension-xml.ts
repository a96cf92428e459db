// The vim25 Extension data object (ExtensionManager.RegisterExtension / FindExtension) to and from SOAP XML.
import { arr, child, el, els, str, text, wrap, type XmlValue } from './soap.ts';
import type { ExtensionSpec } from './types.ts';

function parseDescription(node: XmlValue): { label: string; summary: string } {
  const d = child(node, 'description');
  return { label: str(d, 'label') ?? '', summary: str(d, 'summary') ?? '' };
}

/** `{ name: v }` when v is a non-empty string, `{}` otherwise (keeps optional fields absent). */
function optional<T extends string>(name: T, v: string | undefined): Partial<Record<T, string>> {
  return (v ? { [name]: v } : {}) as Partial<Record<T, string>>;
}

export function parseExtension(node: XmlValue): ExtensionSpec {
  const key = str(node, 'key');
  if (!key) throw new Error('vCenter returned an extension without a key');
  const { label, summary } = parseDescription(node);
  const company = str(node, 'company');
  const lastHeartbeatTime = str(node, 'lastHeartbeatTime');
  return {
    key,
    version: str(node, 'version') ?? '',
    ...optional('company', company),
    label,
    summary,
    client: arr(child(node, 'client')).map((c) => {
      const d = parseDescription(c);
      return {
        type: str(c, 'type') ?? '',
        url: str(c, 'url') ?? '',
        version: str(c, 'version') ?? '',
        ...optional('company', str(c, 'company')),
        ...optional('label', d.label),
        ...optional('summary', d.summary),
      };
    }),
    server: arr(child(node, 'server')).map((s) => {
      const d = parseDescription(s);
      const emails = arr(child(s, 'adminEmail'))
        .map((e) => text(e) ?? '')
        .filter((e) => e !== '');
      return {
        type: str(s, 'type') ?? '',
        url: str(s, 'url') ?? '',
        ...optional('serverThumbprint', str(s, 'serverThumbprint')),
        ...optional('serverCertificate', str(s, 'serverCertificate')),
        ...(emails.length ? { adminEmail: emails } : {}),
        ...optional('company', str(s, 'company')),
        ...optional('label', d.label),
        ...optional('summary', d.summary),
      };
    }),
    privileges: arr(child(node, 'privilegeList')).map((p) => ({
      privId: str(p, 'privID') ?? '',
      privGroupName: str(p, 'privGroupName') ?? '',
    })),
    resources: arr(child(node, 'resourceList')).map((r) => ({
      locale: str(r, 'locale') ?? '',
      module: str(r, 'module') ?? '',
      data: Object.fromEntries(
        arr(child(r, 'data')).map((kv) => [str(kv, 'key') ?? '', str(kv, 'value') ?? ''] as const),
      ),
    })),
    ...optional('lastHeartbeatTime', lastHeartbeatTime),
    taskList: arr(child(node, 'taskList')).map((t) => ({ taskId: str(t, 'taskID') ?? '' })),
    eventList: arr(child(node, 'eventList')).map((e) => ({ eventId: str(e, 'eventID') ?? '', ...optional('eventTypeSchema', str(e, 'eventTypeSchema')) })),
  };
}

function descriptionXml(label: string | undefined, summary: string | undefined): string {
  return wrap('description', el('label', label ?? '') + el('summary', summary ?? ''));
}

/** Extension in vim25 element order (vCenter's parser is order-sensitive). */
export function extensionXml(ext: ExtensionSpec): string {
  if (!ext.key) throw new Error('An extension needs a key (e.g. com.example.plugin)');
  const servers = ext.server
    .map((s) =>
      wrap(
        'server',
        el('url', s.url) +
          descriptionXml(s.label ?? ext.label, s.summary ?? ext.summary) +
          el('company', s.company ?? ext.company ?? '') +
          el('type', s.type) +
          els('adminEmail', s.adminEmail) +
          el('serverThumbprint', s.serverThumbprint) +
          el('serverCertificate', s.serverCertificate),
      ),
    )
    .join('');
  const clients = ext.client
    .map((c) =>
      wrap(
        'client',
        el('version', c.version) +
          descriptionXml(c.label ?? ext.label, c.summary ?? ext.summary) +
          el('company', c.company ?? ext.company ?? '') +
          el('type', c.type) +
          el('url', c.url),
      ),
    )
    .join('');
  const privileges = (ext.privileges ?? [])
    .map((p) => wrap('privilegeList', el('privID', p.privId) + el('privGroupName', p.privGroupName)))
    .join('');
  const resources = (ext.resources ?? [])
    .map((r) =>
      wrap(
        'resourceList',
        el('locale', r.locale) +
          el('module', r.module) +
          Object.entries(r.data)
            .map(([k, v]) => wrap('data', el('key', k) + el('value', v)))
            .join(''),
      ),
    )
    .join('');
  return wrap(
    'extension',
    descriptionXml(ext.label, ext.summary) +
      el('key', ext.key) +
      el('company', ext.company) +
      el('version', ext.version) +
      servers +
      clients +
      (ext.taskList ?? []).map((t) => wrap('taskList', el('taskID', t.taskId))).join('') +
      (ext.eventList ?? []).map((e) => wrap('eventList', el('eventID', e.eventId) + el('eventTypeSchema', e.eventTypeSchema))).join('') +
      privileges +
      resources +
      el('lastHeartbeatTime', ext.lastHeartbeatTime ?? new Date().toISOString()),
  );
}
