import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';
import { createTrustedAgent, type TlsTrust } from '../../connector/vsphere/tls.ts';

// The trusted agent is the only way the connector reaches vCenter and ESX hosts: validation must hold on every connection.
let server: https.Server;
let url: string;
let served: ServerTls;
let other: ServerTls;

beforeAll(async () => {
  served = await generateSelfSigned(['127.0.0.1']);
  other = await generateSelfSigned(['127.0.0.1']);
  server = https.createServer({ cert: served.certPem, key: served.keyPem }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function get(trust: TlsTrust): Promise<string> {
  const agent = createTrustedAgent(trust);
  return new Promise<string>((resolve, reject) => {
    https
      .get(url, { agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  }).finally(() => agent.destroy());
}

describe('createTrustedAgent', () => {
  it('connects, repeatedly, when the CA signs the server certificate', async () => {
    for (let i = 0; i < 3; i++) expect(await get({ ca: served.certPem })).toBe('ok');
  });
  it('refuses a server its CA did not sign', async () => {
    await expect(get({ ca: other.certPem })).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/) });
  });
  it('refuses a self-signed server when neither a CA nor a pin is configured', async () => {
    await expect(get({})).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/) });
  });
  it('accepts a matching pin and refuses a different one', async () => {
    expect(await get({ thumbprint: served.thumbprintSha256 })).toBe('ok');
    await expect(get({ thumbprint: other.thumbprintSha256 })).rejects.toMatchObject({ code: 'THUMBPRINT_MISMATCH' });
  });
});
