import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONNECTOR_NODE_FLAGS, missingNodeFlags } from '../../connector/node-flags.ts';

const MiB = 1024 * 1024;

/** Allocates short-lived objects until V8 has grown its young generation as far as it will, then prints its size. */
const CHURN = `
const v8 = require('node:v8');
let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 200000) keep = []; }
console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
`;

function youngGenerationBytes(flags: readonly string[]): number {
  const r = spawnSync(process.execPath, [...flags, '-e', CHURN], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

describe("the connector's Node.js flags", () => {
  it('the systemd unit starts the connector with every one of them, before the script', () => {
    const exec = /^ExecStart=(.*)$/m.exec(readFileSync('docs/vm2ec2-connector.service', 'utf8'))?.[1] ?? '';
    const words = exec.split(/\s+/);
    const script = words.findIndex((w) => w.endsWith('/dist/connector/main.js'));
    expect(script).toBeGreaterThan(0);
    for (const f of CONNECTOR_NODE_FLAGS) expect(words.slice(1, script), exec).toContain(f);
  });

  it("hold V8's young generation to two 4 MiB semi-spaces under a burst of short-lived objects", () => {
    expect(youngGenerationBytes(CONNECTOR_NODE_FLAGS)).toBeLessThanOrEqual(8 * MiB);
  });

  it("set V8's heap limit whatever the host's RAM: an old generation of 1536 MiB, below the 2 GiB where V8 lets it grow 4x between full collections", () => {
    const r = spawnSync(process.execPath, [...CONNECTOR_NODE_FLAGS, '-p', "require('node:v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.status, r.stderr).toBe(0);
    const limit = Number(r.stdout.trim());
    // The limit is the old generation's plus the young generation's (a few MiB).
    expect(limit).toBeGreaterThanOrEqual(1536 * MiB);
    expect(limit).toBeLessThan(2048 * MiB);
  });

  it('are found on the command line or in NODE_OPTIONS, and named when missing', () => {
    expect(missingNodeFlags([...CONNECTOR_NODE_FLAGS], '')).toEqual([]);
    expect(missingNodeFlags(['--import', 'tsx'], `--enable-source-maps ${CONNECTOR_NODE_FLAGS.join(' ')}`)).toEqual([]);
    expect(missingNodeFlags(['--import', 'tsx'], '')).toEqual([...CONNECTOR_NODE_FLAGS]);
  });
});
