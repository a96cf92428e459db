import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../connector/paths.ts';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Build the plugin UI (vite) when dist/ui is missing or older than its sources. */
export async function ensureUiBuilt(log: (msg: string) => void = () => {}): Promise<string> {
  const out = join(PACKAGE_ROOT, 'dist', 'ui');
  const index = join(out, 'index.html');
  const sources = Math.max(
    newestMtime(join(PACKAGE_ROOT, 'ui')),
    newestMtime(join(PACKAGE_ROOT, 'connector', 'contract')),
    statSync(join(PACKAGE_ROOT, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return out;
  log('Building the plugin UI…');
  const { build } = await import('vite');
  await build({ configFile: join(PACKAGE_ROOT, 'vite.config.ts'), logLevel: 'warn' });
  return out;
}
