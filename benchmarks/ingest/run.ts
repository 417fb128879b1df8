/**
 * Ingest benchmark: events/s through POST /v1/batch (batches of 100, several concurrent senders)
 * into ClickHouse, against direct inserts of the same rows in the same run:
 *   - the issue's baseline, `client.insert` of `@clickhouse/client` (JSONEachRow, its defaults), in
 *     calls of 10,000 rows, and in calls of 100 rows from the same number of senders;
 *   - Tessera's own insert path (`Clickhouse.insert`: JSONCompactEachRow inline in the statement),
 *     faster than `client.insert`, in calls of 10,000 rows: a stricter reference.
 *
 *   npm run bench:ingest -- [--events 200000] [--senders 8]
 *
 * The API runs as `tessera start` in a child process, as it would in production (the load generator
 * is this process); the baseline runs in this process on a chdb directory of its own.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { shopMessages } from '../generator/shop.ts';
import { openClickhouse, type Clickhouse } from '../../src/clients/clickhouse.ts';
import { migrateClickhouse } from '../../src/db/migrate-clickhouse.ts';
import { prepareEvents, type EventRow } from '../../src/ingest/prepare-events.ts';
import { report } from '../lib/report.ts';
import { concurrently } from '../lib/concurrently.ts';
import { ownCpuSeconds, processCpuSeconds } from '../lib/cpu.ts';
import { httpPoster } from '../../src/demo/http-sender.ts';
import { startTesseraProcess } from '../lib/tessera-process.ts';

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '200000' }, senders: { type: 'string', default: '8' } },
});
const EVENTS = Number(args.events);
const SENDERS = Number(args.senders);
const BATCH = 100;

function messages(): unknown[] {
  const out: unknown[] = [];
  for (const m of shopMessages({ people: Math.ceil(EVENTS / 9), seed: 7 })) {
    out.push(m);
    if (out.length === EVENTS) break;
  }
  return out;
}

async function count(ch: Clickhouse): Promise<number> {
  const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table('events_unique')}`);
  return Number(row!.n);
}

async function benchApi(all: unknown[]): Promise<{ seconds: number; serverCpu: number; senderCpu: number; stored: number }> {
  // Ingestion alone: the scheduled identity job (measured in benchmarks/identity) stays off.
  const tessera = await startTesseraProcess({ IDENTITY_RESOLVE_EVERY_MS: '0' });
  try {
    const auth = `Basic ${Buffer.from(`${tessera.writeKey}:`).toString('base64')}`;
    const bodies: string[] = [];
    for (let i = 0; i < all.length; i += BATCH) bodies.push(JSON.stringify({ batch: all.slice(i, i + BATCH), sentAt: new Date().toISOString() }));
    const { pid } = JSON.parse(await readFile(path.join(tessera.dataDir, 'instance.json'), 'utf8')) as { pid: number };
    const cpuBefore = await processCpuSeconds(pid);
    const senderBefore = ownCpuSeconds();
    const poster = httpPoster(tessera.apiUrl, { authorization: auth }, SENDERS);
    const seconds = await concurrently(bodies, SENDERS, async (body) => {
      const res = await poster.post('/v1/batch', body);
      if (res.status !== 200) throw new Error(`API answered ${res.status}: ${res.body}`);
    });
    poster.close();
    const serverCpu = (await processCpuSeconds(pid)) - cpuBefore;
    const senderCpu = ownCpuSeconds() - senderBefore;
    const ch = await openClickhouse({ target: { url: tessera.clickhouseUrl }, database: 'bench' });
    const stored = await count(ch);
    await ch.close();
    return { seconds, serverCpu, senderCpu, stored };
  } finally {
    await tessera.stop();
  }
}

interface DirectTimes {
  clientBatched: number;
  clientBulk: number;
  inlineBulk: number;
  stored: number;
}

async function benchDirect(all: unknown[]): Promise<DirectTimes> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-direct-'));
  const ch = await openClickhouse({ target: { path: dir }, database: 'bench' });
  try {
    await migrateClickhouse(ch);
    const { rows } = prepareEvents(all, { receivedAt: Date.now(), source: 'bench', writeKeyId: 'bench' });
    const chunks = (size: number) => Array.from({ length: Math.ceil(rows.length / size) }, (_, i) => rows.slice(i * size, (i + 1) * size));
    const clientInsert = async (values: EventRow[]) => {
      await ch.client.insert({ table: ch.table('events'), values, format: 'JSONEachRow' });
    };
    const fresh = () => ch.command(`TRUNCATE TABLE ${ch.table('events')}`);
    const clientBatched = await concurrently(chunks(BATCH), SENDERS, clientInsert);
    await fresh();
    const clientBulk = await concurrently(chunks(10_000), 1, clientInsert);
    await fresh();
    const inlineBulk = await concurrently(chunks(10_000), 1, (b) => ch.insert('events', b));
    return { clientBatched, clientBulk, inlineBulk, stored: await count(ch) };
  } finally {
    await ch.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const all = messages();
console.log(`${all.length.toLocaleString('en-US')} shop events, batches of ${BATCH}, ${SENDERS} concurrent senders, ${os.cpus().length} cores`);
const api = await benchApi(all);
const direct = await benchDirect(all);
if (api.stored !== all.length || direct.stored !== all.length) {
  throw new Error(`stored ${api.stored} (API) / ${direct.stored} (direct) of ${all.length} events`);
}
const rate = (s: number) => Math.round(all.length / s);
await report(
  'ingest',
  [
    { case: 'POST /v1/batch (Tessera API)', seconds: api.seconds, 'events/s': rate(api.seconds), 'ratio vs case': 1, 'server CPU µs/event': (api.serverCpu / all.length) * 1e6, 'sender CPU µs/event': (api.senderCpu / all.length) * 1e6 },
    { case: 'client.insert, 100 rows per call, same senders', seconds: direct.clientBatched, 'events/s': rate(direct.clientBatched), 'ratio vs case': direct.clientBatched / api.seconds },
    { case: 'client.insert, 10,000 rows per call (the target: >= 0.5)', seconds: direct.clientBulk, 'events/s': rate(direct.clientBulk), 'ratio vs case': direct.clientBulk / api.seconds },
    { case: "Tessera's inline insert, 10,000 rows per call", seconds: direct.inlineBulk, 'events/s': rate(direct.inlineBulk), 'ratio vs case': direct.inlineBulk / api.seconds },
  ],
  { events: all.length, senders: SENDERS, batch: BATCH, loadavg: os.loadavg() },
);
process.exit(0);
