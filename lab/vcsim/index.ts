// Starts the lab vCenter (vcsim with our extensions) as a child process and reports where it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureVcsimBuilt } from './build.ts';

export interface VcsimHandle {
  sdkUrl: string;
  origin: string;
  certPem: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  instanceUuid: string;
  pid: number;
  stop(): Promise<void>;
}

interface ReadyLine {
  sdkUrl: string;
  certPem: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  instanceUuid: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const defaultConfig = join(here, '..', 'inventory.json');
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 5_000;
const stderrKeep = 64 * 1024;

function parseReady(line: string): ReadyLine {
  const v: unknown = JSON.parse(line);
  if (typeof v !== 'object' || v === null) throw new Error('ready line is not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of ['sdkUrl', 'certPem', 'thumbprintSha1', 'thumbprintSha256', 'instanceUuid']) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new Error(`ready line lacks "${k}"`);
  }
  return o as unknown as ReadyLine;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      res(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      res(true);
    };
    child.once('exit', onExit);
  });
}

/** Builds (if needed) and starts the lab vCenter on a random 127.0.0.1 port. */
export async function startVcsim(opts?: { configPath?: string }): Promise<VcsimHandle> {
  const bin = await ensureVcsimBuilt();
  const configPath = resolve(opts?.configPath ?? defaultConfig);
  // The simulator keeps its datastore directories under TMPDIR: give it a private one that we remove
  // ourselves, so nothing is left behind even if the child is killed hard.
  const tmp = mkdtempSync(join(tmpdir(), 'vcsim-lab-'));
  const removeTmp = (): void => rmSync(tmp, { recursive: true, force: true });
  // Only the config path goes on the command line; credentials stay in the file.
  const child = spawn(bin, ['-config', configPath, '-listen', '127.0.0.1:0', '-exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp, VCSIM_LAB_OWN_TMPDIR: '1' },
  });

  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrKeep);
  });
  // If this process exits without stop(), take the child down (SIGTERM lets it remove its temp dirs).
  const onParentExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    removeTmp();
  };
  process.on('exit', onParentExit);

  const ready = await new Promise<ReadyLine>((res, rej) => {
    let buf = '';
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off('exit', onParentExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      void waitExit(child, stopTimeoutMs).then(removeTmp);
      rej(new Error(`The lab vCenter (${bin}) failed to start: ${why}${stderr ? `\n--- its stderr ---\n${stderr.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${readyTimeoutMs / 1000} s`), readyTimeoutMs);
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => {
      // let stderr drain before reporting
      setImmediate(() => fail(`it exited with ${signal ?? `code ${code}`} before it was ready`));
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      if (settled) return;
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const line = parseReady(buf.slice(0, nl));
        settled = true;
        clearTimeout(timer);
        res(line);
      } catch (err) {
        fail(`unexpected output ${JSON.stringify(buf.slice(0, 200))}: ${(err as Error).message}`);
      }
    });
  });

  let stopping = false;
  let stopped: Promise<void> | undefined;
  child.removeAllListeners('exit');
  child.removeAllListeners('error');
  child.on('error', (err) => {
    stderr += `\n${err.message}`;
  });
  child.on('exit', (code, signal) => {
    process.off('exit', onParentExit);
    removeTmp();
    if (!stopping) {
      process.stderr.write(`The lab vCenter (pid ${child.pid}) exited unexpectedly with ${signal ?? `code ${code}`}\n${stderr.trim()}\n`);
    }
  });
  // A forgotten handle must not keep the parent's event loop alive; stop() re-refs while it waits.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  const url = new URL(ready.sdkUrl);
  return {
    ...ready,
    origin: url.origin,
    pid: child.pid ?? -1,
    stop(): Promise<void> {
      stopped ??= (async () => {
        stopping = true;
        child.ref();
        try {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          if (await waitExit(child, stopTimeoutMs)) return;
          child.kill('SIGKILL');
          await waitExit(child, stopTimeoutMs);
        } finally {
          child.stdin?.destroy();
          child.stdout?.destroy();
          child.stderr?.destroy();
          process.off('exit', onParentExit);
          removeTmp();
        }
      })();
      return stopped;
    },
  };
}
