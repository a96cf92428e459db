// Builds the lab vCenter (Go, package main in this folder) into lab/vcsim/.cache/bin/vcsim-lab.
// Offline GOPATH build against Debian's govmomi sources; skipped when the sources and Go version are unchanged.
// CLI: npx tsx lab/vcsim/build.ts
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cacheDir = join(here, '.cache');
const binDir = join(cacheDir, 'bin');
const binPath = join(binDir, 'vcsim-lab');
const stampPath = join(binDir, 'vcsim-lab.stamp');
const govmomiDir = '/usr/share/gocode/src/github.com/vmware/govmomi';
const debianPackages = ['golang-go', 'golang-github-vmware-govmomi-dev'];

interface RunResult { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : '') });
    });
  });
}

async function goVersion(): Promise<string | null> {
  const r = await run('go', ['version']);
  return r.code === 0 ? r.stdout.trim() : null;
}

function toolchainPresent(version: string | null): boolean {
  return version !== null && existsSync(join(govmomiDir, 'simulator', 'simulator.go'));
}

async function installToolchain(): Promise<void> {
  const install = ['install', '-y', '--no-install-recommends', ...debianPackages];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = await run('apt-get', install, { env });
  if (r.code !== 0) {
    const update = await run('apt-get', ['update'], { env });
    if (update.code !== 0) throw new Error(`apt-get update failed:\n${update.stderr}`);
    r = await run('apt-get', install, { env });
  }
  if (r.code !== 0) throw new Error(`apt-get install ${debianPackages.join(' ')} failed:\n${r.stderr}`);
}

async function ensureToolchain(): Promise<string> {
  let version = await goVersion();
  if (toolchainPresent(version)) return version as string;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `The lab vCenter needs Go and the govmomi sources. Install the Debian packages ${debianPackages.join(' and ')}:\n` +
        `  sudo apt-get install -y --no-install-recommends ${debianPackages.join(' ')}`,
    );
  }
  await installToolchain();
  version = await goVersion();
  if (!toolchainPresent(version)) {
    throw new Error(`Installed ${debianPackages.join(' ')} but go or ${govmomiDir} is still missing`);
  }
  return version as string;
}

// Hash of everything that changes the binary: our Go sources, the Go toolchain and the govmomi package.
async function sourceHash(version: string): Promise<string> {
  const h = createHash('sha256');
  h.update(version);
  const govmomi = await stat(join(govmomiDir, 'simulator', 'simulator.go'));
  h.update(`govmomi:${govmomi.size}:${govmomi.mtimeMs}`);
  const files = (await readdir(here)).filter((f) => f.endsWith('.go') && !f.endsWith('_test.go')).sort();
  for (const f of files) {
    h.update(`\0${f}\0`);
    h.update(await readFile(join(here, f)));
  }
  return h.digest('hex');
}

/** Builds the lab vCenter if needed and returns the path of the binary. */
export async function ensureVcsimBuilt(): Promise<string> {
  const version = await ensureToolchain();
  const hash = await sourceHash(version);
  const stamp = await readFile(stampPath, 'utf8').catch(() => '');
  if (stamp.trim() === hash && existsSync(binPath)) return binPath;

  await mkdir(binDir, { recursive: true });
  // Concurrent builders (parallel test workers) each write their own file, then rename atomically.
  const tmp = `${binPath}.${process.pid}.tmp`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GO111MODULE: 'off',
    GOPROXY: 'off',
    GOFLAGS: '',
    GOPATH: `${join(cacheDir, 'gopath')}:/usr/share/gocode`,
    GOCACHE: join(cacheDir, 'gocache'),
  };
  const r = await run('go', ['build', '-o', tmp, '.'], { cwd: here, env });
  if (r.code !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`Building the lab vCenter (go build in ${here}) failed:\n${r.stderr}`);
  }
  await rename(tmp, binPath);
  await writeFile(stampPath, `${hash}\n`);
  return binPath;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensureVcsimBuilt().then(
    (path) => {
      process.stdout.write(`${path}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
