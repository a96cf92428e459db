// The RegisterImage path of a warm migration (a Nitro-ready guest): the AMI is registered straight from the replicated
// EBS snapshots, which it then uses itself (they are deleted only after the AMI is deregistered).
import { ENVIRONMENT_TAG, SOURCE_VM_TAG, TASK_TAG, type RegisterSpec } from '../aws-launch.ts';
import type { MigrationRecord } from '../types.ts';
import { resourceTags } from '../import-options.ts';

/** The unique AMI name of a registered image: the task and the step (RegisterImage's idempotency key). */
export function registeredName(t: MigrationRecord, step: string): string {
  return `vm2ec2-${t.id}-${step}`;
}

/** RegisterImage's request for the cutover's image ('cutover') or a test's ('test-…') from these snapshots. */
export function registerSpec(t: MigrationRecord, step: string, snapshotIds: string[]): RegisterSpec {
  return {
    name: registeredName(t, step),
    description: `vm2ec2 ${t.id} ${step} (${t.vmName ?? t.vmId})`,
    snapshotIds,
    firmware: t.warm!.firmware,
    tags: resourceTags(
      [
        { Key: 'Name', Value: `${t.vmName ?? t.vmId}${step === 'cutover' ? '' : ' (test)'}` },
        { Key: TASK_TAG, Value: t.id },
        { Key: ENVIRONMENT_TAG, Value: t.environmentId },
        { Key: SOURCE_VM_TAG, Value: t.vmId },
      ],
      t,
    ),
  };
}
