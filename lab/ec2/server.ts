// HTTP front of the emulator: Query-protocol requests in, EC2/IAM/STS XML out.
import type { IncomingMessage, Server } from 'node:http';
import { applyFault, createAwsServer, readBody, sigV4Scope, type AwsReply, type SigV4Scope } from '../aws-http.ts';
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

const xmlReply = (status: number, body: string): AwsReply => ({ status, contentType: 'text/xml;charset=UTF-8', body });

function serviceOf(credential: SigV4Scope | undefined, params: Params): Service {
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

  async function handle(req: IncomingMessage, requestId: string): Promise<AwsReply | undefined> {
    let service: Service = 'ec2';
    const fail = (err: Ec2Error): AwsReply => {
      if (service === 'ec2') return xmlReply(err.status, ec2ErrorResponse(requestId, err.code, err.message));
      const ns = service === 'iam' ? IAM_NAMESPACE : STS_NAMESPACE;
      return xmlReply(err.status, queryErrorResponse(ns, requestId, err.code, err.message, err.status >= 500 ? 'Receiver' : 'Sender'));
    };
    try {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const body = req.method === 'POST' ? (await readBody(req, MAX_BODY, () => new Ec2Error('RequestEntityTooLarge', 'The request body is larger than 4 MiB.'))).toString('utf8') : '';
      const params = new Params([...url.searchParams.entries(), ...new URLSearchParams(body).entries()]);
      const credential = sigV4Scope(req.headers.authorization);
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
      const dropped = applyFault(req, emu.takeFault(action), {
        throttle: () => new Ec2Error(service === 'ec2' ? 'RequestLimitExceeded' : 'Throttling', 'Request limit exceeded.', service === 'ec2' ? 503 : 400),
        serverError: () => new Ec2Error(service === 'ec2' ? 'InternalError' : 'ServiceFailure', 'An internal error has occurred.', 500),
      });
      if (dropped) return undefined;
      await emu.tick();

      if (service !== 'ec2') {
        const handlers: Record<string, IamHandler> = service === 'iam' ? iamHandlers : stsHandlers;
        const handler = handlers[action];
        if (!handler) throw new Ec2Error('InvalidAction', `The action ${action} is not implemented by the lab ${service.toUpperCase()} emulator.`);
        const result = handler(emu.iam, params, emu.now());
        return xmlReply(200, queryResponse(service === 'iam' ? IAM_NAMESPACE : STS_NAMESPACE, action, requestId, result));
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
      return xmlReply(200, ec2Response(action, requestId, result));
    } catch (err) {
      return fail(err instanceof Ec2Error ? err : new Ec2Error('InternalError', `Emulator failure: ${(err as Error).message}`, 500));
    }
  }

  return createAwsServer(handle);
}
