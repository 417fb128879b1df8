import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';
import { SHOP_SOURCES, insertEvents, loadShop } from '../helpers/shop-data.ts';
import { parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import { crmSource } from '../../src/sources/sources-config.ts';

const DAY = 86_400_000;
/** After all generated data (2026-01-01 + 90 days). */
const T_RUN = Date.parse('2026-04-02T00:00:00Z');
const T_MID = Date.parse('2026-02-15T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

type Row = Record<string, unknown>;

describe('feature catalog and training sets over HTTP', () => {
  let stores: TestStores;
  let api: TestApi;
  let users: { user_id: string; email: string }[];

  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores, { sources: SHOP_SOURCES });
    await loadShop(api.services, { people: 40 });
    const ch = stores.ch;
    // Customers who signed up well before T_MID (subscribers, buyers), so their values then are not all defaults.
    const t = new Date(T_MID - 5 * DAY).toISOString().replace('T', ' ').replace('Z', '');
    users = await ch.query<{ user_id: string; email: string }>(
      `SELECT c.id AS user_id, c.email AS email FROM ${ch.table('cdc_shop__public_customers')} AS c
       LEFT JOIN (SELECT customer_id, count() AS n FROM ${ch.table('cdc_shop__public_orders')} WHERE created_at < {t:DateTime64(3, 'UTC')} GROUP BY customer_id) AS o ON o.customer_id = c.id
       WHERE c.email IS NOT NULL AND c.updated_at < {t:DateTime64(3, 'UTC')} AND (c.subscribed OR o.n > 0)
       ORDER BY o.n > 0 DESC, c.subscribed DESC, c.id LIMIT 8`,
      { t },
    );
    expect(users.length).toBeGreaterThan(2);
    await api.services.features.run({ asOfMs: T_RUN });
  });
  afterAll(async () => {
    await api?.app.close();
    await stores?.close();
  });

  const trainingSet = async (rows: unknown, headers: Record<string, string> = {}, query = '') => {
    const res = await api.app.inject({
      method: 'POST',
      url: `/v1/training-sets${query}`,
      headers: { authorization: api.bearer, 'content-type': 'application/json', ...headers },
      payload: typeof rows === 'string' ? rows : JSON.stringify(rows),
    });
    return res;
  };

  it('GET /v1/features lists every feature with its latest statistics (read scope)', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/v1/features' })).statusCode).toBe(401);
    expect((await api.app.inject({ method: 'GET', url: '/v1/features', headers: { authorization: api.basic } })).statusCode).toBe(403);
    const res = await api.app.inject({ method: 'GET', url: '/v1/features', headers: { authorization: api.bearer } });
    expect(res.statusCode).toBe(200);
    const { features } = res.json<{ features: Row[] }>();
    const revenue = features.find((f) => f.name === 'revenue_30d')!;
    expect(revenue).toMatchObject({
      description: 'Revenue (USD) of orders in the last 30 days',
      owner: 'growth-analytics',
      type: 'float',
      kind: 'aggregate',
      source: "events track 'Order Completed'",
      definition: 'sum(properties.revenue) over 30d',
      window: '30d',
      default: 0,
      drift: [],
    });
    expect(revenue.statistics).toMatchObject({ asOf: iso(T_RUN), nullFraction: 0 });
    expect(features.find((f) => f.name === 'days_since_last_order')).toMatchObject({ kind: 'derived', source: 'derived from last_order_at' });
  });

  it('a training set row at the run time has the values of the profiles table', async () => {
    const rows = users.map((u) => ({ identifier: `user_id:${u.user_id}`, timestamp: iso(T_RUN) }));
    const res = await trainingSet(rows);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ columns: string[]; rows: Row[] }>();
    expect(body.columns.slice(0, 3)).toEqual(['identifier', 'timestamp', 'profile_id']);
    const ch = stores.ch;
    for (const row of body.rows) {
      const [profile] = await ch.query<Row>(`SELECT * FROM ${ch.table('profiles')} WHERE profile_id = {p:String}`, { p: row.profile_id });
      for (const [k, v] of Object.entries(profile!)) {
        const expected = typeof v === 'string' && /^\d{4}-\d\d-\d\d \d/.test(v) ? `${v.replace(' ', 'T')}Z` : v;
        if (typeof v === 'number' && !Number.isInteger(v)) expect(row[k], k).toBeCloseTo(v, 6);
        else expect(row[k], `${row.identifier} ${k}`).toEqual(expected);
      }
    }
  });

  it('values as of a time never see data from after it (events, CDC, CRM)', async () => {
    const csv = ['identifier,timestamp', ...users.flatMap((u) => [`user_id:${u.user_id},${iso(T_MID)}`, `email:${u.email.toUpperCase()},${iso(T_MID + 3 * DAY)}`])].join('\n');
    const before = await trainingSet(csv, { 'content-type': 'text/csv' });
    expect(before.statusCode).toBe(200);
    const a = before.json<{ rows: Row[] }>().rows;
    expect(a).toHaveLength(users.length * 2);
    expect(a.some((r) => r.subscriber === true)).toBe(true);
    expect(a.some((r) => r.lifecycle_stage !== null)).toBe(true);
    expect(a.some((r) => r.last_seen_at !== null)).toBe(true);
    expect(a.some((r) => Number(r.paid_orders_db) > 0)).toBe(true);
    const ch = stores.ch;
    const orders = await ch.query<Row>(
      `SELECT id, customer_id, amount, status, toUnixTimestamp64Milli(created_at) AS created_ms FROM ${ch.table('cdc_shop__public_orders')}
       WHERE customer_id IN {ids:Array(String)} AND status = 'paid' AND created_at < {t:DateTime64(3, 'UTC')}`,
      { ids: users.map((u) => u.user_id), t: iso(T_MID).replace('T', ' ').replace('Z', '') },
    );
    expect(orders.length).toBeGreaterThan(0);

    // The future arrives: orders, sessions, a plan change, a database update, a new CRM version.
    const services = api.services;
    const later = T_MID + 4 * DAY;
    await insertEvents(
      services,
      users.flatMap((u, i) => [
        { type: 'track' as const, messageId: `future-o-${i}`, timestamp: iso(later), userId: u.user_id, event: 'Order Completed', properties: { revenue: 1000, category: 'toys', order_id: `f-${i}` } },
        { type: 'track' as const, messageId: `future-s-${i}`, timestamp: iso(later), userId: u.user_id, event: 'Session Started', properties: {} },
        { type: 'identify' as const, messageId: `future-i-${i}`, timestamp: iso(later), userId: u.user_id, traits: { plan: 'enterprise' }, context: { device: { type: 'fridge' } } },
      ]),
    );
    // Also late corrections: orders placed before T_MID refunded after it.
    const change = (table: string, after: Row, i: number) => ({
      op: 'u',
      before: null,
      after,
      source: { connector: 'postgresql', name: 'shop', db: 'shop', schema: 'public', table, ts_ms: later, lsn: 50_000_000 + i },
      ts_ms: later,
    });
    const parsed = parseDebeziumBody(
      [
        ...users.map((u, i) => change('customers', { id: u.user_id, email: u.email, name: 'x', subscribed: i % 2 === 0, updated_at: later }, i)),
        ...orders.map(({ created_ms, ...o }, i) => change('orders', { ...o, created_at: Number(created_ms), status: 'refunded' }, 100 + i)),
      ],
      { source: 'shop', origin: 'test', receivedAt: Date.now() },
    );
    await services.cdc.apply(parsed.changes);
    await services.crm.write(
      'hubspot',
      crmSource(services.sources, 'hubspot'),
      users.map((u) => ({ id: `future-${u.user_id}`, email: u.email, lifecycle_stage: 'evangelist', lead_score: '99', updated_at: iso(later) })),
      () => 'test',
    );
    await services.identity.resolve();

    const after = await trainingSet(csv, { 'content-type': 'text/csv' }, '?format=csv');
    expect(after.statusCode).toBe(200);
    expect(after.headers['content-type']).toContain('text/csv');
    const b = (await trainingSet(csv, { 'content-type': 'text/csv' })).json<{ rows: Row[] }>().rows;
    expect(b).toEqual(a);

    // The same rows just after it do see it.
    const week = await trainingSet(users.map((u) => ({ identifier: `user_id:${u.user_id}`, timestamp: iso(later + 60_000) })));
    for (const row of week.json<{ rows: Row[] }>().rows) {
      expect(row.plan).toBe('enterprise');
      expect(row.last_device_type).toBe('fridge');
      expect(row.lifecycle_stage).toBe('evangelist');
      expect(Number(row.revenue_30d)).toBeGreaterThanOrEqual(1000);
    }
  });

  it('rejects bad entity rows with the row and the reason', async () => {
    const res = await trainingSet([{ identifier: 'email:not-an-email', timestamp: iso(T_MID) }]);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid_request', message: "row 0: email 'not-an-email' is not a valid identifier (invalid_email)" } });
  });
});
