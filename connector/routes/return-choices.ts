// What the "Bring back to vCenter" form offers: the targets the user's own vCenter session sees (with whether vCenter
// lets the user import there) and what the export's OVA needs. The same who-may rule as POST /returns.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ReturnChoices, ReturnChoicesQuery } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { readOvfSummary } from '../roundtrip/preflight.ts';
import { importTargets } from '../vsphere/import-targets.ts';
import { EXPORTED_OVF_NETWORKS } from '../roundtrip/instance-source.ts';
import { preflightSource, returnSource } from './return-sources.ts';

export const returnChoiceRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/returns/choices',
    {
      schema: {
        operationId: 'returnChoices',
        tags: ['returns'],
        summary: 'What Bring back to vCenter can choose for an export or an imported instance',
        description:
          'The VM folders, compute resources (clusters, hosts, resource pools), datastores (free space and capacity) and networks (standard and distributed port groups) your vCenter session sees, each with mayUse: whether you hold the privilege the import needs on it (vApp > Import, Datastore > Allocate space, Network > Assign network). Also the networks the OVA names and its disks\' capacity. An export that is not completed, or whose OVA cannot be read, answers 422 RETURN_BLOCKED; so does an imported instance (instanceId and environmentId, administrators) that VM Export would refuse, or that cannot be exported now.',
        querystring: ReturnChoicesQuery,
        response: { 200: ReturnChoices, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 422: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const src = await returnSource(app, caller, request.query);
      if (src.kind === 'instance') {
        // Exported by the task: what VM Export would refuse is said now, before any choice.
        const [pre, targets] = await Promise.all([preflightSource(app, src), importTargets(caller.vcenter.client, caller.vcenter.session.key)]);
        const checks = pre.kind === 'instance' ? pre.checks : [];
        if (checks.length) throw new AppError(422, 'RETURN_BLOCKED', `The instance cannot be brought back: ${checks.map((c) => c.message).join(' ')}`, { checks });
        return {
          instanceId: src.instanceId,
          sourceNetworks: EXPORTED_OVF_NETWORKS,
          diskCapacityBytes: pre.kind === 'instance' ? (pre.diskCapacityBytes ?? 0) : 0,
          suggestedName: src.instanceId,
          ...targets,
        };
      }
      const exp = src.exp;
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
