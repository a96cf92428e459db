// AWS fault suite (issue 7), VM Import: an import that EC2 fails at each stage the emulator models ends failed with
// the mapped message and nothing left behind. The lab, helpers and tally: test/support/aws-faults-lab.ts.
import { describe, expect, it } from 'vitest';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { IMPORT_STAGES, type ImportStage } from '../../lab/ec2/index.ts';
import { ec2, expectCleanFailure, finished, importTasksOf, instancesOf, submit, useAwsFaultsLab, type VmKey } from '../support/aws-faults-lab.ts';

let failedWithMessage = 0;
let importFailuresFired = 0;
useAwsFaultsLab('aws-faults-import', () => ({ failedWithMessage, importFailuresFired }));

describe('an import that fails at each stage', { timeout: 120_000 }, () => {
  const messages: Record<ImportStage, { vm: VmKey; status: string; advice: string }> = {
    pending: {
      vm: 'two',
      status: 'ClientError: Disk validation failed [We do not have access to the given resource. Reason 403 Forbidden]',
      // The seed's troubleshooting sentence, word for word.
      advice: 'To migrate a virtual machine with more than one disk, log into the management portal setup page and grant the additional permissions required by the VM Import/Export service',
    },
    converting: { vm: 'one', status: 'ClientError: No valid partitions. Not a valid volume.', advice: "Check the VM's disks meet the VM Import/Export requirements" },
    updating: { vm: 'one', status: 'ClientError: Unsupported kernel version 4.15.0-1021-aws', advice: "Check that the VM's operating system and kernel are supported by VM Import/Export" },
    booting: { vm: 'one', status: 'ClientError: Unknown OS / Missing OS files.', advice: "Check that the VM's operating system and kernel are supported by VM Import/Export" },
    'preparing ami': { vm: 'one', status: 'ServerError: AMI registration failed.', advice: 'Review VM Import/Export Requirements and Limitations in the Amazon EC2 User Guide' },
  };
  for (const { message: stage } of IMPORT_STAGES) {
    const m = messages[stage];
    it(`fails at "${stage}": failed with the mapped message, import not active, no instance, staging removed`, async () => {
      const id = await submit(m.vm, 'failed');
      const remove = ec2!.emulator.failImportAt({ match: (task) => task.description?.startsWith(`vm2ec2 ${id} `) === true, stage, message: m.status });
      let t: MigrationTask;
      try {
        t = await finished(id);
      } finally {
        remove();
      }
      expect(t.state).toBe('failed');
      expect(t.error).toContain(m.status);
      expect(t.error).toContain(m.advice);
      const [task, ...more] = await importTasksOf(id);
      expect(more).toEqual([]);
      expect(task?.Status).toBe('deleted');
      expect(task?.StatusMessage).toBe(m.status);
      importFailuresFired += 1;
      await expectCleanFailure(id);
      expect(await instancesOf(id)).toEqual([]);
      failedWithMessage += 1;
    });
  }
});
