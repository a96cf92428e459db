// The pre-flight of "Bring back to vCenter", asked in the user's own vCenter session: the export's OVA is readable,
// the target exists, the user holds the privileges vCenter's import needs, the datastore has room for the disks'
// capacity, no VM of that name is in the folder, every network exists and is mapped. Every blocker at once.
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ReturnCheck, ReturnPreflight, ReturnRequest } from '../contract/index.ts';
import type { ExportRecord } from '../engine/task-store.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';
import { EXPORTED_OVF_NETWORKS } from './instance-source.ts';
import { openOva } from './ova-read.ts';
import { summarizeOvf, type OvfSummary } from './ovf.ts';
import { datastoreFacts, entityName, findChild, resolvePool } from './vcenter.ts';

/** The privileges a user needs, as the vSphere Client names them. */
export const PRIVILEGE_LABELS: Record<string, string> = {
  'VApp.Import': 'vApp > Import',
  'Datastore.AllocateSpace': 'Datastore > Allocate space',
  'Network.Assign': 'Network > Assign network',
  'VirtualMachine.Interact.PowerOn': 'Virtual machine > Interaction > Power on',
};

const GiB = 1024 ** 3;
const size = (n: number) => (n >= GiB ? `${(n / GiB).toFixed(1)} GB` : `${Math.ceil(n / 2 ** 20)} MB`);

export interface ReturnPreflightOutcome extends ReturnPreflight {
  pool?: MoRef;
  host?: MoRef;
}

/** Reads only the OVA's descriptor (the first file), then drops the stream. */
export async function readOvfSummary(s3: S3Client, bucket: string, key: string): Promise<OvfSummary> {
  const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = obj.Body as Readable;
  try {
    return summarizeOvf((await openOva(body)).descriptor);
  } finally {
    body.destroy();
  }
}

/**
 * Where the OVA comes from: a completed export's OVA in S3, or an imported instance the task will export first (its
 * export checks already asked, its disks' capacity from its volumes, the networks VM Export's OVF names).
 */
export type PreflightSource =
  | { kind: 'export'; exp: ExportRecord; s3: S3Client }
  | { kind: 'instance'; checks: ReturnCheck[]; diskCapacityBytes?: number | undefined };

export async function returnPreflight(client: Vim25Client, sessionKey: string, req: ReturnRequest, source: PreflightSource): Promise<ReturnPreflightOutcome> {
  const checks: ReturnCheck[] = source.kind === 'instance' ? [...source.checks] : [];
  const blocker = (code: ReturnCheck['code'], message: string, extra: Partial<ReturnCheck> = {}) => checks.push({ code, severity: 'blocker', message, ...extra });
  const exp = source.kind === 'export' ? source.exp : undefined;
  if (exp && (exp.state !== 'completed' || !exp.s3Key)) {
    blocker('EXPORT_NOT_COMPLETED', `Export ${exp.exportTaskId || exp.id} of ${exp.instanceId} is ${exp.state}: only a completed export can be brought back to vCenter.`);
    return { checks, sourceNetworks: [] };
  }
  const ovfOf = async (): Promise<OvfSummary> =>
    source.kind === 'export'
      ? readOvfSummary(source.s3, source.exp.bucket, source.exp.s3Key!)
      : { networks: EXPORTED_OVF_NETWORKS, diskCapacities: source.diskCapacityBytes !== undefined ? [source.diskCapacityBytes] : [] };
  const folder: MoRef = { type: 'Folder', value: req.folderId };
  const datastore: MoRef = { type: 'Datastore', value: req.datastoreId };
  const [ovf, target, folderName, ds, existing] = await Promise.all([
    ovfOf().catch((err: unknown) => err as Error),
    resolvePool(client, req.computeResource),
    entityName(client, folder),
    datastoreFacts(client, req.datastoreId),
    findChild(client, folder, req.name).catch(() => undefined),
  ]);
  let capacity: number | undefined;
  let sourceNetworks: string[] = [];
  if (ovf instanceof Error) {
    blocker('OVA_UNREADABLE', `The OVA s3://${exp?.bucket}/${exp?.s3Key} cannot be read: ${ovf.message.replace(/[.\s]+$/, '')}. Export the instance again.`);
  } else {
    capacity = ovf.diskCapacities.reduce((a, b) => a + b, 0);
    sourceNetworks = ovf.networks;
  }
  if (!target) blocker('TARGET_NOT_FOUND', `vCenter has no ${req.computeResource.type === 'HostSystem' ? 'host' : req.computeResource.type === 'ResourcePool' ? 'resource pool' : 'cluster'} ${req.computeResource.id} (or you cannot see it). Choose another compute resource.`);
  if (folderName === undefined) blocker('TARGET_NOT_FOUND', `vCenter has no VM folder ${req.folderId} (or you cannot see it). Choose another folder.`);
  if (!ds) blocker('TARGET_NOT_FOUND', `vCenter has no datastore ${req.datastoreId} (or you cannot see it). Choose another datastore.`);
  else if (!ds.accessible) blocker('DATASTORE_INACCESSIBLE', `The datastore ${ds.name} is not accessible. Choose another datastore.`);
  else if (capacity !== undefined && capacity > ds.freeSpace) {
    blocker('DATASTORE_SPACE', `The datastore ${ds.name} has ${size(ds.freeSpace)} free, but the virtual disks need ${size(capacity)}. Choose another datastore or free space on it.`);
  }
  if (existing) blocker('NAME_TAKEN', `A virtual machine named "${req.name}" already exists in the folder ${folderName ?? req.folderId}. Choose another name.`);

  const networkNames = await Promise.all(req.networkMappings.map((m) => entityName(client, { type: m.network.type, value: m.network.id })));
  req.networkMappings.forEach((m, i) => {
    if (networkNames[i] === undefined) blocker('NETWORK_NOT_FOUND', `vCenter has no network ${m.network.id} (for ${m.sourceNetwork}), or you cannot see it. Choose another network.`);
  });
  for (const n of sourceNetworks) {
    if (!req.networkMappings.some((m) => m.sourceNetwork === n)) blocker('NETWORK_NOT_MAPPED', `Choose the destination network for the source network "${n}".`);
  }

  // The user's own privileges, as vCenter will check them on ImportVApp.
  const wanted: { entity: MoRef; name: string; privilege: string }[] = [];
  if (target) wanted.push({ entity: target.pool, name: (await entityName(client, target.pool)) ?? target.pool.value, privilege: 'VApp.Import' });
  if (folderName !== undefined) wanted.push({ entity: folder, name: folderName, privilege: 'VApp.Import' });
  // Power on after import: the new VM inherits the folder's permissions.
  if (folderName !== undefined && req.powerOn) wanted.push({ entity: folder, name: folderName, privilege: 'VirtualMachine.Interact.PowerOn' });
  if (ds) wanted.push({ entity: datastore, name: ds.name, privilege: 'Datastore.AllocateSpace' });
  req.networkMappings.forEach((m, i) => {
    if (networkNames[i] !== undefined) wanted.push({ entity: { type: m.network.type, value: m.network.id }, name: networkNames[i], privilege: 'Network.Assign' });
  });
  const answers = await Promise.all(wanted.map((w) => client.hasPrivilegeOnEntities([w.entity], sessionKey, [w.privilege])));
  wanted.forEach((w, i) => {
    if (answers[i]!.get(w.entity.value)?.[w.privilege] !== true) {
      blocker('PRIVILEGE_MISSING', `Your vCenter role does not have the privilege ${PRIVILEGE_LABELS[w.privilege]} on ${w.name}. Ask your vCenter administrator to grant it, or choose another target.`, {
        privilege: w.privilege,
        entity: w.name,
      });
    }
  });

  return {
    checks,
    sourceNetworks,
    ...(capacity !== undefined ? { diskCapacityBytes: capacity } : {}),
    ...(ds ? { datastoreFreeBytes: ds.freeSpace } : {}),
    ...(target ? { pool: target.pool, ...(target.host ? { host: target.host } : {}) } : {}),
  };
}
