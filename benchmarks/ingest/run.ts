/**
 * Ingest benchmark: events/s through POST /v1/batch (batches of 100, several concurrent senders)
 * into ClickHouse, against direct `client.insert`s of the same rows in the same run.
 *
 *   npm run bench:ingest -- [--events 200000] [--senders 8]
 *
 * The API runs as `tessera start` in a child process, as it would in production (the load generator
 * is this process); the baseline runs in this process on a chdb directory of its own.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { shopMessages } from '../generator/shop.ts';
import { openClickhouse, type Clickhouse } from '../../src/clients/clickhouse.ts';
import { migrateClickhouse } from '../../src/db/migrate-clickhouse.ts';
import { prepareEvents, type EventRow } from '../../src/ingest/prepare-events.ts';
import { report } from '../lib/report.ts';

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

/** Runs `worker` on `senders` concurrent loops over `items`; returns elapsed seconds. */
async function concurrently<T>(items: T[], senders: number, worker: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < items.length) await worker(items[next++]!);
    }),
  );
  return (performance.now() - started) / 1000;
}

async function waitForFile(file: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readFile(file, 'utf8');
    } catch {
      if (Date.now() > deadline) throw new Error(`${file} did not appear`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function benchApi(all: unknown[]): Promise<{ seconds: number; stored: number }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-api-'));
  const env = { ...process.env, TESSERA_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CLICKHOUSE_DATABASE: 'bench' };
  const server = spawn('node', ['bin/tessera.js', 'start'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    const info = JSON.parse(await waitForFile(path.join(dataDir, 'instance.json'), 60_000)) as { apiUrl: string; clickhouseUrl: string };
    const keyOut = await new Promise<string>((resolve, reject) => {
      const p = spawn('node', ['bin/tessera.js', 'keys', 'create', '--scope', 'write', '--json'], { env });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error('keys create failed'))));
    });
    const auth = `Basic ${Buffer.from(`${JSON.parse(keyOut).key}:`).toString('base64')}`;
    const bodies: string[] = [];
    for (let i = 0; i < all.length; i += BATCH) bodies.push(JSON.stringify({ batch: all.slice(i, i + BATCH), sentAt: new Date().toISOString() }));
    const seconds = await concurrently(bodies, SENDERS, async (body) => {
      const res = await fetch(`${info.apiUrl}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body });
      if (res.status !== 200) throw new Error(`API answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    });
    const ch = await openClickhouse({ target: { url: info.clickhouseUrl }, database: 'bench' });
    const stored = await count(ch);
    await ch.close();
    return { seconds, stored };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function benchDirect(all: unknown[]): Promise<{ batched: number; bulk: number; stored: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-direct-'));
  const ch = await openClickhouse({ target: { path: dir }, database: 'bench' });
  try {
    await migrateClickhouse(ch);
    const { rows } = prepareEvents(all, { receivedAt: Date.now(), source: 'bench', writeKeyId: 'bench' });
    const batches: EventRow[][] = [];
    for (let i = 0; i < rows.length; i += BATCH) batches.push(rows.slice(i, i + BATCH));
    const batched = await concurrently(batches, SENDERS, (b) => ch.insert('events', b));
    await ch.command(`TRUNCATE TABLE ${ch.table('events')}`);
    const big: EventRow[][] = [];
    for (let i = 0; i < rows.length; i += 10_000) big.push(rows.slice(i, i + 10_000));
    const bulk = await concurrently(big, 1, (b) => ch.insert('events', b));
    return { batched, bulk, stored: await count(ch) };
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
    { case: 'POST /v1/batch (Tessera API)', seconds: api.seconds, 'events/s': rate(api.seconds), 'ratio vs case': 1 },
    { case: 'direct insert, 100 rows, same senders', seconds: direct.batched, 'events/s': rate(direct.batched), 'ratio vs case': direct.batched / api.seconds },
    { case: 'direct insert, 10,000 rows', seconds: direct.bulk, 'events/s': rate(direct.bulk), 'ratio vs case': direct.bulk / api.seconds },
  ],
  { events: all.length, senders: SENDERS, batch: BATCH },
);
process.exit(0);
