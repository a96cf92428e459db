#!/usr/bin/env node
// Is this Node.js one the project supports (package.json "engines")? `npm start` and `npm test` ask before they run,
// so an old system node fails with what to do instead of a crash in a native module.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
export const supportedRange = pkg.engines.node;

const parse = (v) => v.replace(/^v/, '').split('.').map((n) => Number(n) || 0);
const cmp = (a, b) => {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
};

/** The subset of npm's range syntax engines fields use: `||` alternatives of `^x.y.z`, `>=`, `>`, `<=`, `<`, `=`. */
export function satisfies(version, range) {
  const v = parse(version);
  return range.split('||').some((alt) =>
    alt.trim().split(/\s+/).every((c) => {
      const m = /^(\^|>=|<=|>|<|=)?v?([\d.]+)$/.exec(c);
      if (!m) throw new Error(`check-node: cannot read "${c}" in engines.node "${range}"`);
      const [, op = '=', ver] = m;
      const w = parse(ver);
      const d = cmp(v, w);
      if (op === '^') return d >= 0 && v[0] === w[0];
      return { '>=': d >= 0, '<=': d <= 0, '>': d > 0, '<': d < 0, '=': d === 0 }[op];
    }),
  );
}

/** Prints `Node vX.Y.Z (path)`; on an unsupported version also what to run instead, and returns false. */
export function checkNode(version = process.version) {
  console.log(`Node ${version} (${process.execPath})`);
  if (satisfies(version, supportedRange)) return true;
  console.error(
    `Node.js ${version} is not supported: vm2ec2 needs Node.js ${supportedRange} (package.json "engines").\n` +
      `Put the project's pinned Node.js first on PATH (installed once from the npm registry), then reinstall the modules:\n` +
      `  eval "$(scripts/node-lts.sh --env)" && npm ci`,
  );
  return false;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(checkNode() ? 0 : 1);
