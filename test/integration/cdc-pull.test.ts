import { randomBytes } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { openTestStores, testId, type TestStores } from '../helpers/stores.ts';
import { openCliSandbox } from '../helpers/cli.ts';
import { startLogicalPostgres, type LogicalPostgres } from '../helpers/logical-postgres.ts';
import { shopSources } from '../../benchmarks/generator/shop-sources.ts';
import { createScratchDatabase } from '../../src/db/scratch-database.ts';
import { createServices, type Services } from '../../src/runtime/services.ts';
import { createLogger } from '../../src/common/logger.ts';
import { PostgresPullConnector, type ChangeSink, type PullConnectorOptions } from '../../src/cdc/postgres/postgres-pull-connector.ts';
import { readPullCheckpoint } from '../../src/cdc/postgres/pull-checkpoint.ts';
import { startPullJobs } from '../../src/cdc/postgres/pull-jobs.ts';
import type { CdcSourceConfig } from '../../src/sources/sources-config.ts';
import { TesseraError } from '../../src/common/errors.ts';

const SCHEMA = `
  CREATE TABLE customers (id int PRIMARY KEY, email text, name text, subscribed boolean, updated_at timestamptz, bio text, plan text);
  CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2), status text, created_at timestamptz);
  ALTER TABLE customers ALTER COLUMN bio SET STORAGE EXTERNAL;`;

describe('PostgreSQL logical replication pull connector', () => {
  let server: LogicalPostgres;
  let database: { url: string; drop(): Promise<void> };
  let source: Sql;
  let stores: TestStores;
  let services: Services;
  let config: CdcSourceConfig;
  const log = createLogger('silent');
  const id = testId();

  const connector = (opts: Partial<PullConnectorOptions> = {}) =>
    new PostgresPullConnector({ source: 'shop', config, sink: services.cdc, checkpoints: stores.pg.sql, clickhouse: stores.ch, log, lingerMs: 50, untilCaughtUp: true, ...opts });
  /** Runs a connector until it has applied everything the source has now. */
  const catchUp = async (opts: Partial<PullConnectorOptions> = {}) => {
    const c = connector(opts);
    await c.run();
    return c.stats();
  };
  const current = (table: string, columns = '*') => stores.ch.query<Record<string, unknown>>(`SELECT ${columns} FROM ${stores.ch.table(`cdc_shop__public_${table}`)} ORDER BY id`);
  const changelog = (table: string) =>
    stores.ch.query<{ op: string; position: string; key: string; row: string; identifiers: string }>(
      `SELECT op, position, key, row, identifiers FROM ${stores.ch.table('cdc_changes')} FINAL WHERE source = 'shop' AND table_name = {t:String} ORDER BY position, key`,
      { t: `public.${table}` },
    );
  const count = async (query: string) => Number((await stores.ch.query<{ n: string }>(query))[0]!.n);

  beforeAll(async () => {
    server = await startLogicalPostgres();
    database = await createScratchDatabase(server.adminUrl, `cdc_source_${id}`);
    source = postgres(database.url, { max: 3, onnotice: () => {} });
    await source.unsafe(SCHEMA);
    await source`INSERT INTO customers (id, email, name, subscribed, updated_at) VALUES
      (1, 'Ann@Example.com', 'Ann', true, '2026-01-01T10:00:00Z'), (2, 'bob@example.com', 'Bob', false, '2026-01-02T10:00:00Z')`;
    await source`INSERT INTO orders (id, customer_id, amount, status, created_at) SELECT g, 1 + g % 2, g * 1.5, 'new', '2026-01-03T00:00:00Z' FROM generate_series(1, 25) g`;
    stores = await openTestStores();
    const sources = shopSources({ connection: database.url });
    config = { ...sources.cdc.shop!, slot: `tessera_${id}`, publication: `tessera_${id}` };
    config.tables['public.customers']!.columns.bio = 'string';
    services = createServices(stores, stores.config, { sources: { ...sources, cdc: { shop: config } } });
  });

  afterAll(async () => {
    for (const name of [config.slot, `${config.slot}_cli`]) {
      await source?.unsafe(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${name}'`);
      await source?.unsafe(`DROP PUBLICATION IF EXISTS ${name}`);
    }
    await source?.end();
    await database?.drop();
    await stores?.close();
    await server?.stop();
  });

  it('takes a snapshot of the existing rows, with identifiers, then checkpoints the slot position', async () => {
    const stats = await catchUp({ snapshotPageSize: 10 });
    expect(stats.snapshotRows).toBe(27);
    expect(stats.phase).toBe('stopped');
    const customers = await current('customers', 'id, email, name, subscribed, updated_at');
    expect(customers).toEqual([
      { id: 1, email: 'Ann@Example.com', name: 'Ann', subscribed: true, updated_at: '2026-01-01 10:00:00.000' },
      { id: 2, email: 'bob@example.com', name: 'Bob', subscribed: false, updated_at: '2026-01-02 10:00:00.000' },
    ]);
    expect(await count(`SELECT count() AS n FROM ${stores.ch.table('cdc_shop__public_orders')}`)).toBe(25);
    const log = await changelog('customers');
    expect(log.map((c) => [c.op, String(c.position), c.key])).toEqual([
      ['r', '0', '[1]'],
      ['r', '0', '[2]'],
    ]);
    expect(JSON.parse(log[0]!.identifiers)).toEqual([
      ['user_id', '1'],
      ['email', 'Ann@Example.com'],
    ]);
    const checkpoint = await readPullCheckpoint(stores.pg.sql, 'shop', config.slot!);
    expect(checkpoint).toMatchObject({ snapshotDone: true, slot: config.slot });
    const [slot] = await source<{ plugin: string; temporary: boolean }[]>`SELECT plugin, temporary FROM pg_replication_slots WHERE slot_name = ${config.slot!}`;
    expect(slot).toEqual({ plugin: 'pgoutput', temporary: false });
  });

  it('streams inserts, updates, deletes and truncates in commit order, with their WAL positions', async () => {
    await source`INSERT INTO customers (id, email, name, subscribed) VALUES (3, 'cy@example.com', 'Cy', true)`;
    await source.begin(async (tx) => {
      await tx`UPDATE customers SET name = 'Ann B', subscribed = false, updated_at = '2026-02-01T00:00:00Z' WHERE id = 1`;
      await tx`DELETE FROM customers WHERE id = 2`;
    });
    await source`TRUNCATE orders`;
    await source`INSERT INTO orders (id, customer_id, amount, status, created_at) VALUES (100, 3, 9.99, 'new', '2026-02-02T00:00:00Z')`;
    const stats = await catchUp();
    expect(stats).toMatchObject({ snapshotRows: 0, changesApplied: 5, transactions: 4, rejected: 0, caughtUp: false });

    expect(await current('customers', 'id, name, subscribed, updated_at')).toEqual([
      { id: 1, name: 'Ann B', subscribed: false, updated_at: '2026-02-01 00:00:00.000' },
      { id: 3, name: 'Cy', subscribed: true, updated_at: null },
    ]);
    expect(await current('orders', 'id, customer_id, amount, status')).toEqual([{ id: 100, customer_id: 3, amount: 9.99, status: 'new' }]);

    const streamed = (await changelog('customers')).filter((c) => c.op !== 'r');
    expect(streamed.map((c) => [c.op, c.key])).toEqual([
      ['c', '[3]'],
      ['u', '[1]'],
      ['d', '[2]'],
    ]);
    const positions = streamed.map((c) => BigInt(c.position));
    expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
    expect(JSON.parse(streamed[0]!.identifiers)).toEqual([
      ['user_id', '3'],
      ['email', 'cy@example.com'],
    ]);
    const orders = (await changelog('orders')).filter((c) => c.op !== 'r');
    expect(orders.map((c) => [c.op, c.key])).toEqual([
      ['t', ''],
      ['c', '[100]'],
    ]);
    expect(BigInt(orders[0]!.position)).toBeGreaterThan(positions[2]!);
  });

  it('moves a row whose primary key changes, and keeps large values an update did not touch', async () => {
    const bio = randomBytes(6000).toString('hex'); // incompressible, stored out of line (TOAST)
    await source`UPDATE customers SET bio = ${bio} WHERE id = 3`;
    await catchUp();
    await source`UPDATE customers SET plan = 'pro' WHERE id = 3`;
    await source`UPDATE customers SET id = 30 WHERE id = 1`;
    await catchUp();
    const rows = await current('customers', 'id, name, length(bio) AS bio_length');
    expect(rows).toEqual([
      { id: 3, name: 'Cy', bio_length: 12000 },
      { id: 30, name: 'Ann B', bio_length: null },
    ]);
  });

  it('resumes after a stop mid-stream and after a crash between the ClickHouse write and the checkpoint: nothing lost, nothing doubled', async () => {
    const writes = 120;
    const expected = { changes: 0 };
    const write = async (i: number) => {
      await source.begin(async (tx) => {
        await tx`INSERT INTO orders (id, customer_id, amount, status, created_at) VALUES (${1000 + i}, ${i % 7}, ${i}, 'new', now())`;
        if (i > 0) await tx`UPDATE orders SET status = 'paid' WHERE id = ${1000 + i - 1}`;
      });
      expected.changes += i > 0 ? 2 : 1;
    };

    // 1. A connector streams while the source writes; it is stopped half way.
    const first = connector({ untilCaughtUp: false, batchSize: 7 });
    const running = first.run();
    for (let i = 0; i < writes / 4; i++) await write(i);
    await expect.poll(() => first.stats().changesApplied, { timeout: 10_000 }).toBeGreaterThan(0);
    for (let i = writes / 4; i < writes / 2; i++) await write(i);
    await first.stop();
    await running;
    expect(first.stats().changesApplied).toBeGreaterThan(0);

    // 2. Changes made while no connector runs; then one that "crashes" right after a ClickHouse
    //    write, before its checkpoint (the sink fails after storing the third batch).
    for (let i = writes / 2; i < (3 * writes) / 4; i++) await write(i);
    let batches = 0;
    const crashing: ChangeSink = {
      apply: async (changes) => {
        const result = await services.cdc.apply(changes);
        if (++batches === 3) throw new TesseraError('simulated_crash', 'simulated crash after the ClickHouse write', 500);
        return result;
      },
    };
    await expect(connector({ sink: crashing, batchSize: 5 }).run()).rejects.toThrow(/simulated crash/);

    // 3. More changes, then a fresh connector catches up.
    for (let i = (3 * writes) / 4; i < writes; i++) await write(i);
    await catchUp();

    const streamed = `FROM ${stores.ch.table('cdc_changes')} FINAL WHERE source = 'shop' AND table_name = 'public.orders' AND JSONExtractInt(key, 1) >= 1000 AND op IN ('c', 'u')`;
    expect(await count(`SELECT count() AS n ${streamed}`)).toBe(expected.changes);
    expect(await count(`SELECT uniqExact(key, position) AS n ${streamed}`)).toBe(expected.changes);
    const sourceRows = await source<{ id: number; status: string }[]>`SELECT id, status FROM orders ORDER BY id`;
    expect(await current('orders', 'id, status')).toEqual(sourceRows.map((r) => ({ id: r.id, status: r.status })));
    expect(await count(`SELECT count() AS n FROM ${stores.ch.table('cdc_shop__public_orders')}`)).toBe(writes + 1);
  });

  it('reconnects when the source drops the replication connection, and resumes from its checkpoint', async () => {
    const c = connector({ untilCaughtUp: false, retryDelayMs: { min: 50, max: 200 } });
    const running = c.run();
    await expect.poll(() => c.stats().phase, { timeout: 10_000 }).toBe('streaming');
    await source`UPDATE orders SET status = 'before' WHERE id BETWEEN 1000 AND 1009`;
    await expect.poll(() => c.stats().changesApplied, { timeout: 10_000 }).toBe(10);
    const terminated = await source`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = ${config.slot!} AND active`;
    expect(terminated).toHaveLength(1);
    await source`UPDATE orders SET status = 'after' WHERE id BETWEEN 1000 AND 1019`;
    await expect.poll(async () => (await current('orders', 'id, status')).filter((r) => r.status === 'after').length, { timeout: 20_000 }).toBe(20);
    expect(c.stats()).toMatchObject({ phase: 'streaming', changesApplied: 30 });
    await c.stop();
    await running;
  });

  it('redoes an interrupted snapshot from a new slot, and --resnapshot starts over', async () => {
    let pages = 0;
    const failing: ChangeSink = {
      apply: async (changes) => {
        if (changes[0]?.op === 'r' && ++pages === 2) throw new TesseraError('simulated_crash', 'simulated crash mid-snapshot', 500);
        return services.cdc.apply(changes);
      },
    };
    await expect(catchUp({ resnapshot: true, sink: failing, snapshotPageSize: 20 })).rejects.toThrow(/mid-snapshot/);
    expect(await readPullCheckpoint(stores.pg.sql, 'shop', config.slot!)).toMatchObject({ snapshotDone: false });
    await source`DELETE FROM orders WHERE id = 1000`;

    const stats = await catchUp({ snapshotPageSize: 20 });
    const total = await source<{ n: string }[]>`SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM customers) AS n`;
    expect(stats.snapshotRows).toBe(Number(total[0]!.n));
    const sourceRows = await source<{ id: number; status: string }[]>`SELECT id, status FROM orders ORDER BY id`;
    expect(await current('orders', 'id, status')).toEqual(sourceRows.map((r) => ({ id: r.id, status: r.status })));
    await source`UPDATE orders SET status = 'shipped' WHERE id = 1001`;
    await catchUp();
    expect((await current('orders', 'id, status')).find((r) => r.id === 1001)).toEqual({ id: 1001, status: 'shipped' });
  });

  it('says what to do when the source cannot replicate', async () => {
    const { connection: _unused, ...withoutConnection } = config;
    expect(() => connector({ config: withoutConnection })).toThrow(/has no `connection`: add "connection"/);

    const missing = { ...config, tables: { ...config.tables, 'public.refunds': config.tables['public.orders']! } };
    await expect(catchUp({ config: missing })).rejects.toThrow(/public\.refunds do not exist/);

    // A table declared after the initial snapshot has no snapshot: resnapshot.
    await source`CREATE TABLE refunds (id int PRIMARY KEY, order_id int)`;
    const grown = { ...config, tables: { ...config.tables, 'public.refunds': { role: 'fact' as const, primaryKey: ['id'], columns: { id: 'int' as const, order_id: 'int' as const }, identifiers: {} } } };
    await expect(catchUp({ config: grown })).rejects.toThrow(/public\.refunds were declared after the initial snapshot.*--resnapshot/);

    // A role that may neither create the publication nor replicate.
    const role = `${id}_reader`;
    await source.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'reader'; GRANT SELECT ON customers, orders TO ${role}`);
    try {
      const url = new URL(database.url);
      url.username = role;
      url.password = 'reader';
      const reader = { ...config, connection: url.toString(), slot: role, publication: role };
      await expect(catchUp({ config: reader })).rejects.toThrow(new RegExp(`Role ${role} may not create or change publication ${role}: create it once as the tables' owner`));
      await source.unsafe(`CREATE PUBLICATION ${role} FOR TABLE customers, orders`);
      await expect(catchUp({ config: reader })).rejects.toThrow(new RegExp(`ALTER ROLE ${role} WITH REPLICATION`));
    } finally {
      await source.unsafe(`DROP PUBLICATION IF EXISTS ${role}; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }

    // The test stores' own server runs with wal_level=replica on most machines.
    const admin = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
    try {
      const [{ level }] = (await admin`SELECT current_setting('wal_level') AS level`) as unknown as [{ level: string }];
      if (level !== 'logical') {
        const plain = { ...config, connection: inject('pgAdminUrl') };
        await expect(catchUp({ config: plain })).rejects.toThrow(/wal_level is replica; .*set wal_level = logical in postgresql\.conf.*restart/i);
      }
    } finally {
      await admin.end();
    }
  });

  it('tessera start runs one connector per source with a connection and stops it cleanly', async () => {
    const { connection: _unused, ...debeziumOnly } = config;
    const jobs = startPullJobs({ sources: { cdc: { shop: config, crm_db: debeziumOnly }, crm: {} }, sink: services.cdc, checkpoints: stores.pg.sql, clickhouse: stores.ch, log });
    expect(jobs.stats().map((s) => s.source)).toEqual(['shop']);
    await source`INSERT INTO customers (id, email, name) VALUES (600, 'job@example.com', 'Job')`;
    await expect.poll(async () => (await current('customers', 'id')).map((r) => r.id), { timeout: 20_000 }).toContain(600);
    expect(jobs.stats()[0]).toMatchObject({ phase: 'streaming', changesApplied: 1 });
    await jobs.stop();
    expect(jobs.stats()[0]!.phase).toBe('stopped');
  });

  it('tessera cdc pull --until-caught-up copies, streams and prints a summary', async () => {
    const cli = await openCliSandbox({ sources: { cdc: { shop: { ...config, slot: `${config.slot}_cli`, publication: `${config.slot}_cli` } } } });
    try {
      const run = (...args: string[]) => cli.tessera('cdc', ...args);
      const first = JSON.parse((await run('pull', '--source', 'shop', '--until-caught-up', '--json')).stdout);
      const [{ n }] = (await source`SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM customers) AS n`) as unknown as [{ n: string }];
      expect(first).toMatchObject({ source: 'shop', phase: 'stopped', snapshotRows: Number(n), stoppedBy: 'caught up' });

      await source`INSERT INTO customers (id, email, name) VALUES (500, 'cli@example.com', 'Cli')`;
      const second = await run('pull', '--source', 'shop', '--until-caught-up');
      expect(second.stdout).toMatch(/CDC pull of source shop stopped \(caught up\)[\s\S]*changes\s+1 applied in 1 transactions/);

      const status = JSON.parse((await run('status', '--json')).stdout) as { table: string; rows: number }[];
      const [{ customers }] = (await source`SELECT count(*)::int AS customers FROM customers`) as unknown as [{ customers: number }];
      expect(status.find((t) => t.table === 'public.customers')?.rows).toBe(customers);

      const missing = await run('pull', '--source', 'nope').catch((err: { stderr: string }) => err);
      expect((missing as { stderr: string }).stderr).toMatch(/No CDC source 'nope' is declared \(declared: shop\)/);
    } finally {
      await cli.close();
    }
  }, 120_000);
});
