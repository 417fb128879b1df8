/**
 * Pull connector benchmark: lag while the source takes a steady write load.
 *
 *   npm run bench:cdc-pull -- [--rate 5000] [--seconds 30] [--customers 50000]
 *
 * A PostgreSQL source with wal_level=logical (LOGICAL_PG_URL, the local server if it has it, else
 * an embedded one) holds customers and orders. A writer process makes RATE row changes/s (order
 * inserts and customer updates, 10 per transaction) for SECONDS while a pull connector streams
 * them; the connector's lag (now - the time up to which every commit is applied) is sampled every
 * second. Two runs on the same load, one after the other:
 *
 * - baseline: the replication stream decoded and checkpointed, without writing to ClickHouse;
 * - connector: the real thing, into chdb (in this process), after its initial snapshot.
 *
 * Tessera's PostgreSQL (checkpoints, drift) is a scratch database on DATABASE_URL, else on the
 * source server. Goal: lag under 5 s at 5,000 changes/s.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import postgres from 'postgres';
import { openClickhouse } from '../../src/clients/clickhouse.ts';
import { openPostgres } from '../../src/clients/postgres.ts';
import { createLogger } from '../../src/common/logger.ts';
import { createScratchDatabase } from '../../src/db/scratch-database.ts';
import { migrateAll } from '../../src/runtime/stores.ts';
import { CdcWriter } from '../../src/cdc/cdc-writer.ts';
import type { CdcSourceConfig } from '../../src/sources/sources-config.ts';
import { shopSources } from '../generator/shop-sources.ts';
import { PostgresPullConnector, type ChangeSink, type PullStats } from '../../src/cdc/postgres/postgres-pull-connector.ts';
import { startLogicalPostgres } from '../../test/helpers/logical-postgres.ts';
import { report, type BenchRow } from '../lib/report.ts';

const { values: args } = parseArgs({
  options: { rate: { type: 'string', default: '5000' }, seconds: { type: 'string', default: '30' }, customers: { type: 'string', default: '50000' } },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CUSTOMERS = Number(args.customers);
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const id = `bench_${Date.now().toString(36)}`;

const SCHEMA = `
  CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, name text, visits int NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric(12,2), status text, created_at timestamptz NOT NULL);`;

function sourceConfig(connection: string, name: string): CdcSourceConfig {
  return shopSources({ connection, slot: name, publication: name, customerColumns: { email: 'string', name: 'string', visits: 'int' } }).cdc.shop!;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0;
};

interface WriterResult {
  changes: number;
  transactions: number;
  seconds: number;
  errors: number;
}

function runWriter(url: string, firstOrder: number): Promise<WriterResult> {
  const writer = path.resolve('benchmarks/cdc/pull-writer.ts');
  return promisify(execFile)('node', ['--import', 'tsx', writer, url, String(RATE), String(SECONDS), String(CUSTOMERS), String(firstOrder)], { maxBuffer: 1 << 20 }).then(
    ({ stdout, stderr }) => {
      if (stderr.trim()) log(`writer: ${stderr.trim()}`);
      return JSON.parse(stdout) as WriterResult;
    },
  );
}

interface RunResult {
  snapshot: BenchRow;
  live: BenchRow;
  catchUp: BenchRow;
  writer: WriterResult;
}

/**
 * Live: starts the connector, waits for streaming, runs the load while sampling the lag, waits for
 * the tail. Catch-up: with the connector stopped, the same load again, then a new connector (it
 * resumes from the checkpoint) applies the backlog as fast as it can.
 */
async function measure(name: string, connector: (untilCaughtUp: boolean) => PostgresPullConnector, sourceUrl: string, firstOrder: number): Promise<RunResult> {
  const live = connector(false);
  const running = live.run();
  const snapshotStart = performance.now();
  while (live.stats().phase !== 'streaming') {
    if (live.stats().phase === 'stopped') await running;
    await new Promise((r) => setTimeout(r, 100));
  }
  const snapshot = live.stats().snapshotRows;
  const snapshotSeconds = (performance.now() - snapshotStart) / 1000;
  log(`${name}: streaming (initial snapshot ${snapshot.toLocaleString('en-US')} rows in ${snapshotSeconds.toFixed(1)} s); writer starts`);

  const lags: number[] = [];
  const sampler = setInterval(() => {
    const s: PullStats = live.stats();
    lags.push(s.lagMs / 1000);
    if (lags.length % 5 === 0) log(`${name}: ${s.changesApplied.toLocaleString('en-US')} changes applied, lag ${(s.lagMs / 1000).toFixed(2)} s`);
  }, 1000);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const writer = await runWriter(sourceUrl, firstOrder);
  const writerDone = performance.now();
  while (live.stats().changesApplied < writer.changes) await new Promise((r) => setTimeout(r, 20));
  const drained = performance.now();
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  await live.stop();
  await running;
  log(`${name}: writer made ${writer.changes.toLocaleString('en-US')} changes in ${writer.seconds.toFixed(1)} s (${writer.errors} errors); all applied ${((drained - writerDone) / 1000).toFixed(2)} s after it finished`);

  const backlog = await runWriter(sourceUrl, firstOrder + writer.transactions * 5 + 10);
  log(`${name}: backlog of ${backlog.changes.toLocaleString('en-US')} changes made with the connector stopped; catching up`);
  const resumed = connector(true);
  const catchUpStart = performance.now();
  await resumed.run();
  const catchUpSeconds = (performance.now() - catchUpStart) / 1000;
  const caughtUp = resumed.stats().changesApplied;
  if (caughtUp !== backlog.changes) throw new Error(`${name}: caught up with ${caughtUp} changes, the backlog has ${backlog.changes}`);
  return {
    writer,
    snapshot: { case: `${name}, initial snapshot of ${snapshot.toLocaleString('en-US')} rows (from connect)`, 'changes/s': snapshot / snapshotSeconds, seconds: snapshotSeconds },
    live: {
      case: `${name}, live`,
      'changes/s': live.stats().changesApplied / ((drained - started) / 1000),
      'lag p95 s': percentile(lags, 95),
      'lag max s': Math.max(0, ...lags),
      'tail after load s': (drained - writerDone) / 1000,
      'cpu % of a core': (100 * (used.user + used.system)) / 1000 / (drained - started),
    },
    catchUp: { case: `${name}, catch-up of ${backlog.changes.toLocaleString('en-US')} changes (from connect)`, 'changes/s': caughtUp / catchUpSeconds, seconds: catchUpSeconds },
  };
}

const server = await startLogicalPostgres();
const source = await createScratchDatabase(server.adminUrl, `cdc_bench_source_${id}`);
const tessera = await createScratchDatabase(process.env.DATABASE_URL ?? server.adminUrl, `cdc_bench_tessera_${id}`);
const chDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-ch-'));
const pg = openPostgres(tessera.url, { max: 4 });
const ch = await openClickhouse({ target: { path: chDir }, database: id });
const admin = postgres(source.url, { max: 1, onnotice: () => {} });
const silent = createLogger('warn');
const slots = [`${id}_baseline`, `${id}_connector`];
try {
  await migrateAll(pg, ch);
  await admin.unsafe(SCHEMA);
  await admin.unsafe(`INSERT INTO customers (id, email, name) SELECT g, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, ${CUSTOMERS}) g`);
  log(`source: ${CUSTOMERS.toLocaleString('en-US')} customers; load ${RATE.toLocaleString('en-US')} changes/s for ${SECONDS} s per run`);

  const perRun = Math.ceil((RATE * SECONDS) / 10) * 5 + 1000;
  const discard: ChangeSink = { apply: async (changes) => ({ accepted: changes.length, rejected: [] }) };
  const baselineConfig = sourceConfig(source.url, slots[0]!);
  const baseline = await measure(
    'baseline (stream decoded + checkpointed, no ClickHouse)',
    (untilCaughtUp) => new PostgresPullConnector({ source: 'shop', config: baselineConfig, sink: discard, checkpoints: pg.sql, log: silent, untilCaughtUp }),
    source.url,
    1,
  );

  const connectorConfig = sourceConfig(source.url, slots[1]!);
  const writer = new CdcWriter(ch, pg, { cdc: { shop: connectorConfig }, crm: {} }, { maxRows: 5000, lingerMs: 2 });
  const real = await measure(
    'connector (into ClickHouse, chdb)',
    (untilCaughtUp) => new PostgresPullConnector({ source: 'shop', config: connectorConfig, sink: writer, checkpoints: pg.sql, clickhouse: ch, log: silent, untilCaughtUp }),
    source.url,
    1 + 2 * perRun,
  );

  // Sanity: the current-state tables match the source.
  const [{ orders }] = (await admin`SELECT count(*)::int AS orders FROM orders`) as unknown as [{ orders: number }];
  const [stored] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table('cdc_shop__public_orders')}`);
  if (Number(stored!.n) !== orders) throw new Error(`ClickHouse has ${stored!.n} orders, the source ${orders}`);

  const ratio = (a: BenchRow, b: BenchRow) => Number(a['changes/s']) / Number(b['changes/s']);
  const rows = [
    baseline.live,
    real.live,
    baseline.catchUp,
    real.catchUp,
    real.snapshot,
    { case: 'connector / baseline, catch-up changes/s', 'changes/s': ratio(real.catchUp, baseline.catchUp) },
  ];
  await report('cdc-pull', rows, { rate: RATE, seconds: SECONDS, customers: CUSTOMERS, goal: 'lag < 5 s at 5,000 changes/s' });
  const lagMax = Number(real.live['lag max s']);
  log(`${lagMax < 5 ? 'goal met' : 'GOAL NOT MET'}: max lag ${lagMax.toFixed(2)} s at ${Math.round(real.writer.changes / real.writer.seconds).toLocaleString('en-US')} changes/s offered`);
} finally {
  for (const slot of slots) {
    await admin.unsafe(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}'`).catch(() => {});
    await admin.unsafe(`DROP PUBLICATION IF EXISTS ${slot}`).catch(() => {});
  }
  await admin.end();
  await ch.command(`DROP DATABASE IF EXISTS \`${id}\``).catch(() => {});
  await ch.close();
  await pg.close();
  await tessera.drop();
  await source.drop();
  await rm(chDir, { recursive: true, force: true });
  await server.stop();
}
