// HTTP front of the lab KMS: AWS JSON 1.1 (POST /, X-Amz-Target: TrentService.<Action>), errors as KMS answers
// them ({"__type": "NotFoundException", "message": …} with x-amzn-ErrorType). Use it only through @aws-sdk/client-kms.
import type { IncomingMessage, Server } from 'node:http';
import { applyFault, createAwsServer, readBody, sigV4Scope, type AwsReply, type InjectedFault } from '../aws-http.ts';
import { keyPolicyVerdict } from './policy.ts';
import { KmsError, type KmsAlias, type KmsKey, type KmsStore } from './store.ts';

/** What the KMS front needs of its host (the EC2 emulator: shared clock and failure injection). */
export interface KmsHost {
  readonly kms: KmsStore;
  readonly accountId: string;
  now(): number;
  takeFault(action: string): InjectedFault | undefined;
}

type Input = Record<string, unknown>;
type Handler = (region: string, input: Input) => unknown;

const MAX_BODY = 1024 * 1024;
const DAY = 24 * 3600 * 1000;
/** KMS serialises timestamps as epoch seconds. */
const epoch = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function str(input: Input, name: string, required = false): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw new KmsError('ValidationException', `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0) throw new KmsError('ValidationException', `${name} must be a non-empty string.`);
  return v;
}

function limit(input: Input, max: number, def: number): number {
  const v = input.Limit;
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new KmsError('ValidationException', `1 validation error detected: Value '${String(v)}' at 'limit' failed to satisfy constraint: Member must have value between 1 and ${max}`);
  }
  return v;
}

/** Opaque Marker paging. */
function page<T>(items: T[], input: Input, max: number, def: number): { items: T[]; NextMarker?: string; Truncated: boolean } {
  const marker = str(input, 'Marker');
  let start = 0;
  if (marker !== undefined) {
    const m = /^at:(\d+)$/.exec(Buffer.from(marker, 'base64url').toString('utf8'));
    const n = Number(m?.[1]);
    if (!m || !Number.isInteger(n)) throw new KmsError('InvalidMarkerException', 'The request was rejected because the marker that specifies where pagination should next begin is not valid.');
    start = n;
  }
  const end = start + limit(input, max, def);
  const slice = items.slice(start, end);
  return end < items.length ? { items: slice, NextMarker: Buffer.from(`at:${end}`).toString('base64url'), Truncated: true } : { items: slice, Truncated: false };
}

function keyMetadata(host: KmsHost, k: KmsKey): Record<string, unknown> {
  const symmetric = k.keySpec === 'SYMMETRIC_DEFAULT';
  return {
    AWSAccountId: host.accountId,
    KeyId: k.id,
    Arn: k.arn,
    CreationDate: epoch(k.creationDate),
    Enabled: k.state === 'Enabled',
    Description: k.description,
    KeyUsage: k.keyUsage,
    KeyState: k.state,
    DeletionDate: epoch(k.deletionDate),
    PendingDeletionWindowInDays: k.pendingWindowInDays,
    Origin: 'AWS_KMS',
    KeyManager: k.keyManager,
    CustomerMasterKeySpec: k.keySpec,
    KeySpec: k.keySpec,
    EncryptionAlgorithms: k.keyUsage !== 'ENCRYPT_DECRYPT' ? undefined : symmetric ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    SigningAlgorithms: k.keyUsage === 'SIGN_VERIFY' ? ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_256'] : undefined,
    MultiRegion: false,
  };
}

function aliasEntry(a: KmsAlias): Record<string, unknown> {
  return { AliasName: a.name, AliasArn: a.arn, TargetKeyId: a.targetKeyId, CreationDate: epoch(a.creationDate), LastUpdatedDate: epoch(a.creationDate) };
}

export function createKmsServer(host: KmsHost): Server {
  const caller = `arn:aws:iam::${host.accountId}:user/lab-connector`;

  /** The key policy decides (the lab caller's own IAM policies allow every kms: action). */
  function authorize(k: KmsKey, action: string): void {
    if (keyPolicyVerdict(k.policy, host.accountId, caller, action) === 'deny') {
      throw new KmsError('AccessDeniedException', `User: ${caller} is not authorized to perform: ${action} on resource: ${k.arn} because no resource-based policy allows the ${action} action`);
    }
  }

  function key(region: string, input: Input, action: string, allowAlias = true): KmsKey {
    const k = host.kms.resolve(region, str(input, 'KeyId', true) ?? '', allowAlias);
    authorize(k, action);
    return k;
  }

  const handlers: Record<string, Handler> = {
    ListKeys(region, input) {
      const { items, ...rest } = page(host.kms.keys(region), input, 1000, 100);
      return { Keys: items.map((k) => ({ KeyId: k.id, KeyArn: k.arn })), ...rest };
    },
    ListAliases(region, input) {
      let aliases = host.kms.aliases(region);
      const keyId = str(input, 'KeyId');
      if (keyId !== undefined) {
        const k = host.kms.resolve(region, keyId, false);
        aliases = aliases.filter((a) => a.targetKeyId === k.id);
      }
      const { items, ...rest } = page(aliases, input, 100, 50);
      return { Aliases: items.map(aliasEntry), ...rest };
    },
    DescribeKey: (region, input) => ({ KeyMetadata: keyMetadata(host, key(region, input, 'kms:DescribeKey')) }),
    GetKeyPolicy(region, input) {
      const k = key(region, input, 'kms:GetKeyPolicy', false);
      const name = str(input, 'PolicyName') ?? 'default';
      if (name !== 'default') throw new KmsError('NotFoundException', `No such policy exists: ${name}. The only valid policy name is default.`);
      return { Policy: k.policy, PolicyName: 'default' };
    },
    ListKeyPolicies: (region, input) => (key(region, input, 'kms:ListKeyPolicies', false), { PolicyNames: ['default'], Truncated: false }),
    EnableKey(region, input) {
      const k = key(region, input, 'kms:EnableKey');
      if (k.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${k.arn} is pending deletion.`);
      k.state = 'Enabled';
      return {};
    },
    DisableKey(region, input) {
      const k = key(region, input, 'kms:DisableKey');
      if (k.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${k.arn} is pending deletion.`);
      k.state = 'Disabled';
      return {};
    },
    ScheduleKeyDeletion(region, input) {
      const k = key(region, input, 'kms:ScheduleKeyDeletion');
      const days = input.PendingWindowInDays ?? 30;
      if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
        throw new KmsError('ValidationException', `1 validation error detected: Value '${String(days)}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`);
      }
      if (k.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${k.arn} is pending deletion.`);
      k.state = 'PendingDeletion';
      k.pendingWindowInDays = days;
      k.deletionDate = host.now() + days * DAY;
      return { KeyId: k.arn, DeletionDate: epoch(k.deletionDate), KeyState: k.state, PendingWindowInDays: days };
    },
    CancelKeyDeletion(region, input) {
      const k = key(region, input, 'kms:CancelKeyDeletion');
      if (k.state !== 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${k.arn} is not pending deletion.`);
      // A key whose deletion is cancelled comes back Disabled, as in KMS.
      k.state = 'Disabled';
      k.deletionDate = undefined;
      k.pendingWindowInDays = undefined;
      return { KeyId: k.arn };
    },
  };

  const json = (status: number, body: unknown, errorType?: string): AwsReply => ({
    status,
    contentType: 'application/x-amz-json-1.1',
    body: JSON.stringify(body),
    ...(errorType ? { headers: { 'x-amzn-errortype': errorType } } : {}),
  });

  async function handle(req: IncomingMessage): Promise<AwsReply | undefined> {
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = (await readBody(req, MAX_BODY, () => new KmsError('ValidationException', 'The request body is larger than 1 MiB.'))).toString('utf8');
      const scope = sigV4Scope(req.headers.authorization);
      if (!scope) throw new KmsError('MissingAuthenticationTokenException', 'Request is missing a SigV4 Authorization header. Configure credentials (any access key works against the lab emulator).');
      const region = scope.region;
      const action = /^TrentService\.([A-Za-z]+)$/.exec(target)?.[1];
      if (req.method !== 'POST' || action === undefined) throw new KmsError('UnknownOperationException', `Expected POST / with X-Amz-Target TrentService.<Action>, got ${req.method ?? ''} ${target || '(no target)'}.`);
      const dropped = applyFault(req, host.takeFault(action), {
        throttle: () => new KmsError('ThrottlingException', 'Rate exceeded'),
        serverError: () => new KmsError('KMSInternalException', 'The request was rejected because an internal exception occurred. The request can be retried.', 500),
      });
      if (dropped) return undefined;
      const handler = handlers[action];
      if (!handler) throw new KmsError('UnknownOperationException', `The lab KMS emulator does not implement ${action}.`);
      if (!host.kms.has(region)) throw new KmsError('UnrecognizedClientException', `The lab KMS emulator does not serve region '${region}'.`);
      host.kms.expire(host.now());
      let input: unknown;
      try {
        input = body.trim() === '' ? {} : JSON.parse(body);
      } catch {
        throw new KmsError('SerializationException', 'The request body is not valid JSON.');
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KmsError('SerializationException', 'The request body must be a JSON object.');
      return json(200, handler(region, input as Input) ?? {});
    } catch (err) {
      const e = err instanceof KmsError ? err : new KmsError('KMSInternalException', `Emulator failure: ${(err as Error).message}`, 500);
      return json(e.status, { __type: e.code, message: e.message }, e.code);
    }
  }

  return createAwsServer(handle);
}
