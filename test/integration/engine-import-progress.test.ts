// The Amazon EC2 phase reports EC2's own progress percentage and an ETA from the rate observed while polling,
// against the EC2 emulator through the real SDK.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeImportImageTasksCommand } from '@aws-sdk/client-ec2';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { IMPORT_STAGES } from '../../lab/ec2/state.ts';
import { startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

const STAGE_MS = 600;
let lab: EngineLab;

beforeAll(async () => {
  lab = await startEngineLab({ stageMs: STAGE_MS });
});
afterAll(async () => {
  await lab?.stop();
});

describe('import progress', { timeout: 300_000 }, () => {
  it('shows EC2 Progress as it rises, an ETA only after two observations, and none once completed', async () => {
    const { id } = await lab.engine.submit(lab.request('bsd-firewall-01'));
    const stagePercents = IMPORT_STAGES.map((s) => Number(s.progress));
    const seen: MigrationTask[] = [];
    const done = await waitFor(async () => {
      const t = (await lab.engine.get(id))!;
      if (t.phase === 'importing' && t.importProgress !== undefined) seen.push(t);
      return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
    }, `migration ${id} to finish`);
    expect(done.error).toBeUndefined();
    expect(done.state).toBe('completed');

    // Every reported percentage is one EC2 gave, in order, and the phase bar follows it.
    const percents = [...new Set(seen.map((t) => t.importProgress!))];
    expect(percents.length).toBeGreaterThanOrEqual(3);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    for (const p of percents) expect(stagePercents).toContain(p);
    for (const t of seen) expect(t.percent).toBe(50 + Math.round(0.4 * t.importProgress!));

    // One observation is no rate: no ETA at the first percentage.
    const first = seen.filter((t) => t.importProgress === percents[0]);
    expect(first.length).toBeGreaterThan(0);
    for (const t of first) expect(t.importEtaSeconds).toBeUndefined();

    // From the second percentage on, an ETA from the observed rate: the emulator moves one stage per STAGE_MS, so
    // the estimate is of the order of the stages left (polls are late by up to pollMaxMs; allow a wide band).
    const later = seen.filter((t) => t.importProgress !== percents[0] && t.importEtaSeconds !== undefined);
    expect(later.length).toBeGreaterThan(0);
    for (const t of later) {
      const stagesLeft = stagePercents.length - stagePercents.indexOf(t.importProgress!);
      expect(t.importEtaSeconds!).toBeGreaterThan(0);
      expect(t.importEtaSeconds!).toBeLessThan((stagesLeft * STAGE_MS * 4) / 1000);
    }

    // Completed: EC2 drops Progress (as AWS does for finished tasks); the task shows 100 % and no ETA.
    expect(done.importProgress).toBe(100);
    expect(done.importEtaSeconds).toBeUndefined();
    const task = (await lab.ec2Client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [done.importTaskId!] }))).ImportImageTasks![0]!;
    expect(task.Status).toBe('completed');
    expect(task.Progress).toBeUndefined();
  });
});
