/**
 * Identity benchmark:
 *   1. a rebuild of N people (default 1M: ~10M events, ~3M identifiers) end to end: events read
 *      from ClickHouse, resolved, the graph written to PostgreSQL, the identity map copied back;
 *   2. the in-memory core (interned union-find) against graphology's connectedComponents on the
 *      same edges, in the same run;
 *   3. an incremental run over 10,000 new events on top of the resolved graph (measured before 2,
 *      whose graph would otherwise fill the heap it runs in).
 *
 *   npm run bench:identity -- [--people 1000000]
 *   (node with --max-old-space-size=16000 and the 64 MB young generation `tessera` runs with)
 *
 * PostgreSQL: a fresh database on the server of DATABASE_URL (dropped afterwards), else embedded.
 * ClickHouse: chdb in a temporary directory. Loading the events is measured but not a target.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createScratchDatabase } from '../../src/db/scratch-database.ts';
import { UndirectedGraph } from 'graphology';
import { connectedComponents } from 'graphology-components';
import { shopMessages, type SegmentMessage } from '../generator/shop.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/common/logger.ts';
import { openStores, type Stores } from '../../src/runtime/stores.ts';
import { prepareEvents } from '../../src/ingest/prepare-events.ts';
import { IdentityService } from '../../identity/identity-service.ts';
import { parseIdentityConfig } from '../../identity/identity-config.ts';
import { InternedUnionFind } from '../../identity/union-find.ts';
import { report, type BenchRow } from '../lib/report.ts';

const { values: args } = parseArgs({ options: { people: { type: 'string', default: '1000000' } } });
const PEOPLE = Number(args.people);
const secondsSince = (t: number) => (performance.now() - t) / 1000;
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);

async function freshDatabase(): Promise<{ url?: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { url: undefined, drop: async () => {} };
  return createScratchDatabase(base, `tessera_bench_${Date.now().toString(36)}`);
}

async function load(stores: Stores, messages: Iterable<SegmentMessage>): Promise<number> {
  let batch: SegmentMessage[] = [];
  let total = 0;
  const flush = async () => {
    const { rows } = prepareEvents(batch, { receivedAt: Date.now(), source: 'bench', writeKeyId: 'bench' });
    await stores.ch.insert('events', rows, { optimize_on_insert: 0, async_insert: 0 });
    total += rows.length;
    batch = [];
    if (total % 1_000_000 < 50_000) log(`loaded ${total.toLocaleString('en-US')} events`);
  };
  for (const m of messages) {
    batch.push(m);
    if (batch.length === 50_000) await flush();
  }
  if (batch.length) await flush();
  return total;
}

function compareWithGraphology(edges: { a: string; b: string }[]): BenchRow[] {
  let t = performance.now();
  const uf = new InternedUnionFind(1 << 20);
  for (const e of edges) uf.union(e.a, e.b);
  const ours = uf.components().length;
  const core = secondsSince(t);

  t = performance.now();
  const graph = new UndirectedGraph();
  for (const e of edges) {
    graph.mergeNode(e.a);
    graph.mergeNode(e.b);
    graph.mergeEdge(e.a, e.b);
  }
  const built = secondsSince(t);
  t = performance.now();
  const theirs = connectedComponents(graph).length;
  const components = secondsSince(t);
  if (ours !== theirs) throw new Error(`components differ: ${ours} (union-find) vs ${theirs} (graphology)`);
  return [
    { case: `union-find core, ${edges.length.toLocaleString('en-US')} edges`, seconds: core, components: ours, 'x faster': 1 },
    { case: 'graphology: build graph + connectedComponents', seconds: built + components, components: theirs, 'x faster': (built + components) / core },
    { case: 'graphology: connectedComponents only', seconds: components, components: theirs, 'x faster': components / core },
  ];
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-identity-'));
const database = await freshDatabase();
const config = loadConfig({ ...process.env, DATABASE_URL: database.url, TESSERA_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: 'bench', LOG_LEVEL: 'warn' });
const stores = await openStores(config, createLogger('warn', { fd: 2 }), { migrate: true });
try {
  const identity = new IdentityService(stores.pg, stores.ch, parseIdentityConfig({}), { settleMs: 0 });

  log(`loading ${PEOPLE.toLocaleString('en-US')} people into ClickHouse`);
  let t = performance.now();
  const events = await load(stores, shopMessages({ people: PEOPLE, seed: 1 }));
  const loadSeconds = secondsSince(t);

  log('rebuild');
  t = performance.now();
  // CPU seconds of this process (Node and the embedded ClickHouse), steadier than wall time on a
  // shared machine; PostgreSQL's own CPU is not in it.
  const cpu = process.cpuUsage();
  const rebuilt = await identity.rebuild((n) => {
    if (n % 1_000_000 === 0) log(`rebuild: ${n.toLocaleString('en-US')} records`);
  });
  const rebuildSeconds = secondsSince(t);
  const { user, system } = process.cpuUsage(cpu);
  const rebuildCpu = { user: user / 1e6, system: system / 1e6 };
  const stats = await identity.stats();

  log('incremental: 10,000 new events');
  // New shoppers plus returning ones: both new components and loaded ones.
  const fresh = [...shopMessages({ people: 700, seed: 1, firstPerson: PEOPLE })].slice(0, 7_000);
  const returning = [...shopMessages({ people: 400, seed: 1, firstPerson: 0 })].slice(0, 3_000).map((m) => ({ ...m, messageId: `r-${m.messageId}` }));
  const newEvents = await load(stores, [...fresh, ...returning]);
  t = performance.now();
  const incremental = await identity.resolve();
  const incrementalSeconds = secondsSince(t);

  // Last: its millions of edge objects and graph would otherwise sit in the heap the incremental
  // run is measured in (a job runs in a process of its own).
  log('union-find vs graphology');
  const edges = await stores.pg.sql<{ a: string; b: string }[]>`SELECT a, b FROM identity_edges`;
  const versus = compareWithGraphology(edges);

  await report(
    'identity',
    [
      { case: `load ${events.toLocaleString('en-US')} events into ClickHouse (not a target)`, seconds: loadSeconds, 'target s': '' },
      { case: `rebuild ${PEOPLE.toLocaleString('en-US')} people end to end`, seconds: rebuildSeconds, 'target s': 60, 'cpu s': rebuildCpu.user + rebuildCpu.system },
      { case: `incremental run over ${newEvents.toLocaleString('en-US')} new events`, seconds: incrementalSeconds, 'target s': 2 },
    ],
    { people: PEOPLE, events, rebuilt, rebuildCpu, stats: { profiles: stats.profiles, identifiers: stats.identifiers, edges: stats.edges }, incremental },
  );
  console.log(`\n${stats.profiles.toLocaleString('en-US')} profiles, ${stats.identifiers.toLocaleString('en-US')} identifiers, ${stats.edges.toLocaleString('en-US')} edges`);
  await report('identity-core', versus);
} finally {
  await stores.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(0);
