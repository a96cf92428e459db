import { isAxiosError } from 'axios';
import type { ApiErrorBody, ErrorCode } from '../../connector/contract/index.ts';
import { HostProblem } from '../host/host.ts';

/** Every failure the UI shows, normalised at one boundary. */
export interface ApiError {
  status: number;
  code: ErrorCode | 'NETWORK' | 'HOST';
  message: string;
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as ApiErrorBody).code === 'string' && typeof (v as ApiErrorBody).message === 'string';
}

export function toApiError(err: unknown): ApiError {
  if (isAxiosError(err)) {
    const body: unknown = err.response?.data;
    if (isErrorBody(body)) return { status: err.response?.status ?? 0, code: body.code, message: body.message };
    if (!err.response) {
      return { status: 0, code: 'NETWORK', message: 'The connector did not answer. Check that the connector service is running.' };
    }
    return { status: err.response.status, code: 'INTERNAL', message: `The connector answered HTTP ${err.response.status}.` };
  }
  // The request never left: the vSphere Client's SDK did not give a session or the connector's address.
  if (err instanceof HostProblem) {
    return { status: 0, code: 'HOST', message: `The vSphere Client did not give the plugin what it needs to call the connector (${err.detail}). Reload the vSphere Client.` };
  }
  return { status: 0, code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
