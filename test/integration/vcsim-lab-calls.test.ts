// The lab vCenter's /lab/ calls end at a deadline: one that gets no answer fails fast, saying where the lab vCenter's
// goroutines were (a dump taken over its control channel), instead of hanging the test that made it.
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { labCaller, lockWaiters } from '../../lab/vcsim/lab-http.ts';

let vcsim: VcsimHandle;
let silent: net.Server;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  vcsim = await startVcsim();
  // Accepts connections and never says a word: not even the TLS handshake completes.
  silent = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
}, 120_000);
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent?.close(r));
  await vcsim?.stop();
});

describe('lab calls', () => {
  it('a call without an answer fails at its deadline with the lab vCenter\'s goroutine dump', async () => {
    const { port } = silent.address() as net.AddressInfo;
    const call = labCaller(`https://127.0.0.1:${port}`, vcsim.certPem, () => vcsim.dumpGoroutines());
    const started = Date.now();
    const err = await call('POST', '/lab/reset-change-tracking', { vm: 'vm-1' }, 500).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(err?.message).toMatch(/^The lab vCenter did not answer POST \/lab\/reset-change-tracking within 0\.5 s; its goroutines are in \S+\.txt, none waits on a lock$/);
    const file = /in (\S+\.txt)/.exec(err!.message)![1]!;
    const dump = readFileSync(file, 'utf8');
    rmSync(file);
    expect(dump).toMatch(/^goroutine \d+ \[running\]:/);
    expect(dump).toContain('main.main()');
  }, 30_000);

  it('answered calls are unchanged', async () => {
    expect(await vcsim.folderReadBytes()).toBe(0);
    await expect(vcsim.resetChangeTracking('vm-none')).rejects.toThrow(/HTTP 409\): no VM vm-none/);
  }, 30_000);

  it('names the goroutines that wait on a lock by their first frame of the lab or the simulator', () => {
    const dump = [
      'goroutine 1 [running]:\nmain.main()\n\t/x/main.go:1 +0x1',
      'goroutine 41 [sync.Mutex.Lock, 2 minutes]:\nsync.runtime_SemacquireMutex(0xc0, 0x0, 0x1)\n\t/go/sema.go:77 +0x25\nsync.(*Mutex).Lock(...)\n\t/go/mutex.go:90\nmain.(*diskRegistry).PutObject(0xc000, {0x1, 0x2})\n\t/x/disks.go:198 +0x1a5',
      'goroutine 42 [semacquire]:\nsync.runtime_SemacquireMutex(0xc0, 0x0, 0x1)\n\t/go/sema.go:77 +0x25\ngithub.com/vmware/govmomi/simulator.(*Registry).WithLock(...)\n\t/g/registry.go:586',
      'goroutine 43 [IO wait]:\nnet.(*conn).Read(0xc0)\nmain.(*gate).ServeHTTP(0xc0)',
    ].join('\n\n');
    expect(lockWaiters(dump)).toBe(', 2 wait on a lock: main.(*diskRegistry).PutObject, github.com/vmware/govmomi/simulator.(*Registry).WithLock');
  });
});
