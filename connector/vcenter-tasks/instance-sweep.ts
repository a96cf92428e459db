// The EC2 custom attributes of a migrated VM say where its instance is; once EC2 no longer has that instance
// (terminated, or not found), the attributes are cleared so a search by "EC2 instance ID" finds only live ones.
// A VM migrated again since names its new instance and is left alone.
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { MigrationTaskRepository } from '../engine/task-store.ts';
import { customValues } from '../vsphere/tasks-events.ts';
import type { Vim25Client } from '../vsphere/vim25.ts';
import { CUSTOM_FIELDS } from './catalog.ts';
import type { VcenterReporter } from './reporter.ts';

const GONE = new Set(['terminated']);

export interface SweepDeps {
  migrations: Pick<MigrationTaskRepository, 'byStates'>;
  ec2(region: string): EC2Client;
  reporter: VcenterReporter;
  /** A reporting session (the service account's); undefined: nothing is swept. */
  session(): Promise<Vim25Client | undefined>;
  /** Instance ids already cleared by this process (kept across sweeps). */
  cleared: Set<string>;
}

/** One sweep; returns the VMs whose attributes were cleared. */
export async function sweepGoneInstances(deps: SweepDeps): Promise<string[]> {
  const migrated = (await deps.migrations.byStates(['completed'])).filter((t) => t.instanceId && !deps.cleared.has(t.instanceId));
  if (migrated.length === 0) return [];
  const vc = await deps.session();
  if (!vc) return [];
  const byRegion = new Map<string, typeof migrated>();
  for (const t of migrated) byRegion.set(t.region, [...(byRegion.get(t.region) ?? []), t]);
  const cleared: string[] = [];
  for (const [region, tasks] of byRegion) {
    const live = new Set<string>();
    for (let i = 0; i < tasks.length; i += 200) {
      const ids = tasks.slice(i, i + 200).map((t) => t.instanceId!);
      // A filter, not InstanceIds: an id EC2 no longer knows is simply absent instead of failing the call.
      let token: string | undefined;
      do {
        const page = await deps.ec2(region).send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }], NextToken: token }));
        for (const r of page.Reservations ?? []) for (const inst of r.Instances ?? []) if (inst.InstanceId && !GONE.has(inst.State?.Name ?? '')) live.add(inst.InstanceId);
        token = page.NextToken;
      } while (token);
    }
    for (const t of tasks) {
      if (live.has(t.instanceId!)) continue;
      deps.cleared.add(t.instanceId!);
      const values = await customValues(vc, { type: 'VirtualMachine', value: t.vmId }).catch(() => undefined);
      if (values?.[CUSTOM_FIELDS.instanceId] !== t.instanceId) continue;
      await deps.reporter.instanceGone(vc, t.vmId);
      cleared.push(t.vmId);
    }
  }
  return cleared;
}
