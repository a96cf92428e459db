// Migrations as a vCenter administrator sees them, against the lab vCenter through our vim25 client: one extension
// task per migration on the VM (Recent Tasks) whose progress rises and which ends succeeded / error (failed) /
// error "Cancelled by …" (cancelled); the VM's events with our event types and severities; the EC2 custom attributes
// and the notes line on completion; and one task, not two, when the connector is SIGKILLed mid-migration.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlugin } from '../../connector/cli/registration.ts';
import { ExportService } from '../../connector/engine/exports.ts';
import { EngineVcenterSessions } from '../../connector/engine/factory.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { createVcenterReporter } from '../../connector/vcenter-tasks/wiring.ts';
import { sweepGoneInstances } from '../../connector/vcenter-tasks/instance-sweep.ts';
import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { MigrationSubmission } from '../../connector/engine/types.ts';
import { CUSTOM_FIELDS, EVENT_TYPES, TASK_TYPES } from '../../connector/vcenter-tasks/catalog.ts';
import { objectProps } from '../../connector/vsphere/cbt.ts';
import { text } from '../../connector/vsphere/soap.ts';
import { customValues, entityEvents, recentTasks, type VcTaskInfo } from '../../connector/vsphere/tasks-events.ts';
import type { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { admin, REGION, startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

let lab: EngineLab;
let vim: Vim25Client;
let tasks: SqliteMigrationTasks;
const children = new Set<ChildProcess>();
const CHILD = join(import.meta.dirname, 'engine-child.ts');
const OPERATOR = 'operator@vsphere.local';
/** The instance the completed migration launched (exported by a later test). */
let migratedInstance: string | undefined;

beforeAll(async () => {
  // One export attempt and short retries: the failed case fails at once. EC2 stages slow enough to see progress.
  lab = await startEngineLab({ stageMs: 250, engine: { maxExportAttempts: 1, retryDelayMs: 50, retryMaxDelayMs: 100 } });
  vim = await lab.vim();
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
  // The task and event types exist once the plug-in is registered (vm2ec2 register).
  await registerPlugin(vim, { manifestUrl: 'https://127.0.0.1:8443/vm2ec2/plugin-manifest.json', version: '1.0.0', serverCertPem: lab.vcsim.certPem });
}, 300_000);
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  tasks?.close();
  await lab?.stop();
});

/** The migrate tasks vCenter shows on the VM. */
async function migrateTasks(vmName: string): Promise<VcTaskInfo[]> {
  const vmId = lab.vmIds.get(vmName)!;
  return (await recentTasks(vim)).filter((t) => t.entity?.value === vmId && t.descriptionId === TASK_TYPES.migrate.id);
}

async function eventsOf(vmName: string) {
  return entityEvents(vim, { type: 'VirtualMachine', value: lab.vmIds.get(vmName)! });
}

/** Watches the VM's migrate task until it ends; returns every progress value seen and the final info. */
async function watchTask(vmName: string): Promise<{ progress: number[]; states: string[]; final: VcTaskInfo; count: number }> {
  const progress: number[] = [];
  const states: string[] = [];
  const final = await waitFor(async () => {
    const [t] = await migrateTasks(vmName);
    if (!t) return undefined;
    if (t.progress !== undefined && progress.at(-1) !== t.progress) progress.push(t.progress);
    if (states.at(-1) !== t.state) states.push(t.state);
    return t.state === 'success' || t.state === 'error' ? t : undefined;
  }, `the vCenter task of ${vmName} to end`);
  return { progress, states, final, count: (await migrateTasks(vmName)).length };
}

describe('migrations in vCenter', { timeout: 300_000 }, () => {
  it('a completed migration: one task by the requester with rising progress, its events, the EC2 attributes and a notes line', async () => {
    const sub = lab.request('bsd-firewall-01', { requestedBy: OPERATOR });
    const task = await lab.engine.submit(sub);
    const seen = await watchTask('bsd-firewall-01');
    expect(seen.count).toBe(1);
    expect(seen.final).toMatchObject({ state: 'success', initiatedBy: OPERATOR, cancelable: false, entityName: 'bsd-firewall-01', progress: 100 });
    expect(seen.states.at(-1)).toBe('success');
    // Progress only rises, and was seen between the start and the end.
    expect(seen.progress).toEqual([...seen.progress].sort((a, b) => a - b));
    expect(seen.progress.some((p) => p > 0 && p < 100)).toBe(true);

    await lab.engine.idle();
    const done = (await lab.engine.get(task.id))!;
    expect(done.state).toBe('completed');
    migratedInstance = done.instanceId;
    expect((await tasks.get(task.id))?.vcenterTask).toBe(seen.final.task.value);

    const ids = [EVENT_TYPES.requested, EVENT_TYPES.disksCopied, EVENT_TYPES.imported, EVENT_TYPES.launched].map((t) => t.id);
    const events = await waitFor(async () => {
      const evs = (await eventsOf('bsd-firewall-01')).filter((e) => e.arguments.migrationId === task.id);
      return ids.every((id) => evs.some((e) => e.eventTypeId === id)) ? evs : undefined;
    }, 'the migration events');
    expect(events.every((e) => e.type === 'EventEx' && e.severity === 'info')).toBe(true);
    const requested = events.find((e) => e.eventTypeId === EVENT_TYPES.requested.id)!;
    expect(requested.arguments).toMatchObject({ requestedBy: OPERATOR, environment: 'env-default', region: 'us-east-1' });
    expect(requested.message).toContain(`requested by ${OPERATOR}`);
    expect(events.find((e) => e.eventTypeId === EVENT_TYPES.launched.id)!.message).toContain(done.instanceId!);
    // The order they happened in (newest first).
    expect(events.map((e) => e.eventTypeId).reverse()).toEqual(ids);

    const vm = { type: 'VirtualMachine', value: sub.vmId };
    const values = await waitFor(async () => {
      const v = await customValues(vim, vm);
      return v[CUSTOM_FIELDS.migratedAt] ? v : undefined;
    }, 'the custom attributes');
    expect(values[CUSTOM_FIELDS.instanceId]).toBe(done.instanceId);
    expect(values[CUSTOM_FIELDS.region]).toBe('us-east-1');
    expect(Date.parse(values[CUSTOM_FIELDS.migratedAt]!)).not.toBeNaN();
    const notes = await waitFor(async () => {
      const n = text((await objectProps(vim, vm, ['config.annotation'])).get('config.annotation')) ?? '';
      return n.includes(done.instanceId!) ? n : undefined;
    }, 'the notes line');
    expect(notes).toContain(`migrated to Amazon EC2 as ${done.instanceId} in us-east-1`);
  });

  it('a failed migration: the task ends in error with our message, and an error event says why', async () => {
    await lab.vcsim.injectFault({ kind: 'lease-error', when: 'initializing', message: 'Lab: the datastore is unavailable', count: 1 });
    const task = await lab.engine.submit(lab.request('rhel-db-01'));
    const seen = await watchTask('rhel-db-01');
    await lab.engine.idle();
    const failed = (await lab.engine.get(task.id))!;
    expect(failed.state).toBe('failed');
    expect(seen.count).toBe(1);
    expect(seen.final.state).toBe('error');
    expect(seen.final.error).toBe(failed.error);
    const ev = await waitFor(async () => (await eventsOf('rhel-db-01')).find((e) => e.eventTypeId === EVENT_TYPES.failed.id && e.arguments.migrationId === task.id), 'the failed event');
    expect(ev.severity).toBe('error');
    expect(ev.message).toContain(failed.error!);
  });

  it('a cancelled migration: the task ends in error "Cancelled by …", and a warning event names who', async () => {
    const task = await lab.engine.submit(lab.request('ubuntu-web-01'));
    await waitFor(async () => (await migrateTasks('ubuntu-web-01')).find((t) => t.state === 'running'), 'the vCenter task to run');
    await lab.engine.cancel(task.id, admin.name);
    const seen = await watchTask('ubuntu-web-01');
    await lab.engine.idle();
    expect((await lab.engine.get(task.id))!.state).toBe('cancelled');
    expect(seen.count).toBe(1);
    expect(seen.final).toMatchObject({ state: 'error', error: `Cancelled by ${admin.name}.` });
    const ev = await waitFor(async () => (await eventsOf('ubuntu-web-01')).find((e) => e.eventTypeId === EVENT_TYPES.cancelled.id && e.arguments.migrationId === task.id), 'the cancelled event');
    expect(ev.severity).toBe('warning');
    expect(ev.arguments.cancelledBy).toBe(admin.name);
  });
});

describe('exports in vCenter', { timeout: 300_000 }, () => {
  it('an export of the migrated instance: one task on its source VM by the requester, ended succeeded, and an event with bucket and key', async () => {
    expect(migratedInstance).toBeDefined();
    // The export service with the reporter, wired as the connector wires them (engine/plugin.ts).
    const sessions = new EngineVcenterSessions({ sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem }, { userName: admin.name, password: admin.password });
    const store = new SqliteExportTasks(join(lab.dataDir, 'connector.sqlite'));
    const reporter = createVcenterReporter({ sessions, migrations: tasks, exports: store, log: () => {} });
    const svc = new ExportService({ store, ec2: () => lab.ec2Client, s3: () => lab.s3Client, maxExportsPerRegion: 5, observers: [reporter] });
    try {
      await svc.setBucketName('lab');
      const exp = await svc.start({ environmentId: 'env-default', region: REGION, instanceId: migratedInstance!, s3Prefix: 'exports/', requestedBy: OPERATOR });
      const done = await waitFor(async () => {
        const r = await svc.get(exp.id);
        return r && r.state !== 'active' ? r : undefined;
      }, 'the export to end');
      expect(done.state).toBe('completed');
      await reporter.idle();
      const vmId = lab.vmIds.get('bsd-firewall-01')!;
      const exportTasks = (await recentTasks(vim)).filter((t) => t.entity?.value === vmId && t.descriptionId === TASK_TYPES.export.id);
      expect(exportTasks).toHaveLength(1);
      expect(exportTasks[0]).toMatchObject({ state: 'success', initiatedBy: OPERATOR });
      expect((await store.get(exp.id))?.vcenterTask).toBe(exportTasks[0]!.task.value);
      const ev = (await eventsOf('bsd-firewall-01')).find((e) => e.eventTypeId === EVENT_TYPES.exportCompleted.id && e.arguments.exportId === exp.id);
      expect(ev).toMatchObject({ severity: 'info', arguments: { bucket: done.bucket, key: done.s3Key, instanceId: migratedInstance } });
    } finally {
      await sessions.close();
      await store.close();
    }
  });
});

describe('an instance EC2 no longer has', { timeout: 300_000 }, () => {
  it("clears its source VM's EC2 custom attributes, and only once it is terminated", async () => {
    const sessions = new EngineVcenterSessions({ sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem }, { userName: admin.name, password: admin.password });
    const reporter = createVcenterReporter({ sessions, migrations: tasks, log: () => {} });
    const sweep = (cleared: Set<string>) => sweepGoneInstances({ migrations: tasks, ec2: () => lab.ec2Client, reporter, session: () => sessions.reporting(''), cleared });
    const vm = { type: 'VirtualMachine', value: lab.vmIds.get('bsd-firewall-01')! };
    try {
      expect(await sweep(new Set())).toEqual([]);
      expect((await customValues(vim, vm))[CUSTOM_FIELDS.instanceId]).toBe(migratedInstance);
      await lab.ec2Client.send(new TerminateInstancesCommand({ InstanceIds: [migratedInstance!] }));
      await waitFor(async () => {
        const r = await lab.ec2Client.send(new DescribeInstancesCommand({ InstanceIds: [migratedInstance!] }));
        return r.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'terminated';
      }, 'the instance to be terminated');
      expect(await sweep(new Set())).toEqual([vm.value]);
      const values = await customValues(vim, vm);
      for (const name of Object.values(CUSTOM_FIELDS)) expect(values[name]).toBe('');
    } finally {
      await sessions.close();
    }
  });
});

/** The engine in a child process (a connector that can be SIGKILLed). */
async function startChild(submit: MigrationSubmission[] = []): Promise<{ child: ChildProcess; ids: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ENGINE_CHILD: JSON.stringify({ config: lab.configInput, sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem, ec2Url: lab.ec2.url, submit }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const ids: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`engine child exited early (${code})`)));
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { id?: string; ready?: boolean };
      if (msg.id) ids.push(msg.id);
      if (msg.ready) resolve();
    });
  });
  return { child, ids };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('a connector SIGKILLed mid-migration', { timeout: 300_000 }, () => {
  it('leaves one vCenter task, which the restarted connector ends', async () => {
    await lab.engine.idle();
    const first = await startChild([lab.request('app-multidisk-01')]);
    const id = first.ids[0]!;
    // Killed once the vCenter task is recorded and the disk is on its way.
    const recorded = await waitFor(async () => {
      const t = await tasks.get(id);
      return t?.vcenterTask && (t.phase === 'uploading' || t.phase === 'importing') ? t.vcenterTask : undefined;
    }, 'the vCenter task to be recorded');
    await kill(first.child);

    const second = await startChild();
    const end = await waitFor(async () => {
      const t = await tasks.get(id);
      return t && ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
    }, 'the resumed migration to end', 240_000);
    expect(end.state).toBe('completed');
    const seen = await watchTask('app-multidisk-01');
    await kill(second.child);
    expect(seen.count).toBe(1);
    expect(seen.final.task.value).toBe(recorded);
    expect(seen.final.state).toBe('success');
    expect((await tasks.get(id))?.vcenterTask).toBe(recorded);
  });
});
