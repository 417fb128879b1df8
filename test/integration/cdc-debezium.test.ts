import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';
import { shopSources } from '../../benchmarks/generator/shop-sources.ts';

/** A bare Debezium payload for the shop database (PostgreSQL connector shape). */
function change(op: string, table: string, lsn: number, rows: { before?: object | null; after?: object | null }) {
  return {
    before: rows.before ?? null,
    after: rows.after ?? null,
    source: { version: '2.7.0.Final', connector: 'postgresql', name: 'shop', ts_ms: 1_767_225_600_000 + lsn, db: 'shop', schema: 'public', table, lsn },
    op,
    ts_ms: 1_767_225_600_000 + lsn + 5,
  };
}

/** The same event with Debezium's JSON converter schema: updated_at as MicroTimestamp. */
function withSchema(payload: object) {
  return {
    schema: {
      type: 'struct',
      name: 'shop.public.customers.Envelope',
      fields: [
        {
          type: 'struct',
          field: 'after',
          optional: true,
          fields: [
            { type: 'int32', field: 'id', optional: false },
            { type: 'string', field: 'email', optional: true },
            { type: 'int64', field: 'updated_at', optional: true, name: 'io.debezium.time.MicroTimestamp' },
            { type: 'bytes', field: 'balance', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' } },
          ],
        },
      ],
    },
    payload,
  };
}

describe('Debezium over HTTP', () => {
  let stores: TestStores;
  let api: TestApi;
  const post = (payload: unknown, url = '/v1/cdc/debezium') =>
    api.app.inject({ method: 'POST', url, headers: { authorization: api.basic, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  const current = (table: string) => stores.ch.query<Record<string, unknown>>(`SELECT * FROM ${stores.ch.table(`cdc_shop__public_${table}`)} ORDER BY id`);

  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores, { sources: shopSources() });
  });
  afterAll(async () => {
    await api.app.close();
    await stores.close();
  });

  it('applies creates, updates (with and without before), snapshot reads and deletes to the current-state table', async () => {
    const res = await post([
      change('r', 'customers', 100, { after: { id: 1, email: 'Ann@Example.com', name: 'Ann', subscribed: true, updated_at: 1_767_225_600_000_000 } }),
      change('c', 'customers', 110, { after: { id: 2, email: 'bob@example.com', name: 'Bob', subscribed: false, updated_at: '2026-01-01T00:00:00Z' } }),
      change('u', 'customers', 120, { before: null, after: { id: 1, email: 'ann@example.com', name: 'Ann B', subscribed: false, updated_at: 1_767_225_700_000_000 } }),
      change('c', 'customers', 130, { after: { id: 3, email: 'cy@example.com', name: 'Cy', subscribed: true, updated_at: null } }),
      change('d', 'customers', 140, { before: { id: 3 } }),
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 5, ignored: 0, rejected: [] });
    const rows = await current('customers');
    expect(rows.map((r) => [r.id, r.email, r.name, r.subscribed])).toEqual([
      [1, 'ann@example.com', 'Ann B', false],
      [2, 'bob@example.com', 'Bob', false],
    ]);
    expect(rows[0]!.updated_at).toBe('2026-01-01 00:01:40.000');
  });

  it('reads the schema wrapper: time units and decimals from the Connect schema', async () => {
    const tables = shopSources();
    tables.cdc.shop!.tables['public.customers']!.columns.balance = 'float';
    const local = await buildTestApi(stores, { sources: tables });
    const res = await local.app.inject({
      method: 'POST',
      url: '/v1/cdc/debezium',
      headers: { authorization: api.basic },
      // 12345 (0x3039) at scale 2 = 123.45; updated_at in microseconds.
      payload: withSchema(change('c', 'customers', 150, { after: { id: 4, email: 'di@example.com', updated_at: 1_767_225_600_123_000, balance: Buffer.from([0x30, 0x39]).toString('base64') } })),
    });
    expect(res.json()).toEqual({ accepted: 1, ignored: 0, rejected: [] });
    const [row] = await stores.ch.query<{ updated_at: string; balance: number }>(`SELECT updated_at, balance FROM ${stores.ch.table('cdc_shop__public_customers')} WHERE id = 4`);
    expect(row).toEqual({ updated_at: '2026-01-01 00:00:00.123', balance: 123.45 });
    await local.app.close();
  });

  it('ignores tombstones', async () => {
    const res = await post([null, { schema: null, payload: null }]);
    expect(res.json()).toEqual({ accepted: 0, ignored: 2, rejected: [] });
  });

  it('dead-letters what it cannot apply, stores the rest, and reports drift', async () => {
    const res = await post([
      { op: 'x', source: {} },
      change('c', 'refunds', 200, { after: { id: 1 } }),
      change('c', 'orders', 210, { after: { customer_id: 1, amount: 10 } }),
      change('c', 'orders', 220, { after: { id: 11, customer_id: 1, amount: 'ten', created_at: '2026-01-02T00:00:00Z' } }),
      change('c', 'orders', 230, { after: { id: 12, customer_id: 1, amount: 25.5, status: 'paid', created_at: '2026-01-02T00:00:00Z', coupon: 'WINTER' } }),
    ]);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [0, 'invalid_envelope'],
      [1, 'unknown_table'],
      [2, 'missing_primary_key'],
      [3, 'invalid_value'],
    ]);
    expect(body.rejected[3].message).toContain('amount');
    expect((await current('orders')).map((r) => [r.id, r.amount, r.status])).toEqual([[12, 25.5, 'paid']]);

    const [raw] = await stores.ch.query<{ row: string; identifiers: string }>(`SELECT row, identifiers FROM ${stores.ch.table('cdc_changes')} WHERE table_name = 'public.orders'`);
    expect(JSON.parse(raw!.row).coupon).toBe('WINTER');
    expect(JSON.parse(raw!.identifiers)).toEqual([['user_id', '1']]);

    const dead = await stores.ch.query<{ source: string; code: string }>(`SELECT source, code FROM ${stores.ch.table('rejected_events')} ORDER BY position`);
    expect(dead).toEqual([
      { source: 'cdc:?:?', code: 'invalid_envelope' },
      { source: 'cdc:shop:public.refunds', code: 'unknown_table' },
      { source: 'cdc:shop:public.orders', code: 'missing_primary_key' },
      { source: 'cdc:shop:public.orders', code: 'invalid_value' },
    ]);

    const status = await api.app.inject({ method: 'GET', url: '/v1/cdc/status', headers: { authorization: api.bearer } });
    expect(status.statusCode, status.body).toBe(200);
    const orders = status.json().tables.find((t: { table: string }) => t.table === 'public.orders');
    expect(orders).toMatchObject({ source: 'shop', declared: true, rows: 1, changes: 1, deadLetters: 2, drift: [{ column: 'coupon' }] });
    const refunds = status.json().tables.find((t: { table: string }) => t.table === 'public.refunds');
    expect(refunds).toMatchObject({ declared: false, deadLetters: 1 });
  });

  it('applies a truncate: rows before it are gone, rows after it stay', async () => {
    await post([change('c', 'orders', 300, { after: { id: 13, customer_id: 2, amount: 5, created_at: '2026-01-03T00:00:00Z' } })]);
    expect(await current('orders')).toHaveLength(2);
    const res = await post([
      change('t', 'orders', 310, {}),
      change('c', 'orders', 320, { after: { id: 14, customer_id: 2, amount: 7, created_at: '2026-01-04T00:00:00Z' } }),
    ]);
    expect(res.json()).toEqual({ accepted: 2, ignored: 0, rejected: [] });
    expect((await current('orders')).map((r) => r.id)).toEqual([14]);
  });

  it('counts a change delivered twice once, and never lets an older change overwrite a newer one', async () => {
    // A redelivery (same table, key and position) adds no change; an older position loses.
    const before = await stores.ch.query<{ n: string }>(`SELECT count() AS n FROM ${stores.ch.table('cdc_changes')} FINAL`);
    await post(change('u', 'customers', 120, { before: null, after: { id: 1, email: 'ann@example.com', name: 'Ann B', subscribed: false, updated_at: 1_767_225_700_000_000 } }));
    const after = await stores.ch.query<{ n: string }>(`SELECT count() AS n FROM ${stores.ch.table('cdc_changes')} FINAL`);
    expect(after[0]!.n).toBe(before[0]!.n);
    await post(change('u', 'customers', 90, { after: { id: 1, email: 'stale@example.com', name: 'Stale', subscribed: true, updated_at: null } }));
    expect((await current('customers')).find((r) => r.id === 1)!.email).toBe('ann@example.com');
  });

  it('dead-letters a body that is not JSON instead of failing the stream', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/v1/cdc/debezium', headers: { authorization: api.basic, 'content-type': 'application/json' }, payload: '{"op": "c", "after": {' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 0, rejected: [{ index: 0, code: 'invalid_envelope' }] });
    const [dead] = await stores.ch.query<{ payload: string }>(`SELECT payload FROM ${stores.ch.table('rejected_events')} WHERE message LIKE 'the body is not JSON%'`);
    expect(dead!.payload).toBe('{"op": "c", "after": {');
  });

  it('refuses requests without a write key', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/v1/cdc/debezium', payload: [] });
    expect(res.statusCode).toBe(401);
  });
});
