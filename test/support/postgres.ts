import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { POSTGRES_MISSING } from '../../lab/postgres/cluster.ts';

/** Admin URL of the run's cluster (test/global-setup.ts). */
export function testPgUrl(): string {
  const url = process.env.VM2EC2_TEST_PG_URL || inject('pgUrl');
  if (!url) throw new Error(`These tests need PostgreSQL and the test run has none. ${POSTGRES_MISSING}`);
  return url;
}

/** A new, empty database on the run's cluster; returns its URL (same user, no password). */
export async function freshDatabase(prefix = 't'): Promise<string> {
  const admin = new URL(testPgUrl());
  const name = `${prefix}_${randomBytes(6).toString('hex')}`.toLowerCase();
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  admin.pathname = `/${name}`;
  return admin.href;
}
