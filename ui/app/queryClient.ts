import { QueryClient } from '@tanstack/react-query';

/** The one query client of a view (the entry creates it before React arrives, to start the page's first requests). */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: false },
    },
  });
}
