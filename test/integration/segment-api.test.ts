import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

describe('Segment-compatible ingestion API', () => {
  let stores: TestStores;
  let api: TestApi;
  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores);
  });
  afterAll(async () => {
    await api.app.close();
    await stores.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({ method: 'POST', url, payload: payload as object, headers: { authorization: api.basic, ...headers } });
  const count = async (where: string, table = 'events_unique') =>
    Number((await stores.ch.query<{ c: number }>(`SELECT count() AS c FROM ${stores.ch.table(table)} WHERE ${where}`))[0]!.c);

  it('rejects a missing or wrong write key with 401', async () => {
    const none = await api.app.inject({ method: 'POST', url: '/v1/track', payload: { userId: 'u1', event: 'x' } });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('unauthorized');
    const wrong = await post('/v1/track', { userId: 'u1', event: 'x' }, { authorization: `Basic ${Buffer.from('nope:').toString('base64')}` });
    expect(wrong.statusCode).toBe(401);
  });

  it('rejects a read key on ingestion with 403', async () => {
    const { key } = await api.services.apiKeys.create('read');
    const res = await post('/v1/track', { userId: 'u1', event: 'x' }, { authorization: `Bearer ${key}` });
    expect(res.statusCode).toBe(403);
  });

  it('stores each call type with typed columns before answering', async () => {
    const calls: [string, object][] = [
      ['/v1/identify', { userId: 'id-1', traits: { email: 'a@example.com' }, messageId: 'm-identify' }],
      ['/v1/track', { userId: 'id-1', event: 'Order Completed', properties: { revenue: 12.5 }, messageId: 'm-track' }],
      ['/v1/page', { anonymousId: 'anon-1', name: 'Home', category: 'Shop', messageId: 'm-page' }],
      ['/v1/screen', { anonymousId: 'anon-1', name: 'Cart', messageId: 'm-screen' }],
      ['/v1/group', { userId: 'id-1', groupId: 'g-1', traits: { plan: 'pro' }, messageId: 'm-group' }],
      ['/v1/alias', { previousId: 'anon-1', userId: 'id-1', messageId: 'm-alias' }],
    ];
    for (const [url, body] of calls) {
      const res = await post(url, body);
      expect(res.statusCode, url).toBe(200);
    }
    const rows = await stores.ch.query<Record<string, string>>(
      `SELECT message_id, type, event, name, user_id, anonymous_id, previous_id, group_id, traits, properties
       FROM ${stores.ch.table('events_unique')} WHERE message_id LIKE 'm-%' ORDER BY message_id`,
    );
    const byId = Object.fromEntries(rows.map((r) => [r.message_id, r]));
    expect(byId['m-identify']).toMatchObject({ type: 'identify', user_id: 'id-1' });
    expect(JSON.parse(byId['m-identify']!.traits!)).toEqual({ email: 'a@example.com' });
    expect(byId['m-track']).toMatchObject({ type: 'track', event: 'Order Completed' });
    expect(JSON.parse(byId['m-track']!.properties!)).toEqual({ revenue: 12.5 });
    expect(byId['m-page']).toMatchObject({ type: 'page', name: 'Home', anonymous_id: 'anon-1' });
    expect(JSON.parse(byId['m-page']!.properties!)).toEqual({ category: 'Shop' });
    expect(byId['m-group']).toMatchObject({ group_id: 'g-1' });
    expect(byId['m-alias']).toMatchObject({ type: 'alias', previous_id: 'anon-1', user_id: 'id-1' });
  });

  it('answers 400 for an invalid single call and dead-letters it', async () => {
    const res = await post('/v1/track', { userId: 'u-bad', properties: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_event' });
    expect(res.json().error.message).toContain('event');
    expect(await count(`payload LIKE '%u-bad%'`, 'rejected_events')).toBe(1);
  });

  it('stores the valid events of a batch and lists the rejected ones', async () => {
    const big = 'x'.repeat(33 * 1024);
    const res = await post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'b-1', event: 'Viewed', messageId: 'batch-ok-1' },
        { type: 'track', userId: 'b-2', messageId: 'batch-no-event' },
        { type: 'identify', messageId: 'batch-no-id', traits: {} },
        { type: 'track', userId: 'b-3', event: 'Big', properties: { big }, messageId: 'batch-big' },
        { type: 'launch', userId: 'b-4', messageId: 'batch-unknown' },
        { type: 'page', anonymousId: 'b-5', timestamp: 'yesterday', messageId: 'batch-bad-ts' },
        { type: 'identify', userId: 'b-6', messageId: 'batch-ok-2' },
      ],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'invalid_event'],
      [2, 'invalid_event'],
      [3, 'event_too_large'],
      [4, 'unknown_type'],
      [5, 'invalid_event'],
    ]);
    expect(body.rejected[1].message).toContain('userId or anonymousId');
    expect(await count(`message_id IN ('batch-ok-1', 'batch-ok-2')`)).toBe(2);
    expect(await count(`origin LIKE '/v1/batch#%'`, 'rejected_events')).toBe(5);
  });

  it('answers 400 for malformed JSON and for a body without a batch array', async () => {
    const malformed = await post('/v1/batch', '{"batch": [', { 'content-type': 'application/json' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('invalid_json');
    const noBatch = await post('/v1/batch', { events: [] });
    expect(noBatch.statusCode).toBe(400);
    expect(noBatch.json().error).toMatchObject({ code: 'invalid_request' });
  });

  it('refuses prototype-poisoning keys however they are spelt, and parses text/plain bodies as JSON', async () => {
    const event = (extra: string) => `{"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "poison", "properties": {${extra}}}]}`;
    for (const extra of ['"__proto__": {"x": 1}', '"\\u005f_proto__": {"x": 1}', '"constructor": {"prototype": {"x": 1}}', '"c\\u006fnstructor": {"prototype": {}}']) {
      const res = await post('/v1/batch', event(extra), { 'content-type': 'application/json' });
      expect(res.statusCode, extra).toBe(400);
      expect(res.json().error.code).toBe('invalid_json');
    }
    expect(await count(`message_id = 'poison'`)).toBe(0);
    const beacon = await post('/v1/batch', event('"constructor": "a name", "\\u00e9t\\u00e9": 1'), { 'content-type': 'text/plain' });
    expect(beacon.json()).toMatchObject({ accepted: 1 });
    const stored = await stores.ch.query<{ properties: string }>(`SELECT properties FROM ${stores.ch.table('events_unique')} WHERE message_id = 'poison'`);
    expect(JSON.parse(stored[0]!.properties)).toEqual({ constructor: 'a name', été: 1 });
  });

  it('answers 413 for a body over 500 KB', async () => {
    const batch = Array.from({ length: 30 }, (_, i) => ({ type: 'track', userId: 'x', event: 'E', properties: { p: 'y'.repeat(20_000) }, messageId: `big-${i}` }));
    const res = await post('/v1/batch', { batch });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload_too_large');
    expect(await count(`message_id LIKE 'big-%'`)).toBe(0);
  });

  it('counts a message id delivered twice once', async () => {
    const msg = { type: 'track', userId: 'dup', event: 'Twice', messageId: 'dup-1' };
    await post('/v1/batch', { batch: [msg] });
    await post('/v1/batch', { batch: [msg] });
    expect(await count(`message_id = 'dup-1'`)).toBe(1);
    expect(await count(`message_id = 'dup-1'`, 'events')).toBeGreaterThanOrEqual(1);
  });

  it('keeps the first copy of a duplicate, so jobs reading by ingestion time never see it again', async () => {
    await post('/v1/batch', { batch: [{ type: 'track', userId: 'first', event: 'Once', messageId: 'dup-2' }] });
    await new Promise((r) => setTimeout(r, 20));
    await post('/v1/batch', { batch: [{ type: 'track', userId: 'second', event: 'Once', messageId: 'dup-2' }] });
    await stores.ch.command(`OPTIMIZE TABLE ${stores.ch.table('events')} FINAL`);
    const rows = await stores.ch.query<{ user_id: string }>(`SELECT user_id FROM ${stores.ch.table('events')} WHERE message_id = 'dup-2'`);
    expect(rows).toEqual([{ user_id: 'first' }]);
  });

  it('corrects client clock skew from sentAt and the receive time', async () => {
    // The device clock is 1 hour ahead: the event happened 2 s before the batch was sent.
    const skewed = Date.now() + 3_600_000;
    const res = await post('/v1/batch', {
      sentAt: new Date(skewed).toISOString(),
      batch: [{ type: 'track', userId: 'skew', event: 'E', timestamp: new Date(skewed - 2000).toISOString(), messageId: 'skew-1' }],
    });
    expect(res.statusCode).toBe(200);
    const [row] = await stores.ch.query<{ lag: number }>(
      `SELECT toUnixTimestamp64Milli(received_at) - toUnixTimestamp64Milli(timestamp) AS lag FROM ${stores.ch.table('events_unique')} WHERE message_id = 'skew-1'`,
    );
    expect(Number(row!.lag)).toBe(2000);
  });

  it('accepts gzip-compressed batches and the writeKey in the body', async () => {
    const payload = gzipSync(JSON.stringify({ writeKey: api.writeKey, batch: [{ type: 'track', anonymousId: 'gz', event: 'Zipped', messageId: 'gz-1' }] }));
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/batch',
      payload,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(200);
    expect(await count(`message_id = 'gz-1'`)).toBe(1);
  });

  it('reports health of the three stores', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', clickhouse: 'ok', redis: 'ok' } });
  });
});
