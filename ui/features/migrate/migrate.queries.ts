import { queryOptions } from '@tanstack/react-query';
import type { Api } from '../../api/client.ts';

export const vmQueries = {
  all: () => ['vms'] as const,
  detail: (api: Api, vmId: string) =>
    queryOptions({ queryKey: [...vmQueries.all(), 'detail', vmId] as const, queryFn: () => api.vm(vmId) }),
};
