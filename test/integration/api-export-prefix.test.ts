// The S3 object prefix of an instance export is checked by the API as the Export dialog checks it (one contract).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody } from '../../connector/contract/index.ts';
import { startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;

beforeAll(async () => {
  lab = await startApiLab();
  admin = await lab.login('administrator@vsphere.local');
}, 180_000);
afterAll(async () => lab?.stop());

describe('POST /exports s3Prefix', () => {
  it.each([
    ['/vms/', 'Start the prefix with a name'],
    ['vms//web/', 'Start the prefix with a name'],
    ['vms/../web/', 'Start the prefix with a name'],
    ['./', 'Start the prefix with a name'],
    ['vms web/', 'Use letters, digits'],
  ])('refuses %j with what to change', async (s3Prefix, says) => {
    const res = await admin.call('POST', '/exports', { environmentId: 'env-none', instanceId: 'i-0123456789abcdef0', s3Prefix });
    expect(res.status).toBe(400);
    const body = ApiErrorBody.parse(res.body);
    expect(body.message).toContain(says);
  });
});
