import { AppError } from '../errors.ts';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPROTO']);
const DENIED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
]);

export interface AwsCall {
  /** IAM-style action, e.g. ec2:DescribeSubnets */
  action: string;
  /** e.g. "EC2 in us-east-1" */
  where: string;
}

/** Turns an AWS SDK failure into an error an administrator can act on; never echoes credentials. */
export function toAwsAppError(err: unknown, call: AwsCall): AppError {
  if (err instanceof AppError) return err;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    return new AppError(
      502,
      'AWS_NOT_CONFIGURED',
      'The connector has no AWS credentials. Give the connector an IAM role, or set AWS credentials (environment variables or a profile) for the connector service.',
    );
  }
  const netCode = e.code ?? (NETWORK_CODES.has(name) ? name : undefined);
  if ((netCode && NETWORK_CODES.has(netCode)) || name === 'TimeoutError' || name === 'RequestTimeout') {
    return new AppError(
      502,
      'AWS_UNREACHABLE',
      `The connector cannot reach AWS (${call.where}): ${netCode ?? 'timed out'}. Check the connector's network access to AWS (DNS, firewall, web proxy).`,
    );
  }
  if (DENIED.has(name)) {
    return new AppError(
      502,
      'AWS_ACCESS_DENIED',
      `AWS refused ${call.action} (${call.where}) for the connector's AWS identity (${name}). Allow ${call.action} in the IAM policy of the connector's user or role.`,
      { action: call.action, awsError: name },
    );
  }
  const text = (e.message ?? '').slice(0, 300);
  return new AppError(502, 'AWS_ERROR', `AWS answered ${call.action} (${call.where}) with ${name}${text ? `: ${text}` : ''}.`, {
    action: call.action,
    awsError: name,
  });
}

/** The AWS error name of an SDK failure (e.g. InvalidSubnetID.NotFound), if any. */
export const awsErrorName = (err: unknown): string | undefined => (err as { name?: string } | null)?.name;
