import type { GuestPlatform } from '../contract/index.ts';

export interface GuestVerdict {
  platform?: GuestPlatform;
  /** supported: a family VM Import/Export supports; unsupported: one it never does; unknown: cannot tell. */
  support: 'supported' | 'unsupported' | 'unknown';
  /** Why, for unsupported. */
  reason?: string;
}

// vSphere guest ids (VirtualMachineGuestOsIdentifier) grouped by what VM Import/Export says about them
// (prerequisites page: Amazon Linux, CentOS, Debian, Fedora, Oracle Linux, RHEL, SUSE, Ubuntu, Windows Server 2003+,
// Windows 7+; not: 32-bit Linux, ARM, non-Linux Unix). Versions are deliberately not gated here: the kernel
// tables change, so unknown versions of a supported family pass and AWS has the last word.
const LINUX_FAMILIES = /^(ubuntu|rhel|centos|debian|sles|oracleLinux|amazonlinux|fedora|opensuse)/i;
const OTHER_LINUX = /^(other\d*x?Linux|otherLinux|asianux|mandriva|mandrake|turboLinux|redhat|suse|nld|sjds|genericLinux|coreos|photon|vmwarePhoton|rockylinux|almalinux|miraclelinux|kylinux|fusionos|prolinux|pardus)/i;
const OLD_WINDOWS = /^(win31|win95|win98|winMe|winNT|win2000|winXP|winVista)/i;
const NOT_LINUX_OR_WINDOWS = /^(freebsd|solaris|darwin|netware|os2|dos|openServer|unixWare|eComStation|vmkernel|sco|crxPod|crxSys)/i;

export function classifyGuest(guestId: string): GuestVerdict {
  if (/^arm|-arm|arm64/i.test(guestId)) return { support: 'unsupported', reason: 'ARM guests cannot be imported' };
  if (/^win/i.test(guestId)) {
    if (OLD_WINDOWS.test(guestId)) return { platform: 'Windows', support: 'unsupported', reason: 'this Windows version is older than VM Import/Export supports' };
    return { platform: 'Windows', support: 'supported' };
  }
  if (NOT_LINUX_OR_WINDOWS.test(guestId)) return { support: 'unsupported', reason: 'VM Import/Export imports Linux and Windows guests only' };
  if (LINUX_FAMILIES.test(guestId)) {
    if (!/64/.test(guestId)) return { platform: 'Linux', support: 'unsupported', reason: 'VM Import/Export does not import 32-bit Linux' };
    return { platform: 'Linux', support: 'supported' };
  }
  if (OTHER_LINUX.test(guestId)) return { platform: 'Linux', support: 'unknown' };
  return { support: 'unknown' };
}
