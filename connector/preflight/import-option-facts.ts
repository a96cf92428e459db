// The facts the import-option rules need, read at pre-flight: the VM's firmware through the caller's own vCenter
// session, the chosen instance type's boot modes, and the KMS key with the import role (issue 18).
import type { EffectiveImportOptions, ImportOptions, PreflightCheck, VmFirmware } from '../contract/index.ts';
import type { AwsGateway } from '../aws/gateway.ts';
import { assessImportKey, importRoleOrUnknown } from '../aws/kms-keys.ts';
import type { EnvironmentRecord } from '../store/index.ts';
import { objectProps } from '../vsphere/cbt.ts';
import { bool, text } from '../vsphere/soap.ts';
import type { Vim25Client, VmInfo } from '../vsphere/vim25.ts';
import { bootModeOf, kmsChecks, licenseChecks, mergeImportOptions, tagChecks, uefiChecks } from './import-option-rules.ts';

/** config.firmware and config.bootOptions.efiSecureBootEnabled (vCenter's default firmware is BIOS). */
export async function readFirmware(client: Vim25Client, vmId: string): Promise<VmFirmware> {
  const props = await objectProps(client, { type: 'VirtualMachine', value: vmId }, ['config.firmware', 'config.bootOptions']);
  const firmware = text(props.get('config.firmware')) === 'efi' ? 'efi' : 'bios';
  const secureBoot = firmware === 'efi' && bool(props.get('config.bootOptions'), 'efiSecureBootEnabled') === true;
  return { firmware, secureBoot, bootMode: bootModeOf(firmware) };
}

export interface ImportOptionFacts {
  environment: EnvironmentRecord;
  vm: VmInfo;
  firmware: VmFirmware | undefined;
  platform: 'Linux' | 'Windows' | undefined;
  instanceType?: string | undefined;
  request?: ImportOptions | undefined;
}

/** The options the task would run with, and every blocker, warning and info about them. */
export async function importOptionSection(
  aws: AwsGateway,
  f: ImportOptionFacts,
  awsFailure: (what: string, err: unknown) => PreflightCheck,
): Promise<{ options: EffectiveImportOptions; kmsKeyArn?: string; checks: PreflightCheck[] }> {
  const env = f.environment;
  const merged = mergeImportOptions(env.importDefaults, f.request, f.firmware?.bootMode);
  const licence = licenseChecks(merged.options.licenseType, merged.licenseFromRequest, f.platform, f.vm.guestId);
  const options: EffectiveImportOptions = { ...merged.options, licenseType: licence.licenseType };
  const checks = [...licence.checks, ...tagChecks(options.tags)];
  let kmsKeyArn: string | undefined;
  const [keyChecks, typeChecks] = await Promise.all([
    (async (): Promise<PreflightCheck[]> => {
      if (!options.encrypted || !options.kmsKeyId) return [];
      try {
        const assessment = await assessImportKey(aws, env.region, options.kmsKeyId, await importRoleOrUnknown(aws));
        if (assessment.found) kmsKeyArn = assessment.arn;
        return kmsChecks(options.kmsKeyId, env.region, assessment);
      } catch (err) {
        return [awsFailure(`the KMS key ${options.kmsKeyId}`, err)];
      }
    })(),
    (async (): Promise<PreflightCheck[]> => {
      if (f.firmware?.bootMode !== 'uefi' || !f.instanceType) return [];
      try {
        return uefiChecks(f.firmware, f.instanceType, (await aws.supportedBootModes(env.region, [f.instanceType])).get(f.instanceType));
      } catch (err) {
        return [awsFailure(`the boot modes of ${f.instanceType}`, err)];
      }
    })(),
  ]);
  return { options, ...(kmsKeyArn ? { kmsKeyArn } : {}), checks: [...checks, ...keyChecks, ...typeChecks] };
}
