// What the "Bring back to vCenter" form offers: the targets the user's own vCenter session sees (with whether vCenter
// lets the user import there) and what the export's OVA needs. The same who-may rule as POST /returns.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ReturnChoices, ReturnChoicesQuery } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { readOvfSummary } from '../roundtrip/preflight.ts';
import { importTargets } from '../vsphere/import-targets.ts';
import { exportFor } from './returns.ts';

export const returnChoiceRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/returns/choices',
    {
      schema: {
        operationId: 'returnChoices',
        tags: ['returns'],
        summary: 'What Bring back to vCenter can choose for an export',
        description:
          'The VM folders, compute resources (clusters, hosts, resource pools), datastores (free space and capacity) and networks (standard and distributed port groups) your vCenter session sees, each with mayUse: whether you hold the privilege the import needs on it (vApp > Import, Datastore > Allocate space, Network > Assign network). Also the networks the OVA names and its disks\' capacity. An export that is not completed, or whose OVA cannot be read, answers 422 RETURN_BLOCKED.',
        querystring: ReturnChoicesQuery,
        response: { 200: ReturnChoices, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 422: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const exp = await exportFor(app, caller, request.query.exportId);
      if (exp.state !== 'completed' || !exp.s3Key) {
        const message = `Export ${exp.exportTaskId || exp.id} of ${exp.instanceId} is ${exp.state}: only a completed export can be brought back to vCenter.`;
        throw new AppError(422, 'RETURN_BLOCKED', message, { checks: [{ code: 'EXPORT_NOT_COMPLETED', severity: 'blocker', message }] });
      }
      const [ovf, targets] = await Promise.all([
        readOvfSummary(app.returnsS3(exp.region), exp.bucket, exp.s3Key).catch((err: unknown) => err as Error),
        importTargets(caller.vcenter.client, caller.vcenter.session.key),
      ]);
      if (ovf instanceof Error) {
        const message = `The OVA s3://${exp.bucket}/${exp.s3Key} cannot be read: ${ovf.message.replace(/[.\s]+$/, '')}. Export the instance again.`;
        throw new AppError(422, 'RETURN_BLOCKED', message, { checks: [{ code: 'OVA_UNREADABLE', severity: 'blocker', message }] });
      }
      return {
        exportId: exp.id,
        sourceNetworks: ovf.networks,
        diskCapacityBytes: ovf.diskCapacities.reduce((a, b) => a + b, 0),
        suggestedName: exp.instanceId,
        ...targets,
      };
    },
  );
};
