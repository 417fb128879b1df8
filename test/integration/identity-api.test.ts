import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';

describe('identity API', () => {
  let stores: TestStores;
  let api: TestApi;
  const get = (url: string, authorization = api.bearer) => api.app.inject({ method: 'GET', url, headers: { authorization } });

  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores);
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: api.basic },
      payload: {
        batch: [
          { type: 'page', anonymousId: 'a-1', messageId: 'x1', timestamp: '2026-01-01T00:00:00Z' },
          { type: 'identify', anonymousId: 'a-1', userId: 'u-1', traits: { email: 'One@Example.com' }, messageId: 'x2', timestamp: '2026-01-01T00:01:00Z' },
          { type: 'identify', userId: 'u-1', traits: { phone: '(415) 555-0199' }, messageId: 'x3', timestamp: '2026-01-01T00:02:00Z' },
          { type: 'identify', userId: 'u-2', traits: { email: 'one@example.com' }, messageId: 'x4', timestamp: '2026-01-01T00:03:00Z' },
        ],
      },
    });
    expect(res.json().accepted).toBe(4);
    await api.services.identity.resolve();
  });
  afterAll(async () => {
    await api.app.close();
    await stores.close();
  });

  it('returns the profile of any identifier with its identifiers, edges and refused links', async () => {
    const res = await get('/v1/identity/email/ONE@example.com');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.profileId).toMatch(/^p_/);
    expect(body.identifiers.map((i: { key: string }) => i.key).sort()).toEqual(['anonymous_id:a-1', 'email:one@example.com', 'phone:+14155550199', 'user_id:u-1']);
    expect(body.edges.length).toBeGreaterThanOrEqual(3);
    expect(body.edges[0]).toHaveProperty('source', 'events');
    expect(body.refusedLinks).toEqual([expect.objectContaining({ a: 'user_id:u-2', b: 'email:one@example.com' })]);
    const byPhone = await get(`/v1/identity/phone/${encodeURIComponent('+1 415 555 0199')}`);
    expect(byPhone.json().profileId).toBe(body.profileId);
  });

  it('explains the chain of edges between two identifiers', async () => {
    const res = await get('/v1/identity/explain?from=anonymous_id:a-1&to=phone:4155550199');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.linked).toBe(true);
    expect(body.path.map((s: { from: string; to: string }) => [s.from, s.to])).toEqual([
      ['anonymous_id:a-1', 'user_id:u-1'],
      ['user_id:u-1', 'phone:+14155550199'],
    ]);
    expect(body.path[0]).toMatchObject({ source: 'events', count: 1, firstRecordId: 'x2' });
    const apart = await get('/v1/identity/explain?from=user_id:u-1&to=user_id:u-2');
    expect(apart.json()).toMatchObject({ linked: false, path: [] });
  });

  it('answers 400 for an invalid value, 404 for an unknown identifier, 401/403 without a read key', async () => {
    const invalid = await get('/v1/identity/email/not-an-email');
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('invalid_request');
    expect((await get('/v1/identity/phone/12')).statusCode).toBe(400);
    expect((await get('/v1/identity/bad%20type/x')).statusCode).toBe(400);
    const unknown = await get('/v1/identity/user_id/nobody');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
    expect((await get('/v1/identity/explain?from=user_id:u-1')).statusCode).toBe(400);
    expect((await api.app.inject({ method: 'GET', url: '/v1/identity/user_id/u-1' })).statusCode).toBe(401);
    expect((await get('/v1/identity/user_id/u-1', `Bearer ${api.writeKey}`)).statusCode).toBe(403);
  });

  it('unlink splits a profile, link joins two, delete removes and tombstones an identifier', async () => {
    const identity = api.services.identity;
    const phone = identity.keyOf('phone', '4155550199');
    await identity.unlink(identity.keyOf('user_id', 'u-1'), phone);
    expect(await identity.repo.profileOf(phone)).not.toBe(await identity.repo.profileOf('user_id:u-1'));
    await identity.link('user_id:u-2', 'anonymous_id:a-1');
    expect(await identity.repo.profileOf('user_id:u-2')).toBe(await identity.repo.profileOf('anonymous_id:a-1'));
    await identity.deleteIdentifier('anonymous_id:a-1');
    expect(await identity.repo.profileOf('anonymous_id:a-1')).toBeUndefined();
    // A replay of the deleted identifier does not bring it back.
    await api.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: api.basic },
      payload: { anonymousId: 'a-1', event: 'Came back', messageId: 'x5' },
    });
    await identity.resolve();
    expect(await identity.repo.profileOf('anonymous_id:a-1')).toBeUndefined();
    const mapped = await stores.ch.query(`SELECT * FROM ${stores.ch.table('identity_map_current')} WHERE id_value = 'a-1'`);
    expect(mapped).toEqual([]);
  });
});
