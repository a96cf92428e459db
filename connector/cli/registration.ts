// The plug-in's vCenter extension (ExtensionManager.RegisterExtension), as the vSphere Client SDK's registration
// tool builds it: remote client pointing at the manifest, manifest server with thumbprint AND certificate,
// the plug-in's privileges with their labels, and the version.
import { X509Certificate } from 'node:crypto';
import { PLUGIN_KEY } from '../contract/index.ts';
import type { ExtensionSpec } from '../vsphere/types.ts';
import type { Vim25Client } from '../vsphere/vim25.ts';
import { CliError } from './io.ts';

export const CLIENT_TYPE = 'vsphere-client-remote';
export const MANIFEST_SERVER_TYPE = 'MANIFEST_SERVER';

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
        serverCertificate: cert.toString(),
        ...(input.adminEmail?.length ? { adminEmail: input.adminEmail } : {}),
        company,
      },
    ],
    privileges,
    resources: [{ locale: 'en', module: 'privileges', data: labels }],
  };
}

export type RegisterOutcome = { action: 'registered' | 'updated'; previousVersion?: string; extension: ExtensionSpec };

/** Registers the plug-in, or updates the registration when the key is already registered. */
export async function registerPlugin(client: Vim25Client, input: RegistrationInput): Promise<RegisterOutcome> {
  const ext = buildExtension(input);
  const existing = await client.findExtension(ext.key);
  if (existing) {
    await client.updateExtension(ext);
    return { action: 'updated', previousVersion: existing.version, extension: ext };
  }
  await client.registerExtension(ext);
  return { action: 'registered', extension: ext };
}

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
    `  server certificate: ${s.hasCertificate ? 'yes' : 'no (vCenter 8.0U2+ can pin the certificate itself; re-register)'}`,
    `  privileges:         ${(s.privileges ?? []).join(', ') || '(none)'}`,
    '',
  ].join('\n');
}
