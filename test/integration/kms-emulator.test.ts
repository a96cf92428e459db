// The lab's KMS, driven only through the real @aws-sdk/client-kms: the seeded keys and aliases, key state, key
// policies, KMS's own errors, and failure injection shared with the EC2 emulator.
import {
  CancelKeyDeletionCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  type KeyMetadata,
} from '@aws-sdk/client-kms';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_KMS_ALIASES, startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';

const ACCOUNT = '111122223333';
const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };
let s3: S3Handle;
let lab: Ec2EmulatorHandle;
const clients: KMSClient[] = [];

function kms(region = 'us-east-1', maxAttempts?: number): KMSClient {
  const c = new KMSClient({ region, endpoint: lab.kmsUrl, credentials: creds, ...(maxAttempts ? { maxAttempts } : {}) });
  clients.push(c);
  return c;
}

async function describe_(ref: string, region = 'us-east-1'): Promise<KeyMetadata> {
  const out = await kms(region).send(new DescribeKeyCommand({ KeyId: ref }));
  if (!out.KeyMetadata) throw new Error(`no KeyMetadata for ${ref}`);
  return out.KeyMetadata;
}

/** The SDK's error name and message of a failing call. */
async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  s3 = await startS3({ buckets: ['lab-imports'] });
  lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, manualClock: true });
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await lab?.stop();
  await s3?.stop();
});

describe('lab KMS: seeded keys and aliases', () => {
  it('ListAliases names every seeded key with its TargetKeyId; an AWS-managed alias whose key does not exist yet has none', async () => {
    const out = await kms().send(new ListAliasesCommand({}));
    const byName = new Map((out.Aliases ?? []).map((a) => [a.AliasName, a]));
    for (const alias of Object.values(LAB_KMS_ALIASES)) {
      const a = byName.get(alias);
      expect(a?.TargetKeyId, alias).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(a?.AliasArn).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:${alias}`);
      expect(a?.CreationDate).toBeInstanceOf(Date);
    }
    expect(byName.get('alias/aws/s3')?.TargetKeyId).toBeUndefined();
    expect(out.Truncated).toBe(false);
  });

  it('ListKeys lists every key of the region with its ARN, paged with Limit/Marker', async () => {
    const all = await kms().send(new ListKeysCommand({}));
    expect(all.Keys).toHaveLength(Object.keys(LAB_KMS_ALIASES).length);
    for (const k of all.Keys ?? []) expect(k.KeyArn).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${k.KeyId}`);
    const first = await kms().send(new ListKeysCommand({ Limit: 4 }));
    expect(first.Keys).toHaveLength(4);
    expect(first.Truncated).toBe(true);
    const rest = await kms().send(new ListKeysCommand({ Limit: 4, Marker: first.NextMarker }));
    expect(rest.Truncated).toBe(false);
    expect([...(first.Keys ?? []), ...(rest.Keys ?? [])].map((k) => k.KeyId)).toEqual(all.Keys?.map((k) => k.KeyId));
    expect(await failure(kms().send(new ListKeysCommand({ Marker: '!!' })))).toMatchObject({ name: 'InvalidMarkerException' });
  });

  it('keys are regional: other ids in another region, and ListAliases filters by KeyId', async () => {
    const east = await describe_(LAB_KMS_ALIASES.usable);
    const west = await describe_(LAB_KMS_ALIASES.usable, 'us-west-2');
    expect(west.KeyId).not.toBe(east.KeyId);
    expect(west.Arn).toBe(`arn:aws:kms:us-west-2:${ACCOUNT}:key/${west.KeyId}`);
    const filtered = await kms().send(new ListAliasesCommand({ KeyId: east.KeyId }));
    expect(filtered.Aliases?.map((a) => a.AliasName)).toEqual([LAB_KMS_ALIASES.usable]);
  });

  it('DescribeKey reports state, spec, usage, manager and description by key id, key ARN, alias and alias ARN', async () => {
    const usable = await describe_(LAB_KMS_ALIASES.usable);
    expect(usable).toMatchObject({
      AWSAccountId: ACCOUNT,
      Enabled: true,
      KeyState: 'Enabled',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(usable.Description).toContain('usable by vmimport');
    for (const ref of [usable.KeyId ?? '', usable.Arn ?? '', `arn:aws:kms:us-east-1:${ACCOUNT}:${LAB_KMS_ALIASES.usable}`]) {
      expect((await describe_(ref)).KeyId).toBe(usable.KeyId);
    }
    expect(await describe_(LAB_KMS_ALIASES.awsEbs)).toMatchObject({ KeyManager: 'AWS', KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT' });
    expect(await describe_(LAB_KMS_ALIASES.disabled)).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    expect(await describe_(LAB_KMS_ALIASES.asymmetric)).toMatchObject({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT', KeyState: 'Enabled' });
    const retired = await describe_(LAB_KMS_ALIASES.pendingDeletion);
    expect(retired).toMatchObject({ KeyState: 'PendingDeletion', Enabled: false, PendingDeletionWindowInDays: 7 });
    expect(retired.DeletionDate).toBeInstanceOf(Date);
    expect(await describe_(LAB_KMS_ALIASES.notForVmimport)).toMatchObject({ KeyState: 'Enabled', KeyManager: 'CUSTOMER' });
  });

  it('GetKeyPolicy shows whether the vmimport role may use a key', async () => {
    const policyOf = async (alias: string) => {
      const id = (await describe_(alias)).KeyId;
      const out = await kms().send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'default' }));
      expect(out.PolicyName).toBe('default');
      return JSON.parse(out.Policy ?? '{}') as { Statement: { Principal: { AWS: string }; Action: string | string[] }[] };
    };
    const principals = (p: Awaited<ReturnType<typeof policyOf>>) => p.Statement.map((s) => s.Principal.AWS);
    expect(principals(await policyOf(LAB_KMS_ALIASES.usable))).toContain(`arn:aws:iam::${ACCOUNT}:role/vmimport`);
    const appTeam = await policyOf(LAB_KMS_ALIASES.notForVmimport);
    expect(principals(appTeam)).not.toContain(`arn:aws:iam::${ACCOUNT}:role/vmimport`);
    expect(appTeam.Statement.find((s) => s.Principal.AWS.endsWith(':root'))?.Action).toEqual(['kms:Describe*', 'kms:Get*', 'kms:List*']);
    expect(principals(await policyOf(LAB_KMS_ALIASES.awsEbs))).toContain('*');
  });
});

describe('lab KMS: errors as KMS answers them', () => {
  it('unknown keys and aliases: NotFoundException with KMS wording; malformed ARN: InvalidArnException', async () => {
    const missingKey = '0123abcd-1234-4abc-a123-0123456789ab';
    expect(await failure(describe_(missingKey))).toMatchObject({
      name: 'NotFoundException',
      message: `Key 'arn:aws:kms:us-east-1:${ACCOUNT}:key/${missingKey}' does not exist`,
      status: 400,
    });
    expect(await failure(describe_('alias/nope'))).toMatchObject({ name: 'NotFoundException', message: `Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/nope is not found.` });
    expect(await failure(describe_('alias/aws/s3'))).toMatchObject({ name: 'NotFoundException' });
    expect(await failure(describe_('not-a-key'))).toMatchObject({ name: 'NotFoundException', message: "Invalid keyId 'not-a-key'" });
    expect(await failure(describe_('arn:aws:kms:us-east-1:nope'))).toMatchObject({ name: 'InvalidArnException' });
    // A key ARN of another region is not found in this one.
    const west = await describe_(LAB_KMS_ALIASES.usable, 'us-west-2');
    expect(await failure(describe_(west.Arn ?? ''))).toMatchObject({ name: 'NotFoundException' });
  });

  it('GetKeyPolicy takes a key id or ARN only, and only the policy named default', async () => {
    expect(await failure(kms().send(new GetKeyPolicyCommand({ KeyId: LAB_KMS_ALIASES.usable })))).toMatchObject({ name: 'NotFoundException' });
    const id = (await describe_(LAB_KMS_ALIASES.usable)).KeyId;
    expect(await failure(kms().send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'other' })))).toMatchObject({ name: 'NotFoundException' });
  });

  it('the key policy decides: the AWS-managed key and the app team key cannot be disabled by the lab user', async () => {
    const denied = await failure(kms().send(new DisableKeyCommand({ KeyId: LAB_KMS_ALIASES.awsEbs })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('is not authorized to perform: kms:DisableKey');
    expect((await failure(kms().send(new DisableKeyCommand({ KeyId: LAB_KMS_ALIASES.notForVmimport })))).name).toBe('AccessDeniedException');
  });

  it('key state changes: disable/enable, schedule and cancel deletion, and what a key pending deletion refuses', async () => {
    const client = kms('eu-west-1');
    await client.send(new DisableKeyCommand({ KeyId: LAB_KMS_ALIASES.usable }));
    expect(await describe_(LAB_KMS_ALIASES.usable, 'eu-west-1')).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    await client.send(new EnableKeyCommand({ KeyId: LAB_KMS_ALIASES.usable }));
    expect((await describe_(LAB_KMS_ALIASES.usable, 'eu-west-1')).KeyState).toBe('Enabled');

    expect(await failure(client.send(new ScheduleKeyDeletionCommand({ KeyId: LAB_KMS_ALIASES.usable, PendingWindowInDays: 3 })))).toMatchObject({ name: 'ValidationException' });
    const scheduled = await client.send(new ScheduleKeyDeletionCommand({ KeyId: LAB_KMS_ALIASES.usable, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(await failure(client.send(new EnableKeyCommand({ KeyId: LAB_KMS_ALIASES.usable })))).toMatchObject({ name: 'KMSInvalidStateException' });
    await client.send(new CancelKeyDeletionCommand({ KeyId: LAB_KMS_ALIASES.usable }));
    expect((await describe_(LAB_KMS_ALIASES.usable, 'eu-west-1')).KeyState).toBe('Disabled');
    await client.send(new EnableKeyCommand({ KeyId: LAB_KMS_ALIASES.usable }));
  });

  it('a key whose deletion date passes is deleted with its aliases', async () => {
    const client = kms('us-west-2');
    const id = (await describe_(LAB_KMS_ALIASES.pendingDeletion, 'us-west-2')).KeyId;
    await lab.emulator.advance(8 * 24 * 3600 * 1000);
    expect(await failure(client.send(new DescribeKeyCommand({ KeyId: id })))).toMatchObject({ name: 'NotFoundException' });
    const aliases = await client.send(new ListAliasesCommand({}));
    expect(aliases.Aliases?.map((a) => a.AliasName)).not.toContain(LAB_KMS_ALIASES.pendingDeletion);
  });

  it('a request without SigV4 credentials scope is refused', async () => {
    const res = await fetch(lab.kmsUrl, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ListKeys', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });
});

describe('lab KMS: any request', () => {
  it('arbitrary bodies for every action get a KMS error or an answer, never an internal failure', async () => {
    // eu-west-1: the fuzz may disable or schedule the deletion of its keys.
    const unserved = await fetch(lab.kmsUrl, {
      method: 'POST',
      headers: { 'x-amz-target': 'TrentService.ListKeys', authorization: 'AWS4-HMAC-SHA256 Credential=AKIDLAB/20261203/ap-south-1/kms/aws4_request, SignedHeaders=host, Signature=0' },
      body: '{}',
    });
    expect(unserved.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
    const actions = ['ListKeys', 'ListAliases', 'DescribeKey', 'GetKeyPolicy', 'ListKeyPolicies', 'EnableKey', 'DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'Encrypt'];
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.constantFrom(...Object.values(LAB_KMS_ALIASES), 'alias/', 'arn:aws:kms:'));
    const body = fc.oneof(
      fc.dictionary(fc.constantFrom('KeyId', 'Limit', 'Marker', 'PolicyName', 'PendingWindowInDays'), value).map((o) => JSON.stringify(o)),
      fc.json(),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...actions), body, async (action, text) => {
        const res = await fetch(lab.kmsUrl, {
          method: 'POST',
          headers: {
            'x-amz-target': `TrentService.${action}`,
            'content-type': 'application/x-amz-json-1.1',
            authorization: 'AWS4-HMAC-SHA256 Credential=AKIDLAB/20261203/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=0',
          },
          body: text,
        });
        const answer = (await res.json()) as { __type?: string };
        expect(res.status, `${action} ${text}`).toBeLessThan(500);
        if (res.status !== 200) expect(answer.__type).toBe(res.headers.get('x-amzn-errortype'));
      }),
      { numRuns: 200 },
    );
  });
});

describe('lab KMS: failure injection', () => {
  it('throttling and 500s are retried by the SDK; a reset connection surfaces when retries run out', async () => {
    const before = lab.emulator.calls('ListAliases');
    lab.emulator.throttle('ListAliases', 1);
    lab.emulator.serverError('ListAliases', 1);
    const out = await kms().send(new ListAliasesCommand({}));
    expect(out.Aliases?.length).toBeGreaterThan(0);
    expect(lab.emulator.calls('ListAliases') - before).toBe(3);

    lab.emulator.throttle('DescribeKey', 1);
    expect(await failure(kms('us-east-1', 1).send(new DescribeKeyCommand({ KeyId: LAB_KMS_ALIASES.usable })))).toMatchObject({ name: 'ThrottlingException', status: 400 });
    lab.emulator.serverError('DescribeKey', 1);
    expect(await failure(kms('us-east-1', 1).send(new DescribeKeyCommand({ KeyId: LAB_KMS_ALIASES.usable })))).toMatchObject({ name: 'KMSInternalException', status: 500 });
    lab.emulator.resetConnections('ListKeys', 1);
    const reset = await failure(kms('us-east-1', 1).send(new ListKeysCommand({})));
    expect(reset.message).toMatch(/socket hang up|ECONNRESET/);
    expect(lab.emulator.pendingFaults()).toBe(0);
  });
});
