import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFault, createAwsServer, readBody, sigV4Scope, type InjectedFault } from '../../lab/aws-http.ts';

// The plumbing the lab's EC2, KMS and EBS endpoints share, over real HTTP on 127.0.0.1.

class ServiceError extends Error {}

let fault: InjectedFault | undefined;
const server = createAwsServer(async (req) => {
  try {
    if (applyFault(req, fault, { throttle: () => new ServiceError('slow down'), serverError: () => new ServiceError('broken') })) return undefined;
    // The first path refuses before reading the body, as EBS does for a bad block header.
    if (req.url === '/early') throw new ServiceError('refused early');
    const body = await readBody(req, 16, () => new ServiceError('body over 16 bytes'));
    return { status: 200, contentType: 'text/plain', body: `got ${body.toString('utf8')}` };
  } catch (err) {
    return { status: 400, contentType: 'text/plain', body: (err as Error).message, headers: { 'x-amzn-errortype': 'Service' } };
  }
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let port = 0;

function post(path: string, body: string): Promise<{ status: number; text: string; requestId: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), requestId: String(res.headers['x-amzn-requestid']), socket: req.socket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('lab AWS endpoint plumbing', () => {
  it('reads the SigV4 credential scope, and nothing from another scheme', () => {
    expect(sigV4Scope('AWS4-HMAC-SHA256 Credential=AKIDLAB/20261203/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=00')).toEqual({
      accessKeyId: 'AKIDLAB',
      region: 'eu-west-1',
      service: 'kms',
    });
    expect(sigV4Scope('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(sigV4Scope(undefined)).toBeUndefined();
  });

  it('answers each request once with its own request id', async () => {
    const a = await post('/', 'hello');
    const b = await post('/', 'again');
    expect([a.status, a.text, b.text]).toEqual([200, 'got hello', 'got again']);
    expect(a.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.requestId).not.toBe(a.requestId);
  });

  it("answers an oversized body with the service's error, and a refused request leaves the connection usable", async () => {
    const big = await post('/', 'x'.repeat(64 * 1024));
    expect([big.status, big.text]).toEqual([400, 'body over 16 bytes']);
    const early = await post('/early', 'y'.repeat(64 * 1024));
    expect([early.status, early.text]).toEqual([400, 'refused early']);
    const next = await post('/', 'ok');
    expect(next.text).toBe('got ok');
    // The same kept-alive socket served all three.
    expect(next.socket).toBe(early.socket);
  });

  it('throws the service error for throttle and server-error, and drops the connection for reset', async () => {
    fault = 'throttle';
    expect((await post('/', 'a')).text).toBe('slow down');
    fault = 'server-error';
    expect((await post('/', 'a')).text).toBe('broken');
    fault = 'reset';
    await expect(post('/', 'a body on its way')).rejects.toThrow(/socket hang up|ECONNRESET/);
    fault = undefined;
    expect((await post('/', 'back')).text).toBe('got back');
  });
});
