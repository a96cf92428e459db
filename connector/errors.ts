import type { ErrorCode } from './contract/index.ts';

/** An error the connector reports to the caller as `{ code, message, details }`. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notAuthenticated = (message: string) => new AppError(401, 'NOT_AUTHENTICATED', message);
