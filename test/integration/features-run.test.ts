import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { createServices, type Services } from '../../src/runtime/services.ts';
import { SHOP_SOURCES, insertEvents, loadShop } from '../helpers/shop-data.ts';
import { generateShop } from '../../benchmarks/generator/shop.ts';
import { parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import { crmSource } from '../../src/sources/sources-config.ts';
import { HIDDEN_PREFIX } from '../../features/compiler/aggregation-sql.ts';
import { allProfilesSql, compileRun } from '../../features/compiler/compile.ts';
import { MATERIALIZED_PREFIX, materializedFields } from '../../features/compiler/materialized-sql.ts';
import { syncMaterializedFields } from '../../features/materialized-fields.ts';

const DAY = 86_400_000;
const T1 = Date.parse('2026-03-10T00:00:00Z');
const T2 = T1 + 2 * DAY + 3_600_000;

type Row = Record<string, unknown>;

/** The rows of a version as readers see them: the features, not the hidden columns of their states. */
async function tableRows(stores: TestStores, table: string): Promise<Row[]> {
  const ch = stores.ch;
  const columns = await ch.query<{ name: string }>(`SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String} AND NOT startsWith(name, {hidden:String}) ORDER BY position`, { db: ch.database, table, hidden: HIDDEN_PREFIX });
  return ch.query<Row>(`SELECT ${columns.map((c) => `\`${c.name}\``).join(', ')} FROM ${ch.table(table)} ORDER BY profile_id`);
}

/** Equal up to float rounding (sums over rows read in another order). */
function expectSameRows(actual: Row[], expected: Row[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => {
    for (const [k, v] of Object.entries(expected[i]!)) {
      if (typeof v === 'number' && !Number.isInteger(v)) expect(row[k], `${row.profile_id}.${k}`).toBeCloseTo(v, 6);
      else expect(row[k], `${row.profile_id}.${k}`).toEqual(v);
    }
  });
}

describe('feature runs on the stores', () => {
  let stores: TestStores;
  let services: Services;

  beforeAll(async () => {
    stores = await openTestStores();
    services = createServices(stores, stores.config, { sources: SHOP_SOURCES });
    await loadShop(services, { people: 40 });
  });
  afterAll(async () => {
    await stores?.close();
  });

  it('a full run writes one row per profile, with every source kind, and swaps the profiles view', async () => {
    const run = await services.features.run({ asOfMs: T1 });
    expect(run.mode).toBe('full');
    const ch = stores.ch;
    const [profiles] = await ch.query<{ n: string }>(`SELECT uniqExact(profile_id) AS n FROM ${ch.table('identity_map_current')}`);
    expect(run.profiles).toBe(Number(profiles!.n));
    const [counts] = await ch.query<Record<string, string>>(
      `SELECT count() AS rows, countIf(orders_lifetime > 0) AS buyers, countIf(subscriber) AS subscribers, countIf(lifecycle_stage IS NOT NULL) AS crm,
              countIf(favourite_category IS NOT NULL) AS favourite, countIf(paid_orders_db > 0) AS db_orders FROM ${ch.table('profiles')}`,
    );
    expect(Number(counts!.rows)).toBe(run.profiles);
    for (const k of ['buyers', 'subscribers', 'crm', 'favourite', 'db_orders']) expect(Number(counts![k]), k).toBeGreaterThan(0);
    expect(run.statistics.map((s) => s.feature)).toContain('orders_30d');
  });

  it('reads the JSON fields of events from materialized columns, which follow the feature set, with the values the JSON gives', async () => {
    const ch = stores.ch;
    const { set } = await services.features.load();
    const wanted = materializedFields(set).map((m) => m.column);
    expect(wanted.length).toBeGreaterThan(2);
    const columns = async () =>
      ch.query<{ name: string; default_kind: string }>(
        `SELECT name, default_kind FROM system.columns WHERE database = {db:String} AND table = 'events' AND startsWith(name, {prefix:String}) ORDER BY name`,
        { db: ch.database, prefix: MATERIALIZED_PREFIX },
      );
    // The full run above added them.
    expect(await columns()).toEqual([...wanted].sort().map((name) => ({ name, default_kind: 'MATERIALIZED' })));
    // A set that reads no JSON field drops them; this one adds them back, filled in the rows already stored.
    expect(await syncMaterializedFields(ch, { features: [] })).toMatchObject({ added: [], dropped: wanted });
    expect(await columns()).toEqual([]);
    expect(await syncMaterializedFields(ch, set)).toMatchObject({ added: wanted, dropped: [] });
    expect(await syncMaterializedFields(ch, set)).toMatchObject({ added: [], dropped: [] });

    // The events query reading the columns, and parsing the JSON instead: the same rows.
    const ctx = services.features.runner.compileContext();
    const eventRows = async (materialized: ReadonlySet<string> | undefined, prefix: string) => {
      const run = compileRun(set, { ...ctx, materialized }, T1, { kind: 'all' }, allProfilesSql(ctx), (what) => ch.table(`${prefix}_${what}`));
      for (const l of run.lookups) await ch.command(l.sql);
      const query = run.queries.find((q) => q.group.key === 'events')!;
      expect(query.sql.includes(MATERIALIZED_PREFIX)).toBe(materialized !== undefined);
      const rows = await ch.query<Row>(`SELECT * FROM (${query.sql}) ORDER BY profile_id`);
      // States held in arrays (distinct hashes, value counts) are unordered.
      return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => JSON.stringify(x)).sort() : v])));
    };
    const fromColumns = await eventRows(new Set(wanted), 'mat');
    expect(fromColumns.length).toBeGreaterThan(20);
    expectSameRows(fromColumns, await eventRows(undefined, 'json'));
  });

  it('an incremental run after new events, identity merges, CDC and CRM changes equals a full run at the same time', async () => {
    // New people, and new activity of existing ones: an order, a login that merges an anonymous
    // shopper into a signed-up one, a database update and delete, a new CRM version.
    await loadShop(services, { people: 10, firstPerson: 40 });
    const ch = stores.ch;
    const [buyer] = await ch.query<{ user_id: string }>(`SELECT user_id FROM ${ch.table('events_unique')} WHERE event = 'Order Completed' AND user_id != '' ORDER BY user_id LIMIT 1`);
    const [anon] = await ch.query<{ anonymous_id: string }>(
      `SELECT anonymous_id FROM ${ch.table('events_unique')} GROUP BY anonymous_id HAVING max(user_id) = '' ORDER BY anonymous_id LIMIT 1`,
    );
    const at = (ms: number) => new Date(ms).toISOString();
    await insertEvents(services, [
      { type: 'track', messageId: 'inc-1', timestamp: at(T1 + DAY), userId: buyer!.user_id, event: 'Order Completed', properties: { revenue: 99.5, category: 'toys', order_id: 'o-inc-1' } },
      { type: 'identify', messageId: 'inc-2', timestamp: at(T1 + DAY), userId: buyer!.user_id, anonymousId: anon!.anonymous_id, traits: { plan: 'pro' } },
    ]);
    const customer = [...generateShop({ people: 40, seed: 7 })].find((p) => p.truth.userId)!.truth;
    const parsed = parseDebeziumBody(
      [
        {
          op: 'u',
          before: null,
          after: { id: customer.userId, email: customer.emails[0] ?? null, name: 'x', subscribed: false, updated_at: T1 + DAY },
          source: { connector: 'postgresql', name: 'shop', db: 'shop', schema: 'public', table: 'customers', ts_ms: T1 + DAY, lsn: 10_000_000 },
          ts_ms: T1 + DAY,
        },
      ],
      { source: 'shop', origin: 'test', receivedAt: Date.now() },
    );
    await services.cdc.apply(parsed.changes);
    const [contact] = await ch.query<{ record: string }>(`SELECT record FROM ${ch.table('crm_records_current')} ORDER BY record_id LIMIT 1`);
    const record = JSON.parse(contact!.record) as Record<string, string>;
    await services.crm.write('hubspot', crmSource(services.sources, 'hubspot'), [{ ...record, lifecycle_stage: 'evangelist', updated_at: at(T1 + DAY) }], () => 'test');
    await services.identity.resolve();

    const incremental = await services.features.run({ asOfMs: T2 });
    expect(incremental.mode).toBe('incremental');
    expect(incremental.touched).toBeGreaterThan(0);
    expect(incremental.touched).toBeLessThan(incremental.profiles);
    const full = await services.features.run({ asOfMs: T2, full: true });
    expect(full.mode).toBe('full');
    expectSameRows(await tableRows(stores, incremental.table), await tableRows(stores, full.table));
    const [merged] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table('profiles')} WHERE lifecycle_stage = 'evangelist'`);
    expect(Number(merged!.n)).toBe(1);
  });

  it('an incremental run with nothing new only moves windows and clock features, and still equals a full run', async () => {
    const T3 = T2 + 5 * DAY;
    const incremental = await services.features.run({ asOfMs: T3 });
    expect(incremental.mode).toBe('incremental');
    const full = await services.features.run({ asOfMs: T3, full: true });
    expectSameRows(await tableRows(stores, incremental.table), await tableRows(stores, full.table));
  });

  it('folds new events of known people into their stored states, skips re-sent messages, and still equals a full run', async () => {
    const ch = stores.ch;
    const T3 = T2 + 5 * DAY;
    const T4 = T3 + 3_600_000;
    const [buyer] = await ch.query<{ user_id: string; message_id: string }>(
      `SELECT user_id, message_id FROM ${ch.table('events_unique')} WHERE event = 'Order Completed' AND user_id != '' ORDER BY user_id DESC LIMIT 1`,
    );
    const [viewer] = await ch.query<{ anonymous_id: string }>(`SELECT anonymous_id FROM ${ch.table('events_unique')} WHERE event = 'Product Viewed' ORDER BY anonymous_id DESC LIMIT 1`);
    const [other] = await ch.query<{ user_id: string }>(`SELECT user_id FROM ${ch.table('events_unique')} WHERE user_id != '' AND user_id != {u:String} ORDER BY user_id LIMIT 1`, { u: buyer!.user_id });
    const at = (ms: number) => new Date(ms).toISOString();
    const order = (messageId: string, ms: number, revenue: number, userId = buyer!.user_id) =>
      ({ type: 'track', messageId, timestamp: at(ms), userId, event: 'Order Completed', properties: { revenue, category: 'garden', order_id: messageId } }) as const;
    await insertEvents(services, [
      order('fold-late', T3 - 2 * DAY, 40), // late, inside the 30-day window
      order(buyer!.message_id, T3 - DAY, 1000), // a re-sent old message: the first copy counts
      order('fold-future', T4 + DAY, 70), // after the run's time: counts once the time reaches it
      { type: 'track', messageId: 'fold-view', timestamp: at(T3), anonymousId: viewer!.anonymous_id, event: 'Product Viewed', properties: { product_id: 'p-new', category: 'garden' } },
      { type: 'identify', messageId: 'fold-plan', timestamp: at(T3), userId: buyer!.user_id, traits: { plan: 'enterprise' }, context: { device: { type: 'watch' } } },
    ]);
    // Two copies of one new message with different content, in two parts (no merge joins them
    // before the run): which counts is settled by recomputing that profile.
    await ch.command(`SYSTEM STOP MERGES ${ch.table('events')}`);
    await insertEvents(services, [order('fold-twice', T3 - DAY, 10, other!.user_id)]);
    await insertEvents(services, [order('fold-twice', T3 - DAY, 20, other!.user_id)]);

    const incremental = await services.features.run({ asOfMs: T4 }).finally(() => ch.command(`SYSTEM START MERGES ${ch.table('events')}`));
    expect(incremental.mode).toBe('incremental');
    expect(incremental.recomputed).toBeGreaterThanOrEqual(1);
    expect(incremental.recomputed).toBeLessThan(incremental.touched);
    const full = await services.features.run({ asOfMs: T4, full: true });
    expectSameRows(await tableRows(stores, incremental.table), await tableRows(stores, full.table));
    const [row] = await ch.query<{ plan: string; last_device_type: string }>(
      `SELECT plan, last_device_type FROM ${ch.table('profiles')} WHERE profile_id IN (SELECT profile_id FROM ${ch.table('feature_identity')} WHERE id_type = 'user_id' AND id_value = {u:String})`,
      { u: buyer!.user_id },
    );
    expect(row).toEqual({ plan: 'enterprise', last_device_type: 'watch' });

    // Two days on: the future order is reached, windows move; nothing new was ingested.
    const later = await services.features.run({ asOfMs: T4 + 2 * DAY });
    expect(later.mode).toBe('incremental');
    const check = await services.features.run({ asOfMs: T4 + 2 * DAY, full: true });
    expectSameRows(await tableRows(stores, later.table), await tableRows(stores, check.table));
  });

  it('keeps the current and the previous version only', async () => {
    const ch = stores.ch;
    const versions = await ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE 'profiles_v%'`, { db: ch.database });
    expect(versions).toHaveLength(2);
    const scratch = await ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE '\\_%'`, { db: ch.database });
    expect(scratch).toEqual([]);
  });
});
