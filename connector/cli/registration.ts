// The plug-in's vCenter extension (ExtensionManager.RegisterExtension), as the vSphere Client SDK's registration
// tool builds it: remote client pointing at the manifest, manifest server with thumbprint (and certificate where
// vCenter's API release has the field), the plug-in's privileges with their labels, and the version.
import { X509Certificate } from 'node:crypto';
import { PLUGIN_KEY } from '../contract/index.ts';
import { CUSTOM_FIELD_TYPE, CUSTOM_FIELDS, extensionTypes } from '../vcenter-tasks/catalog.ts';
import { ensureCustomField } from '../vsphere/tasks-events.ts';
import type { ExtensionSpec } from '../vsphere/types.ts';
import type { Vim25Client } from '../vsphere/vim25.ts';
import { CliError } from './io.ts';

export const CLIENT_TYPE = 'vsphere-client-remote';
export const MANIFEST_SERVER_TYPE = 'MANIFEST_SERVER';
/** ExtensionServerInfo.serverCertificate exists from this vSphere API release (8.0 Update 2); older vCenters refuse the element. */
export const SERVER_CERTIFICATE_SINCE = '8.0.2.0';

/** The plug-in's own privileges (group = extension key) and their labels. */
export const PLUGIN_PRIVILEGES = [
  { id: 'Migrate', label: 'Migrate VMs to Amazon EC2', summary: 'Start, follow and cancel migrations of virtual machines to Amazon EC2' },
  { id: 'Administer', label: 'Administer the AWS Management Portal', summary: 'Manage environments, permissions and connector settings' },
] as const;

export interface RegistrationInput {
  manifestUrl: string;
  version: string;
  /** PEM of the certificate the plug-in server presents. */
  serverCertPem: string;
  key?: string;
  company?: string;
  label?: string;
  summary?: string;
  adminEmail?: string[];
  /** Send ExtensionServerInfo.serverCertificate (only when vCenter reads requests as API 8.0.2.0 or later). Default true. */
  includeCertificate?: boolean;
}

/** Refuses anything but an https:// manifest URL (vSphere loads http:// only with allowHttp=true on every client). */
export function checkManifestUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError(`--plugin-url ${url} is not a URL. Give the manifest URL, e.g. https://connector.example.com:8443/vm2ec2/plugin-manifest.json`);
  }
  if (u.protocol !== 'https:') {
    throw new CliError(`--plugin-url must be an https:// URL (got ${u.protocol}//). vCenter refuses plug-ins served over http; serve the connector over TLS.`);
  }
  if (!u.pathname.endsWith('.json')) throw new CliError(`--plugin-url must point at the plug-in manifest (…/plugin-manifest.json), got ${u.pathname}`);
  return u;
}

export function buildExtension(input: RegistrationInput): ExtensionSpec {
  checkManifestUrl(input.manifestUrl);
  if (!/^\d+(\.\d+){0,3}$/.test(input.version)) throw new CliError(`--version ${input.version} is not a version such as 1.2.0`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(input.serverCertPem);
  } catch {
    throw new CliError('The plug-in server certificate is not a PEM certificate.');
  }
  const key = input.key ?? PLUGIN_KEY;
  const company = input.company ?? 'vm2ec2';
  const label = input.label ?? 'AWS Management Portal';
  const summary = input.summary ?? 'Migrate vCenter virtual machines to Amazon EC2 and export instances to Amazon S3';
  const privileges = PLUGIN_PRIVILEGES.map((p) => ({ privId: `${key}.${p.id}`, privGroupName: key }));
  const labels: Record<string, string> = { [`privilegegroup.${key}.label`]: label, [`privilegegroup.${key}.summary`]: summary };
  for (const p of PLUGIN_PRIVILEGES) {
    labels[`privilege.${key}.${p.id}.label`] = p.label;
    labels[`privilege.${key}.${p.id}.summary`] = p.summary;
  }
  // Recent Tasks and the VM's events use these types (vcenter-tasks/catalog.ts).
  const types = extensionTypes();
  return {
    key,
    version: input.version,
    company,
    label,
    summary,
    client: [{ type: CLIENT_TYPE, url: input.manifestUrl, version: input.version, company, label, summary }],
    server: [
      {
        type: MANIFEST_SERVER_TYPE,
        url: input.manifestUrl,
        serverThumbprint: cert.fingerprint256,
        ...(input.includeCertificate === false ? {} : { serverCertificate: cert.toString() }),
        ...(input.adminEmail?.length ? { adminEmail: input.adminEmail } : {}),
        company,
      },
    ],
    taskList: types.taskList,
    eventList: types.eventList,
    privileges,
    resources: [{ locale: 'en', module: 'privileges', data: labels }, ...types.resources],
  };
}

export type RegisterOutcome = {
  action: 'registered' | 'updated';
  previousVersion?: string;
  extension: ExtensionSpec;
  /** The API release vCenter read the registration with. */
  apiVersion: string;
  /** Whether the certificate was registered (false below API 8.0.2.0: the thumbprint alone pins the plug-in server). */
  withCertificate: boolean;
  /** The custom attributes on virtual machines, and whether this registration added them. */
  customFields: { name: string; added: boolean }[];
};

/** Defines the custom attributes set on migrated VMs (idempotent: existing definitions are kept). */
export async function ensureCustomFields(client: Vim25Client): Promise<{ name: string; added: boolean }[]> {
  const out: { name: string; added: boolean }[] = [];
  for (const name of Object.values(CUSTOM_FIELDS)) out.push({ name, added: (await ensureCustomField(client, name, CUSTOM_FIELD_TYPE)).added });
  return out;
}

/**
 * Registers the plug-in, or updates the registration when the key is already registered. The certificate goes
 * only to vCenters whose API release defines ExtensionServerInfo.serverCertificate; older ones (7.0U2–8.0U1)
 * refuse the whole request over that one element.
 */
export async function registerPlugin(client: Vim25Client, input: RegistrationInput): Promise<RegisterOutcome> {
  const withCertificate = client.apiAtLeast(SERVER_CERTIFICATE_SINCE);
  const ext = buildExtension({ ...input, includeCertificate: withCertificate });
  const apiVersion = client.requestApiVersion;
  const existing = await client.findExtension(ext.key);
  if (existing) {
    await client.updateExtension(ext);
    return { action: 'updated', previousVersion: existing.version, extension: ext, apiVersion, withCertificate, customFields: await ensureCustomFields(client) };
  }
  await client.registerExtension(ext);
  return { action: 'registered', extension: ext, apiVersion, withCertificate, customFields: await ensureCustomFields(client) };
}

/** What unregistering leaves behind on purpose (said after every unregister). */
export const UNREGISTER_LEAVES = `The custom attributes ${Object.values(CUSTOM_FIELDS).map((n) => `"${n}"`).join(', ')} stay defined and keep their values on migrated virtual machines; remove them in the vSphere Client (Tags & Custom Attributes) if you no longer want them.`;

export async function unregisterPlugin(client: Vim25Client, key = PLUGIN_KEY): Promise<boolean> {
  if (!(await client.findExtension(key))) return false;
  await client.unregisterExtension(key);
  return true;
}

export interface RegistrationStatus {
  key: string;
  registered: boolean;
  version?: string;
  clientType?: string;
  manifestUrl?: string;
  serverThumbprint?: string;
  hasCertificate?: boolean;
  /** vCenter's about.apiVersion. */
  apiVersion?: string;
  privileges?: string[];
  lastHeartbeatTime?: string;
}

export async function registrationStatus(client: Vim25Client, key = PLUGIN_KEY): Promise<RegistrationStatus> {
  const ext = await client.findExtension(key);
  if (!ext) return { key, registered: false };
  const c = ext.client[0];
  const s = ext.server.find((x) => x.type === MANIFEST_SERVER_TYPE || x.type === 'HTTPS') ?? ext.server[0];
  return {
    key,
    registered: true,
    version: ext.version,
    ...(c ? { clientType: c.type, manifestUrl: c.url } : {}),
    ...(s?.serverThumbprint ? { serverThumbprint: s.serverThumbprint } : {}),
    hasCertificate: Boolean(s?.serverCertificate),
    apiVersion: client.about.apiVersion,
    privileges: (ext.privileges ?? []).map((p) => p.privId),
    ...(ext.lastHeartbeatTime ? { lastHeartbeatTime: ext.lastHeartbeatTime } : {}),
  };
}

export function formatStatus(s: RegistrationStatus, vcenter: string): string {
  if (!s.registered) return `The plug-in ${s.key} is not registered with ${vcenter}.\n`;
  return [
    `Plug-in ${s.key} registered with ${vcenter}`,
    `  version:            ${s.version ?? ''}`,
    `  client type:        ${s.clientType ?? ''}`,
    `  manifest URL:       ${s.manifestUrl ?? ''}`,
    `  server thumbprint:  ${s.serverThumbprint ?? '(none)'}`,
    `  server certificate: ${s.hasCertificate ? 'yes' : certificateAbsence(s.apiVersion)}`,
    `  privileges:         ${(s.privileges ?? []).join(', ') || '(none)'}`,
    '',
  ].join('\n');
}

/** Numeric order of dotted releases; undefined when either is not one. */
function compareReleases(a: string, b: string): number | undefined {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  if (![...x, ...y].every(Number.isInteger)) return undefined;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function certificateAbsence(apiVersion: string | undefined): string {
  const c = apiVersion ? compareReleases(apiVersion, SERVER_CERTIFICATE_SINCE) : undefined;
  return c !== undefined && c < 0
    ? `no (vCenter API ${apiVersion} predates the field, added in ${SERVER_CERTIFICATE_SINCE}; the thumbprint pins the plug-in server)`
    : 'no (this vCenter can pin the certificate itself: run vm2ec2 register again)';
}
