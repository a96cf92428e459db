// The connector's AWS calls honour aws.requestTimeoutMs: an endpoint that accepts the request and never answers
// ends in a clear error, not a task (and a shutdown) waiting for ever. The SDK only warns unless told to throw.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsGateway } from '../../connector/aws/gateway.ts';
import { ConnectorConfig } from '../../connector/config.ts';

let server: Server;
let url: string;
const held: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res); // never answered
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('AWS request timeout', () => {
  it('an EC2 call to an endpoint that never answers fails after the configured timeout, saying AWS cannot be reached', { timeout: 30_000 }, async () => {
    const aws = ConnectorConfig.shape.aws.parse({ endpoint: url, credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' }, requestTimeoutMs: 300 });
    const gateway = new AwsGateway(aws);
    const started = Date.now();
    try {
      await expect(gateway.vpcs('us-east-1')).rejects.toThrow(/cannot reach AWS \(EC2 in us-east-1/);
    } finally {
      gateway.close();
    }
    // Three attempts of 300 ms plus the SDK's back-off between them: seconds, not for ever.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(held.length).toBeGreaterThanOrEqual(1);
  });
});
