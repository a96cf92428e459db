// The scheduler benchmark's lab (bench/scheduler.ts, bench/scheduler-fleet.ts): vcsim with small powered-off VMs, the
// lab S3 and the EC2 emulator on a fast clock, watched from outside the engines: active imports per region counted in
// the emulator at the moment each import task is stored, and after the run one import and one instance per migration
// and nothing left behind.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { TASK_TAG } from '../connector/engine/engine.ts';
import type { MigrationSubmission } from '../connector/engine/types.ts';
import { Vim25Client } from '../connector/vsphere/vim25.ts';
import { startEc2Emulator, type Ec2EmulatorHandle, type ImportTask } from '../lab/ec2/index.ts';
import { labS3ClientConfig, startS3 } from '../lab/s3/index.ts';
import { startVcsim } from '../lab/vcsim/index.ts';

export const CREDENTIALS = { accessKeyId: 'lab', secretAccessKey: 'lab' };
export const ADMIN = { name: 'administrator@vsphere.local', password: 'Bench!23' };
const STAGING_BUCKET = 'vm2ec2-staging-{region}';

export interface LabOptions {
  migrations: number;
  vms: number;
  regions: string[];
  stageMs: number;
  /** The account's active imports per region: EC2's quota in the emulator (an import it refuses is a violation). */
  maxImportsPerRegion: number;
}

export interface Distribution {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export function distribution(xs: number[]): Distribution {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : 0);
  return { samples: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1]! : 0 };
}

/** CPU seconds of another process from /proc (Linux; 0 elsewhere). Hand-written: one field split, no library needed. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** A vcsim inventory of small powered-off VMs (no snapshots needed). */
function benchInventory(vms: number): unknown {
  return {
    $comment: 'Scheduler benchmark inventory (bench/scheduler-lab.ts): small powered-off VMs. Lab-only credentials.',
    datacenter: 'DC0',
    folders: ['Migration'],
    users: [{ name: ADMIN.name, password: ADMIN.password, description: 'benchmark administrator' }],
    roles: [],
    permissions: [{ entity: 'root', principal: ADMIN.name, role: 'Admin', propagate: true }],
    vms: Array.from({ length: vms }, (_, i) => ({
      name: `sched-vm-${String(i + 1).padStart(4, '0')}`,
      folder: 'Migration',
      guestId: 'ubuntu64Guest',
      powerState: 'poweredOff',
      numCpu: 1,
      memoryMB: 512,
      disks: [{ capacityMiB: 1 + (i % 2), seed: i + 1 }],
    })),
  };
}

export interface SchedulerLab {
  dir: string;
  vcsim: { sdkUrl: string; certPem: string; pid: number | undefined };
  s3: { url: string; accessKeyId: string; secretAccessKey: string };
  ec2: Ec2EmulatorHandle;
  /** The engine configuration's lab part (endpoints, credentials); the caller adds its limits and store. */
  engineConfig: { s3Endpoint: string; s3Credentials: { accessKeyId: string; secretAccessKey: string }; vcenterAccount: { userName: string; password: string }; stagingBucket: string };
  vcenterUrl: string;
  request(i: number): MigrationSubmission;
  /** Per region: the most EC2 import tasks active at once, seen in the emulator. */
  maxImports: Record<string, number>;
  /** Imports stored while more than the limit were active, plus imports EC2 refused for its quota. */
  importViolations(): number;
  audit(ids: readonly string[]): Promise<Audit>;
  stop(): Promise<void>;
}

export interface Audit {
  /** More than one import task or instance for one migration (must be 0). */
  duplicateImports: number;
  duplicateInstances: number;
  /** Left behind after the run: active import tasks, staging objects, multipart uploads (must be 0). */
  orphans: { activeImports: number; stagingObjects: number; multipartUploads: number };
}

export async function startSchedulerLab(opts: LabOptions, log: (line: string) => void): Promise<SchedulerLab> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`  teardown: ${String(err)}`));
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'vm2ec2-bench-sched-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const inventoryPath = join(dir, 'inventory.json');
    await writeFile(inventoryPath, JSON.stringify(benchInventory(opts.vms)));
    log(`  starting vcsim (${opts.vms} VMs), S3, EC2 emulator (stage ${opts.stageMs} ms, ${opts.maxImportsPerRegion} active imports per region)`);
    const vcsim = await startVcsim({ configPath: inventoryPath });
    stops.push(() => vcsim.stop());
    const s3 = await startS3();
    stops.push(() => s3.stop());
    const ec2 = await startEc2Emulator({
      s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      stageMs: opts.stageMs,
      maxActiveImports: opts.maxImportsPerRegion,
      regions: opts.regions,
    });
    stops.push(() => ec2.stop());

    // Active imports per region, counted at the only moment the count can grow: when the emulator stores a new task.
    // EC2's quota refuses an import over the limit; one that slips past its check (two requests at once) shows here.
    const maxImports: Record<string, number> = {};
    let overLimit = 0;
    for (const region of opts.regions) {
      const imports = ec2.emulator.region(region)!.imports;
      const set = imports.set.bind(imports);
      maxImports[region] = 0;
      Object.defineProperty(imports, 'set', {
        value: (k: string, v: ImportTask) => {
          set(k, v);
          let active = 0;
          for (const t of imports.values()) if (t.status === 'active') active += 1;
          maxImports[region] = Math.max(maxImports[region] ?? 0, active);
          if (active > opts.maxImportsPerRegion) overLimit += 1;
          return imports;
        },
      });
    }

    // Migrated instances keep their address: spread them over the region's roomy subnets, and check they fit.
    const network = new Map<string, { subnetIds: string[]; securityGroupId: string }>();
    for (const [i, region] of opts.regions.entries()) {
      const ec2Client = new EC2Client({ region, endpoint: ec2.url, credentials: { ...CREDENTIALS } });
      try {
        const subnets = ((await ec2Client.send(new DescribeSubnetsCommand({}))).Subnets ?? []).filter((s) => (s.AvailableIpAddressCount ?? 0) >= 50);
        const needed = Math.ceil((opts.migrations - i) / opts.regions.length);
        const room = subnets.reduce((n, s) => n + (s.AvailableIpAddressCount ?? 0), 0);
        if (subnets.length === 0 || room < needed) throw new Error(`the emulator's subnets in ${region} hold ${room} instances, the benchmark needs ${needed}: use fewer migrations or more regions`);
        const sg = (await ec2Client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [subnets[0]!.VpcId!] }] }))).SecurityGroups![0]!;
        network.set(region, { subnetIds: subnets.map((s) => s.SubnetId!), securityGroupId: sg.GroupId! });
      } finally {
        ec2Client.destroy();
      }
    }
    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vim.login(ADMIN.name, ADMIN.password);
    const vmIds = (await vim.listVirtualMachines()).map((v) => v.id);
    await vim.logout();
    if (vmIds.length === 0) throw new Error('the benchmark vCenter lists no VMs');

    const request = (i: number): MigrationSubmission => {
      const region = opts.regions[i % opts.regions.length]!;
      const net = network.get(region)!;
      return {
        environmentId: 'env-bench',
        region,
        vmId: vmIds[i % vmIds.length]!,
        platform: 'Linux',
        subnetId: net.subnetIds[Math.floor(i / opts.regions.length) % net.subnetIds.length]!,
        instanceType: 't3.micro',
        securityGroupIds: [net.securityGroupId],
        requestedBy: ADMIN.name,
      };
    };

    const audit = async (ids: readonly string[]): Promise<Audit> => {
      const ours = new Set(ids);
      const out: Audit = { duplicateImports: 0, duplicateInstances: 0, orphans: { activeImports: 0, stagingObjects: 0, multipartUploads: 0 } };
      const s3Client = new S3Client(labS3ClientConfig(s3, opts.regions[0]!));
      try {
        for (const region of opts.regions) {
          const state = ec2.emulator.region(region)!;
          const importsPerTask = new Map<string, number>();
          for (const t of state.imports.values()) {
            if (t.clientToken && ours.has(t.clientToken)) importsPerTask.set(t.clientToken, (importsPerTask.get(t.clientToken) ?? 0) + 1);
            if (t.status === 'active') out.orphans.activeImports += 1;
          }
          out.duplicateImports += [...importsPerTask.values()].filter((n) => n > 1).length;
          const instancesPerTask = new Map<string, number>();
          for (const inst of state.instances.values()) {
            const id = inst.tags.find((tag) => tag.key === TASK_TAG)?.value;
            if (id && ours.has(id) && inst.state !== 'terminated') instancesPerTask.set(id, (instancesPerTask.get(id) ?? 0) + 1);
          }
          out.duplicateInstances += [...instancesPerTask.values()].filter((n) => n > 1).length;
          const bucket = STAGING_BUCKET.replace('{region}', region);
          const objects = await s3Client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'vm2ec2/' })).catch(() => undefined);
          out.orphans.stagingObjects += objects?.KeyCount ?? 0;
          const uploads = await s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'vm2ec2/' })).catch(() => undefined);
          out.orphans.multipartUploads += uploads?.Uploads?.length ?? 0;
        }
      } finally {
        s3Client.destroy();
      }
      return out;
    };

    return {
      dir,
      vcsim: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, pid: vcsim.pid },
      s3: { url: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      ec2,
      engineConfig: {
        s3Endpoint: s3.url,
        s3Credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        vcenterAccount: { userName: ADMIN.name, password: ADMIN.password },
        stagingBucket: STAGING_BUCKET,
      },
      vcenterUrl: new URL(vcsim.sdkUrl).origin,
      request,
      maxImports,
      importViolations: () => overLimit + ec2.emulator.importLoad.limitRefusals,
      audit,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
