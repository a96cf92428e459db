// `npm start -- --postgres`: the lab's two connectors of one vCenter share a PostgreSQL store, each with its password
// in a private file, and stopping the lab stops the database.
import { readFileSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, type FleetConnectorList } from '../../connector/contract/index.ts';
import { PgDatabase } from '../../connector/store/postgres/database.ts';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { startLab, type LabHandle } from '../../lab/index.ts';
import { httpsJson } from '../support/api-lab.ts';

let lab: LabHandle;
beforeAll(async () => {
  lab = await startLab({ postgres: true, buildUi: false, stageMs: 50 });
});
afterAll(async () => lab?.stop());

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('the lab with --postgres', () => {
  it('runs two connectors of the same vCenter on one PostgreSQL: the fleet list shows both', async () => {
    expect(lab.fleet).toBeDefined();
    const fleet = lab.fleet!;
    expect(fleet.storeUrl).toMatch(/^postgres:\/\/vm2ec2@127\.0\.0\.1:\d+\/vm2ec2$/);
    expect(fleet.peer.origin).not.toBe(lab.connector.origin);
    for (const dir of [lab.dataDir, fleet.peerDataDir]) expect(statSync(join(dir, 'store-password')).mode & 0o777).toBe(0o600);

    const token = await lab.pluginSessionToken('administrator@vsphere.local');
    const deadline = Date.now() + 15_000;
    let ids: string[] = [];
    // The second connector writes its first heartbeat once it listens; the first one reads it from the shared store.
    while (Date.now() < deadline) {
      const res = await httpsJson<FleetConnectorList>(`${lab.connector.origin}${API_PREFIX}/fleet/connectors`, { ca: lab.connector.certPem, headers: { 'vmware-api-session-id': token } });
      expect(res.status).toBe(200);
      ids = res.body.connectors.map((c) => c.id).sort();
      if (ids.length === 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ids).toEqual(['lab-connector-1', 'lab-connector-2']);
  });

  it('an administrator\'s change through the connector lands in PostgreSQL, audited there', async () => {
    const token = await lab.pluginSessionToken('administrator@vsphere.local');
    const res = await httpsJson(`${lab.connector.origin}${API_PREFIX}/environments/env-default/permissions`, {
      ca: lab.connector.certPem,
      method: 'PUT',
      headers: { 'vmware-api-session-id': token },
      body: { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] },
    });
    expect(res.status).toBe(200);
    const password = readFileSync(join(lab.fleet!.peerDataDir, 'store-password'), 'utf8');
    const db = new PgDatabase(pgConfigFromUrl(lab.fleet!.storeUrl, password));
    try {
      const perms = await db.query('SELECT principal, role FROM environment_permissions WHERE environment_id = $1', ['env-default']);
      expect(perms.rows).toEqual([{ principal: 'operator@vsphere.local', role: 'General' }]);
      const audit = await db.query<{ actor: string; environment_id: string }>(`SELECT actor, environment_id FROM audit_log WHERE environment_id = 'env-default'`);
      expect(audit.rows.map((r) => r.actor)).toContain('administrator@vsphere.local');
    } finally {
      await db.close();
    }
  });

  it('stopping the lab stops its PostgreSQL', async () => {
    const port = Number(new URL(lab.fleet!.storeUrl).port);
    expect(await accepts(port)).toBe(true);
    await lab.stop();
    expect(await accepts(port)).toBe(false);
  });
});
