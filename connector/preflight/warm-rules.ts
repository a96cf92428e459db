// Pre-flight rules that "Replicate, then cut over" (mode warm) adds, as pure functions of gathered facts. Disk modes
// and existing snapshots are the cold rules' own checks, worded for warm (rules.ts: diskChecks, stateChecks).
import type { CutoverShutdown, PreflightCheck, WarmImagePath } from '../contract/index.ts';
import type { VmInfo } from '../vsphere/types.ts';
import { nitroReadiness } from './nitro.ts';
import { GUEST_SHUTDOWN_PRIVILEGE, type WarmFacts, type WarmPrivilege } from './warm-facts.ts';

/** Changed Block Tracking needs virtual hardware version 7 (vmx-07) or later. */
export const MIN_CBT_HARDWARE_VERSION = 7;

const quote = (s: string) => `"${s}"`;

export interface WarmRuleInput {
  vm: VmInfo;
  facts: WarmFacts;
  missing: { privilege: WarmPrivilege; on: string }[];
  shutdown: CutoverShutdown;
  /** Default import-image; register-image needs a Nitro-ready guest. */
  imagePath?: WarmImagePath | undefined;
}

export function warmChecks({ vm, facts, missing, shutdown, imagePath }: WarmRuleInput): PreflightCheck[] {
  const out: PreflightCheck[] = [];
  if (facts.hardwareVersion !== undefined && facts.hardwareVersion < MIN_CBT_HARDWARE_VERSION) {
    out.push({
      code: 'WARM_HARDWARE_TOO_OLD',
      severity: 'blocker',
      message: `${quote(vm.name)} has virtual hardware version ${facts.hardwareVersion}; replication needs Changed Block Tracking, which needs version ${MIN_CBT_HARDWARE_VERSION} or later.`,
      fix: 'Power off the VM and upgrade it (Actions > Compatibility > Upgrade VM Compatibility), or choose Migrate now.',
      details: { hardwareVersion: facts.hardwareVersion },
    });
  }
  if (missing.length > 0) {
    const byPrivilege = new Map<string, { label: string; id: string; on: string[] }>();
    for (const m of missing) {
      const entry = byPrivilege.get(m.privilege.id) ?? { label: m.privilege.label, id: m.privilege.id, on: [] };
      entry.on.push(m.on === 'vm' ? quote(vm.name) : `the datastore ${quote(m.on)}`);
      byPrivilege.set(m.privilege.id, entry);
    }
    const list = [...byPrivilege.values()].map((p) => `${p.label} (${p.id}) on ${p.on.join(' and ')}`);
    out.push({
      code: 'WARM_PRIVILEGE_MISSING',
      severity: 'blocker',
      message: `Your vCenter role does not allow what replication does for you: ${list.join('; ')}.`,
      fix:
        `Ask your vCenter administrator for ${byPrivilege.size === 1 ? 'this privilege' : 'these privileges'}, or choose Migrate now.` +
        (byPrivilege.has(GUEST_SHUTDOWN_PRIVILEGE.id) ? ' Power off is needed only because the connector shuts the guest down at cutover: with "I will power off the VM myself" it is not.' : ''),
      details: { missing: missing.map((m) => ({ privilege: m.privilege.id, on: m.on === 'vm' ? vm.id : m.on })) },
    });
  }
  if (vm.powerState === 'poweredOff') {
    out.push({
      code: 'WARM_POWERED_OFF',
      severity: 'warning',
      message: `${quote(vm.name)} is powered off, so nothing changes between replication cycles: Migrate now copies the same disks just as fast and needs no cutover.`,
      fix: 'Choose Migrate now, or keep Replicate, then cut over if you will power the VM on and keep it running until the cutover.',
    });
  } else if (shutdown === 'guest' && !facts.toolsRunning) {
    out.push({
      code: 'WARM_TOOLS_NOT_RUNNING',
      severity: 'warning',
      message: `VMware Tools is not running in ${quote(vm.name)}, so the connector cannot shut down the guest operating system at cutover.`,
      fix: 'Start (or install) VMware Tools in the guest before you cut over, or choose to power off the VM yourself at cutover: the cutover then waits until the VM is powered off.',
    });
  }
  const nitro = nitroReadiness({
    configGuestId: vm.guestId,
    configGuestFullName: vm.guestFullName,
    toolsRunning: facts.toolsRunning,
    toolsGuestId: facts.toolsGuestId,
    toolsGuestFullName: facts.toolsGuestFullName,
  });
  const source =
    nitro.source === 'vmware-tools'
      ? `VMware Tools reports ${nitro.os} running in the guest`
      : `the guest OS in the VM settings is ${nitro.os} (VMware Tools is not running, so the running system is not confirmed)`;
  const viaImport = 'VM Import/Export, which makes the test instance\'s and the cutover\'s image from the replicated snapshots, installs the drivers the instance needs, as for Migrate now.';
  out.push({
    code: 'NITRO_READINESS',
    severity: 'info',
    message:
      nitro.ready === true
        ? `The guest has the ENA and NVMe drivers that Nitro-based EC2 instances need: ${source}. You can choose to register the replicated disks directly (RegisterImage), which is faster than VM Import/Export's conversion; VM Import/Export works for every guest.`
        : nitro.ready === false
          ? `The guest does not have the ENA and NVMe drivers that Nitro-based EC2 instances need: ${source}. ${viaImport}`
          : `The connector cannot tell whether the guest has the ENA and NVMe drivers that Nitro-based EC2 instances need: ${source}. ${viaImport}`,
    details: {
      nitroReady: nitro.ready ?? null,
      source: nitro.source,
      guestId: nitro.guestId,
      ...(facts.firmware ? { firmware: facts.firmware } : {}),
    },
  });
  if (imagePath === 'register-image' && nitro.ready !== true) {
    out.push({
      code: 'WARM_REGISTER_IMAGE_NOT_READY',
      severity: 'blocker',
      message: `The replicated disks of ${quote(vm.name)} cannot be registered directly as an image: ${nitro.ready === false ? 'the guest does not have' : 'the connector cannot tell whether the guest has'} the ENA and NVMe drivers that Nitro-based EC2 instances need (${source}), so an image registered from them might not boot.`,
      fix: 'Choose Import with VM Import: VM Import/Export installs the drivers the instance needs.',
      details: { nitroReady: nitro.ready ?? null, source: nitro.source, guestId: nitro.guestId },
    });
  }
  return out;
}
