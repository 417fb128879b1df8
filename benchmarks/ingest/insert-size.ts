/**
 * What an insert into `events` costs by its size: CPU per event (building the body, ClickHouse
 * parsing and writing the part, background merges) for inserts of 500 to 20,000 rows of the same
 * shop events, on the embedded engine, in this process. Baseline: the largest inserts, in the same
 * run. Explains why ingestion shares inserts between requests (group commit).
 *
 *   node --import tsx benchmarks/ingest/insert-size.ts [--events 200000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { shopMessages } from '../generator/shop.ts';
import { openClickhouse } from '../../src/clients/clickhouse.ts';
import { migrateClickhouse } from '../../src/db/migrate-clickhouse.ts';
import { prepareEvents } from '../../src/ingest/prepare-events.ts';
import { ownCpuSeconds } from '../lib/cpu.ts';
import { report, type BenchRow } from '../lib/report.ts';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '200000' } } });
const EVENTS = Number(args.events);
const SIZES = [500, 1_500, 5_000, 20_000];
const INSERT_SETTINGS = { optimize_on_insert: 0, async_insert: 0 } as const;

const messages: unknown[] = [];
for (const m of shopMessages({ people: Math.ceil(EVENTS / 9), seed: 7 })) {
  messages.push(m);
  if (messages.length === EVENTS) break;
}
const { rows } = prepareEvents(messages, { receivedAt: Date.now(), source: 'bench', writeKeyId: 'bench' });

const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-insert-size-'));
const ch = await openClickhouse({ target: { path: dir }, database: 'bench' });
try {
  await migrateClickhouse(ch);
  const measured = new Map<number, { cpu: number; seconds: number }[]>();
  // Two rounds, sizes interleaved, so a slow moment of the machine does not land on one size.
  for (let round = 0; round < 2; round++) {
    for (const size of SIZES) {
      await ch.command(`TRUNCATE TABLE ${ch.table('events')}`);
      const [cpu, started] = [ownCpuSeconds(), performance.now()];
      for (let i = 0; i < rows.length; i += size) await ch.insert('events', rows.slice(i, i + size), INSERT_SETTINGS);
      // Merges of the parts just written belong to this size's cost.
      await ch.command(`OPTIMIZE TABLE ${ch.table('events')}`);
      measured.set(size, [...(measured.get(size) ?? []), { cpu: ownCpuSeconds() - cpu, seconds: (performance.now() - started) / 1000 }]);
    }
  }
  const best = (size: number) => Math.min(...measured.get(size)!.map((m) => m.cpu));
  const baseline = best(SIZES.at(-1)!);
  const table: BenchRow[] = SIZES.map((size) => ({
    case: `inserts of ${size.toLocaleString('en-US')} rows`,
    inserts: Math.ceil(rows.length / size),
    'CPU µs/event': (best(size) / rows.length) * 1e6,
    'events/s': Math.round(rows.length / Math.min(...measured.get(size)!.map((m) => m.seconds))),
    'x CPU of largest': best(size) / baseline,
  }));
  await report('insert-size', table, { events: rows.length, rounds: 2, figure: 'best of two rounds' });
} finally {
  await ch.close();
  await rm(dir, { recursive: true, force: true });
}
