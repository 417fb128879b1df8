/**
 * Features benchmark:
 *   1. a full run of the 20 features of definitions/bench-features.ts over N events (default 10M)
 *      of P people (default 1M), on the embedded engine: the first one (which also copies the
 *      identity map into feature_identity and adds the materialized JSON fields to events) and a
 *      second one;
 *   2. the same features as one hand-written GROUP BY (baseline.ts), in the same run, parsing the
 *      JSON and reading the materialized columns;
 *   3. an incremental run after new events for 1% of the profiles, and a check that it equals a
 *      full run at the same time.
 *
 *   node --import tsx benchmarks/features/run.ts [--people 1000000] [--events 10000000]
 *
 * Data is generated inside ClickHouse (generate.ts). PostgreSQL (checkpoints): a fresh database on
 * the server of DATABASE_URL (dropped afterwards), else embedded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createScratchDatabase } from '../../src/db/scratch-database.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/common/logger.ts';
import { openStores } from '../../src/runtime/stores.ts';
import { EMPTY_SOURCES } from '../../src/sources/sources-config.ts';
import { parseIdentityConfig } from '../../identity/identity-config.ts';
import { FeatureService } from '../../features/feature-service.ts';
import type { RunSummary } from '../../features/feature-runner.ts';
import { report, type BenchRow } from '../lib/report.ts';
import { generateEvents, generateIdentityMap } from './generate.ts';
import { baselineSql } from './baseline.ts';

const { values: args } = parseArgs({ options: { people: { type: 'string', default: '1000000' }, events: { type: 'string', default: '10000000' } } });
const PEOPLE = Number(args.people);
const EVENTS = Number(args.events);
const DEFINITIONS = fileURLToPath(new URL('./definitions', import.meta.url));
const END = Date.parse('2026-04-01T00:00:00Z');
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const seconds = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const result = await fn();
  return [result, (performance.now() - t) / 1000];
};
const fmt = (n: number) => n.toLocaleString('en-US');
const steps = (r: RunSummary) =>
  [r.steps.map((s) => `${s.step} ${s.seconds.toFixed(2)}`).join(', '), ...r.statements.map((s) => `    ${s.seconds.toFixed(2)} s  ${s.statement}`)].join('\n');

const base = process.env.DATABASE_URL;
const pgDb = base ? await createScratchDatabase(base, `tessera_bench_${Date.now().toString(36)}`) : undefined;
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-features-'));
const config = loadConfig({ ...process.env, DATABASE_URL: pgDb?.url, CLICKHOUSE_URL: undefined, CLICKHOUSE_DATABASE: 'bench', TESSERA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
const stores = await openStores(config, createLogger('warn', { fd: 2 }), { migrate: true });
const ch = stores.ch;
try {
  log(`generating ${fmt(PEOPLE)} people and ${fmt(EVENTS)} events in ClickHouse...`);
  const [, generated] = await seconds(async () => {
    await generateIdentityMap(ch, PEOPLE);
    await generateEvents(ch, { people: PEOPLE, count: EVENTS, endMs: END, ingestedAt: END - 3_600_000 });
    await ch.command(`OPTIMIZE TABLE ${ch.table('events')} FINAL`);
  });
  log(`generated in ${generated.toFixed(1)} s`);

  const features = new FeatureService(ch, stores.pg, { dir: DEFINITIONS, sources: EMPTY_SOURCES, identity: parseIdentityConfig({}), settleMs: 0, driftStddevs: 2.5 });
  const { set } = await features.load();
  const count = set.features.length;

  log('full run (first: also copies the identity map and materializes the JSON fields)...');
  const [first, firstSeconds] = await seconds(() => features.run({ asOfMs: END, full: true }));
  log(`  ${firstSeconds.toFixed(2)} s: ${steps(first)}`);
  log('full run (second)...');
  const [full, fullSeconds] = await seconds(() => features.run({ asOfMs: END, full: true }));
  log(`  ${fullSeconds.toFixed(2)} s: ${steps(full)}`);

  /** The hand-written query, checked against the features; returns its time and the profiles compared. */
  const baseline = async (read: 'json' | 'columns'): Promise<[number, number]> => {
    log(`hand-written GROUP BY (JSON fields read from ${read === 'json' ? 'the JSON' : 'the materialized columns'})...`);
    const table = `bench_baseline_${read}`;
    const [, time] = await seconds(() => ch.command(baselineSql(ch, table, END, read)));
    const [diff] = await ch.query<{ n: string; compared: string }>(
      `SELECT countIf(b.orders_30d != p.orders_30d OR b.orders_lifetime != p.orders_lifetime OR b.sessions_7d != p.sessions_7d
         OR b.distinct_products_viewed != p.distinct_products_viewed OR b.last_seen_at != p.last_seen_at
         OR ifNull(b.favourite_category, '') != ifNull(p.favourite_category, '') OR ifNull(b.plan, '') != ifNull(p.plan, '')
         OR ifNull(b.last_device_type, '') != ifNull(p.last_device_type, '') OR abs(b.revenue_lifetime - p.revenue_lifetime) > 1e-6) AS n, count() AS compared
       FROM ${ch.table(table)} AS b INNER JOIN ${ch.table('profiles')} AS p ON p.profile_id = b.profile_id`,
    );
    if (Number(diff!.n) !== 0) throw new Error(`the baseline and the features differ on ${diff!.n} of ${diff!.compared} profiles`);
    log(`  ${time.toFixed(2)} s; same values as the features on all ${fmt(Number(diff!.compared))} profiles`);
    return [time, Number(diff!.compared)];
  };
  const [baselineSeconds, baselineProfiles] = await baseline('json');
  const [columnsSeconds] = await baseline('columns');

  log('new events for 1% of the profiles, then an incremental run...');
  await generateEvents(ch, { people: PEOPLE, count: Math.round(PEOPLE / 20), first: EVENTS, endMs: END + 60_000, stride: 100 });
  const [incremental, incrementalSeconds] = await seconds(() => features.run({ asOfMs: END + 60_000 }));
  log(`  ${incrementalSeconds.toFixed(2)} s (${incremental.mode}, ${fmt(incremental.touched)} profiles touched, ${fmt(incremental.recomputed ?? 0)} of them recomputed): ${steps(incremental)}`);
  const [check] = await seconds(() => features.run({ asOfMs: END + 60_000, full: true }));
  // The features (not the hidden state columns), floats aside: sums folded in another order differ in the last bits.
  const compared = set.features.map((f) => f.name).filter((n) => !['revenue_30d', 'revenue_lifetime', 'average_order_value'].includes(n));
  const columns = ['profile_id', ...compared].join(', ');
  const [same] = await ch.query<{ n: string }>(
    `SELECT count() AS n FROM (SELECT ${columns} FROM ${ch.table(incremental.table)} EXCEPT SELECT ${columns} FROM ${ch.table(check.table)})`,
  );
  if (Number(same!.n) !== 0) throw new Error(`the incremental run differs from a full run on ${same!.n} profiles`);
  log('  equal to a full run at the same time');

  const rows: BenchRow[] = [
    { case: `full run, ${count} features, first (copies the identity map, materializes JSON fields)`, seconds: firstSeconds, 'x baseline': firstSeconds / baselineSeconds, profiles: full.profiles },
    { case: `full run, ${count} features`, seconds: fullSeconds, 'x baseline': fullSeconds / baselineSeconds, profiles: full.profiles },
    { case: 'hand-written GROUP BY (baseline)', seconds: baselineSeconds, 'x baseline': 1, profiles: baselineProfiles },
    { case: 'the same, reading the materialized JSON fields', seconds: columnsSeconds, 'x baseline': columnsSeconds / baselineSeconds, profiles: baselineProfiles },
    { case: `incremental run, ${fmt(incremental.touched)} profiles touched`, seconds: incrementalSeconds, 'x baseline': incrementalSeconds / baselineSeconds, profiles: incremental.profiles, 'share of full': incrementalSeconds / fullSeconds },
  ];
  await report('features', rows, { people: PEOPLE, events: EVENTS, runs: { first: first.steps, full: [...full.steps, ...full.statements], incremental: [...incremental.steps, ...incremental.statements] } });
} finally {
  await stores.close();
  await pgDb?.drop();
  await rm(dataDir, { recursive: true, force: true });
}
