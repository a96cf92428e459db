import { keepPreviousData, queryOptions } from '@tanstack/react-query';
import type { Api } from '../../api/client.ts';
import type { BootMode, PreflightQuery } from '../../../connector/contract/index.ts';

export const vmQueries = {
  all: () => ['vms'] as const,
  detail: (api: Api, vmId: string) => queryOptions({ queryKey: [...vmQueries.all(), 'detail', vmId] as const, queryFn: () => api.vm(vmId) }),
  /** Whether the user may migrate the VM, and if not what is missing (asked before the form shows). */
  migrateAccess: (api: Api, vmId: string) =>
    queryOptions({ queryKey: [...vmQueries.all(), 'migrate-access', vmId] as const, queryFn: () => api.migrateAccess(vmId), staleTime: 0 }),
  preflight: (api: Api, vmId: string, q: PreflightQuery) =>
    queryOptions({
      queryKey: [...vmQueries.all(), 'preflight', vmId, q] as const,
      queryFn: () => api.preflight(vmId, q),
      // Keep the last answer on screen while the next choice is checked: no flicker while typing.
      placeholderData: keepPreviousData,
      staleTime: 0,
    }),
};

/** The environment lookups the form needs; keyed under the environment so admin edits invalidate them. */
export const environmentQueries = {
  all: () => ['environments'] as const,
  list: (api: Api) => queryOptions({ queryKey: [...environmentQueries.all(), 'list'] as const, queryFn: () => api.environments() }),
  subnets: (api: Api, envId: string) =>
    queryOptions({ queryKey: [...environmentQueries.all(), envId, 'subnets'] as const, queryFn: () => api.subnets(envId) }),
  securityGroups: (api: Api, envId: string) =>
    queryOptions({ queryKey: [...environmentQueries.all(), envId, 'security-groups'] as const, queryFn: () => api.securityGroups(envId) }),
  /** With the VM's boot mode once the pre-flight has read it: a UEFI guest is offered only the types that boot UEFI. */
  instanceTypes: (api: Api, envId: string, bootMode?: BootMode) =>
    queryOptions({ queryKey: [...environmentQueries.all(), envId, 'instance-types', bootMode ?? 'any'] as const, queryFn: () => api.instanceTypes(envId, bootMode) }),
  /** The KMS keys an import in the environment may use (and the ones it may not, with why). */
  kmsKeys: (api: Api, envId: string) =>
    queryOptions({ queryKey: [...environmentQueries.all(), envId, 'kms-keys'] as const, queryFn: () => api.kmsKeys(envId) }),
  permissions: (api: Api, envId: string) =>
    queryOptions({ queryKey: [...environmentQueries.all(), envId, 'permissions'] as const, queryFn: () => api.permissions(envId) }),
};

export const regionQueries = {
  all: () => ['regions'] as const,
  list: (api: Api) => queryOptions({ queryKey: [...regionQueries.all(), 'list'] as const, queryFn: () => api.regions(), staleTime: 5 * 60_000 }),
};
