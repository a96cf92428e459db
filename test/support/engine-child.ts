// The migration engine in a child process (test/integration/engine-child.ts) on an engine lab's database, for the tests
// that SIGKILL it: started with the tasks it submits, killed and awaited, and every child still alive killed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { MigrationSubmission } from '../../connector/engine/types.ts';
import type { EngineLab } from '../integration/engine-helpers.ts';

const CHILD = join(import.meta.dirname, '..', 'integration', 'engine-child.ts');

export interface EngineChildren {
  /** Starts an engine child (with an IPC channel for warm requests when `ipc`); resolves with the ids it submitted once it is ready. */
  start(submit?: MigrationSubmission[], opts?: { ipc?: boolean }): Promise<{ child: ChildProcess; ids: string[] }>;
  /** SIGKILL; resolves once the child has exited. */
  kill(child: ChildProcess): Promise<void>;
  /** Kills every child still alive (afterAll). */
  killAll(): void;
}

export function engineChildren(lab: Pick<EngineLab, 'configInput' | 'vcsim' | 'ec2'>): EngineChildren {
  const children = new Set<ChildProcess>();
  return {
    async start(submit = [], opts = {}) {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
        env: { ...process.env, ENGINE_CHILD: JSON.stringify({ config: lab.configInput, sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem, ec2Url: lab.ec2.url, submit }) },
        stdio: ['ignore', 'pipe', 'inherit', ...(opts.ipc ? (['ipc'] as const) : [])],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      const ids: string[] = [];
      const lines = createInterface({ input: child.stdout! });
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`engine child exited early (${code})`)));
        lines.on('line', (line) => {
          const msg = JSON.parse(line) as { id?: string; ready?: boolean };
          if (msg.id) ids.push(msg.id);
          if (msg.ready) resolve();
        });
      });
      return { child, ids };
    },
    async kill(child) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    killAll() {
      for (const c of children) c.kill('SIGKILL');
    },
  };
}
