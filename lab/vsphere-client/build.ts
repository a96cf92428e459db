// Builds the stand-in's browser code (the shell page and htmlClientSdk.js) with Vite's programmatic build()
// into lab/vsphere-client/.cache/web-<hash>/, skipped when a build of the same sources exists.
// Runnable as a CLI: `npx tsx lab/vsphere-client/build.ts`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const HERE = dirname(SELF);
const WEB = join(HERE, 'web');
const CACHE = join(HERE, '.cache');
const ROOT = join(HERE, '..', '..');
const SHARED_SOURCES = ['build.ts', 'test-ids.ts', 'api-types.ts', 'manifest-schema.ts'];
const PACKAGES = ['vite', '@vitejs/plugin-react', 'react', 'react-dom', '@clr/ui', '@cds/core'];
const COMPLETE = '.complete';

export interface ClientAssets {
  /** The shell: index.html + assets, served under /ui/. */
  shellDir: string;
  /** The IIFE served as /api/ui/htmlClientSdk.js. */
  sdkFile: string;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

async function sourceHash(): Promise<string> {
  const h = createHash('sha256');
  const files = [...(await listFiles(WEB)), ...SHARED_SOURCES.map((f) => join(HERE, f))];
  for (const f of files) h.update(relative(HERE, f)).update('\0').update(await readFile(f)).update('\0');
  for (const pkg of PACKAGES) {
    const json = JSON.parse(await readFile(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
    h.update(`${pkg}@${json.version}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

async function viteBuild(outDir: string): Promise<void> {
  const { build } = await import('vite');
  const { default: react } = await import('@vitejs/plugin-react');
  await build({
    configFile: false,
    root: WEB,
    base: '/ui/',
    publicDir: false,
    logLevel: 'warn',
    plugins: [react()],
    build: {
      outDir: join(outDir, 'shell'),
      emptyOutDir: true,
      chunkSizeWarningLimit: 4096,
      reportCompressedSize: false,
      rolldownOptions: { checks: { bundlerTimings: false } },
    },
  });
  await build({
    configFile: false,
    root: WEB,
    publicDir: false,
    logLevel: 'warn',
    build: {
      outDir: join(outDir, 'sdk'),
      emptyOutDir: true,
      minify: false,
      reportCompressedSize: false,
      lib: { entry: join(WEB, 'sdk', 'htmlClientSdk.ts'), formats: ['iife'], name: 'vsphereClientStandInSdk', fileName: () => 'htmlClientSdk.js' },
    },
  });
}

/**
 * Runs the Vite build in a child process with NODE_ENV=production: Vite derives production mode (React and Lit
 * production builds) from the process environment, which test runners set to "test".
 */
function buildInChild(outDir: string): Promise<void> {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxLoader, SELF, '--build-into', outDir], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-8192)));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`Building the vSphere Client stand-in failed (${signal ?? `exit ${code}`}):\n${stderr}`)),
    );
  });
}

let inFlight: Promise<ClientAssets> | undefined;

/** Build (if needed) and return the shell and SDK locations. Safe to call from several processes at once. */
export function ensureClientAssets(log: (msg: string) => void = () => {}): Promise<ClientAssets> {
  inFlight ??= (async () => {
    const hash = await sourceHash();
    const dir = join(CACHE, `web-${hash}`);
    const assets = { shellDir: join(dir, 'shell'), sdkFile: join(dir, 'sdk', 'htmlClientSdk.js') };
    if (existsSync(join(dir, COMPLETE))) return assets;
    log('Building the vSphere Client stand-in (shell + htmlClientSdk.js)…');
    await mkdir(CACHE, { recursive: true });
    // Build aside and rename into place, so a concurrent build or reader never sees a half-written directory.
    const tmp = join(CACHE, `tmp-${hash}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await buildInChild(tmp);
      await writeFile(join(tmp, COMPLETE), new Date().toISOString());
      await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
        if (!existsSync(join(dir, COMPLETE))) throw err; // someone else finished first: theirs is identical
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    // Drop builds of older sources.
    for (const entry of await readdir(CACHE)) {
      if (entry.startsWith('web-') && entry !== `web-${hash}`) await rm(join(CACHE, entry), { recursive: true, force: true });
    }
    return assets;
  })().catch((err: unknown) => {
    inFlight = undefined;
    throw err;
  });
  return inFlight;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const into = process.argv.indexOf('--build-into');
  if (into > 0 && process.argv[into + 1]) {
    await viteBuild(process.argv[into + 1] ?? '');
  } else {
    const assets = await ensureClientAssets((m) => console.log(m));
    console.log(`shell: ${assets.shellDir}\nsdk:   ${assets.sdkFile}`);
  }
}
