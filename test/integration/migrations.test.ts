import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { migrateAll } from '../../src/runtime/stores.ts';

describe('migrations', () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await openTestStores({ migrate: false });
  });
  afterAll(() => stores.close());

  it('apply on empty stores, then are a no-op the second time', async () => {
    const first = await migrateAll(stores.pg, stores.ch);
    expect(first.clickhouse).toEqual([1, 2, 3]);
    const second = await migrateAll(stores.pg, stores.ch);
    expect(second).toEqual({ postgres: 0, clickhouse: [] });
    expect(first.postgres).toBeGreaterThan(0);
    const tables = await stores.ch.query<{ name: string }>(
      'SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name',
      { db: stores.ch.database },
    );
    expect(tables.map((t) => t.name)).toEqual(['events', 'events_unique', 'identity_map', 'identity_map_current', 'rejected_events', 'schema_migrations']);
    const pgTables = await stores.pg.sql<{ tablename: string }[]>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`;
    expect(pgTables.map((t) => t.tablename)).toEqual(expect.arrayContaining(['__drizzle_migrations', 'api_keys', 'job_checkpoints', 'identity_identifiers', 'identity_edges', 'identity_overrides']));
  });
});
