import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { createServices, type Services } from '../../src/runtime/services.ts';
import { IdentityService } from '../../identity/identity-service.ts';
import { streamAllRecords } from '../../identity/source-records.ts';
import { loadStagingGraph, swapInStagingGraph, type GraphLoad } from '../../identity/graph-reload.ts';
import { PostgresIdentityRepository } from '../../identity/postgres-identity-repository.ts';
import type { IdentityRecord } from '../../identity/extract.ts';
import { rebuild } from '../../identity/resolver.ts';
import { shopMessages } from '../../benchmarks/generator/shop.ts';

let t = Date.parse('2026-02-01T00:00:00Z');
let n = 0;
/** Events one second apart, in order, with fresh message ids. */
function ev(body: Record<string, unknown>) {
  t += 1000;
  return { messageId: `s-${++n}`, timestamp: new Date(t).toISOString(), ...body };
}

describe('identity resolution on PostgreSQL and ClickHouse', () => {
  let stores: TestStores;
  let services: Services;
  let identity: IdentityService;
  const ingest = async (messages: object[]) => {
    const r = await services.ingestor.ingest(messages, { receivedAt: Date.now(), source: 'test', writeKeyId: 'k' }, (i) => `#${i}`);
    expect(r.rejected).toEqual([]);
  };
  const profileOf = async (type: string, value: string) => (await identity.lookup(identity.keyOf(type, value))).profileId;

  beforeAll(async () => {
    stores = await openTestStores();
    services = createServices(stores, stores.config);
    identity = services.identity;
    await ingest([
      // Two users log in on one shared device.
      ev({ type: 'page', anonymousId: 'shared-anon', context: { device: { id: 'shared-dev' } } }),
      ev({ type: 'identify', userId: 'ann', anonymousId: 'shared-anon', traits: { email: 'ann@example.com' }, context: { device: { id: 'shared-dev' } } }),
      ev({ type: 'identify', userId: 'bob', anonymousId: 'shared-anon', traits: { email: 'bob@example.com' }, context: { device: { id: 'shared-dev' } } }),
      ev({ type: 'track', userId: 'ann', event: 'Order Completed' }),
      ev({ type: 'track', userId: 'bob', event: 'Order Completed' }),
      // A user changes email.
      ev({ type: 'identify', userId: 'cat', traits: { email: 'cat@old.example' } }),
      ev({ type: 'identify', userId: 'cat', traits: { email: 'cat@new.example' } }),
      // Junk emails sent by many users.
      ev({ type: 'identify', userId: 'dan', traits: { email: 'null' } }),
      ev({ type: 'identify', userId: 'eve', traits: { email: 'null' } }),
      ev({ type: 'identify', userId: 'fay', traits: { email: 'test@test.com' } }),
      ev({ type: 'identify', userId: 'gus', traits: { email: 'test@test.com' } }),
      // One email, written two ways.
      ev({ type: 'identify', anonymousId: 'anon-h1', traits: { email: 'Alice@Example.com ' } }),
      ev({ type: 'identify', userId: 'hal', traits: { email: 'alice@example.com' } }),
      // One phone, written three ways (default region US).
      ev({ type: 'identify', anonymousId: 'anon-p1', traits: { phone: '+1 (415) 555-0100' } }),
      ev({ type: 'identify', anonymousId: 'anon-p2', traits: { phone: '415-555-0100' } }),
      ev({ type: 'identify', userId: 'ida', traits: { phone: '14155550100' } }),
      // alias merges anonymous history into the user.
      ev({ type: 'page', anonymousId: 'anon-j', name: 'Home' }),
      ev({ type: 'track', anonymousId: 'anon-j', event: 'Product Viewed' }),
      ev({ type: 'alias', previousId: 'anon-j', userId: 'jon' }),
      // A family account: two user ids share one email.
      ev({ type: 'identify', userId: 'kim', traits: { email: 'family@example.com' } }),
      ev({ type: 'identify', userId: 'lee', traits: { email: 'family@example.com' } }),
      // Identifiers inside context: traits, device, external ids.
      ev({ type: 'track', anonymousId: 'anon-ctx', event: 'X', context: { traits: { email: 'ctx@example.com' }, device: { id: 'dev-ctx' }, externalIds: [{ id: 'C-1', type: 'crm_id' }] } }),
    ]);
    const summary = await identity.resolve();
    expect(summary).toMatchObject({ read: { events: 22, cdc: 0, crm: 0 }, batches: 1, records: 22 });
    expect(summary.mapRowsCopied).toBeGreaterThan(20);
  });
  afterAll(() => stores.close());

  it('two users on one shared device stay two profiles, each with its own events', async () => {
    expect(await profileOf('user_id', 'ann')).not.toBe(await profileOf('user_id', 'bob'));
    const rows = await stores.ch.query<{ user_id: string; profile_id: string }>(
      `SELECT e.user_id, m.profile_id FROM ${stores.ch.table('events_unique')} e
       JOIN ${stores.ch.table('identity_map_current')} m ON m.id_type = 'user_id' AND m.id_value = e.user_id
       WHERE e.event = 'Order Completed' ORDER BY e.user_id`,
    );
    expect(rows).toEqual([
      { user_id: 'ann', profile_id: await profileOf('user_id', 'ann') },
      { user_id: 'bob', profile_id: await profileOf('user_id', 'bob') },
    ]);
    // The second login through the shared anonymous id was refused by the user_id limit.
    const view = await identity.lookup(identity.keyOf('user_id', 'bob'));
    expect(view.refusedLinks.some((r) => r.rule.includes('user_id'))).toBe(true);
  });

  it('reads identifiers from context traits, device and external ids', async () => {
    const profile = await profileOf('anonymous_id', 'anon-ctx');
    expect(await profileOf('email', 'ctx@example.com')).toBe(profile);
    expect(await profileOf('device_id', 'dev-ctx')).toBe(profile);
    expect(await profileOf('crm_id', 'C-1')).toBe(profile);
  });

  it('a user who changes email keeps one profile', async () => {
    expect(await profileOf('email', 'cat@old.example')).toBe(await profileOf('email', 'cat@new.example'));
    expect(await profileOf('email', 'cat@new.example')).toBe(await profileOf('user_id', 'cat'));
  });

  it('nobody is merged through null or test@test.com', async () => {
    const profiles = await Promise.all(['dan', 'eve', 'fay', 'gus'].map((u) => profileOf('user_id', u)));
    expect(new Set(profiles).size).toBe(4);
    await expect(identity.lookup('email:test@test.com')).rejects.toThrow('No profile');
  });

  it('an email that differs by case and spaces is one identifier', async () => {
    expect(identity.keyOf('email', ' Alice@Example.com ')).toBe('email:alice@example.com');
    expect(await profileOf('anonymous_id', 'anon-h1')).toBe(await profileOf('user_id', 'hal'));
  });

  it('a phone written three ways is one E.164 identifier', async () => {
    const view = await identity.lookup(identity.keyOf('user_id', 'ida'));
    expect(view.identifiers.filter((i) => i.type === 'phone').map((i) => i.value)).toEqual(['+14155550100']);
    expect(await profileOf('anonymous_id', 'anon-p1')).toBe(await profileOf('anonymous_id', 'anon-p2'));
  });

  it('alias merges anonymous history into the user', async () => {
    expect(await profileOf('anonymous_id', 'anon-j')).toBe(await profileOf('user_id', 'jon'));
    const explained = await identity.explain(identity.keyOf('anonymous_id', 'anon-j'), identity.keyOf('user_id', 'jon'));
    expect(explained.linked).toBe(true);
    expect(explained.path).toHaveLength(1);
    expect(explained.path[0]).toMatchObject({ source: 'events', count: 1 });
  });

  it('two user ids sharing an email stay two profiles and the refusal is recorded', async () => {
    expect(await profileOf('user_id', 'kim')).not.toBe(await profileOf('user_id', 'lee'));
    const stats = await identity.stats();
    expect(stats.refusedByRule.find((r) => r.rule.includes('user_id'))?.records).toBeGreaterThanOrEqual(2);
    const explained = await identity.explain(identity.keyOf('user_id', 'kim'), identity.keyOf('user_id', 'lee'));
    expect(explained.linked).toBe(false);
  });

  it('replaying the same events changes nothing', async () => {
    const before = await stores.pg.sql`SELECT key, profile_id, version FROM identity_identifiers ORDER BY key`;
    const edgesBefore = await stores.pg.sql`SELECT * FROM identity_edges ORDER BY a, b, source`;
    const replay = await stores.ch.query<Record<string, unknown>>(`SELECT message_id AS messageId FROM ${stores.ch.table('events')} LIMIT 5`);
    expect(replay.length).toBe(5);
    // The same messages delivered again are stored once and never resolved twice.
    n = 0;
    t = Date.parse('2026-02-01T00:00:00Z');
    await ingest([ev({ type: 'page', anonymousId: 'shared-anon', context: { device: { id: 'shared-dev' } } })]);
    const summary = await identity.resolve();
    expect(summary).toMatchObject({ read: { events: 0, cdc: 0, crm: 0 }, batches: 0, records: 0 });
    expect(await stores.pg.sql`SELECT key, profile_id, version FROM identity_identifiers ORDER BY key`).toEqual(before);
    expect(await stores.pg.sql`SELECT * FROM identity_edges ORDER BY a, b, source`).toEqual(edgesBefore);
  });

  it('reads a message delivered twice after the cursor once, its first copy', async () => {
    await ingest([{ type: 'identify', userId: 'twice', anonymousId: 'first-copy', messageId: 'twice-1' }]);
    await new Promise((r) => setTimeout(r, 5));
    await ingest([{ type: 'identify', userId: 'twice', anonymousId: 'second-copy', messageId: 'twice-1' }]);
    const summary = await identity.resolve();
    expect(summary.read.events).toBe(1);
    expect(await profileOf('anonymous_id', 'first-copy')).toBe(await profileOf('user_id', 'twice'));
    await expect(identity.lookup('anonymous_id:second-copy')).rejects.toThrow('No profile');
  });

  it('folds records with the same identifiers at their first, in (timestamp, record id) order, ties and times before 1970 included', async () => {
    const at = '2026-03-01T00:00:00.000Z';
    await ingest([
      { type: 'page', anonymousId: 'fold-anon', messageId: 'fold-b', timestamp: at },
      { type: 'page', anonymousId: 'fold-anon', messageId: 'fold-c', timestamp: at },
      { type: 'page', anonymousId: 'fold-anon', messageId: 'fold-z', timestamp: '1969-12-31T23:59:58.000Z' },
      { type: 'page', anonymousId: 'fold-anon', messageId: 'fold-a', timestamp: at },
    ]);
    const read = async (fold: boolean) => {
      const records: IdentityRecord[] = [];
      await streamAllRecords(stores.ch, { settleMs: 0, fold }, (r) => {
        if (r.identifiers.some((i) => i.value === 'fold-anon')) records.push(structuredClone(r));
      });
      return records;
    };
    expect((await read(false)).map((r) => r.recordId)).toEqual(['fold-z', 'fold-a', 'fold-b', 'fold-c']);
    const folded = await read(true);
    expect(folded).toEqual([
      { recordId: 'fold-z', source: 'events', timestamp: -2000, identifiers: [{ type: 'anonymous_id', value: 'fold-anon' }], repeats: { count: 3, last: { timestamp: Date.parse(at), recordId: 'fold-c' } } },
    ]);
  });

  it('copies the identity map to ClickHouse', async () => {
    const pg = await stores.pg.sql<{ key: string; profile_id: string }[]>`SELECT key, profile_id FROM identity_identifiers ORDER BY key`;
    const ch = await stores.ch.query<{ key: string; profile_id: string }>(
      `SELECT concat(id_type, ':', id_value) AS key, profile_id FROM ${stores.ch.table('identity_map_current')} ORDER BY key`,
    );
    expect(ch).toEqual(pg.map((r) => ({ key: r.key, profile_id: r.profile_id })));
  });
});

describe('incremental runs and a rebuild give the same graph', () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await openTestStores();
  });
  afterAll(() => stores.close());

  it('on shop traffic resolved in small batches vs one rebuild, profile ids included', async () => {
    const services = createServices(stores, stores.config);
    // One ingestion per few people, in timestamp order: incremental batches see an in-order stream.
    const odd = { type: 'identify' as const, userId: 'odd', messageId: 'odd-1', timestamp: '2026-01-05T00:00:00.000Z', context: { externalIds: [{ type: 'crm_id', id: 'tab\there\\slash\nline' }] } };
    const messages = [...shopMessages({ people: 300, seed: 11 }), odd].sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.messageId.localeCompare(b.messageId));
    const incremental = new IdentityService(stores.pg, stores.ch, services.identity.config, { batchSize: 250, settleMs: 0 });
    for (let i = 0; i < messages.length; i += 700) {
      await services.ingestor.ingest(messages.slice(i, i + 700), { receivedAt: Date.now(), source: 'test', writeKeyId: 'k' }, String);
      await new Promise((r) => setTimeout(r, 2));
      await incremental.resolve();
    }
    const snapshot = async () => ({
      map: await stores.pg.sql`SELECT key, profile_id, first_seen FROM identity_identifiers ORDER BY key`,
      edges: await stores.pg.sql`SELECT a, b, source, first_seen, last_seen, count FROM identity_edges ORDER BY a, b, source`,
      redirects: await stores.pg.sql`SELECT from_id, to_id FROM identity_redirects ORDER BY from_id`,
      refused: await stores.pg.sql`SELECT a, b, rule, count FROM identity_rejected_links ORDER BY a, b, rule`,
    });
    const indexes = () => stores.pg.sql`
      SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'identity_%' ORDER BY tablename, indexname`;
    const constraints = () => stores.pg.sql`
      SELECT conrelid::regclass::text AS table, conname, contype, pg_get_constraintdef(oid) AS definition
      FROM pg_constraint WHERE conrelid::regclass::text LIKE 'identity_%' ORDER BY 1, 2`;
    // The tables as the migrations define them: columns (collations, defaults), owned sequences.
    const tables = () => stores.pg.sql`
      SELECT table_name, column_name, data_type, collation_name, column_default, is_nullable,
             pg_get_serial_sequence(table_name, column_name) AS owned_sequence
      FROM information_schema.columns WHERE table_name LIKE 'identity_%' ORDER BY table_name, column_name`;
    const indexesBefore = await indexes();
    const constraintsBefore = await constraints();
    expect(constraintsBefore.filter((c) => c.contype === 'p').length).toBeGreaterThanOrEqual(6);
    const tablesBefore = await tables();
    const afterIncremental = await snapshot();
    expect(afterIncremental.map.length).toBeGreaterThan(500);
    // An empty ClickHouse copy: what is there after the rebuild came from the rebuild.
    await stores.ch.command(`TRUNCATE TABLE ${stores.ch.table('identity_map')}`);
    const summary = await incremental.rebuild();
    expect(summary.read.events).toBe(messages.length);
    expect(summary.notes).toBeUndefined(); // the map was staged from memory, not copied back from PostgreSQL
    expect(await snapshot()).toEqual(afterIncremental);
    expect(await stores.pg.sql`SELECT value FROM identity_identifiers WHERE type = 'crm_id'`).toEqual([{ value: 'tab\there\\slash\nline' }]);
    // The bulk load put every key and index back as the migrations define them.
    expect(await indexes()).toEqual(indexesBefore);
    expect(await constraints()).toEqual(constraintsBefore);
    expect(await tables()).toEqual(tablesBefore);
    // The rebuild's map reached ClickHouse (written from memory, escapes included), and the copy's
    // checkpoint is past it: the next sync has nothing to do.
    const pgMap = await stores.pg.sql<{ key: string; profile_id: string }[]>`SELECT key, profile_id FROM identity_identifiers ORDER BY key`;
    const chMap = await stores.ch.query<{ key: string; profile_id: string }>(
      `SELECT concat(id_type, ':', id_value) AS key, profile_id FROM ${stores.ch.table('identity_map_current')} ORDER BY key`,
    );
    expect(chMap).toEqual(pgMap.map((r) => ({ key: r.key, profile_id: r.profile_id })));
    expect(await incremental.syncMap()).toBe(0);

    // Small pages (each asked for while the previous one is resolved) stream the same records.
    const stream = async (pageSize?: number, fold = false) => {
      const records: IdentityRecord[] = [];
      const { cursors, records: read } = await streamAllRecords(stores.ch, { settleMs: 0, pageSize, fold }, (r) => records.push(structuredClone(r)));
      return { records, cursors, read };
    };
    // Pages are read on one thread by a setting of their statement: the session keeps its own.
    await stores.ch.command('SET max_threads = 3');
    const whole = await stream();
    expect(await stores.ch.query("SELECT toUInt32(getSetting('max_threads')) AS n")).toEqual([{ n: 3 }]);
    expect(whole.records).toHaveLength(messages.length);
    expect(await stream(37)).toEqual(whole);
    expect(await stream(messages.length)).toEqual(whole);
    // Folded: one record per (source, identifier fields), carrying its repeats; the same cursors,
    // as many records in all, and the same graph.
    const folded = await stream(37, true);
    expect(folded.read).toBe(messages.length);
    expect(folded.records.length).toBeLessThan(messages.length / 2);
    expect(folded.records.reduce((n, r) => n + 1 + (r.repeats?.count ?? 0), 0)).toBe(messages.length);
    expect(folded.cursors).toEqual(whole.cursors);
    const { config } = services.identity;
    expect(rebuild(folded.records, config)).toEqual(rebuild(whole.records, config));
  });
});

describe("a rebuild's graph is loaded beside the live one and swapped in", () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await openTestStores();
  });
  afterAll(() => stores.close());

  it('leaves the old graph readable until the swap, then replaces it and logs what went', async () => {
    const services = createServices(stores, stores.config);
    const r = await services.ingestor.ingest([ev({ type: 'identify', userId: 'old-user', traits: { email: 'old@example.com' } })], { receivedAt: Date.now(), source: 'test', writeKeyId: 'k' }, String);
    expect(r.rejected).toEqual([]);
    const identity = new IdentityService(stores.pg, stores.ch, services.identity.config, { settleMs: 0 });
    await identity.resolve();
    const keys = async () => (await stores.pg.sql<{ key: string }[]>`SELECT key FROM identity_identifiers ORDER BY key`).map((k) => k.key);
    const before = await keys();
    expect(before).toEqual(['email:old@example.com', 'user_id:old-user']);

    const edge = 'user_id:new-user\temail:new@example.com\tevents\t1\tm1\t1\t1\n';
    const graph: GraphLoad = {
      identifiers: (first) => [`user_id:new-user\tuser_id\tnew-user\tp-new\t1\t${first}\n`],
      edges: () => [edge],
      diff: { redirects: [], merges: [], rejectedLinks: [], rejectedIdentifiers: [] },
    };
    await loadStagingGraph(stores.pg.sql, graph, 1000);
    // Loaded and committed, not yet swapped in: readers still see the live graph, without waiting.
    await stores.pg.sql.begin(async (tx) => {
      await tx`SET LOCAL lock_timeout = '1s'`;
      expect((await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM identity_identifiers`)[0]!.n).toBe(2);
    });
    expect(await keys()).toEqual(before);

    await stores.pg.sql.begin((tx) => swapInStagingGraph(tx));
    expect(await keys()).toEqual(['user_id:new-user']);
    expect(await stores.pg.sql`SELECT a, b FROM identity_edges`).toEqual([{ a: 'user_id:new-user', b: 'email:new@example.com' }]);
    expect(await stores.pg.sql`SELECT version::int FROM identity_identifiers`).toEqual([{ version: 1000 }]);
    expect((await stores.pg.sql<{ key: string }[]>`SELECT key FROM identity_removed ORDER BY key`).map((k) => k.key)).toEqual(before);
    expect(await stores.pg.sql`SELECT tablename FROM pg_tables WHERE tablename LIKE '%_rebuild'`).toEqual([]);

    // A load that fails (two edges with one key break the primary key, after the identifiers are
    // loaded) changes nothing live, and what it left is dropped.
    const repo = new PostgresIdentityRepository(stores.pg.sql);
    const twice = { ...graph, edges: () => [edge, edge] };
    await expect(repo.transaction((tx) => repo.replaceAll(tx, twice, 2000))).rejects.toThrow(/could not create unique index/);
    expect(await stores.pg.sql`SELECT tablename FROM pg_tables WHERE tablename LIKE '%_rebuild'`).not.toEqual([]);
    await repo.dropReplaceLeftovers();
    expect(await stores.pg.sql`SELECT tablename FROM pg_tables WHERE tablename LIKE '%_rebuild'`).toEqual([]);
    expect(await keys()).toEqual(['user_id:new-user']);
  });
});
