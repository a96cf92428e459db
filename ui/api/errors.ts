import { isAxiosError } from 'axios';
import type { ApiErrorBody, ErrorCode } from '../../connector/contract/index.ts';

/** Every failure the UI shows, normalised at one boundary. */
export interface ApiError {
  status: number;
  code: ErrorCode | 'NETWORK';
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
  return { status: 0, code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
