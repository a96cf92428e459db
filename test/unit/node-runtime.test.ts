import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkNode, satisfies, supportedRange } from '../../scripts/check-node.mjs';

// The runtime rule in one place (package.json engines), read by `npm start`/`npm test` and agreeing with the pin CI uses.
const pinned = readFileSync('.node-version', 'utf8').trim();
const unit = readFileSync('docs/vm2ec2-connector.service', 'utf8');

afterEach(() => vi.restoreAllMocks());

describe('supported Node.js', () => {
  it('the pin CI installs (.node-version) is a supported version', () => {
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
    expect(satisfies(pinned, supportedRange)).toBe(true);
  });

  it('Node 22 and 24 LTS are supported; Node 20 (end of life), odd releases and older patch levels are not', () => {
    for (const v of ['22.22.2', 'v22.30.0', '24.15.0', '24.22.3']) expect(satisfies(v, supportedRange), v).toBe(true);
    for (const v of ['20.19.0', 'v20.20.2', '21.7.3', '22.22.1', '23.11.0', '24.14.1', '25.9.0']) expect(satisfies(v, supportedRange), v).toBe(false);
  });

  it('reads the range syntax engines fields use, and refuses what it cannot read', () => {
    expect(satisfies('20.19.0', '>=20.19 <21 || >=22.12')).toBe(true);
    expect(satisfies('21.0.0', '>=20.19 <21 || >=22.12')).toBe(false);
    expect(satisfies('22.12.0', '>=20.19 <21 || >=22.12')).toBe(true);
    expect(() => satisfies('24.0.0', '~24')).toThrow(/cannot read "~24"/);
  });

  it('on an unsupported Node says which version it saw, what is supported and how to get the pinned one', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(checkNode('v20.20.2')).toBe(false);
    expect(log.mock.calls[0]?.[0]).toMatch(/^Node v20\.20\.2 \(/);
    const said = String(error.mock.calls[0]?.[0]);
    expect(said).toContain('Node.js v20.20.2 is not supported');
    expect(said).toContain(supportedRange);
    expect(said).toContain('eval "$(scripts/node-lts.sh --env)" && npm ci');
    expect(checkNode(`v${pinned}`)).toBe(true);
    expect(error).toHaveBeenCalledTimes(1);
  });

  it('the systemd unit runs a node it names, not whatever /usr/bin/node the distribution has', () => {
    const exec = /^ExecStart=(\S+) /m.exec(unit)?.[1];
    expect(exec).toBe('/opt/vm2ec2-node/current/bin/node');
  });
});
