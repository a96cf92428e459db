import { queryOptions } from '@tanstack/react-query';
import type { ReturnList, ReturnRequestInput, ReturnSourceRef } from '../../../connector/contract/index.ts';
import type { Api } from '../../api/client.ts';

const moving = new Set(['running', 'cancelling']);

/** Refresh every two seconds while a task moves (its bytes, throughput and ETA), stop once all have ended. */
export const refetchWhileMoving = (list: ReturnList | undefined): number | false => (list?.items.some((r) => moving.has(r.state)) ? 2000 : false);

export const returnQueries = {
  all: () => ['returns'] as const,
  list: (api: Api) =>
    queryOptions({ queryKey: [...returnQueries.all(), 'list'] as const, queryFn: () => api.returns(), staleTime: 0, refetchInterval: (q) => refetchWhileMoving(q.state.data) }),
  // The inventory the user sees can change while the form is open; read it once per opening.
  choices: (api: Api, source: ReturnSourceRef) =>
    queryOptions({ queryKey: [...returnQueries.all(), 'choices', source] as const, queryFn: () => api.returnChoices(source), staleTime: 0, gcTime: 0, retry: false }),
  preflight: (api: Api, body: ReturnRequestInput | undefined) =>
    queryOptions({ queryKey: [...returnQueries.all(), 'preflight', body] as const, queryFn: () => api.returnPreflight(body!), staleTime: 0, gcTime: 30_000, retry: false }),
};
