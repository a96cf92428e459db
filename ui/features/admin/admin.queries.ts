import { queryOptions } from '@tanstack/react-query';
import type { Api } from '../../api/client.ts';

export const awsLookupQueries = {
  all: () => ['aws'] as const,
  vpcs: (api: Api, region: string) => queryOptions({ queryKey: [...awsLookupQueries.all(), region, 'vpcs'] as const, queryFn: () => api.regionVpcs(region) }),
  subnets: (api: Api, region: string, vpcId: string) =>
    queryOptions({ queryKey: [...awsLookupQueries.all(), region, vpcId, 'subnets'] as const, queryFn: () => api.regionSubnets(region, vpcId) }),
  securityGroups: (api: Api, region: string, vpcId: string) =>
    queryOptions({ queryKey: [...awsLookupQueries.all(), region, vpcId, 'security-groups'] as const, queryFn: () => api.regionSecurityGroups(region, vpcId) }),
};

export const auditQueries = {
  all: () => ['audit'] as const,
  page: (api: Api, before: number | undefined) =>
    queryOptions({ queryKey: [...auditQueries.all(), { before }] as const, queryFn: () => api.audit({ limit: 50, ...(before ? { before } : {}) }) }),
};

export const statusQueries = {
  status: (api: Api) => queryOptions({ queryKey: ['connector', 'status'] as const, queryFn: () => api.connectorStatus(), refetchInterval: 30_000 }),
};
