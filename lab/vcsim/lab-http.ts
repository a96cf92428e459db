// The lab vCenter's lab-only /lab/ endpoints (labapi.go) over HTTPS. Every call has a deadline: a lab vCenter that
// stops answering fails the call with where its goroutines were, instead of eating the calling test's timeout.
import https from 'node:https';

/** Deadline of one /lab/ call. */
export const LAB_CALL_MS = 30_000;
/** disk-sha256 reads a whole disk (10 GiB in the benchmarks). */
export const LAB_HASH_MS = 300_000;

export type LabCall = (method: 'GET' | 'POST', path: string, body?: unknown, deadlineMs?: number) => Promise<Record<string, unknown>>;

/** `whenHung` says where the lab vCenter's goroutines are (index.ts: dumpGoroutines); it ends a call past its deadline. */
export function labCaller(origin: string, certPem: string, whenHung: () => Promise<string>): LabCall {
  return (method, path, body, deadlineMs = LAB_CALL_MS) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      let hung = false;
      const fail = (err: Error): void => {
        clearTimeout(timer);
        if (!hung) reject(err);
      };
      const req = https.request(
        new URL(path, origin),
        {
          method,
          ca: certPem,
          agent: false,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            if (hung) return;
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              json = { error: text.slice(0, 300) };
            }
            if (res.statusCode === 200) resolve(json);
            else reject(new Error(`The lab vCenter refused ${method} ${path} (HTTP ${res.statusCode}): ${String(json.error ?? 'no reason')}`));
          });
        },
      );
      const timer = setTimeout(() => {
        hung = true;
        req.destroy();
        void whenHung().then((where) => reject(new Error(`The lab vCenter did not answer ${method} ${path} within ${deadlineMs / 1000} s; ${where}`)));
      }, deadlineMs);
      req.on('error', fail);
      req.end(payload);
    });
}

/** ", 3 wait on a lock: main.(*diskRegistry).PutObject, …": each goroutine blocked on a lock, by its first frame of ours or the simulator's. */
export function lockWaiters(dump: string): string {
  const where: string[] = [];
  for (const g of dump.split('\n\n')) {
    if (!/^goroutine \d+ \[(semacquire|sync\.(RW)?Mutex\.R?Lock)/.test(g)) continue;
    const frame = g.split('\n').find((l) => /^(main\.|github\.com\/vmware\/govmomi\/simulator\.)/.test(l));
    where.push((frame ?? '?').replace(/\((0x[^)]*|\.\.\.)\)$/, ''));
  }
  return where.length ? `, ${where.length} wait on a lock: ${[...new Set(where)].join(', ')}` : ', none waits on a lock';
}
