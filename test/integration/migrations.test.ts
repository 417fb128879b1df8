import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { migrateAll } from '../../src/runtime/stores.ts';
import { loadClickhouseMigrations } from '../../src/db/migrate-clickhouse.ts';

describe('migrations', () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await openTestStores({ migrate: false });
  });
  afterAll(() => stores.close());

  it('apply on empty stores, then are a no-op the second time', async () => {
    const first = await migrateAll(stores.pg, stores.ch);
    const all = await loadClickhouseMigrations(stores.ch.database);
    expect(first.clickhouse).toEqual(all.map((m) => m.version));
    expect(first.clickhouse.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    const second = await migrateAll(stores.pg, stores.ch);
    expect(second).toEqual({ postgres: 0, clickhouse: [] });
    expect(first.postgres).toBeGreaterThan(0);
    const tables = await stores.ch.query<{ name: string }>(
      'SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name',
      { db: stores.ch.database },
    );
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['cdc_changes', 'crm_records', 'crm_records_current', 'events', 'events_unique', 'identity_map', 'identity_map_current', 'rejected_events', 'schema_migrations']),
    );
    const pgTables = await stores.pg.sql<{ tablename: string }[]>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`;
    expect(pgTables.map((t) => t.tablename)).toEqual(
      expect.arrayContaining(['__drizzle_migrations', 'api_keys', 'job_checkpoints', 'identity_identifiers', 'identity_edges', 'identity_overrides', 'cdc_schema_drift']),
    );
  });
});
