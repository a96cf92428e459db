// `npm start -- --postgres`: the lab's two connectors of one vCenter share a PostgreSQL store, each with its password
// in a private file, and stopping the lab stops the database.
import { statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, type FleetConnectorList } from '../../connector/contract/index.ts';
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

  it('stopping the lab stops its PostgreSQL', async () => {
    const port = Number(new URL(lab.fleet!.storeUrl).port);
    expect(await accepts(port)).toBe(true);
    await lab.stop();
    expect(await accepts(port)).toBe(false);
  });
});
