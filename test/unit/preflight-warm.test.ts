import { describe, expect, it } from 'vitest';
import { nitroReadiness } from '../../connector/preflight/nitro.ts';
import { diskChecks, privilegeChecks, stateChecks } from '../../connector/preflight/rules.ts';
import { GUEST_SHUTDOWN_PRIVILEGE, parseHardwareVersion, WARM_PRIVILEGES, type WarmFacts } from '../../connector/preflight/warm-facts.ts';
import { warmChecks, type WarmRuleInput } from '../../connector/preflight/warm-rules.ts';
import type { VmInfo } from '../../connector/vsphere/types.ts';

// The checks "Replicate, then cut over" adds to the pre-flight, as pure rules over vCenter facts.
const GiB = 1024 ** 3;
const vm = (over: Partial<VmInfo> = {}): VmInfo => ({
  id: 'vm-7',
  name: 'db-01',
  guestId: 'rhel8_64Guest',
  guestFullName: 'Red Hat Enterprise Linux 8 (64-bit)',
  powerState: 'poweredOn',
  numCpu: 2,
  memoryMB: 4096,
  disks: [{ key: 2000, label: 'Hard disk 1', capacityBytes: 10 * GiB, diskMode: 'persistent', backingType: 'VirtualDiskFlatVer2BackingInfo' }],
  nics: [{ key: 4000, label: 'Network adapter 1' }],
  snapshotCount: 0,
  snapshots: [],
  ...over,
});
const facts = (over: Partial<WarmFacts> = {}): WarmFacts => ({
  hardwareVersion: 13,
  changeTrackingEnabled: false,
  toolsRunning: true,
  toolsGuestId: 'rhel8_64Guest',
  toolsGuestFullName: 'Red Hat Enterprise Linux 8 (64-bit)',
  firmware: 'efi',
  datastores: [{ id: 'datastore-11', name: 'ds1' }],
  ...over,
});
const run = (over: Partial<WarmRuleInput> = {}) => warmChecks({ vm: vm(), facts: facts(), missing: [], shutdown: 'guest', ...over });
const codes = (checks: { code: string }[]) => checks.map((c) => c.code);
const privilege = (id: string) => WARM_PRIVILEGES.find((p) => p.id === id)!;

describe('warm pre-flight rules', () => {
  it('passes a running, current, Tools-running VM with every privilege, stating only the Nitro fact', () => {
    const checks = run();
    expect(checks.map((c) => [c.code, c.severity])).toEqual([['NITRO_READINESS', 'info']]);
  });

  it('blocks virtual hardware older than version 7 (no Changed Block Tracking) and says how to upgrade', () => {
    const [check] = run({ facts: facts({ hardwareVersion: 4 }) });
    expect(check).toMatchObject({ code: 'WARM_HARDWARE_TOO_OLD', severity: 'blocker', details: { hardwareVersion: 4 } });
    expect(check?.message).toBe('"db-01" has virtual hardware version 4; replication needs Changed Block Tracking, which needs version 7 or later.');
    expect(check?.fix).toMatch(/Upgrade VM Compatibility/);
    expect(codes(run({ facts: facts({ hardwareVersion: 7 }) }))).not.toContain('WARM_HARDWARE_TOO_OLD');
    // A vCenter that does not say is not blocked on a guess.
    expect(codes(run({ facts: facts({ hardwareVersion: undefined }) }))).not.toContain('WARM_HARDWARE_TOO_OLD');
  });

  it('reads the hardware version from config.version', () => {
    expect(parseHardwareVersion('vmx-04')).toBe(4);
    expect(parseHardwareVersion('vmx-21')).toBe(21);
    expect(parseHardwareVersion('')).toBeUndefined();
    expect(parseHardwareVersion(undefined)).toBeUndefined();
  });

  it('blocks missing vCenter privileges in one check naming each privilege and where it is missing', () => {
    const checks = run({
      missing: [
        { privilege: privilege('VirtualMachine.Config.ChangeTracking'), on: 'vm' },
        { privilege: privilege('Datastore.Browse'), on: 'ds1' },
        { privilege: privilege('Datastore.Browse'), on: 'ds2' },
      ],
    });
    const blockers = checks.filter((c) => c.severity === 'blocker');
    expect(codes(blockers)).toEqual(['WARM_PRIVILEGE_MISSING']);
    expect(blockers[0]?.message).toBe(
      'Your vCenter role does not allow what replication does for you: Virtual machine > Change Configuration > Toggle disk change tracking (VirtualMachine.Config.ChangeTracking) on "db-01"; Datastore > Browse datastore (Datastore.Browse) on the datastore "ds1" and the datastore "ds2".',
    );
    expect(blockers[0]?.details).toEqual({
      missing: [
        { privilege: 'VirtualMachine.Config.ChangeTracking', on: 'vm-7' },
        { privilege: 'Datastore.Browse', on: 'ds1' },
        { privilege: 'Datastore.Browse', on: 'ds2' },
      ],
    });
  });

  it('says Power off is needed only for the guest shutdown at cutover', () => {
    const [check] = run({ missing: [{ privilege: GUEST_SHUTDOWN_PRIVILEGE, on: 'vm' }] });
    expect(check?.message).toBe('Your vCenter role does not allow what replication does for you: Virtual machine > Interaction > Power off (VirtualMachine.Interact.PowerOff) on "db-01".');
    expect(check?.fix).toBe(
      'Ask your vCenter administrator for this privilege, or choose Migrate now. Power off is needed only because the connector shuts the guest down at cutover: with "I will power off the VM myself" it is not.',
    );
    const other = run({ missing: [{ privilege: privilege('Datastore.Browse'), on: 'ds1' }] })[0];
    expect(other?.fix).toBe('Ask your vCenter administrator for this privilege, or choose Migrate now.');
  });

  it('asks for the privileges replication uses, QueryChangedDiskAreas included', () => {
    expect(WARM_PRIVILEGES.map((p) => p.id)).toEqual([
      'VirtualMachine.State.CreateSnapshot',
      'VirtualMachine.State.RemoveSnapshot',
      'VirtualMachine.Config.ChangeTracking',
      'VirtualMachine.Provisioning.DiskRandomRead',
      'Datastore.Browse',
    ]);
  });

  it('warns when the guest shutdown at cutover cannot work because VMware Tools is not running', () => {
    const checks = run({ facts: facts({ toolsRunning: false }) });
    const tools = checks.find((c) => c.code === 'WARM_TOOLS_NOT_RUNNING');
    expect(tools).toMatchObject({ severity: 'warning', message: 'VMware Tools is not running in "db-01", so the connector cannot shut down the guest operating system at cutover.' });
    expect(tools?.fix).toMatch(/power off the VM yourself at cutover/);
    // Not when the user powers the VM off, nor when Tools runs.
    expect(codes(run({ facts: facts({ toolsRunning: false }), shutdown: 'user' }))).not.toContain('WARM_TOOLS_NOT_RUNNING');
    expect(codes(run())).not.toContain('WARM_TOOLS_NOT_RUNNING');
  });

  it('warns that a powered-off VM gains nothing from replication (Migrate now is as fast)', () => {
    const checks = run({ vm: vm({ powerState: 'poweredOff' }), facts: facts({ toolsRunning: false }) });
    expect(checks.map((c) => [c.code, c.severity])).toEqual([
      ['WARM_POWERED_OFF', 'warning'],
      ['NITRO_READINESS', 'info'],
    ]);
    expect(checks[0]?.message).toMatch(/is powered off, so nothing changes between replication cycles: Migrate now copies the same disks just as fast/);
  });
});

describe('Nitro readiness (RegisterImage or VM Import)', () => {
  const nitro = (over: Partial<WarmRuleInput> = {}) => run(over).find((c) => c.code === 'NITRO_READINESS')!;

  it('states that a guest has the drivers, naming VMware Tools as the source, and that registering the disks directly may be chosen', () => {
    const check = nitro();
    expect(check.message).toBe(
      "The guest has the ENA and NVMe drivers that Nitro-based EC2 instances need: VMware Tools reports Red Hat Enterprise Linux 8 (64-bit) running in the guest. You can choose to register the replicated disks directly (RegisterImage), which is faster than VM Import/Export's conversion; VM Import/Export works for every guest.",
    );
    expect(check.details).toEqual({ nitroReady: true, source: 'vmware-tools', guestId: 'rhel8_64Guest', firmware: 'efi' });
  });

  it('blocks registering the disks directly for a guest that is not Nitro-ready, saying why and that VM Import installs the drivers', () => {
    const windows = vm({ guestId: 'windows2019srv_64Guest', guestFullName: 'Microsoft Windows Server 2019 (64-bit)' });
    const blocked = run({ vm: windows, facts: facts({ toolsRunning: false }), imagePath: 'register-image' }).find((c) => c.code === 'WARM_REGISTER_IMAGE_NOT_READY');
    expect(blocked).toMatchObject({ severity: 'blocker', details: { nitroReady: false, source: 'vm-settings', guestId: 'windows2019srv_64Guest' } });
    expect(blocked!.message).toBe(
      'The replicated disks of "db-01" cannot be registered directly as an image: the guest does not have the ENA and NVMe drivers that Nitro-based EC2 instances need (the guest OS in the VM settings is Microsoft Windows Server 2019 (64-bit) (VMware Tools is not running, so the running system is not confirmed)), so an image registered from them might not boot.',
    );
    expect(blocked!.fix).toBe('Choose Import with VM Import: VM Import/Export installs the drivers the instance needs.');
    // A guest the connector cannot judge is blocked too; a ready one is not, and neither is the default path.
    const ubuntu = vm({ guestId: 'ubuntu64Guest', guestFullName: 'Ubuntu Linux (64-bit)' });
    expect(run({ vm: ubuntu, facts: facts({ toolsRunning: false }), imagePath: 'register-image' }).find((c) => c.code === 'WARM_REGISTER_IMAGE_NOT_READY')?.message).toContain('the connector cannot tell whether the guest has');
    expect(codes(run({ imagePath: 'register-image' }))).toEqual(['NITRO_READINESS']);
    expect(codes(run({ vm: windows, facts: facts({ toolsRunning: false }) }))).toEqual(['WARM_TOOLS_NOT_RUNNING', 'NITRO_READINESS']);
  });

  it('uses the VM settings when Tools is not running, and says so', () => {
    const check = nitro({ facts: facts({ toolsRunning: false }) });
    expect(check.details).toMatchObject({ nitroReady: true, source: 'vm-settings' });
    expect(check.message).toContain('the guest OS in the VM settings is Red Hat Enterprise Linux 8 (64-bit) (VMware Tools is not running, so the running system is not confirmed)');
  });

  it('sends Windows and old kernels through VM Import, which installs the drivers', () => {
    const windows = nitro({ vm: vm({ guestId: 'windows2019srv_64Guest', guestFullName: 'Microsoft Windows Server 2019 (64-bit)' }), facts: facts({ toolsRunning: false }) });
    expect(windows.severity).toBe('info');
    expect(windows.details).toMatchObject({ nitroReady: false });
    expect(windows.message).toMatch(/^The guest does not have the ENA and NVMe drivers/);
    expect(windows.message).toContain("VM Import/Export, which makes the test instance's and the cutover's image from the replicated snapshots, installs the drivers the instance needs");
    expect(nitroReadiness({ configGuestId: 'centos6_64Guest', configGuestFullName: 'CentOS 6', toolsRunning: false }).ready).toBe(false);
    expect(nitroReadiness({ configGuestId: 'debian8_64Guest', configGuestFullName: 'Debian 8', toolsRunning: false }).ready).toBe(false);
  });

  it('cannot tell for a versionless guest id unless Tools names the release', () => {
    const ubuntu = { configGuestId: 'ubuntu64Guest', configGuestFullName: 'Ubuntu Linux (64-bit)' };
    expect(nitroReadiness({ ...ubuntu, toolsRunning: false })).toMatchObject({ ready: undefined, source: 'vm-settings' });
    expect(nitroReadiness({ ...ubuntu, toolsRunning: true, toolsGuestId: 'ubuntu64Guest', toolsGuestFullName: 'Ubuntu 22.04.3 LTS' })).toMatchObject({ ready: true, source: 'vmware-tools' });
    expect(nitroReadiness({ ...ubuntu, toolsRunning: true, toolsGuestId: 'ubuntu64Guest', toolsGuestFullName: 'Ubuntu 14.04.6 LTS' })).toMatchObject({ ready: false });
    const unknown = nitro({ vm: vm({ guestId: 'ubuntu64Guest', guestFullName: 'Ubuntu Linux (64-bit)' }), facts: facts({ toolsRunning: false }) });
    expect(unknown.details).toMatchObject({ nitroReady: null });
    expect(unknown.message).toMatch(/^The connector cannot tell whether the guest has the ENA and NVMe drivers/);
  });

  it('trusts what Tools reports running over the VM settings', () => {
    expect(nitroReadiness({ configGuestId: 'centos7_64Guest', configGuestFullName: 'CentOS 7', toolsRunning: true, toolsGuestId: 'rhel9_64Guest', toolsGuestFullName: 'Red Hat Enterprise Linux 9' })).toEqual({
      ready: true,
      source: 'vmware-tools',
      os: 'Red Hat Enterprise Linux 9',
      guestId: 'rhel9_64Guest',
    });
    // A stale guest id from stopped Tools is not trusted.
    expect(nitroReadiness({ configGuestId: 'centos7_64Guest', configGuestFullName: 'CentOS 7', toolsRunning: false, toolsGuestId: 'rhel9_64Guest' })).toMatchObject({ ready: undefined, source: 'vm-settings' });
  });
});

describe('cold checks worded for warm', () => {
  const independent = [{ key: 2001, label: 'Hard disk 2', capacityBytes: GiB, diskMode: 'independent_persistent', backingType: 'VirtualDiskFlatVer2BackingInfo' }];

  it('blocks independent disks whatever the power state: every cycle reads a snapshot', () => {
    const off = vm({ powerState: 'poweredOff', disks: independent });
    expect(diskChecks(off)).toEqual([]);
    const [check] = diskChecks(off, 'warm');
    expect(check).toMatchObject({ code: 'DISK_INDEPENDENT', severity: 'blocker' });
    expect(check?.message).toBe('Hard disk 2 of "db-01" is independent: snapshots and Changed Block Tracking do not cover it, so it cannot be replicated.');
    expect(check?.fix).toMatch(/Change the disk mode to Dependent/);
    expect(diskChecks(vm({ disks: independent }), 'warm')).toHaveLength(1);
  });

  it('blocks RDM disks for warm as for cold', () => {
    const rdm = [{ key: 2002, label: 'Hard disk 3', capacityBytes: GiB, diskMode: 'persistent', backingType: 'VirtualDiskRawDiskMappingVer1BackingInfo' }];
    expect(codes(diskChecks(vm({ disks: rdm }), 'warm'))).toEqual(['DISK_RDM']);
  });

  it('blocks a VM with snapshots of its own (the base disk the cycle reads would not be current)', () => {
    const checks = stateChecks(vm({ snapshotCount: 3 }), 'warm');
    expect(checks.map((c) => [c.code, c.severity])).toEqual([['SNAPSHOTS_PRESENT', 'blocker']]);
    expect(checks[0]?.message).toBe(
      '"db-01" has 3 snapshots. Replication reads the disk the connector\'s own snapshot freezes, which is the current state only when the VM has no other snapshots, so a VM with snapshots cannot be replicated.',
    );
    expect(checks[0]?.fix).toMatch(/Delete the snapshots \(Snapshots > Manage Snapshots > Delete All, which consolidates the disks\)/);
    // Cold keeps its warning, its own wording and its powered-on warning; a running VM is what warm is for.
    expect(stateChecks(vm({ snapshotCount: 3 })).map((c) => [c.code, c.severity])).toEqual([['SNAPSHOTS_PRESENT', 'warning'], ['POWERED_ON', 'warning']]);
    expect(stateChecks(vm({ snapshotCount: 3 }))[0]?.message).toMatch(/its snapshots are not migrated/);
    expect(stateChecks(vm(), 'warm')).toEqual([]);
  });

  it('leaves snapshot privileges to the warm privilege check (one blocker, not two)', () => {
    const none = { export: true, createSnapshot: false, removeSnapshot: false };
    expect(codes(privilegeChecks(vm(), none))).toEqual(['SNAPSHOT_PRIVILEGE_MISSING']);
    expect(privilegeChecks(vm(), none, 'warm')).toEqual([]);
  });
});
