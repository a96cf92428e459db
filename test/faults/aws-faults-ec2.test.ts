// AWS fault suite (issue 7), EC2 API: RequestLimitExceeded (503) and InternalError (500) from the EC2 emulator, a
// few at a time and beyond the retry budget, and faults on instance exports. The lab, helpers and tally, and what
// "clean" means: test/support/aws-faults-lab.ts. S3 faults and failed imports: the other aws-faults-*.test.ts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeExportTasksCommand } from '@aws-sdk/client-ec2';
import { AWS_CALL_ROUNDS } from '../../connector/engine/engine.ts';
import { ExportService } from '../../connector/engine/exports.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { AppError } from '../../connector/errors.ts';
import { DEFAULT_EXPORT_FAILURE } from '../../lab/ec2/index.ts';
import {
  adminUser,
  ANSWER,
  AWS_NAME,
  dir,
  EC2_ACTIONS,
  EC2_ATTEMPTS,
  ec2,
  ec2Client,
  engineLog,
  expectCleanFailure,
  expectCleanSuccess,
  finished,
  importTasksOf,
  injectEc2,
  instancesOf,
  main,
  s3Client,
  submit,
  submitted,
  useAwsFaultsLab,
  type Ec2Action,
} from '../support/aws-faults-lab.ts';
import { REGION, waitFor } from '../integration/engine-helpers.ts';

let failedWithMessage = 0;
let exportsCompleted = 0;
let exportsFailed = 0;
let exportFaultsFired = 0;
useAwsFaultsLab('aws-faults-ec2', () => ({ failedWithMessage, exportsCompleted, exportsFailed, exportFaultsFired }));

describe('EC2 throttling and 500s, a few at a time', { timeout: 120_000 }, () => {
  // More than one SDK call's attempts (3): the SDK's retries run out once and the engine's own round succeeds.
  const FEW = EC2_ATTEMPTS + 1;
  for (const kind of ['throttle', 'server-error'] as const) {
    for (const action of EC2_ACTIONS) {
      it(`${AWS_NAME[kind]} on ${action} ×${FEW}: the migration completes with one import task and one instance`, async () => {
        const before = ec2!.emulator.calls(action);
        const faultsBefore = ec2!.emulator.faultsInjected;
        injectEc2(kind, action, FEW);
        const id = await submit('one', 'completed');
        await finished(id);
        expect(ec2!.emulator.pendingFaults(action)).toBe(0);
        expect(ec2!.emulator.faultsInjected - faultsBefore).toBe(FEW);
        expect(ec2!.emulator.calls(action) - before).toBeGreaterThan(FEW);
        await expectCleanSuccess(id);
        expect(engineLog.some((l) => l.startsWith(`migration ${id}: EC2 ${action} failed (${AWS_NAME[kind]}`))).toBe(true);
      });
    }
  }
});

describe('persistent throttling and 500s beyond the retry budget', { timeout: 120_000 }, () => {
  const cases: { kind: 'throttle' | 'server-error'; action: Ec2Action; advice: RegExp }[] = [
    { kind: 'throttle', action: 'ImportImage', advice: /Try again later, or raise the account's EC2 API rate limit/ },
    { kind: 'server-error', action: 'DescribeImportImageTasks', advice: /AWS Health Dashboard for EC2 in us-east-1, then start the migration again/ },
    { kind: 'throttle', action: 'RunInstances', advice: /Try again later, or raise the account's EC2 API rate limit/ },
    { kind: 'server-error', action: 'StopInstances', advice: /AWS Health Dashboard for EC2/ },
  ];
  for (const c of cases) {
    it(`${AWS_NAME[c.kind]} on every ${c.action}: failed with a clear message after bounded retries, nothing left behind`, async () => {
      let before = ec2!.emulator.calls(c.action);
      let faultsBefore = ec2!.emulator.faultsInjected;
      let id: string;
      if (c.action === 'DescribeImportImageTasks') {
        // Fail the polling of an import that is surely still running: EC2 holds it at "converting" meanwhile.
        id = await submit('one', 'failed');
        const mine = id;
        ec2!.emulator.holdImportAt({ match: (task) => task.description?.startsWith(`vm2ec2 ${mine} `) === true, stage: 'converting' });
        await waitFor(async () => (await main.engine.get(mine))?.importStatus === 'converting', 'the import to convert');
        before = ec2!.emulator.calls(c.action);
        faultsBefore = ec2!.emulator.faultsInjected;
        injectEc2(c.kind, c.action, 10_000);
      } else {
        injectEc2(c.kind, c.action, 10_000);
        id = await submit('one', 'failed');
      }
      const t = await finished(id);
      const calls = ec2!.emulator.calls(c.action) - before;
      ec2!.emulator.clearFaults();
      expect(t.state).toBe('failed');
      expect(t.error).toContain(`AWS kept answering ${ANSWER[c.kind]} to EC2 ${c.action} in us-east-1`);
      expect(t.error).toMatch(c.advice);
      // Bounded: the SDK's attempts times the engine's rounds, and more than one.
      expect(calls).toBeGreaterThan(1);
      expect(calls).toBeLessThanOrEqual(EC2_ATTEMPTS * AWS_CALL_ROUNDS);
      expect(t.error).toContain(`(${calls} attempts, with backoff)`);
      expect(ec2!.emulator.faultsInjected - faultsBefore).toBe(calls);
      await expectCleanFailure(id);
      if (c.action === 'DescribeImportImageTasks') {
        // The import it had started was cancelled, not left running.
        const [task] = await importTasksOf(id);
        expect(task?.ImportTaskId).toBe(t.importTaskId);
        expect(['deleting', 'deleted']).toContain(task?.Status);
      }
      if (c.action === 'StopInstances') {
        // The instance it had launched was terminated, and its AMI deregistered.
        const [inst] = await instancesOf(id);
        expect(['shutting-down', 'terminated']).toContain(inst?.State?.Name);
        expect(ec2!.emulator.region(REGION)!.images.has(t.imageId!)).toBe(false);
      }
      failedWithMessage += 1;
    });
  }
});

describe('instance export faults', { timeout: 120_000 }, () => {
  let store: SqliteExportTasks;
  let svc: ExportService;
  let instanceIds: string[] = [];
  const request = (instanceId: string) => ({ environmentId: 'env-default', region: REGION, instanceId, s3Prefix: 'exports/', requestedBy: adminUser.name });
  const exportsOf = async (instanceId: string) =>
    ((await ec2Client.send(new DescribeExportTasksCommand({}))).ExportTasks ?? []).filter((e) => e.InstanceExportDetails?.InstanceId === instanceId);

  beforeAll(async () => {
    store = new SqliteExportTasks(join(dir, 'exports.sqlite'));
    svc = new ExportService({ store, ec2: () => ec2Client, s3: () => s3Client, maxExportsPerRegion: 5 });
    await svc.setBucketName('awsfaults');
    // Instances of migrations completed above (every one is stopped and exportable).
    instanceIds = (await Promise.all([...submitted.keys()].map((id) => main.engine.get(id)))).filter((t) => t?.state === 'completed').map((t) => t!.instanceId!);
    expect(instanceIds.length).toBeGreaterThanOrEqual(3);
  });
  afterAll(() => store?.close());

  it('a throttled CreateInstanceExportTask is retried: one export task, completed with its OVA', async () => {
    const id = instanceIds[0]!;
    const before = ec2!.emulator.calls('CreateInstanceExportTask');
    const faultsBefore = ec2!.emulator.faultsInjected;
    ec2!.emulator.throttle('CreateInstanceExportTask', EC2_ATTEMPTS - 1);
    const rec = await svc.start(request(id));
    expect(ec2!.emulator.calls('CreateInstanceExportTask') - before).toBe(EC2_ATTEMPTS);
    expect(ec2!.emulator.faultsInjected - faultsBefore).toBe(EC2_ATTEMPTS - 1);
    expect(await exportsOf(id)).toHaveLength(1);
    const done = await waitFor(async () => {
      const r = await svc.get(rec.id);
      return r && r.state !== 'active' ? r : undefined;
    }, 'the export to finish');
    expect(done.state).toBe('completed');
    expect(done.s3Key).toMatch(/^exports\/export-i-.*\.ova$/);
    exportsCompleted += 1;
  });

  it('persistent throttling of CreateInstanceExportTask: refused with a clear message after bounded retries, no export task', async () => {
    const id = instanceIds[1]!;
    const before = ec2!.emulator.calls('CreateInstanceExportTask');
    ec2!.emulator.throttle('CreateInstanceExportTask', 10_000);
    let refusal: unknown;
    try {
      await svc.start(request(id));
    } catch (err) {
      refusal = err;
    } finally {
      ec2!.emulator.clearFaults();
    }
    expect(refusal).toBeInstanceOf(AppError);
    expect((refusal as AppError).message).toContain('AWS kept answering RequestLimitExceeded to EC2 CreateInstanceExportTask in us-east-1');
    expect((refusal as AppError).message).toContain("raise the account's EC2 API rate limit");
    expect(ec2!.emulator.calls('CreateInstanceExportTask') - before).toBe(EC2_ATTEMPTS);
    expect(await exportsOf(id)).toEqual([]);
    expect((await store.active()).filter((r) => r.instanceId === id)).toEqual([]);
  });

  it('an export EC2 fails: the record ends failed with EC2 StatusMessage and what to check; throttled refreshes keep the last state', async () => {
    const id = instanceIds[2]!;
    const remove = ec2!.emulator.failExport({ match: new RegExp(`^${id}$`) });
    try {
      const rec = await svc.start(request(id));
      // A refresh that EC2 keeps throttling neither throws nor changes the record.
      ec2!.emulator.throttle('DescribeExportTasks', EC2_ATTEMPTS);
      const during = await svc.get(rec.id);
      expect(during?.state).toBe('active');
      expect(ec2!.emulator.pendingFaults('DescribeExportTasks')).toBe(0);
      const done = await waitFor(async () => {
        const r = await svc.get(rec.id);
        return r && r.state !== 'active' ? r : undefined;
      }, 'the export to fail');
      expect(done.state).toBe('failed');
      expect(done.statusMessage).toContain(DEFAULT_EXPORT_FAILURE);
      expect(done.statusMessage).toContain(`EC2 could not export ${id}`);
      expect(done.statusMessage).toMatch(/Then export it again\.$/);
      const [task, ...more] = await exportsOf(id);
      expect(more).toEqual([]);
      expect(task?.State).toBe('cancelled');
      exportFaultsFired += 1;
      exportsFailed += 1;
    } finally {
      remove();
    }
  });
});
