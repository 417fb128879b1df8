/**
 * CDC benchmark: Debezium change events/s through POST /v1/cdc/debezium (arrays of --batch events,
 * several concurrent senders, as Debezium Server's HTTP sink posts them) into the changelog and
 * current-state tables, against the CDC writer called directly in the same run.
 *
 *   npm run bench:cdc-debezium -- [--changes 200000] [--senders 8] [--batch 200]
 *
 * The API runs as `tessera start` in a child process; the baseline runs in this process on a chdb
 * directory of its own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openClickhouse, type Clickhouse } from '../../src/clients/clickhouse.ts';
import { openPostgres } from '../../src/clients/postgres.ts';
import { migrateClickhouse } from '../../src/db/migrate-clickhouse.ts';
import { migratePostgres } from '../../src/db/migrate-postgres.ts';
import { createScratchDatabase } from '../../src/db/scratch-database.ts';
import { CdcWriter } from '../../src/cdc/cdc-writer.ts';
import { parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import { loadConfig } from '../../src/config/env.ts';
import { Prng } from '../generator/prng.ts';
import { shopSources } from '../generator/shop-sources.ts';
import { report } from '../lib/report.ts';
import { concurrently } from '../lib/concurrently.ts';
import { httpPoster } from '../../src/demo/http-sender.ts';
import { startTesseraProcess } from '../lib/tessera-process.ts';

const { values: args } = parseArgs({
  options: { changes: { type: 'string', default: '200000' }, senders: { type: 'string', default: '8' }, batch: { type: 'string', default: '200' } },
});
const CHANGES = Number(args.changes);
const SENDERS = Number(args.senders);
const BATCH = Number(args.batch);

const SOURCES = shopSources();

/** A deterministic stream of Debezium PostgreSQL-connector events: customer creates and updates, orders. */
function changeEvents(): object[] {
  const rng = new Prng(11);
  const out: object[] = [];
  const t0 = Date.UTC(2026, 0, 1);
  let customers = 0;
  let orders = 0;
  for (let lsn = 1; out.length < CHANGES; lsn++) {
    const ts = t0 + lsn * 10;
    const source = (table: string) => ({ version: '2.7.0.Final', connector: 'postgresql', name: 'shop', ts_ms: ts, db: 'shop', schema: 'public', table, lsn: lsn * 64, txId: lsn });
    const roll = rng.next();
    if (customers === 0 || roll < 0.3) {
      customers++;
      out.push({ op: 'c', before: null, after: { id: customers, email: `c${customers}@shop.example`, name: `Customer ${customers}`, subscribed: rng.next() < 0.4, updated_at: ts * 1000 }, source: source('customers'), ts_ms: ts + 3 });
    } else if (roll < 0.5) {
      const id = 1 + Math.floor(rng.next() * customers);
      out.push({ op: 'u', before: null, after: { id, email: `c${id}.new@shop.example`, name: `Customer ${id}`, subscribed: rng.next() < 0.5, updated_at: ts * 1000 }, source: source('customers'), ts_ms: ts + 3 });
    } else {
      orders++;
      out.push({ op: 'c', before: null, after: { id: orders, customer_id: 1 + Math.floor(rng.next() * customers), amount: Math.round(rng.next() * 20_000) / 100, status: 'paid', created_at: ts * 1000 }, source: source('orders'), ts_ms: ts + 3 });
    }
  }
  return out;
}

async function changelogRows(ch: Clickhouse): Promise<number> {
  const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table('cdc_changes')}`);
  return Number(row!.n);
}

async function benchApi(bodies: string[]): Promise<{ seconds: number; stored: number }> {
  const tessera = await startTesseraProcess({ IDENTITY_RESOLVE_EVERY_MS: '0' }, async (dataDir) => {
    const file = path.join(dataDir, 'sources.json');
    await writeFile(file, JSON.stringify(SOURCES));
    return { TESSERA_SOURCES_CONFIG: file };
  });
  try {
    const auth = `Bearer ${tessera.writeKey}`;
    const poster = httpPoster(tessera.apiUrl, { authorization: auth }, SENDERS);
    const seconds = await concurrently(bodies, SENDERS, async (body) => {
      const res = await poster.post('/v1/cdc/debezium', body);
      if (res.status !== 200 || (JSON.parse(res.body) as { rejected: unknown[] }).rejected.length > 0) throw new Error(`API answered ${res.status}: ${res.body.slice(0, 500)}`);
    });
    poster.close();
    const ch = await openClickhouse({ target: { url: tessera.clickhouseUrl }, database: 'bench' });
    const stored = await changelogRows(ch);
    await ch.close();
    return { seconds, stored };
  } finally {
    await tessera.stop();
  }
}

async function benchWriter(bodies: string[]): Promise<{ seconds: number; stored: number }> {
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new Error('Set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) for the in-process baseline');
  const database = await createScratchDatabase(config.DATABASE_URL, `bench_cdc_${Date.now().toString(36)}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-cdc-direct-'));
  const ch = await openClickhouse({ target: { path: dir }, database: 'bench', insertConnections: config.CLICKHOUSE_INSERT_CONNECTIONS });
  const pg = openPostgres(database.url);
  try {
    await migratePostgres(pg);
    await migrateClickhouse(ch);
    const writer = new CdcWriter(ch, pg, SOURCES, { maxRows: config.INGEST_MAX_BATCH_ROWS, lingerMs: config.INGEST_LINGER_MS, concurrency: config.INGEST_PARALLEL_INSERTS });
    await writer.ensureTables();
    const seconds = await concurrently(bodies, SENDERS, async (body) => {
      const parsed = parseDebeziumBody(JSON.parse(body), { origin: 'bench', receivedAt: Date.now() });
      await writer.apply(parsed.changes);
    });
    return { seconds, stored: await changelogRows(ch) };
  } finally {
    await ch.close();
    await pg.close();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

const events = changeEvents();
const bodies: string[] = [];
for (let i = 0; i < events.length; i += BATCH) bodies.push(JSON.stringify(events.slice(i, i + BATCH)));
console.log(`${events.length.toLocaleString('en-US')} Debezium change events, arrays of ${BATCH}, ${SENDERS} concurrent senders, ${os.cpus().length} cores`);
const api = await benchApi(bodies);
const direct = await benchWriter(bodies);
if (api.stored !== events.length || direct.stored !== events.length) throw new Error(`stored ${api.stored} (API) / ${direct.stored} (writer) of ${events.length} changes`);
const rate = (s: number) => Math.round(events.length / s);
await report(
  'cdc-debezium',
  [
    { case: 'POST /v1/cdc/debezium (Tessera API)', seconds: api.seconds, 'changes/s': rate(api.seconds), 'ratio vs case': 1 },
    { case: 'CdcWriter.apply in process, same batches', seconds: direct.seconds, 'changes/s': rate(direct.seconds), 'ratio vs case': direct.seconds / api.seconds },
  ],
  { changes: events.length, senders: SENDERS, batch: BATCH },
);
process.exit(0);
