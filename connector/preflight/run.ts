import type { CutoverShutdown, EffectiveImportOptions, EnvironmentRole, GuestPlatform, ImportOptions, MigrationMode, PreflightCheck, PreflightResult, WarmImagePath } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { AwsGateway } from '../aws/gateway.ts';
import type { Caller } from '../auth/plugin.ts';
import type { EnvironmentRecord } from '../store/index.ts';
import type { Vim25Client, VmInfo } from '../vsphere/vim25.ts';
import { VimFault } from '../vsphere/vim25.ts';
import { placeInSubnet } from './ipv4.ts';
import { diskChecks, guestChecks, importRoleChecks, permissionChecks, privateIpChecks, privilegeChecks, stateChecks, type VmPrivileges } from './rules.ts';
import { missingWarmPrivileges, readWarmFacts } from './warm-facts.ts';
import { warmChecks } from './warm-rules.ts';
import { importOptionSection, readFirmware } from './import-option-facts.ts';

export const EXPORT_PRIVILEGE = 'VApp.Export';
export const SNAPSHOT_PRIVILEGES = ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot'] as const;

export interface PreflightRequest {
  caller: Caller;
  environment: EnvironmentRecord;
  role: EnvironmentRole;
  vmId: string;
  subnetId?: string | undefined;
  privateIpAddress?: string | undefined;
  instanceType?: string | undefined;
  platform?: GuestPlatform | undefined;
  securityGroupIds?: readonly string[] | undefined;
  /** Default cold; warm adds the replication checks. */
  mode?: MigrationMode | undefined;
  /** Warm only; default guest. */
  cutoverShutdown?: CutoverShutdown | undefined;
  /** Warm only; register-image is refused for a guest that is not Nitro-ready. */
  imagePath?: WarmImagePath | undefined;
  /** The form's Advanced choices (merged over the environment's defaults here). */
  importOptions?: ImportOptions | undefined;
}

/** The VM as the caller's own vCenter session sees it; 404 VM_NOT_FOUND when vCenter has no such VM. */
export async function getVm(client: Vim25Client, vmId: string): Promise<VmInfo> {
  try {
    return await client.getVirtualMachine(vmId);
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') {
      throw new AppError(404, 'VM_NOT_FOUND', `vCenter has no virtual machine ${vmId}. It may have been deleted; refresh the inventory.`);
    }
    throw err;
  }
}

/** What the caller's vCenter session may do with the VM. */
export async function vmPrivileges(caller: Caller, vmId: string): Promise<VmPrivileges> {
  const { client, session } = caller.vcenter;
  let granted: Record<string, boolean>;
  try {
    granted = (await client.hasPrivilegeOnEntities([{ type: 'VirtualMachine', value: vmId }], session.key, [EXPORT_PRIVILEGE, ...SNAPSHOT_PRIVILEGES])).get(vmId) ?? {};
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') {
      throw new AppError(404, 'VM_NOT_FOUND', `vCenter has no virtual machine ${vmId}. It may have been deleted; refresh the inventory.`);
    }
    throw err;
  }
  return {
    export: granted[EXPORT_PRIVILEGE] === true,
    createSnapshot: granted['VirtualMachine.State.CreateSnapshot'] === true,
    removeSnapshot: granted['VirtualMachine.State.RemoveSnapshot'] === true,
  };
}

const ORDER = { blocker: 0, warning: 1, info: 2 } as const;

/** Every check, both ends (vCenter and AWS), for migrating this VM into this environment with these choices. */
export async function runPreflight(aws: AwsGateway, req: PreflightRequest): Promise<PreflightResult> {
  return (await preflightWithOptions(aws, req)).result;
}

/** The pre-flight, and the import options the task would run with (the request over the environment's defaults). */
export async function preflightWithOptions(aws: AwsGateway, req: PreflightRequest): Promise<{ result: PreflightResult; importOptions: EffectiveImportOptions; kmsKeyArn?: string }> {
  const { caller, environment: env } = req;
  const [vm, privileges, firmware] = await Promise.all([
    getVm(caller.vcenter.client, req.vmId),
    vmPrivileges(caller, req.vmId),
    // A VM that is gone is reported by getVm (404), not by this read.
    readFirmware(caller.vcenter.client, req.vmId).catch(() => undefined),
  ]);
  const guest = guestChecks(vm, req.platform);
  const mode = req.mode ?? 'cold';
  const imports = await importOptionSection(
    aws,
    { environment: env, vm, firmware, platform: req.platform ?? guest.suggestedPlatform, instanceType: req.instanceType, request: req.importOptions },
    awsFailure,
  );
  const checks: PreflightCheck[] = [
    ...permissionChecks(req.role, env.name),
    ...privilegeChecks(vm, privileges, mode),
    ...guest.checks,
    ...diskChecks(vm, mode),
    ...stateChecks(vm, mode),
    ...(await Promise.all([importRoleSection(aws, vm), networkSection(aws, req), mode === 'warm' ? warmSection(caller, vm, req.cutoverShutdown ?? 'guest', req.imagePath) : []])).flat(),
    ...imports.checks,
  ];
  checks.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const result: PreflightResult = {
    vmId: vm.id,
    vmName: vm.name,
    environmentId: env.id,
    ready: !checks.some((c) => c.severity === 'blocker'),
    ...(guest.suggestedPlatform ? { suggestedPlatform: guest.suggestedPlatform } : {}),
    ...(firmware ? { firmware } : {}),
    checks,
  };
  return { result, importOptions: imports.options, ...(imports.kmsKeyArn ? { kmsKeyArn: imports.kmsKeyArn } : {}) };
}

async function warmSection(caller: Caller, vm: VmInfo, shutdown: CutoverShutdown, imagePath: WarmImagePath | undefined): Promise<PreflightCheck[]> {
  const facts = await readWarmFacts(caller.vcenter.client, vm.id);
  const missing = await missingWarmPrivileges(caller, vm.id, facts.datastores, { guestShutdown: shutdown === 'guest' });
  return warmChecks({ vm, facts, missing, shutdown, imagePath });
}

async function importRoleSection(aws: AwsGateway, vm: VmInfo): Promise<PreflightCheck[]> {
  try {
    return importRoleChecks(await aws.importRole(), vm.disks.length);
  } catch (err) {
    if (err instanceof AppError && err.code === 'AWS_ACCESS_DENIED') {
      return [
        {
          code: 'VMIMPORT_ROLE_UNREADABLE',
          severity: 'warning',
          message: `The connector may not read the IAM role "${aws.importRoleName}", so it cannot check the VM Import service role. ${err.message}`,
          fix: 'Allow iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies, iam:GetPolicy and iam:GetPolicyVersion on that role for the connector.',
        },
      ];
    }
    return [awsFailure('the VM Import service role', err)];
  }
}

async function networkSection(aws: AwsGateway, req: PreflightRequest): Promise<PreflightCheck[]> {
  const env = req.environment;
  if (!env.vpcId) {
    return [
      {
        code: 'ENVIRONMENT_INCOMPLETE',
        severity: 'blocker',
        message: `The environment "${env.name}" has no VPC, subnets and security groups yet.`,
        fix: 'An administrator must choose them for this environment in the AWS Management Portal.',
      },
    ];
  }
  const vpcId = env.vpcId;
  const out: PreflightCheck[] = [];
  for (const sg of req.securityGroupIds ?? []) {
    if (!env.securityGroupIds.includes(sg)) {
      out.push({
        code: 'SECURITY_GROUP_NOT_IN_ENVIRONMENT',
        severity: 'blocker',
        message: `The security group ${sg} is not one of the security groups of the environment "${env.name}".`,
        fix: 'Select a security group from the list, which contains only the security groups associated with the environment.',
      });
    }
  }
  const sections: Promise<PreflightCheck[]>[] = [];
  if (req.subnetId) sections.push(subnetSection(aws, req, req.subnetId, vpcId));
  if (req.instanceType) sections.push(instanceTypeSection(aws, env, req.instanceType));
  for (const part of await Promise.all(sections)) out.push(...part);
  return out;
}

async function subnetSection(aws: AwsGateway, req: PreflightRequest, subnetId: string, vpcId: string): Promise<PreflightCheck[]> {
  const env = req.environment;
  if (!env.subnetIds.includes(subnetId)) {
    return [
      {
        code: 'SUBNET_NOT_IN_ENVIRONMENT',
        severity: 'blocker',
        message: `The subnet ${subnetId} is not one of the subnets of the environment "${env.name}".`,
        fix: 'Select a subnet from the list of the environment’s subnets.',
      },
    ];
  }
  try {
    const [subnet] = await aws.subnets(env.region, vpcId, [subnetId]);
    if (!subnet) {
      return [
        {
          code: 'SUBNET_NOT_IN_ENVIRONMENT',
          severity: 'blocker',
          message: `The subnet ${subnetId} of the environment "${env.name}" no longer exists in VPC ${vpcId} (${env.region}).`,
          fix: 'An administrator must update the environment’s subnets in the AWS Management Portal.',
        },
      ];
    }
    const ip = req.privateIpAddress;
    if (ip) {
      const inUse = placeInSubnet(ip, subnet.cidrBlock) === 'usable' && (await aws.privateIpInUse(env.region, subnet.id, ip));
      return privateIpChecks(ip, subnet, inUse);
    }
    if (subnet.availableIpAddressCount === 0) {
      return [
        {
          code: 'SUBNET_FULL',
          severity: 'blocker',
          message: `The subnet ${subnet.id} (${subnet.cidrBlock}) has no free IP addresses.`,
          fix: 'Select another subnet of the environment.',
        },
      ];
    }
    return [];
  } catch (err) {
    return [awsFailure(`the subnet ${subnetId}`, err)];
  }
}

async function instanceTypeSection(aws: AwsGateway, env: EnvironmentRecord, instanceType: string): Promise<PreflightCheck[]> {
  if (env.instanceTypes.length > 0 && !env.instanceTypes.includes(instanceType)) {
    return [
      {
        code: 'INSTANCE_TYPE_NOT_ALLOWED',
        severity: 'blocker',
        message: `The instance type ${instanceType} is not allowed in the environment "${env.name}".`,
        fix: `Select one of the environment's instance types: ${env.instanceTypes.join(', ')}.`,
      },
    ];
  }
  try {
    const offered = await aws.offeredInstanceTypes(env.region);
    if (!offered.includes(instanceType)) {
      return [
        {
          code: 'INSTANCE_TYPE_NOT_OFFERED',
          severity: 'blocker',
          message: `The instance type ${instanceType} is not offered in ${env.region}.`,
          fix: 'Select an instance type from the list, which contains only types offered in the environment’s region.',
        },
      ];
    }
    return [];
  } catch (err) {
    return [awsFailure(`the instance type ${instanceType}`, err)];
  }
}

function awsFailure(what: string, err: unknown): PreflightCheck {
  if (!(err instanceof AppError)) throw err;
  return {
    code: 'AWS_CHECK_FAILED',
    severity: 'blocker',
    message: `The connector could not check ${what}: ${err.message}`,
    fix: 'Resolve the AWS problem, then run the checks again.',
    details: { code: err.code },
  };
}
