// Whether a guest already carries the drivers Nitro-based EC2 instances need (ENA networking and NVMe storage), so an
// image can be registered straight from the replicated EBS snapshots (RegisterImage) instead of going through VM
// Import, which installs them. Judged from the guest OS id only: a "no" or "cannot tell" simply means VM Import.

export interface NitroInput {
  /** The guest OS set in the VM settings (config.guestId). */
  configGuestId: string;
  configGuestFullName: string;
  /** What VMware Tools reports running in the guest; trusted only while Tools runs. */
  toolsRunning: boolean;
  toolsGuestId?: string | undefined;
  toolsGuestFullName?: string | undefined;
}

export interface NitroVerdict {
  /** true: drivers in the stock OS; false: known to lack them; undefined: cannot tell from the facts. */
  ready: boolean | undefined;
  /** Where the OS fact comes from. */
  source: 'vmware-tools' | 'vm-settings';
  /** The OS as that source names it. */
  os: string;
  guestId: string;
}

// Distributions whose stock kernels ship the ENA and NVMe drivers (ENA is in mainline Linux since 4.9; AWS lists
// these releases as supported on Nitro). Versionless ids (ubuntu64Guest, otherLinux…) cannot be judged.
const READY = /^(amazonlinux[23]_64Guest|rhel(8|9|1\d)_64Guest|centos(8|9|1\d)_64Guest|oracleLinux(8|9|1\d)_64Guest|rockylinux_64Guest|almalinux_64Guest|debian(9|1\d)_64Guest|sles(15|16)_64Guest)$/;
// Kernels older than ENA, and Windows, which has neither driver until someone installs AWS's ENA and NVMe drivers.
const NOT_READY = /^(win|rhel[2-6](_64)?Guest|centos[5-6]?(_64)?Guest|debian[4-8](_64)?Guest|sles1[01]?(_64)?Guest|oracleLinux[4-6]?(_64)?Guest)/i;

/** Ubuntu 16.04 and later (from the Tools' full name, when it carries the release). */
function ubuntuRelease(fullName: string | undefined): number | undefined {
  const m = /ubuntu\D*(\d{2})\.(\d{2})/i.exec(fullName ?? '');
  return m ? Number(m[1]) + Number(m[2]) / 100 : undefined;
}

export function nitroReadiness(input: NitroInput): NitroVerdict {
  const fromTools = input.toolsRunning && !!input.toolsGuestId;
  const guestId = fromTools ? input.toolsGuestId! : input.configGuestId;
  const os = (fromTools ? input.toolsGuestFullName : input.configGuestFullName) || guestId;
  const source = fromTools ? 'vmware-tools' : 'vm-settings';
  let ready: boolean | undefined;
  if (READY.test(guestId)) ready = true;
  else if (NOT_READY.test(guestId)) ready = false;
  else if (/^ubuntu/i.test(guestId)) {
    const release = ubuntuRelease(fromTools ? input.toolsGuestFullName : undefined);
    ready = release === undefined ? undefined : release >= 16.04;
  }
  return { ready, source, os, guestId };
}
