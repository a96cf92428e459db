// Registered remote plugins: manifest download (TLS pinned as registered), validation, requirements,
// proxy targets and the dynamic-items SPI call, as vsphere-ui does them.
import type https from 'node:https';
import { z } from 'zod';
import { createTrustedAgent } from '../../connector/vsphere/tls.ts';
import { manifestLabel, validatePluginManifest, type PluginManifest } from './manifest-schema.ts';
import type { DynamicItemsDto, PluginDto } from './api-types.ts';
import { describeUpstreamError, requestUpstream } from './upstream.ts';

export interface RegisteredPlugin {
  /** Extension key, e.g. org.vm2ec2.plugin */
  key: string;
  version: string;
  /** `Extension.client[0].url`: where the manifest is downloaded from. */
  manifestUrl: string;
  /** `server[0].serverCertificate` (PEM). */
  serverCertPem?: string;
  /** `server[0].serverThumbprint` (SHA-1 or SHA-256, colon hex). */
  serverThumbprint?: string;
}

export interface ClientVersions {
  /** The vSphere Client version checked against `requirements["vsphere.client"]`. */
  client: string;
  /** The vCenter version checked against `requirements["vcenter.server"]`. */
  vcenter: string;
}

const TRUST_HINT = 'Check the serverCertificate / serverThumbprint the plugin is registered with (they must match the plugin server certificate).';

const DynamicItemsResponse = z.object({
  dynamicItems: z.array(z.object({ id: z.string(), visible: z.boolean(), relevant: z.boolean().optional() })),
});

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** OSGi-style range as used by the manifest: "[7.0.2,)", "(7.0,8.0]", or a bare minimum version "7.0". */
export function versionInRange(version: string, range: string): boolean {
  const r = range.trim();
  const m = /^([[(])\s*([\d.]*)\s*,\s*([\d.]*)\s*([\])])$/.exec(r);
  if (!m) return compareVersions(version, r) >= 0;
  const [, open, low, high, close] = m;
  if (low) {
    const c = compareVersions(version, low);
    if (c < 0 || (c === 0 && open === '(')) return false;
  }
  if (high) {
    const c = compareVersions(version, high);
    if (c > 0 || (c === 0 && close === ')')) return false;
  }
  return true;
}

function requirementErrors(m: PluginManifest, versions: ClientVersions): string[] {
  const errors: string[] = [];
  const client = m.requirements['vsphere.client'];
  if (client && !versionInRange(versions.client, client.version)) {
    errors.push(`requirements["vsphere.client"].version: the plugin needs vSphere Client ${client.version}, this vSphere Client is ${versions.client}`);
  }
  if (client?.environments && !client.environments.includes('onprem')) {
    errors.push('requirements["vsphere.client"].environments: the plugin does not support "onprem", the environment of this vSphere Client');
  }
  const vc = m.requirements['vcenter.server'];
  if (vc && !versionInRange(versions.vcenter, vc.version)) {
    errors.push(`requirements["vcenter.server"].version: the plugin needs vCenter Server ${vc.version}, this vCenter is ${versions.vcenter}`);
  }
  return errors;
}

export class PluginInstance {
  readonly instanceId: string;
  readonly manifestUrl: URL;
  /** `<host>-<port>` of the manifest server, as it appears in proxy paths. */
  readonly hostPort: string;
  readonly agent: https.Agent;
  manifest: PluginManifest | undefined;
  errors: string[] = [];

  /** Registration problems: the plugin is shown as broken and never contacted. */
  private readonly registrationErrors: string[] = [];

  constructor(readonly registration: RegisteredPlugin) {
    this.manifestUrl = new URL(registration.manifestUrl);
    if (this.manifestUrl.protocol !== 'https:') {
      this.registrationErrors.push(`The manifest URL ${registration.manifestUrl} must use https (the vSphere Client refuses http:// plugin servers). Register the plugin again with an https URL.`);
    }
    if (!registration.serverCertPem && !registration.serverThumbprint) {
      this.registrationErrors.push('The plugin is registered without a server certificate or thumbprint, so its server cannot be trusted. Register it again with serverCertificate and serverThumbprint.');
    }
    this.errors = [...this.registrationErrors];
    this.instanceId = `${registration.key}~${registration.version}`.replace(/[^A-Za-z0-9._~-]/g, '_');
    this.hostPort = `${this.manifestUrl.hostname}-${this.manifestUrl.port || '443'}`;
    this.agent = createTrustedAgent({ ca: registration.serverCertPem, thumbprint: registration.serverThumbprint });
  }

  get proxiedBaseUrl(): string {
    return `/plugins/${this.instanceId}/${this.hostPort}`;
  }

  /** Proxied path of the manifest's directory (manifest `uri`s are relative to it). */
  get proxiedManifestDir(): string {
    const path = this.manifestUrl.pathname;
    return this.proxiedBaseUrl + path.slice(0, path.lastIndexOf('/') + 1);
  }

  /** Download, validate and check the manifest; on failure `errors` says what is wrong. */
  async load(versions: ClientVersions): Promise<void> {
    if (this.registrationErrors.length) return;
    const url = this.manifestUrl.href;
    let json: unknown;
    try {
      const res = await requestUpstream(this.manifestUrl, { agent: this.agent, headers: { accept: 'application/json' } });
      if (res.status !== 200) {
        this.fail([`The plugin server answered HTTP ${res.status} for the manifest ${url}. Check the manifest URL the plugin is registered with.`]);
        return;
      }
      try {
        json = JSON.parse(res.body.toString('utf8'));
      } catch (err) {
        this.fail([`The manifest ${url} is not valid JSON: ${(err as Error).message}`]);
        return;
      }
    } catch (err) {
      this.fail([`Cannot download the manifest ${url}: ${describeUpstreamError(err, this.manifestUrl.origin, TRUST_HINT)}`]);
      return;
    }
    const result = validatePluginManifest(json);
    if (!result.ok) {
      this.fail(result.errors);
      return;
    }
    const unmet = requirementErrors(result.manifest, versions);
    if (unmet.length) {
      this.fail(unmet);
      return;
    }
    this.manifest = result.manifest;
    this.errors = [];
  }

  private fail(errors: string[]): void {
    this.manifest = undefined;
    this.errors = errors;
  }

  describe(): PluginDto {
    const base = this.proxiedBaseUrl;
    const dir = this.manifestUrl.pathname.slice(0, this.manifestUrl.pathname.lastIndexOf('/'));
    const server = { proxiedUrl: base + dir, proxiedBaseUrl: base, type: 'MANIFEST_SERVER' };
    return {
      instanceId: this.instanceId,
      key: this.registration.key,
      version: this.registration.version,
      manifestUrl: this.manifestUrl.href,
      name: this.manifest ? manifestLabel(this.manifest, this.manifest.configuration.nameKey) : this.registration.key,
      status: this.manifest ? 'ready' : 'error',
      errors: this.errors,
      ...(this.manifest ? { manifest: this.manifest } : {}),
      proxiedBaseUrl: base,
      proxiedManifestDir: this.proxiedManifestDir,
      backendServers: [server],
    };
  }

  /** The upstream URL for a proxied `<host>-<port>` + path, or null if that server is not registered for this plugin. */
  proxyTarget(hostPort: string, pathAndQuery: string): URL | null {
    if (hostPort !== this.hostPort || this.registrationErrors.length) return null;
    return new URL(pathAndQuery, this.manifestUrl.origin);
  }

  /** An absolute upstream redirect mapped back into the proxied namespace. */
  rewriteLocation(location: string): string {
    try {
      const u = new URL(location);
      return u.origin === this.manifestUrl.origin ? this.proxiedBaseUrl + u.pathname + u.search + u.hash : location;
    } catch {
      return location;
    }
  }

  /**
   * The dynamic-items SPI: POST the container's `dynamicUri` with the user's plugin session token.
   * Never throws: a failure comes back as `error` (the shell then shows the dynamic items disabled).
   */
  async dynamicItems(objectType: string, container: 'menu' | 'monitor' | 'configure' | 'summary', objectIds: string[], token: string, locale: string): Promise<DynamicItemsDto> {
    const dynamicUri = this.manifest?.objects?.[objectType]?.[container]?.dynamicUri;
    if (!dynamicUri) return { items: {}, error: `The plugin declares no dynamicUri for ${objectType}.${container}.` };
    const url = new URL(dynamicUri, this.manifestUrl);
    try {
      const res = await requestUpstream(url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'vmware-api-session-id': token },
        body: JSON.stringify({ apiVersion: '1.0.0', objectIds, locale }),
      });
      if (res.status !== 200) {
        return { items: {}, error: `The plugin's dynamic items endpoint ${url.href} answered HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}` };
      }
      const parsed = DynamicItemsResponse.safeParse(JSON.parse(res.body.toString('utf8')));
      if (!parsed.success) {
        return { items: {}, error: `The plugin's dynamic items endpoint ${url.href} answered without a valid "dynamicItems" list.` };
      }
      const items: DynamicItemsDto['items'] = {};
      for (const item of parsed.data.dynamicItems) items[item.id] = { visible: item.visible, relevant: item.relevant ?? true };
      return { items };
    } catch (err) {
      return { items: {}, error: `Dynamic items: ${describeUpstreamError(err, url.origin, TRUST_HINT)}` };
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

export class PluginHost {
  readonly instances: PluginInstance[];

  constructor(
    registrations: RegisteredPlugin[],
    private readonly versions: ClientVersions,
  ) {
    this.instances = registrations.map((r) => new PluginInstance(r));
  }

  /** (Re)load every manifest, in parallel; failures are kept per plugin. */
  async loadAll(): Promise<void> {
    await Promise.all(this.instances.map((p) => p.load(this.versions)));
  }

  find(instanceId: string): PluginInstance | undefined {
    return this.instances.find((p) => p.instanceId === instanceId);
  }

  describe(): PluginDto[] {
    return this.instances.map((p) => p.describe());
  }

  close(): void {
    for (const p of this.instances) p.close();
  }
}
