// One tally per fault/abuse test file, appended to .reports/fault-summary.jsonl; `npm test` (test/run.ts)
// adds them up into the suite's closing summary line. Each file records what it actually observed.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';

export interface FaultTally {
  /** The test file or scenario group, e.g. 'aws-faults-ec2'. */
  suite: string;
  /** Faults the test injected (throttles, 500s, resets, dropped NFC connections, SIGKILLs…). */
  faultsInjected: number;
  /** Migrations or exports that reached `completed`. */
  migrationsCompleted: number;
  /** Migrations or exports that ended `failed` (or `cancelled`) on purpose, each with a clear message checked by the test. */
  migrationsFailed: number;
  /** Submitted tasks that vanished, or ended in a state the test did not expect. Must be 0. */
  tasksLost: number;
  /** Second import tasks or instances for one migration. Must be 0. */
  duplicates: number;
  /** Multipart uploads, import tasks, instances, leases or snapshots left behind. Must be 0. */
  orphans: number;
  /** Requests sent by fuzzers, and how many were answered 5xx (must be 0). */
  requestsFuzzed?: number;
  serverErrors?: number;
}

export const FAULT_SUMMARY_FILE = '.reports/fault-summary.jsonl';

export function recordFaultTally(tally: FaultTally): void {
  mkdirSync('.reports', { recursive: true });
  appendFileSync(FAULT_SUMMARY_FILE, `${JSON.stringify(tally)}\n`);
}

/** Sums every tally in the file (undefined when no fault test ran). */
export function readFaultSummary(file = FAULT_SUMMARY_FILE): (Required<Omit<FaultTally, 'suite'>> & { suites: number }) | undefined {
  if (!existsSync(file)) return undefined;
  const total = { suites: 0, faultsInjected: 0, migrationsCompleted: 0, migrationsFailed: 0, tasksLost: 0, duplicates: 0, orphans: 0, requestsFuzzed: 0, serverErrors: 0 };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const t = JSON.parse(line) as FaultTally;
    total.suites += 1;
    total.faultsInjected += t.faultsInjected;
    total.migrationsCompleted += t.migrationsCompleted;
    total.migrationsFailed += t.migrationsFailed;
    total.tasksLost += t.tasksLost;
    total.duplicates += t.duplicates;
    total.orphans += t.orphans;
    total.requestsFuzzed += t.requestsFuzzed ?? 0;
    total.serverErrors += t.serverErrors ?? 0;
  }
  return total;
}
