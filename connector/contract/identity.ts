import { z } from 'zod';

export const Me = z.object({
  userName: z.string(),
  isAdministrator: z.boolean(),
});
export type Me = z.infer<typeof Me>;

/**
 * One spelling per vCenter user, so permissions, the administrators list and token subjects compare equal:
 * vCenter reports `VSPHERE.LOCAL\Administrator` where people write `administrator@vsphere.local`.
 */
export function normalizeUserName(name: string): string {
  const trimmed = name.trim();
  const slash = trimmed.indexOf('\\');
  const canonical = slash > 0 && !trimmed.includes('@') ? `${trimmed.slice(slash + 1)}@${trimmed.slice(0, slash)}` : trimmed;
  return canonical.toLowerCase();
}
