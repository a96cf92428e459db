// The import side of vCenter's NFC: OvfManager.CreateImportSpec, ResourcePool.ImportVApp and the upload of each disk
// (a stream-optimized VMDK) to its lease URL. Lease progress, completion and abort are the client's leaseProgress /
// leaseComplete / leaseAbort, the same calls as for an export lease.
import https from 'node:https';
import { arr, child, el, faultFromLocalized, isObj, moRefXml, str, toMoRef, wrap, xmlEscape, XSI_TYPE, type XmlValue } from './soap.ts';
import { createTrustedAgent, type TlsTrust } from './tls.ts';
import type { HttpNfcLeaseDeviceUrl, HttpNfcLeaseInfo, MoRef } from './types.ts';
import type { Vim25Client } from './vim25.ts';

export type DiskProvisioning = 'thin' | 'thick' | 'eagerZeroedThick';

export interface ImportSpecParams {
  ovfDescriptor: string;
  resourcePool: MoRef;
  datastore: MoRef;
  /** The new VM's name. */
  entityName: string;
  diskProvisioning?: DiskProvisioning;
  /** OVF network name → vCenter network (Network or DistributedVirtualPortgroup). */
  networkMapping?: { name: string; network: MoRef }[];
  host?: MoRef;
}

export interface OvfFileItem {
  /** Matches a lease deviceUrl's importKey. */
  deviceId: string;
  /** The file's href in the OVF descriptor (its name in the OVA). */
  path: string;
  size?: number;
}

export interface ImportSpec {
  /** The ImportSpec as vCenter returned it, to be sent back unchanged to ImportVApp. */
  specXml: string;
  fileItems: OvfFileItem[];
  warnings: string[];
}

/** Serialises a parsed vim25 node back to XML (attributes first, then children in the order they were read). */
function nodeXml(tag: string, node: XmlValue): string {
  if (node === undefined) return '';
  if (Array.isArray(node)) return node.map((n) => nodeXml(tag, n)).join('');
  if (!isObj(node)) return `<${tag}>${xmlEscape(node)}</${tag}>`;
  let attrs = '';
  let inner = '';
  for (const [k, v] of Object.entries(node)) {
    if (k === XSI_TYPE) attrs += ` xsi:type="${xmlEscape(String(v))}"`;
    else if (k.startsWith('@_')) attrs += ` ${k.slice(2)}="${xmlEscape(String(v))}"`;
    else if (k === '#text') inner += xmlEscape(String(v));
    else inner += nodeXml(k, v);
  }
  return `<${tag}${attrs}>${inner}</${tag}>`;
}

/** OvfManager.CreateImportSpec: the VM vCenter would create from the descriptor; an OVF it refuses throws its fault. */
export async function createImportSpec(client: Vim25Client, p: ImportSpecParams): Promise<ImportSpec> {
  const mapping = (p.networkMapping ?? []).map((m) => wrap('networkMapping', el('name', m.name) + moRefXml('network', m.network))).join('');
  const cisp =
    el('locale', 'US') +
    el('deploymentOption', '') +
    el('entityName', p.entityName) +
    (p.host ? moRefXml('hostSystem', p.host) : '') +
    mapping +
    el('diskProvisioning', p.diskProvisioning);
  const ovfManager = client.serviceContent.ovfManager;
  if (!ovfManager) throw new Error('This vCenter has no OvfManager: it cannot import OVF templates.');
  const r = await client.invoke(
    'CreateImportSpec',
    ovfManager,
    el('ovfDescriptor', p.ovfDescriptor) + moRefXml('resourcePool', p.resourcePool) + moRefXml('datastore', p.datastore) + wrap('cisp', cisp),
  );
  const errors = arr(child(r, 'error'));
  if (errors[0] !== undefined) throw faultFromLocalized(errors[0]);
  const spec = child(r, 'importSpec');
  if (!isObj(spec)) throw new Error(`vCenter returned no import spec for ${p.entityName}: check the OVF descriptor`);
  const fileItems = arr(child(r, 'fileItem')).map((f) => {
    const size = Number(str(f, 'size'));
    return { deviceId: str(f, 'deviceId') ?? '', path: str(f, 'path') ?? '', ...(Number.isFinite(size) && size > 0 ? { size } : {}) };
  });
  const warnings = arr(child(r, 'warning')).map((w) => str(w, 'localizedMessage') ?? '').filter((w) => w !== '');
  return { specXml: nodeXml('spec', spec), fileItems, warnings };
}

/** ResourcePool.ImportVApp: creates the VM and returns its import lease (wait for it with client.waitForLease). */
export async function importVApp(client: Vim25Client, p: { resourcePool: MoRef; spec: ImportSpec; folder?: MoRef; host?: MoRef }): Promise<MoRef> {
  const lease = toMoRef(
    await client.invoke('ImportVApp', p.resourcePool, p.spec.specXml + (p.folder ? moRefXml('folder', p.folder) : '') + (p.host ? moRefXml('host', p.host) : '')),
  );
  if (!lease) throw new Error(`vCenter did not return an import lease for resource pool ${p.resourcePool.value}`);
  return lease;
}

/** The lease URL for each file item of the import spec, matched by importKey. */
export function uploadTargets(spec: ImportSpec, info: HttpNfcLeaseInfo): { item: OvfFileItem; device: HttpNfcLeaseDeviceUrl }[] {
  return spec.fileItems.map((item) => {
    const device = info.deviceUrl.find((d) => d.importKey === item.deviceId);
    if (!device) throw new Error(`The import lease has no upload URL for ${item.path} (${item.deviceId}); abort the lease and retry the import.`);
    return { item, device };
  });
}

export interface UploadOptions {
  /** The VMDK's size in bytes (the OVA's tar entry): ESXi reads the upload by its Content-Length. */
  contentLength: number;
  signal?: AbortSignal;
  /** Trust for the disk server when the lease gives no thumbprint (defaults to the vCenter connection's). */
  trust?: TlsTrust;
}

/**
 * Streams one stream-optimized VMDK to its lease URL (POST, as ovftool and govmomi do), with the lease's thumbprint
 * pinned for an ESXi host URL. Resolves with the bytes sent; an HTTP error or a short body rejects.
 */
export function uploadLeaseDisk(
  client: Vim25Client,
  device: HttpNfcLeaseDeviceUrl,
  body: AsyncIterable<Uint8Array>,
  opts: UploadOptions,
): Promise<number> {
  const url = new URL(client.resolveDeviceUrl(device.url));
  // A `*` host is the vCenter this client reached (through whatever front door): trusted as that connection is. A named
  // host (an ESXi) is pinned to the lease's thumbprint.
  const viaVcenter = /^https?:\/\/\*(?=[:/])/i.test(device.url);
  const trust = device.sslThumbprint && !viaVcenter ? { thumbprint: device.sslThumbprint } : (opts.trust ?? client.connection.trust);
  const agent = createTrustedAgent(trust, { keepAlive: false });
  return new Promise<number>((resolve, reject) => {
    let sent = 0;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/x-vnd.vmware-streamVmdk',
      'Content-Length': opts.contentLength,
    };
    const cookie = client.sessionCookie;
    if (cookie) headers.Cookie = cookie;
    const req = https.request(
      { protocol: 'https:', hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 443, path: url.pathname + url.search, method: 'POST', agent, headers, signal: opts.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
        res.on('end', () => {
          agent.destroy();
          const status = res.statusCode ?? 0;
          if (status === 200 || status === 201) resolve(sent);
          else reject(new Error(`The disk server refused the upload of ${device.targetId ?? url.pathname} (HTTP ${status}): ${Buffer.concat(chunks).toString('utf8').trim().slice(0, 500)}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      agent.destroy();
      reject(err);
    });
    void (async () => {
      try {
        for await (const chunk of body) {
          sent += chunk.byteLength;
          if (sent > opts.contentLength) throw new Error(`the VMDK is longer than its declared ${opts.contentLength} bytes`);
          if (!req.write(chunk)) await new Promise<void>((r) => req.once('drain', r));
        }
        if (sent !== opts.contentLength) throw new Error(`the VMDK ended after ${sent} of its ${opts.contentLength} bytes`);
        req.end();
      } catch (err) {
        req.destroy(err as Error);
      }
    })();
  });
}
