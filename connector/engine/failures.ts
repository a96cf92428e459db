// Why a migration failed, in words a vSphere administrator can act on, and which AWS errors are worth retrying.
import { NfcDownloadError } from '../vsphere/nfc.ts';
import { VcenterNetworkError, VimFault } from '../vsphere/vim25.ts';
import type { MigrationRecord } from './types.ts';

/** An error whose message is meant for the vSphere administrator as is. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Maps a failed import's StatusMessage (and the stage it had reached) to what the administrator should do. */
export function importFailureText(statusMessage: string | undefined, t: MigrationRecord, lastStage?: string): string {
  const msg = (statusMessage ?? 'no reason given').replace(/[.\s]+$/, '');
  const vm = t.vmName ?? t.vmId;
  const during = lastStage && lastStage !== 'waiting for import capacity in the region' ? ` while ${lastStage}` : '';
  if (/403|access|forbidden/i.test(msg)) {
    const multi = t.disks.length > 1;
    return (
      `EC2 could not read the uploaded disk${multi ? 's' : ''} of ${vm} (${msg}). ` +
      (multi
        ? // Seed troubleshooting, "Additional permissions are required to migrate multidisk virtual machines".
          'To migrate a virtual machine with more than one disk, log into the management portal setup page and grant the additional permissions required by the VM Import/Export service: click Fix Error there to grant the VM Import/Export service role (vmimport) read access to the staging bucket.'
        : 'Check that the VM Import service role (vmimport) exists and may read the staging bucket, then start the migration again.')
    );
  }
  if (/\bOS\b|operating system|kernel|boot|grub|driver|windows|linux/i.test(msg)) {
    return `EC2 could not import ${vm}${during}: ${msg}. Check that the VM's operating system and kernel are supported by VM Import/Export (VM Import/Export Prerequisites in the Amazon EC2 User Guide), then start the migration again.`;
  }
  if (/partition|volume|disk|format|vmdk|image|snapshot/i.test(msg)) {
    return `EC2 could not import ${vm}${during}: ${msg}. Check the VM's disks meet the VM Import/Export requirements (no encrypted or RDM disks, boot volume under 2 TiB, at most 21 volumes), then start the migration again.`;
  }
  return `EC2 could not import ${vm}${during}: ${msg}. Review VM Import/Export Requirements and Limitations in the Amazon EC2 User Guide, then start the migration again.`;
}

/** Engine-level rounds for one AWS call whose SDK retries ran out on a throttle, a 5xx or a dropped connection. */
export const AWS_CALL_ROUNDS = 4;

const THROTTLING_NAMES = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'ThrottledException', 'SlowDown', 'TooManyRequestsException', 'RequestThrottled', 'RequestThrottledException', 'EC2ThrottledException', 'BandwidthLimitExceeded']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  cause?: unknown;
}

/** An AWS call that kept failing with a retryable error; keeps the AWS error's name and metadata for callers that inspect them. */
export class AwsRetryError extends MigrationError {
  readonly $metadata: SdkErrorShape['$metadata'];

  constructor(message: string, cause: unknown) {
    super(message, { cause });
    const e = (cause ?? {}) as SdkErrorShape;
    this.name = e.name ?? 'AwsRetryError';
    this.$metadata = e.$metadata;
  }
}

function networkCode(err: unknown, depth = 0): string | undefined {
  const e = err as SdkErrorShape | undefined;
  if (!e || depth > 5) return undefined;
  if (e.code && NETWORK_CODES.has(e.code)) return e.code;
  return networkCode(e.cause, depth + 1);
}

/**
 * Whether retrying later may help: throttling, HTTP 5xx, timeouts and dropped connections.
 * Hand-written: the SDK's own classifiers live in @smithy/core, which is not a direct dependency.
 */
export function isRetryableAwsError(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  if (!e || typeof e !== 'object' || e.name === 'AbortError') return false;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return THROTTLING_NAMES.has(e.name ?? '') || status === 429 || status >= 500 || e.name === 'TimeoutError' || e.name === 'RequestTimeout' || networkCode(err) !== undefined;
}

/** What the administrator reads when `action` kept failing after every retry. */
export function awsRetryText(service: 'EC2' | 'S3' | 'EBS', action: string, region: string, err: unknown, attempts: number): string {
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const detail = (e.message ?? '').slice(0, 200).replace(/[.\s]+$/, '');
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  if (THROTTLING_NAMES.has(name) || status === 429) {
    return `AWS kept answering ${name} to ${service} ${action} in ${region} (${tries}, with backoff): the account's ${service} request rate limit is exhausted. Try again later, or raise the account's ${service} API rate limit (ask AWS Support), and stop other tools calling ${service} heavily with the same account.`;
  }
  const net = networkCode(err);
  if (net) {
    return `The connection to ${service} in ${region} kept failing during ${action} (${tries}, with backoff): ${net}${detail ? ` (${detail})` : ''}. Check the connector's network path to AWS (firewall, web proxy${service === 'S3' ? ', engine.s3Endpoint' : ''}), then start the migration again.`;
  }
  return `AWS kept answering ${name}${status ? ` (HTTP ${status})` : ''} to ${service} ${action} in ${region} (${tries}, with backoff)${detail ? `: ${detail}` : ''}. This is an error on AWS's side: check the AWS Health Dashboard for ${service} in ${region}, then start the migration again.`;
}

/** SDK attempts behind an error ($metadata.attempts is set by the SDK's retry middleware). */
export function sdkAttempts(err: unknown): number {
  return Math.max(1, (err as SdkErrorShape | undefined)?.$metadata?.attempts ?? 1);
}

/** Errors a vSphere administrator can act on (seed troubleshooting: ESX host reachability, certificates). */
export function failureMessage(err: unknown, t: MigrationRecord): string {
  if (err instanceof MigrationError) return err.message;
  const text = errorText(err);
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  const vm = t.vmName ?? t.vmId;
  // Already names the vCenter and what to check.
  if (err instanceof VcenterNetworkError) return text;
  if (err instanceof VimFault && err.faultType === 'NotAuthenticated') {
    return `vCenter ended the session the connector used to export ${vm}, and the connector has no vCenter account to log in again. Configure a vCenter account for the engine (engine.vcenterAccount) so long exports survive session timeouts, then start the migration again.`;
  }
  if (code && ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETUNREACH'].includes(code)) {
    const host = err instanceof NfcDownloadError ? ` ${err.host}` : '';
    return `Connector is unable to reach ESX host${host} to migrate virtual machine ${vm} (${text}). Make sure the connector can resolve and reach the ESX host on port 443.`;
  }
  if (/thumbprint|certificate|self.signed|CERT_/i.test(text)) {
    return `Certificate validation failed while exporting ${vm}: ${text}. Check the ESX host certificate, or the connector's SSL certificate validation setting.`;
  }
  const sdk = err as SdkErrorShape;
  if (t.phase === 'uploading' && sdk.$metadata !== undefined) {
    // S3 refused the upload itself (retryable errors arrive as AwsRetryError, a MigrationError, above).
    return `Uploading the disks of ${vm} to the staging bucket ${t.bucket} failed: ${sdk.name ?? 'Error'}: ${text}. Check that the connector's AWS credentials may write to that bucket (s3:PutObject and the multipart upload actions), then start the migration again.`;
  }
  if (t.phase === 'exporting' || t.phase === 'uploading') return `Exporting ${vm} from vCenter failed: ${text}`;
  if (t.phase === 'importing') return `The EC2 import of ${vm} failed: ${text}`;
  if (t.phase === 'launching') return `Launching the EC2 instance for ${vm} failed: ${text}`;
  return `Migration of ${vm} failed: ${text}`;
}

export function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The export lease went to `error` (vCenter or the ESX host ended it); retried like an interrupted download. */
export class LeaseFailure extends Error {
  override name = 'LeaseFailure';
}

/** The lease failure or disk download failure behind err, when a fresh export may succeed (TLS refusals never do). */
export function transferFailure(err: unknown): LeaseFailure | NfcDownloadError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof LeaseFailure) return e;
    if (e instanceof NfcDownloadError) return e.reason === 'tls' ? undefined : e;
  }
  return undefined;
}

/** Why the export gave up after `n` failed attempts, in the words of the seed's troubleshooting where it has them. */
export function transferFailureText(err: unknown, t: MigrationRecord, n: number): string {
  const vm = t.vmName ?? t.vmId;
  const f = transferFailure(err);
  const times = `${n} time${n === 1 ? '' : 's'}`;
  if (f instanceof LeaseFailure) {
    return `The export lease of ${vm} failed ${times}; vCenter reported: ${f.message}. Check the VM's recent tasks and events in vCenter and the ESX host's logs, then start the migration again.`;
  }
  if (f?.reason === 'unreachable') {
    return `Connector is unable to reach ESX host ${f.host} to migrate virtual machine ${vm} (${times}; last error: ${f.message}). Make sure the connector can resolve and reach the ESX host on port 443; if the host name is not fully qualified, add its domain to the DNS suffix search list (dns.searchSuffixes).`;
  }
  if (f?.reason === 'http') {
    return `The ESX host ${f.host} refused the disk download of ${vm} ${times} (last: ${f.message}). Check the ESX host and vCenter logs, then start the migration again.`;
  }
  return `The disk download from ESX host ${f?.host ?? 'unknown'} was interrupted ${times} while exporting ${vm} (last: ${errorText(f ?? err).replace(/ Retry the export\.$/, '')}); check the network between the connector and the ESX host, then start the migration again.`;
}

export function vcenterUnreachableText(err: VcenterNetworkError, n: number, ms: number): string {
  return (
    `Connector is unable to reach vCenter ${err.endpoint} (${err.code}; ${n} attempt${n === 1 ? '' : 's'} over ${Math.round(ms / 1000)} s). ` +
    'Check that vCenter is running and that the connector can reach it: the address and port in vcenter.url, DNS, and any firewall or proxy between the connector and vCenter; then start the migration again.'
  );
}
