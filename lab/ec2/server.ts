// HTTP front of the emulator: Query-protocol requests in, EC2/IAM/STS XML out.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Ec2Emulator } from './emulator.ts';
import { Ec2Error } from './errors.ts';
import { exportHandlers } from './exports.ts';
import { iamHandlers, stsHandlers, type IamHandler } from './iam.ts';
import { imageHandlers } from './images.ts';
import { importHandlers } from './imports.ts';
import { instanceHandlers } from './instances.ts';
import { instanceTypeHandlers } from './instance-types.ts';
import { volumeHandlers } from './volumes.ts';
import { interfaceHandlers } from './interfaces.ts';
import { networkHandlers, regionHandlers } from './network.ts';
import { Params } from './query.ts';
import type { Handler } from './state.ts';
import { snapshotHandlers } from './snapshots.ts';
import { tagHandlers } from './tags.ts';
import { ec2ErrorResponse, ec2Response, IAM_NAMESPACE, queryErrorResponse, queryResponse, STS_NAMESPACE } from './xml.ts';

const MAX_BODY = 4 * 1024 * 1024;

type Service = 'ec2' | 'iam' | 'sts';

interface Credential {
  accessKeyId: string;
  region: string;
  service: string;
}

/** `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request, …` (signature not verified). */
function parseAuthorization(header: string | undefined): Credential | undefined {
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(header ?? '');
  return m ? { accessKeyId: m[1] ?? '', region: m[2] ?? '', service: m[3] ?? '' } : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new Ec2Error('RequestEntityTooLarge', 'The request body is larger than 4 MiB.'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, requestId: string, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

function serviceOf(credential: Credential | undefined, params: Params): Service {
  const version = params.str('Version');
  if (credential?.service === 'iam' || version === '2010-05-08') return 'iam';
  if (credential?.service === 'sts' || version === '2011-06-15') return 'sts';
  return 'ec2';
}

export function createEmulatorServer(emu: Ec2Emulator): Server {
  const ec2: Record<string, Handler> = {
    ...importHandlers,
    ...imageHandlers,
    ...instanceHandlers,
    ...interfaceHandlers,
    ...exportHandlers,
    ...networkHandlers,
    ...tagHandlers,
    ...snapshotHandlers,
    ...volumeHandlers,
    ...instanceTypeHandlers,
    ...regionHandlers(emu.regions),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let service: Service = 'ec2';
    const fail = (err: Ec2Error) => {
      if (service === 'ec2') return send(res, err.status, requestId, ec2ErrorResponse(requestId, err.code, err.message));
      const ns = service === 'iam' ? IAM_NAMESPACE : STS_NAMESPACE;
      send(res, err.status, requestId, queryErrorResponse(ns, requestId, err.code, err.message, err.status >= 500 ? 'Receiver' : 'Sender'));
    };
    try {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const body = req.method === 'POST' ? await readBody(req) : '';
      const params = new Params([...url.searchParams.entries(), ...new URLSearchParams(body).entries()]);
      const credential = parseAuthorization(req.headers.authorization);
      service = serviceOf(credential, params);
      const action = params.str('Action');
      if (!credential) {
        throw new Ec2Error(
          service === 'ec2' ? 'AuthFailure' : 'MissingAuthenticationToken',
          'Request is missing a SigV4 Authorization header. Configure credentials (any access key works against the lab emulator).',
          service === 'ec2' ? 401 : 403,
        );
      }
      if (action === undefined) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action.');
      const fault = emu.takeFault(action);
      if (fault === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault === 'throttle') throw new Ec2Error(service === 'ec2' ? 'RequestLimitExceeded' : 'Throttling', 'Request limit exceeded.', service === 'ec2' ? 503 : 400);
      if (fault === 'server-error') throw new Ec2Error(service === 'ec2' ? 'InternalError' : 'ServiceFailure', 'An internal error has occurred.', 500);
      await emu.tick();

      if (service !== 'ec2') {
        const handlers: Record<string, IamHandler> = service === 'iam' ? iamHandlers : stsHandlers;
        const handler = handlers[action];
        if (!handler) throw new Ec2Error('InvalidAction', `The action ${action} is not implemented by the lab ${service.toUpperCase()} emulator.`);
        const result = handler(emu.iam, params, emu.now());
        return send(res, 200, requestId, queryResponse(service === 'iam' ? IAM_NAMESPACE : STS_NAMESPACE, action, requestId, result));
      }
      const handler = ec2[action];
      if (!handler) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service (not implemented by the lab EC2 emulator).`);
      const region = emu.region(credential.region);
      if (!region) {
        throw new Ec2Error(
          'AuthFailure',
          `The lab EC2 emulator does not serve region '${credential.region}'. Use one of ${emu.regions.join(', ')}, or add it to the emulator's regions option.`,
          401,
        );
      }
      const result = await handler({ core: emu, region, requestId }, params);
      send(res, 200, requestId, ec2Response(action, requestId, result));
    } catch (err) {
      fail(err instanceof Ec2Error ? err : new Ec2Error('InternalError', `Emulator failure: ${(err as Error).message}`, 500));
    }
  }

  return createServer((req, res) => void handle(req, res));
}
