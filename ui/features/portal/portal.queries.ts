import { queryOptions } from '@tanstack/react-query';
import type { Api } from '../../api/client.ts';
import type { MigrationList, MigrationState } from '../../../connector/contract/index.ts';

const terminal: ReadonlySet<MigrationState> = new Set(['completed', 'failed', 'cancelled']);

/** Refresh every few seconds while any task is still moving; stop once all are terminal. */
export function refetchWhileActive(list: MigrationList | undefined, ms = 3000): number | false {
  return list?.items.some((m) => !terminal.has(m.state)) ? ms : false;
}

export const meQuery = (api: Api) => queryOptions({ queryKey: ['me'] as const, queryFn: () => api.me(), staleTime: 60_000 });

export const migrationQueries = {
  all: () => ['migrations'] as const,
  byEnvironment: (api: Api, environmentId: string) =>
    queryOptions({
      queryKey: [...migrationQueries.all(), 'list', { environmentId }] as const,
      queryFn: () => api.migrations({ environmentId, limit: 200 }),
      staleTime: 0,
      refetchInterval: (q) => refetchWhileActive(q.state.data),
    }),
  byVm: (api: Api, vmId: string) =>
    queryOptions({
      queryKey: [...migrationQueries.all(), 'list', { vmId }] as const,
      queryFn: () => api.migrations({ vmId, limit: 50 }),
      staleTime: 0,
      refetchInterval: (q) => refetchWhileActive(q.state.data),
    }),
};

const exportTerminal = new Set(['cancelled', 'completed', 'failed']);

export const instanceQueries = {
  all: () => ['instances'] as const,
  byEnvironment: (api: Api, environmentId: string) =>
    queryOptions({
      queryKey: [...instanceQueries.all(), { environmentId }] as const,
      queryFn: () => api.instances(environmentId),
      // EC2 states like pending/stopping settle within a minute; poll only while one is in flight.
      refetchInterval: (q) => (q.state.data?.items.some((i) => i.state === 'pending' || i.state === 'stopping') ? 3000 : false),
    }),
};

export const exportQueries = {
  all: () => ['exports'] as const,
  lastWeek: (api: Api) =>
    queryOptions({
      queryKey: [...exportQueries.all(), { days: 7 }] as const,
      queryFn: () => api.exports(7),
      staleTime: 0,
      refetchInterval: (q) => (q.state.data?.items.some((e) => !exportTerminal.has(e.state)) ? 3000 : false),
    }),
  settings: (api: Api) => queryOptions({ queryKey: [...exportQueries.all(), 'settings'] as const, queryFn: () => api.exportSettings() }),
};

const waveEnded = new Set(['completed', 'completed-with-failures', 'cancelled']);

/** Waves of an environment: refreshed while any has not ended (counts, bytes left and ETA move with its tasks). */
export const waveQueries = {
  all: () => ['waves'] as const,
  byEnvironment: (api: Api, environmentId: string) =>
    queryOptions({
      queryKey: [...waveQueries.all(), { environmentId }] as const,
      queryFn: () => api.waves({ environmentId, limit: 50 }),
      staleTime: 0,
      refetchInterval: (q) => (q.state.data?.items.some((w) => !waveEnded.has(w.state)) ? 3000 : false),
    }),
};
