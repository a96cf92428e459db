import type { TestProject } from 'vitest/node';
import { findPostgresBin, startPostgresCluster, type PostgresCluster } from '../lab/postgres/cluster.ts';
import { ensureVcsimBuilt } from '../lab/vcsim/build.ts';
import { ensureClientAssets } from '../lab/vsphere-client/build.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the run's PostgreSQL cluster ('' when PostgreSQL is not installed). */
    pgUrl: string;
  }
}

/**
 * Build what the lab needs once, before any test file starts a lab: test files run in parallel and would
 * otherwise race to build the same vcsim binary and bundles (a cold Go build takes a minute on 2 cores).
 * Also starts ONE throwaway PostgreSQL cluster for the run (test/support/postgres.ts makes a database per suite);
 * a URL already in VM2EC2_TEST_PG_URL is used instead. Without PostgreSQL installed only the suites that need it fail,
 * saying what to install.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: PostgresCluster | undefined;
  const pgStarted = process.env.VM2EC2_TEST_PG_URL
    ? Promise.resolve()
    : findPostgresBin()
      ? startPostgresCluster().then((c) => {
          cluster = c;
          process.env.VM2EC2_TEST_PG_URL = c.url;
        })
      : Promise.resolve();
  await Promise.all([ensureVcsimBuilt(), ensureClientAssets(), pgStarted]);
  project.provide('pgUrl', process.env.VM2EC2_TEST_PG_URL ?? '');
  return async () => {
    await cluster?.stop();
  };
}
