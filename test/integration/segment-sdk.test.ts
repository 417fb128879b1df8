import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

describe('the official @segment/analytics-node SDK pointed at Tessera', () => {
  let stores: TestStores;
  let api: TestApi;
  let host: string;
  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores);
    host = await api.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api.app.close();
    await stores.close();
  });

  it('delivers identify, track, page and alias calls into events', async () => {
    const errors: unknown[] = [];
    const analytics = new Analytics({ writeKey: api.writeKey, host, flushAt: 2, maxRetries: 1 });
    analytics.on('error', (err) => errors.push(err));
    analytics.identify({ userId: 'sdk-user', anonymousId: 'sdk-anon', traits: { email: 'sdk@example.com' } });
    analytics.track({ userId: 'sdk-user', event: 'Order Completed', properties: { revenue: 42 } });
    analytics.page({ anonymousId: 'sdk-anon', name: 'Pricing', properties: { path: '/pricing' } });
    analytics.alias({ previousId: 'sdk-anon', userId: 'sdk-user' });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(errors).toEqual([]);

    const rows = await stores.ch.query<{ type: string; user_id: string; anonymous_id: string; previous_id: string; event: string; name: string; context: string }>(
      `SELECT type, user_id, anonymous_id, previous_id, event, name, context FROM ${stores.ch.table('events_unique')} ORDER BY type`,
    );
    expect(rows.map((r) => r.type)).toEqual(['alias', 'identify', 'page', 'track']);
    const byType = Object.fromEntries(rows.map((r) => [r.type, r]));
    expect(byType.identify).toMatchObject({ user_id: 'sdk-user', anonymous_id: 'sdk-anon' });
    expect(byType.track).toMatchObject({ event: 'Order Completed', user_id: 'sdk-user' });
    expect(byType.page).toMatchObject({ name: 'Pricing', anonymous_id: 'sdk-anon' });
    expect(byType.alias).toMatchObject({ previous_id: 'sdk-anon', user_id: 'sdk-user' });
    // The SDK names itself in context.library.
    expect(JSON.parse(byType.track!.context).library.name).toBe('@segment/analytics-node');
  });
});
