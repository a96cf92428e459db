// The shell's calls to the stand-in server (/ui/api). The session cookie is httpOnly; fetch sends it.
import type {
  ApiErrorDto,
  DynamicItemsDto,
  DynamicItemsRequestDto,
  InventoryDto,
  LabDiskWriteDto,
  LabDiskWriteRequestDto,
  PluginsDto,
  RecentTaskDto,
  SessionDto,
  VmDetailsDto,
  VmEventDto,
} from '../../api-types.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/ui/api/${path}`, {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const err = json as Partial<ApiErrorDto> | null;
    throw new ApiError(res.status, err?.error ?? 'Error', err?.message ?? `HTTP ${res.status}`);
  }
  return json as T;
}

export const api = {
  session: () => call<{ session: SessionDto | null }>('GET', 'session').then((r) => r.session),
  login: (username: string, password: string) => call<SessionDto>('POST', 'login', { username, password }),
  logout: () => call<void>('POST', 'logout', {}),
  inventory: () => call<InventoryDto>('GET', 'inventory'),
  vm: (id: string) => call<VmDetailsDto>('GET', `vms/${encodeURIComponent(id)}`),
  recentTasks: () => call<{ tasks: RecentTaskDto[] }>('GET', 'recent-tasks').then((r) => r.tasks),
  vmEvents: (id: string) => call<{ events: VmEventDto[] }>('GET', `vms/${encodeURIComponent(id)}/events`).then((r) => r.events),
  plugins: (reload = false) => call<PluginsDto>('GET', `plugins${reload ? '?reload=1' : ''}`),
  dynamicItems: (instanceId: string, req: DynamicItemsRequestDto) =>
    call<DynamicItemsDto>('POST', `plugins/${encodeURIComponent(instanceId)}/dynamic-items`, req),
  /** Lab only (see LabDiskWriteCard). */
  labDiskWrite: (vmId: string, req: LabDiskWriteRequestDto) => call<LabDiskWriteDto>('POST', `lab/vms/${encodeURIComponent(vmId)}/disk-writes`, req),
  labGuestShutdown: (vmId: string) => call<{ poweredOffAt: string }>('POST', `lab/vms/${encodeURIComponent(vmId)}/guest-shutdown`, {}),
  labPowerOn: (vmId: string) => call<{ poweredOnAt: string }>('POST', `lab/vms/${encodeURIComponent(vmId)}/power-on`, {}),
};
