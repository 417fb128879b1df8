import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';
import { shopSources } from '../../benchmarks/generator/shop-sources.ts';

const T0 = Date.UTC(2026, 0, 1);

function debezium(table: string, lsn: number, after: object) {
  return { op: 'c', before: null, after, source: { name: 'shop', schema: 'public', table, lsn, ts_ms: T0 + lsn * 1000 } };
}

describe('identity from events, CDC rows and CRM records', () => {
  let stores: TestStores;
  let api: TestApi;
  const post = async (url: string, payload: unknown) => {
    const res = await api.app.inject({ method: 'POST', url, headers: { authorization: api.basic }, payload: payload as object });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const profileOf = async (type: string, value: string) => (await api.services.identity.lookup(api.services.identity.keyOf(type, value))).profileId;
  const mapSnapshot = async () => (await stores.pg.sql`SELECT key, profile_id FROM identity_identifiers ORDER BY key`).map((r) => `${r.key as string}=${r.profile_id as string}`);

  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores, { sources: shopSources() });
  });
  afterAll(async () => {
    await api.app.close();
    await stores.close();
  });

  it('links a database customer to the app user with the same user id, and orders to both', async () => {
    await post('/v1/batch', {
      batch: [{ type: 'identify', userId: '42', anonymousId: 'a-42', traits: { email: 'zed@shop.com' }, timestamp: new Date(T0).toISOString(), messageId: 'e1' }],
    });
    await post('/v1/cdc/debezium', [
      debezium('customers', 10, { id: 42, email: 'Zed@Shop.com ', name: 'Zed' }),
      debezium('customers', 11, { id: 43, email: 'amy@shop.com', name: 'Amy' }),
      debezium('orders', 12, { id: 1, customer_id: 43, amount: 5, created_at: '2026-01-01T00:00:00Z' }),
    ]);
    const run = await api.services.identity.resolve();
    expect(run.read).toEqual({ events: 1, cdc: 3, crm: 0 });

    expect(await profileOf('email', 'zed@shop.com')).toBe(await profileOf('anonymous_id', 'a-42'));
    expect(await profileOf('user_id', '43')).toBe(await profileOf('email', 'amy@shop.com'));
    expect(await profileOf('user_id', '43')).not.toBe(await profileOf('user_id', '42'));
    const view = await api.services.identity.lookup('user_id:43');
    expect(view.edges.map((e) => e.source)).toEqual(['cdc:shop.public.customers']);
  });

  it('joins a CRM contact whose email differs only by case to the app user', async () => {
    const res = await post('/v1/crm/hubspot/records', [{ id: 'hs-1', email: ' ZED@Shop.COM', lifecycle_stage: 'lead', updated_at: '2026-01-02T00:00:00Z' }]);
    expect(res.accepted).toBe(1);
    const run = await api.services.identity.resolve();
    expect(run.read).toEqual({ events: 0, cdc: 0, crm: 1 });
    expect(await profileOf('crm_id', 'hs-1')).toBe(await profileOf('user_id', '42'));
    const view = await api.services.identity.lookup('crm_id:hs-1');
    expect(view.edges.map((e) => e.source)).toContain('crm:hubspot');
  });

  it('reads only what arrived since its cursor, and a rebuild gives the same graph', async () => {
    await post('/v1/cdc/debezium', [
      { op: 'u', before: null, after: { id: 43, email: 'amy.new@shop.com' }, source: { name: 'shop', schema: 'public', table: 'customers', lsn: 20, ts_ms: T0 + 20_000 } },
      { op: 'd', before: { id: 1 }, after: null, source: { name: 'shop', schema: 'public', table: 'orders', lsn: 21, ts_ms: T0 + 21_000 } },
    ]);
    // A newer version of the CRM contact with another address links both addresses.
    await post('/v1/crm/hubspot/records', [{ id: 'hs-1', email: 'zed@work.example', updated_at: '2026-01-03T00:00:00Z' }]);
    const run = await api.services.identity.resolve();
    expect(run.read).toEqual({ events: 0, cdc: 1, crm: 1 });
    expect(await profileOf('email', 'zed@work.example')).toBe(await profileOf('user_id', '42'));
    expect(await profileOf('email', 'amy.new@shop.com')).toBe(await profileOf('email', 'amy@shop.com'));

    const incremental = await mapSnapshot();
    const rebuilt = await api.services.identity.rebuild();
    expect(rebuilt.read).toEqual({ events: 1, cdc: 4, crm: 2 });
    expect(await mapSnapshot()).toEqual(incremental);
    expect((await api.services.identity.resolve()).read).toEqual({ events: 0, cdc: 0, crm: 0 });
  });
});
