// The UI's HTTP client (axios, as the design card asks) against a real HTTP server: what it sends, and how every failure reaches the user.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toApiError } from '../../ui/api/errors.ts';
import { isAxiosError } from 'axios';
import { createHttp } from '../../ui/api/http.ts';
import type { Host } from '../../ui/host/host.ts';

let server: Server;
let base: string;
const seen: { method: string; url: string; token: string | undefined; type: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', token: req.headers['vmware-api-session-id'] as string | undefined, type: req.headers['content-type'], body });
      const path = (req.url ?? '').split('?')[0];
      if (path === '/api/denied') {
        res.writeHead(403, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ code: 'VM_EXPORT_DENIED', message: 'You may not migrate this VM.' }));
      } else if (path === '/api/proxy-error') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad gateway</html>');
      } else if (path === '/api/empty') {
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, echo: body ? JSON.parse(body) : null }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Only the two calls the client makes; the rest of the vSphere Client is not involved. */
const hostAt = (url: () => string) => ({ sessionToken: async () => 'session-token', backendBaseUrl: async () => url() }) as unknown as Host;
const http = () => createHttp(hostAt(() => base));

describe('UI HTTP client', () => {
  it('sends the session token on every call, leaves out empty query parameters and sends JSON bodies', async () => {
    seen.length = 0;
    const got = await http().get<{ ok: boolean }>('/migrations', { params: { environmentId: 'env 1', limit: 200, vmId: undefined, state: null } });
    expect({ status: got.status, data: got.data }).toEqual({ status: 200, data: { ok: true, echo: null } });
    const posted = await http().post<{ echo: unknown }>('/migrations', { vmId: 'vm-42' });
    expect(posted.data.echo).toEqual({ vmId: 'vm-42' });
    await http().post('/migrations/m-1/cancel');
    // A body-less POST's content type is the adapter's own choice (Node's http adapter names a form), so it is not asserted.
    expect(seen.map((s) => [s.method, s.url, s.token, s.body ? s.type : undefined, s.body])).toEqual([
      ['GET', '/api/migrations?environmentId=env+1&limit=200', 'session-token', undefined, ''],
      ['POST', '/api/migrations', 'session-token', 'application/json', '{"vmId":"vm-42"}'],
      ['POST', '/api/migrations/m-1/cancel', 'session-token', undefined, ''],
    ]);
  });

  it('gives the connector’s own error code and message for an error answer', async () => {
    const err = await http().get('/denied').catch((e: unknown) => e);
    expect(isAxiosError(err)).toBe(true);
    expect(toApiError(err)).toEqual({ status: 403, code: 'VM_EXPORT_DENIED', message: 'You may not migrate this VM.' });
  });

  it('names the HTTP status when the answer is not the connector’s (a proxy error page)', async () => {
    const err = await http().get('/proxy-error').catch((e: unknown) => e);
    expect(toApiError(err)).toEqual({ status: 502, code: 'INTERNAL', message: 'The connector answered HTTP 502.' });
  });

  it('says the connector did not answer when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await createHttp(hostAt(() => `http://127.0.0.1:${port}/api`))
      .get('/me')
      .catch((e: unknown) => e);
    expect(toApiError(err)).toEqual({ status: 0, code: 'NETWORK', message: 'The connector did not answer. Check that the connector service is running.' });
  });

  it('reads an answer without a body as no data', async () => {
    const res = await http().delete('/empty');
    expect(res.status).toBe(204);
    expect(res.data === undefined || res.data === '').toBe(true);
  });
});
