import type { EnvironmentRole } from '../contract/index.ts';
import type { Store } from '../store/index.ts';
import { normalizeUserName } from './users.ts';

const RANK: Record<EnvironmentRole, number> = { NoAccess: 0, ReadOnly: 1, General: 2, Owner: 3 };

/** ReadOnly and above see the environment. */
export const canView = (role: EnvironmentRole) => RANK[role] >= RANK.ReadOnly;
/** General and Owner may migrate VMs into the environment (seed: "General … import instances"). */
export const canMigrate = (role: EnvironmentRole) => RANK[role] >= RANK.General;

/**
 * Who may do what: portal administrators (configured vCenter users) manage every environment and hold Owner
 * in each (they could grant it to themselves anyway); everyone else holds the roles granted per environment.
 */
export class AccessPolicy {
  private readonly admins: Set<string>;

  constructor(
    administrators: readonly string[],
    private readonly store: Store,
  ) {
    this.admins = new Set(administrators.map(normalizeUserName));
  }

  isAdministrator(principal: string): boolean {
    return this.admins.has(normalizeUserName(principal));
  }

  async roleIn(principal: string, environmentId: string): Promise<EnvironmentRole> {
    if (this.isAdministrator(principal)) return 'Owner';
    return (await this.store.permissions.forPrincipal(principal)).get(environmentId) ?? 'NoAccess';
  }

  /** Every environment role the user holds (administrators: none listed, they hold Owner everywhere). */
  rolesOf(principal: string): Promise<Map<string, EnvironmentRole>> {
    return this.store.permissions.forPrincipal(principal);
  }
}
