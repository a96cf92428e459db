// The fleet's connectors (Status tab) and each connector's bandwidth cap (administrators).
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, BandwidthSetting, BandwidthSettingView, ConnectorIdParams, FleetConnectorList } from '../contract/index.ts';
import { effectiveCap, utcOffsetMinutes } from '../bandwidth/schedule.ts';
import { describeBandwidth, readBandwidth, writeBandwidth, type StoredBandwidth } from '../bandwidth/setting.ts';
import { AppError } from '../errors.ts';
import type { ConnectorRecord } from '../fleet/registry.ts';
import { audit, requireAdministrator } from './access-helpers.ts';

function bandwidthView(connector: ConnectorRecord, s: StoredBandwidth, now: Date): BandwidthSettingView {
  return {
    connectorId: connector.id,
    capMBps: s.capMBps,
    schedule: s.schedule,
    timeZone: connector.timeZone,
    utcOffsetMinutes: utcOffsetMinutes(now, connector.timeZone),
    effectiveCapMBps: effectiveCap(s, now, connector.timeZone),
    ...(s.updatedAt ? { updatedAt: s.updatedAt } : {}),
    ...(s.updatedBy ? { updatedBy: s.updatedBy } : {}),
  };
}

async function loadConnector(app: FastifyInstance, id: string): Promise<ConnectorRecord> {
  let c = await app.fleet.registry.get(id);
  // This connector may not have written its first heartbeat yet (it does so once it listens).
  if (!c && id === (await app.fleet.connectorId())) {
    await app.fleet.heartbeat();
    c = await app.fleet.registry.get(id);
  }
  if (!c) throw new AppError(404, 'NOT_FOUND', `There is no connector ${id} in this fleet. Open the Status tab for the connectors that have started.`);
  return c;
}

export const fleetRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/fleet/connectors',
    {
      schema: {
        operationId: 'listFleetConnectors',
        tags: ['connector'],
        summary: 'The connectors of the fleet sharing this store: vCenter, version, last heartbeat, health and bandwidth cap (administrators)',
        response: { 200: FleetConnectorList, 401: ApiErrorBody, 403: ApiErrorBody },
      },
    },
    async (request) => {
      await requireAdministrator(app, request);
      const me = await app.fleet.connectorId();
      const now = new Date();
      const connectors = await app.fleet.registry.list(now);
      if (!connectors.some((c) => c.id === me)) {
        await app.fleet.heartbeat();
        connectors.splice(0, connectors.length, ...(await app.fleet.registry.list(now)));
      }
      const withCaps = await Promise.all(
        connectors.map(async (c) => ({ ...c, self: c.id === me, effectiveCapMBps: effectiveCap(await readBandwidth(app.store.settings, c.id), now, c.timeZone) })),
      );
      return { connectors: withCaps, leaseMs: app.fleet.leaseMs, checkedAt: now.toISOString() };
    },
  );

  app.get(
    '/fleet/connectors/:connectorId/bandwidth',
    {
      schema: {
        operationId: 'getConnectorBandwidth',
        tags: ['connector'],
        summary: "A connector's bandwidth cap for disk copies and its schedule (administrators)",
        params: ConnectorIdParams,
        response: { 200: BandwidthSettingView, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      await requireAdministrator(app, request);
      const c = await loadConnector(app, request.params.connectorId);
      return bandwidthView(c, await readBandwidth(app.store.settings, c.id), new Date());
    },
  );

  app.put(
    '/fleet/connectors/:connectorId/bandwidth',
    {
      schema: {
        operationId: 'setConnectorBandwidth',
        tags: ['connector'],
        summary: "Set a connector's bandwidth cap (MB/s, null for unlimited) and optional daily schedule windows in its time zone (administrators)",
        params: ConnectorIdParams,
        body: BandwidthSetting,
        response: { 200: BandwidthSettingView, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await requireAdministrator(app, request);
      const c = await loadConnector(app, request.params.connectorId);
      const before = await readBandwidth(app.store.settings, c.id);
      const now = new Date();
      const stored = await writeBandwidth(app.store.settings, c.id, request.body, caller.principal, now);
      if (c.id === (await app.fleet.connectorId())) app.fleet.bandwidth.use(stored);
      await audit(app, caller, {
        action: 'settings.bandwidth',
        outcome: 'changed',
        message: `Set the bandwidth cap of connector ${c.id} to ${describeBandwidth(stored)} (${c.timeZone}); was ${describeBandwidth(before)}.`,
        details: { connectorId: c.id, from: { capMBps: before.capMBps, schedule: before.schedule }, to: { capMBps: stored.capMBps, schedule: stored.schedule } },
      });
      return bandwidthView(c, stored, now);
    },
  );
};
