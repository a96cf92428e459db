// The connector.unhealthy transition: two failed probes in a row open an incident (one notice), more failures add
// nothing, a passing probe closes it (one recovered notice with the same start), and the outbox subject is per incident.
import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { findCommand } from '../../connector/cli/commands.ts';
import { DOCTOR_COMMAND, HEALTHY, healthEvent, nextHealth, type HealthState } from '../../connector/notifications/health.ts';

const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 17, 0, s)).toISOString();

function run(results: string[][]) {
  let state: HealthState = HEALTHY;
  const notices = [];
  for (const [i, problems] of results.entries()) {
    const r = nextHealth(state, problems, at(i));
    state = r.state;
    if (r.notice) notices.push(r.notice);
  }
  return { state, notices };
}

describe('connector health transitions', () => {
  it('one failed probe pages nobody, and a pass in between starts the count again', () => {
    expect(run([['vCenter down'], [], ['vCenter down'], []]).notices).toEqual([]);
  });

  it('two failed probes in a row open one incident that starts at the first; a pass closes it once', () => {
    const { state, notices } = run([[], ['vCenter down'], ['vCenter down', 'EC2 down'], ['EC2 down'], ['EC2 down'], [], []]);
    expect(notices).toEqual([
      { state: 'unhealthy', since: at(1), at: at(2), problems: ['vCenter down', 'EC2 down'] },
      { state: 'recovered', since: at(1), at: at(5), problems: [] },
    ]);
    expect(state).toEqual(HEALTHY);
  });

  it('a second incident is a new subject; an incident and its recovery are two subjects of one kind', () => {
    const { notices } = run([['a'], ['a'], [], ['b'], ['b']]);
    const subjects = notices.map((n) => healthEvent(n).subject);
    expect(subjects).toEqual([`connector-health:${at(0)}`, `connector-health:${at(0)}:recovered`, `connector-health:${at(3)}`]);
    const p = healthEvent(notices[0]!).build('ntf-1', undefined);
    expect(p).toMatchObject({ kind: 'connector.unhealthy', connector: { state: 'unhealthy', since: at(0), problems: ['a'] }, test: false });
    expect(p.environment).toBeUndefined();
    expect(healthEvent(notices[0]!).environmentId).toBeUndefined();
  });

  it('the unhealthy notice names the command that diagnoses it, as the CLI spells it; the recovery does not', () => {
    const doctor = findCommand('doctor');
    expect(DOCTOR_COMMAND).toBe(`vm2ec2 ${doctor?.name} --config ${doctor?.options['config']?.value}`);
    const { notices } = run([['vCenter did not answer.'], ['vCenter did not answer.'], []]);
    const [down, up] = notices.map((n) => healthEvent(n).build('ntf-1', undefined).text);
    expect(down).toBe(`The connector on ${hostname()} is unhealthy since ${at(0)}: vCenter did not answer. To diagnose it, run "vm2ec2 doctor --config <connector.yaml>" on ${hostname()}.`);
    expect(up).not.toContain('doctor');
  });
});
