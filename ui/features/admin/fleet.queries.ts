import { queryOptions } from '@tanstack/react-query';
import type { Api } from '../../api/client.ts';

export const fleetQueries = {
  all: () => ['fleet'] as const,
  connectors: (api: Api) => queryOptions({ queryKey: [...fleetQueries.all(), 'connectors'] as const, queryFn: () => api.fleetConnectors(), refetchInterval: 10_000 }),
  bandwidth: (api: Api, id: string) => queryOptions({ queryKey: [...fleetQueries.all(), 'bandwidth', id] as const, queryFn: () => api.connectorBandwidth(id) }),
};

/** "42 s", "3 min", "2 h" for a heartbeat's age. */
export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

/** An HH:MM of the connector's zone (offset `connectorOffset` minutes from UTC) in the browser's zone today. */
export function toUserTime(hhmm: string, connectorOffset: number, now = new Date()): string {
  const minutes = Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const userOffset = -now.getTimezoneOffset();
  const m = (((minutes - connectorOffset + userOffset) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
