import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStore, SqliteStore } from '../../connector/store/index.ts';
import { PgDatabase } from '../../connector/store/postgres/database.ts';
import { PG_MIGRATIONS } from '../../connector/store/postgres/migrations/index.ts';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { openSqlite } from '../../connector/store/sqlite/database.ts';
import { MIGRATIONS } from '../../connector/store/sqlite/migrations/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { freshDatabase } from '../support/postgres.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-store-defaults-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const fields = (name: string) => ({
  name,
  description: '',
  region: 'us-east-1',
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-0123456789abcdef0'],
  securityGroupIds: ['sg-0123456789abcdef0'],
  instanceTypes: [],
});

describe('environment import defaults (schema step 6)', () => {
  it('gives environments stored before the step what imports did then: AWS licence, unencrypted, no tags', async () => {
    const file = join(dir, 'old.sqlite');
    const old = openSqlite(file, MIGRATIONS.filter((m) => m.version <= 5));
    old.db
      .prepare(
        `INSERT INTO environments (id, name, description, is_default, region, vpc_id, subnet_ids, security_group_ids, instance_types, created_at, updated_at)
         VALUES ('env-old', 'Old', '', 0, 'us-east-1', NULL, '[]', '[]', '[]', 'x', 'x')`,
      )
      .run();
    expect(old.db.prepare("SELECT name FROM pragma_table_info('environments') WHERE name = 'import_defaults'").get()).toBeUndefined();
    old.db.close();

    const store = new SqliteStore(file, { defaultRegion: 'us-east-1' });
    expect((await store.environments.get('env-old'))?.importDefaults).toEqual({ licenseType: 'AWS', encryption: { encrypted: false }, tags: [] });
    expect((await store.environments.get('env-default'))?.importDefaults).toEqual({ licenseType: 'AWS', encryption: { encrypted: false }, tags: [] });
    await store.close();
  });

  it('on PostgreSQL too: environments stored before the step read with the documented defaults', async () => {
    const url = await freshDatabase();
    const old = new PgDatabase(pgConfigFromUrl(url));
    await old.migrate(PG_MIGRATIONS.filter((m) => m.version <= 5));
    await old.query(
      `INSERT INTO environments (id, name, description, is_default, region, vpc_id, subnet_ids, security_group_ids, instance_types, created_at, updated_at)
       VALUES ('env-old', 'Old', '', 0, 'us-east-1', NULL, '[]', '[]', '[]', 'x', 'x')`,
    );
    await old.close();

    const store = PgStore.create(pgConfigFromUrl(url), { defaultRegion: 'us-east-1' });
    expect((await store.environments.get('env-old'))?.importDefaults).toEqual({ licenseType: 'AWS', encryption: { encrypted: false }, tags: [] });
    expect((await store.environments.get('env-default'))?.importDefaults).toEqual({ licenseType: 'AWS', encryption: { encrypted: false }, tags: [] });
    await store.close();
  });
});

describe.each(BACKENDS)('environment import defaults ($name)', (backend) => {
  it('stores, replaces and returns the defaults an administrator sets', async () => {
    const store = await backend.openStore();
    const chosen = {
      licenseType: 'BYOL' as const,
      encryption: { encrypted: true, kmsKeyId: 'alias/migration' },
      tags: [{ key: 'CostCenter', value: '4711' }],
    };
    const env = await store.environments.create({ ...fields('Prod'), importDefaults: chosen });
    expect(env.importDefaults).toEqual(chosen);
    expect((await store.environments.get(env.id))?.importDefaults).toEqual(chosen);
    // A replace without defaults goes back to the documented ones (PUT replaces the whole settings).
    const replaced = await store.environments.update(env.id, fields('Prod'));
    expect(replaced?.importDefaults).toEqual({ licenseType: 'AWS', encryption: { encrypted: false }, tags: [] });
    await store.close();
  });
});
