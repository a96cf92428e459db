import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, InstanceTypeList, RegionList, RegionParams, SecurityGroupList, SubnetList, VpcList, VpcQuery } from '../contract/index.ts';
import { regionDisplayName } from '../aws/regions.ts';
import { AppError } from '../errors.ts';
import { requireAdministrator } from './access-helpers.ts';

const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 502: ApiErrorBody };
const tags = ['regions'];

/** Regions the connector may use, and (for administrators editing an environment) what AWS has in each. */
export const regionRoutes: FastifyPluginAsyncZod = async (app) => {
  const enabled = (region: string) => {
    if (!app.aws.isRegionEnabled(region)) {
      throw new AppError(404, 'NOT_FOUND', `The region ${region} is not enabled on this connector (enabled: ${app.aws.regions.join(', ')}).`);
    }
  };

  app.get('/regions', { schema: { operationId: 'listRegions', tags, summary: 'AWS regions enabled on this connector', response: { 200: RegionList, 401: ApiErrorBody } } }, async (request) => {
    await request.caller();
    return {
      regions: app.aws.regions.map((name) => ({ name, displayName: regionDisplayName(name), isDefault: name === app.aws.defaultRegion })),
    };
  });

  app.get(
    '/regions/:region/vpcs',
    { schema: { operationId: 'listRegionVpcs', tags, summary: 'The region’s VPCs (administrators)', params: RegionParams, response: { 200: VpcList, ...errors, 404: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      enabled(request.params.region);
      return { vpcs: await app.aws.vpcs(request.params.region) };
    },
  );

  app.get(
    '/regions/:region/subnets',
    {
      schema: { operationId: 'listRegionSubnets', tags, summary: 'A VPC’s subnets (administrators)', params: RegionParams, querystring: VpcQuery, response: { 200: SubnetList, ...errors, 404: ApiErrorBody } },
    },
    async (request) => {
      await requireAdministrator(app, request);
      enabled(request.params.region);
      return { subnets: await app.aws.subnets(request.params.region, request.query.vpcId) };
    },
  );

  app.get(
    '/regions/:region/security-groups',
    {
      schema: {
        operationId: 'listRegionSecurityGroups',
        tags,
        summary: 'A VPC’s security groups (administrators)',
        params: RegionParams,
        querystring: VpcQuery,
        response: { 200: SecurityGroupList, ...errors, 404: ApiErrorBody },
      },
    },
    async (request) => {
      await requireAdministrator(app, request);
      enabled(request.params.region);
      return { securityGroups: await app.aws.securityGroups(request.params.region, request.query.vpcId) };
    },
  );

  app.get(
    '/regions/:region/instance-types',
    { schema: { operationId: 'listRegionInstanceTypes', tags, summary: 'Instance types offered in the region (administrators)', params: RegionParams, response: { 200: InstanceTypeList, ...errors, 404: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      enabled(request.params.region);
      return { instanceTypes: (await app.aws.offeredInstanceTypes(request.params.region)).map((name) => ({ name })) };
    },
  );
};
