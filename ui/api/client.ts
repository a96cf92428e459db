import type { AxiosInstance } from 'axios';
import type { Me, VmDetail } from '../../connector/contract/index.ts';

/** Typed calls to the connector; request and response types come from its contract. */
export function createApi(http: AxiosInstance) {
  return {
    me: async (): Promise<Me> => (await http.get<Me>('/me')).data,
    vm: async (vmId: string): Promise<VmDetail> => (await http.get<VmDetail>(`/vms/${encodeURIComponent(vmId)}`)).data,
  };
}
export type Api = ReturnType<typeof createApi>;
