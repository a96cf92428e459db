// Starts the lab vCenter (vcsim with our extensions) as a child process and reports where it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureVcsimBuilt } from './build.ts';
import { LAB_HASH_MS, labCaller, lockWaiters } from './lab-http.ts';

/**
 * A fault the lab vCenter injects (fault suite). `count` is how many times it fires (default 1); transfer faults
 * (`afterBytes`) apply to disk downloads that start after they are armed, each counted from the body's first byte.
 */
export type VcsimFault =
  /** The disk server closes the connection after `afterBytes` bytes of a download. */
  | { kind: 'nfc-drop'; afterBytes: number; count?: number }
  /** The next export lease goes from `initializing` to `error` without becoming ready. */
  | { kind: 'lease-error'; when: 'initializing'; count?: number; message?: string }
  /** The lease goes to `error` after `afterBytes` bytes of a download, and the download is cut. */
  | { kind: 'lease-error'; when: 'transfer'; afterBytes: number; count?: number; message?: string }
  /** Every session ends: now, or when a download reaches `afterBytes`. */
  | { kind: 'expire-sessions'; afterBytes?: number; count?: number };

export interface VcsimFaultStatus {
  /** Faults that actually fired, by kind (`unreachable` counts outages). */
  injected: { 'nfc-drop': number; 'lease-error': number; 'expire-sessions': number; unreachable: number };
  /** Faults still armed, with the firings left in `count`. */
  armed: VcsimFault[];
  /** Export leases not yet completed, aborted or failed. */
  openLeases: number;
  /** Import leases (ImportVApp) not yet completed or aborted. */
  openImportLeases: number;
  sessions: number;
  reachable: boolean;
}

export interface VcsimHandle {
  sdkUrl: string;
  origin: string;
  certPem: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  instanceUuid: string;
  /** about.apiVersion the lab vCenter reports (7.0.3.0 unless startVcsim({ apiVersion }) chose one). */
  apiVersion: string;
  pid: number;
  /** Arms a fault (an `expire-sessions` without `afterBytes` happens at once and returns how many sessions ended). */
  injectFault(fault: VcsimFault): Promise<{ terminated?: number }>;
  /** Disarms every fault not yet fired (outages are ended with setReachable(true)). */
  clearFaults(): Promise<void>;
  faultStatus(): Promise<VcsimFaultStatus>;
  /** false: nothing listens on the vCenter's address any more (open connections are closed); true: listen again. */
  setReachable(on: boolean): Promise<void>;
  /**
   * The guest of a powered-on VM writes whole 64 KiB grains of one disk (`offset`, `length` multiples of 65536); the
   * written bytes follow from `seed` (inventory.json "diskContent"). Snapshots taken before do not see the write.
   */
  writeDisk(vmId: string, deviceKey: number, write: { offset: number; length: number; seed: number }): Promise<{ grains: number; epoch: number }>;
  /** SHA-256 (hex) of a disk's raw content: live, or as of one of the VM's snapshots (`snapshot-…` id). */
  diskSha256(vmId: string, deviceKey: number, opts?: { snapshot?: string }): Promise<string>;
  /** Resets Changed Block Tracking of every disk of the VM: every changeId handed out before is refused (FileFault). */
  resetChangeTracking(vmId: string): Promise<void>;
  /** The datastore (by name) reports this much free space from now on, as a datastore filling up would. */
  setDatastoreFree(datastore: string, freeBytes: number): Promise<void>;
  /** Body bytes served from VM disks over /folder (datastore file access) since the lab vCenter started. */
  folderReadBytes(): Promise<number>;
  /** Writes every goroutine's stack to a file; returns where, with the goroutines waiting on a lock (for a test that waited too long). */
  dumpGoroutines(): Promise<string>;
  stop(): Promise<void>;
}

interface ControlAnswer {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

interface ReadyLine {
  sdkUrl: string;
  certPem: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  instanceUuid: string;
  apiVersion: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const defaultConfig = join(here, '..', 'inventory.json');
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 5_000;
const stderrKeep = 64 * 1024;
const controlTimeoutMs = 15_000;

function parseReady(line: string): ReadyLine {
  const v: unknown = JSON.parse(line);
  if (typeof v !== 'object' || v === null) throw new Error('ready line is not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of ['sdkUrl', 'certPem', 'thumbprintSha1', 'thumbprintSha256', 'instanceUuid']) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new Error(`ready line lacks "${k}"`);
  }
  return { ...(o as unknown as ReadyLine), apiVersion: typeof o.apiVersion === 'string' ? o.apiVersion : '' };
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

/** A VM for a purpose-built inventory (tests and benchmarks); the rest comes from lab/inventory.json. */
export interface LabVmSpec {
  name: string;
  /** Default poweredOff. */
  powerState?: 'poweredOn' | 'poweredOff';
  /** Default Migration (where the lab operator may export). */
  folder?: string;
  /** Default an Ubuntu guest. */
  guestId?: string;
  guestFullName?: string;
  disks: { capacityMiB: number; seed: number }[];
}

export interface StartVcsimOptions {
  /** An inventory file; default lab/inventory.json. */
  configPath?: string;
  /** The lab inventory's users, roles and permissions with these VMs instead of its own. */
  vms?: LabVmSpec[];
  /**
   * Play this vSphere API release (e.g. '8.0.1.0'): about.apiVersion reports it, and requests are read with its
   * schema as vCenter does: a newer SOAPAction release and elements the release does not define (checked in
   * RegisterExtension/UpdateExtension) get an InvalidRequest fault ("Unexpected element tag … seen").
   * Without it: 7.0.3.0 with stock vcsim's lenient decoding.
   */
  apiVersion?: string;
}

/** Builds (if needed) and starts the lab vCenter on a random 127.0.0.1 port. */
export async function startVcsim(opts: StartVcsimOptions = {}): Promise<VcsimHandle> {
  const bin = await ensureVcsimBuilt();
  // The simulator keeps its datastore directories under TMPDIR: give it a private one that we remove
  // ourselves, so nothing is left behind even if the child is killed hard.
  const tmp = mkdtempSync(join(tmpdir(), 'vcsim-lab-'));
  const removeTmp = (): void => rmSync(tmp, { recursive: true, force: true });
  let configPath = resolve(opts.configPath ?? defaultConfig);
  if (opts.vms) {
    const base = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    const vms = opts.vms.map((vm) => ({
      name: vm.name,
      folder: vm.folder ?? 'Migration',
      guestId: vm.guestId ?? 'ubuntu64Guest',
      guestFullName: vm.guestFullName ?? 'Ubuntu Linux (64-bit)',
      powerState: vm.powerState ?? 'poweredOff',
      numCpu: 1,
      memoryMB: 1024,
      disks: vm.disks,
    }));
    configPath = join(tmp, 'inventory.json');
    writeFileSync(configPath, JSON.stringify({ ...base, vms }), { mode: 0o600 });
  }
  // Only the config path goes on the command line; credentials stay in the file.
  if (opts.apiVersion !== undefined && !/^\d+\.\d+\.\d+(\.\d+)?$/.test(opts.apiVersion)) {
    removeTmp();
    throw new Error(`startVcsim: apiVersion ${JSON.stringify(opts.apiVersion)} is not a vSphere API release such as 8.0.1.0`);
  }
  const args = ['-config', configPath, '-listen', '127.0.0.1:0', '-exit-on-stdin-eof', '-control-stdin', ...(opts.apiVersion ? ['-api-version', opts.apiVersion] : [])];
  const child = spawn(bin, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp, VCSIM_LAB_OWN_TMPDIR: '1' },
  });

  let stderr = '';
  // VCSIM_LAB_STDERR=<file>: the whole stderr is appended there too (a SIGQUIT goroutine dump outgrows stderrKeep).
  const stderrFile = process.env.VCSIM_LAB_STDERR;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrKeep);
    if (stderrFile) appendFileSync(stderrFile, `[pid ${child.pid}] ${chunk}`);
  });
  // If this process exits without stop(), take the child down (SIGTERM lets it remove its temp dirs).
  const onParentExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    removeTmp();
  };
  process.on('exit', onParentExit);

  // stdout: the ready line, then one answer line per control command (see control.go).
  const pending = new Map<number, { resolve: (a: ControlAnswer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let out = '';
  const onAnswer = (line: string): void => {
    let a: ControlAnswer;
    try {
      a = JSON.parse(line) as ControlAnswer;
    } catch {
      stderr = `${stderr}\nunexpected output: ${line.slice(0, 200)}`.slice(-stderrKeep);
      return;
    }
    const p = pending.get(a.id);
    if (!p) return;
    pending.delete(a.id);
    clearTimeout(p.timer);
    p.resolve(a);
  };

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
      if (settled) {
        out += chunk;
        for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
          onAnswer(out.slice(0, nl));
          out = out.slice(nl + 1);
        }
        return;
      }
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const line = parseReady(buf.slice(0, nl));
        settled = true;
        clearTimeout(timer);
        out = buf.slice(nl + 1);
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
    for (const [id, p] of pending) {
      pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new Error(`The lab vCenter exited (${signal ?? `code ${code}`}) before answering a fault command`));
    }
    if (!stopping) {
      process.stderr.write(`The lab vCenter (pid ${child.pid}) exited unexpectedly with ${signal ?? `code ${code}`}\n${stderr.trim()}\n`);
    }
  });
  // A forgotten handle must not keep the parent's event loop alive; stop() re-refs while it waits.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  let nextId = 0;
  const control = (cmd: Record<string, unknown>): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (stopping || child.exitCode !== null || child.signalCode !== null) {
        reject(new Error('The lab vCenter is stopped'));
        return;
      }
      const id = ++nextId;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`The lab vCenter did not answer the fault command ${JSON.stringify(cmd)} within ${controlTimeoutMs / 1000} s`));
      }, controlTimeoutMs);
      pending.set(id, {
        timer,
        reject,
        resolve: (a) => (a.ok ? resolve(a.result) : reject(new Error(`The lab vCenter refused ${JSON.stringify(cmd)}: ${a.error ?? 'no reason'}`))),
      });
      child.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });

  const url = new URL(ready.sdkUrl);
  // A goroutine dump in a file, named with the goroutines that wait on a lock: what a call that hung reports.
  const dumpGoroutines = async (): Promise<string> => {
    try {
      const dump = String(await control({ op: 'goroutines' }));
      const file = join(tmpdir(), `vcsim-lab-${child.pid}-goroutines-${Date.now()}.txt`);
      writeFileSync(file, dump);
      return `its goroutines are in ${file}${lockWaiters(dump)}`;
    } catch (err) {
      return `no goroutine dump (${(err as Error).message})`;
    }
  };
  const lab = labCaller(url.origin, ready.certPem, dumpGoroutines);
  return {
    ...ready,
    origin: url.origin,
    pid: child.pid ?? -1,
    async injectFault(fault) {
      return ((await control({ op: 'inject', fault })) ?? {}) as { terminated?: number };
    },
    async clearFaults() {
      await control({ op: 'clear' });
    },
    async faultStatus() {
      return (await control({ op: 'status' })) as VcsimFaultStatus;
    },
    async setReachable(on) {
      await control({ op: 'reachable', on });
    },
    async writeDisk(vmId, deviceKey, write) {
      const r = await lab('POST', '/lab/disk-write', { vm: vmId, deviceKey, ...write });
      return { grains: Number(r.grains), epoch: Number(r.epoch) };
    },
    async diskSha256(vmId, deviceKey, opts = {}) {
      const q = new URLSearchParams({ vm: vmId, deviceKey: String(deviceKey), ...(opts.snapshot ? { snapshot: opts.snapshot } : {}) });
      return String((await lab('GET', `/lab/disk-sha256?${q}`, undefined, LAB_HASH_MS)).sha256);
    },
    async resetChangeTracking(vmId) {
      await lab('POST', '/lab/reset-change-tracking', { vm: vmId });
    },
    async setDatastoreFree(datastore, freeBytes) {
      await lab('POST', '/lab/datastore-free', { datastore, freeBytes });
    },
    async folderReadBytes() {
      return Number((await lab('GET', '/lab/folder-reads')).bytes);
    },
    dumpGoroutines,
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
