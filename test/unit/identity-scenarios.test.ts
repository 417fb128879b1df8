import { describe, it, expect } from 'vitest';
import { parseIdentityConfig, type ResolvedIdentityConfig } from '../../identity/identity-config.ts';
import { extractFromEvent, type EventIdentityRow, type IdentityRecord } from '../../identity/extract.ts';
import { rebuild, resolveBatch, OutOfOrderError } from '../../identity/resolver.ts';
import { isEmptyDiff } from '../../identity/resolution-diff.ts';
import { applyDiff, createMemoryState, memoryResolverState, type MemoryIdentityState } from '../../identity/memory-state.ts';
import { profileIdFor } from '../../identity/profile-id.ts';

const config = parseIdentityConfig({});
const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;

/** A ClickHouse-style events row, `minute` minutes after T0. */
function event(
  id: string,
  minute: number,
  f: { type?: string; userId?: string; anonymousId?: string; previousId?: string; email?: string; phone?: string; deviceId?: string },
): EventIdentityRow {
  const traits: Record<string, unknown> = {};
  if (f.email !== undefined) traits.email = f.email;
  if (f.phone !== undefined) traits.phone = f.phone;
  return {
    message_id: id,
    type: f.type ?? (f.email !== undefined ? 'identify' : 'track'),
    user_id: f.userId ?? '',
    anonymous_id: f.anonymousId ?? '',
    previous_id: f.previousId ?? '',
    timestamp: new Date(T0 + minute * MIN).toISOString().slice(0, 23).replace('T', ' '),
    traits: JSON.stringify(traits),
    context: JSON.stringify(f.deviceId ? { device: { id: f.deviceId } } : {}),
  };
}

async function resolveInto(state: MemoryIdentityState, rows: EventIdentityRow[], cfg: ResolvedIdentityConfig = config) {
  const diff = await resolveBatch(rows.map(extractFromEvent), memoryResolverState(state), cfg);
  applyDiff(state, diff);
  return diff;
}

async function resolveAll(rows: EventIdentityRow[], cfg: ResolvedIdentityConfig = config) {
  const state = createMemoryState();
  const diff = await resolveInto(state, rows, cfg);
  return { state, diff };
}

const profile = (state: MemoryIdentityState, key: string) => state.identifiers.get(key)?.profileId;

describe('identity resolution scenarios', () => {
  it('two users logging in on one shared device stay two profiles', async () => {
    const { state, diff } = await resolveAll([
      event('m1', 0, { anonymousId: 'anon-s', deviceId: 'dev-s' }),
      event('m2', 1, { userId: 'alice', anonymousId: 'anon-s', deviceId: 'dev-s', email: 'alice@mail.com' }),
      event('m3', 2, { userId: 'alice', anonymousId: 'anon-s', deviceId: 'dev-s' }),
      event('m4', 10, { userId: 'bob', anonymousId: 'anon-s', deviceId: 'dev-s', email: 'bob@mail.com' }),
      event('m5', 11, { userId: 'bob', anonymousId: 'anon-s', deviceId: 'dev-s' }),
    ]);
    const alice = profile(state, 'user_id:alice');
    const bob = profile(state, 'user_id:bob');
    expect(alice).toBeDefined();
    expect(bob).toBeDefined();
    expect(alice).not.toBe(bob);
    expect(profile(state, 'email:bob@mail.com')).toBe(bob);
    // The device went with whoever linked it first; bob's links to it were refused and recorded.
    expect(profile(state, 'anonymous_id:anon-s')).toBe(alice);
    expect(profile(state, 'device_id:dev-s')).toBe(alice);
    expect(diff.rejectedLinks.map((r) => [r.a, r.b, r.rule, r.count])).toEqual([
      ['user_id:bob', 'device_id:dev-s', 'user_id limit 1', 2],
      ['user_id:bob', 'anonymous_id:anon-s', 'user_id limit 1', 2],
    ]);
  });

  it('a user who changes email stays one profile', async () => {
    const { state, diff } = await resolveAll([
      event('m1', 0, { userId: 'u1', anonymousId: 'a1', email: 'old@mail.com' }),
      event('m2', 5, { userId: 'u1', anonymousId: 'a1' }),
      event('m3', 9, { userId: 'u1', anonymousId: 'a1', email: 'New@Mail.com ' }),
    ]);
    const p = profile(state, 'user_id:u1');
    expect(profile(state, 'email:old@mail.com')).toBe(p);
    expect(profile(state, 'email:new@mail.com')).toBe(p);
    expect(profile(state, 'anonymous_id:a1')).toBe(p);
    expect(state.members.size).toBe(1);
    expect(diff.rejectedLinks).toEqual([]);
  });

  it('junk emails sent by many users merge nobody', async () => {
    const rows: EventIdentityRow[] = [];
    const junk = ['null', 'test@test.com', 'TEST@test.com ', '', 'undefined', 'n/a'];
    for (let i = 0; i < 30; i++) rows.push(event(`m${i}`, i, { userId: `u${i}`, anonymousId: `a${i}`, email: junk[i % junk.length] }));
    // Anonymous visitors too: no user id to protect them, only the blocklist.
    for (let i = 0; i < 10; i++) rows.push(event(`n${i}`, 100 + i, { anonymousId: `b${i}`, email: 'test@test.com' }));
    const { state, diff } = await resolveAll(rows);
    expect(state.members.size).toBe(40);
    for (const key of state.identifiers.keys()) expect(key.startsWith('email:')).toBe(false);
    const reasons = new Map(diff.rejectedIdentifiers.map((r) => [r.raw, r]));
    expect(reasons.get('test@test.com')).toMatchObject({ reason: 'blocklisted', count: 15, recordId: 'm1' });
    expect(reasons.get('')).toMatchObject({ reason: 'empty' });
  });

  it('an alias call merges the anonymous history into the user', async () => {
    const { state, diff } = await resolveAll([
      event('m1', 0, { anonymousId: 'anon-1', deviceId: 'dev-1' }),
      event('m2', 1, { anonymousId: 'anon-1', deviceId: 'dev-1' }),
      event('m3', 2, { userId: 'u1', email: 'u1@mail.com' }),
      event('m4', 3, { type: 'alias', userId: 'u1', previousId: 'anon-1' }),
    ]);
    const p = profile(state, 'user_id:u1');
    expect(profile(state, 'anonymous_id:anon-1')).toBe(p);
    expect(profile(state, 'device_id:dev-1')).toBe(p);
    // The anonymous profile is older, so its id survives; the user's id redirects to it.
    const anonymousId = profileIdFor('device_id:dev-1');
    expect(p).toBe(anonymousId);
    expect(diff.merges).toEqual([{ from: profileIdFor('user_id:u1'), into: anonymousId, recordId: 'm4', timestamp: T0 + 3 * MIN, reason: 'record' }]);
    expect(diff.redirects).toEqual([{ from: profileIdFor('user_id:u1'), to: anonymousId, recordId: 'm4', timestamp: T0 + 3 * MIN }]);
  });

  it('two identified users are never merged through an anonymous id', async () => {
    const { state, diff } = await resolveAll([
      event('m1', 0, { userId: 'u1', anonymousId: 'a1' }),
      event('m2', 1, { userId: 'u2', anonymousId: 'a2' }),
      // a2 is u2's; then u1 shows up on a2 (and a2 on a1): refused.
      event('m3', 2, { userId: 'u1', anonymousId: 'a2' }),
      event('m4', 3, { anonymousId: 'a2', previousId: 'a1', type: 'alias' }),
    ]);
    expect(profile(state, 'user_id:u1')).not.toBe(profile(state, 'user_id:u2'));
    expect(profile(state, 'anonymous_id:a2')).toBe(profile(state, 'user_id:u2'));
    expect(profile(state, 'anonymous_id:a1')).toBe(profile(state, 'user_id:u1'));
    expect(diff.rejectedLinks.map((r) => [r.a, r.b, r.rule, r.recordId])).toEqual([
      ['user_id:u1', 'anonymous_id:a2', 'user_id limit 1', 'm3'],
      ['anonymous_id:a1', 'anonymous_id:a2', 'user_id limit 1', 'm4'],
    ]);
  });

  it('two user ids sharing one email (family account) stay two profiles, the refusal recorded', async () => {
    const { state, diff } = await resolveAll([
      event('m1', 0, { userId: 'mum', email: 'family@mail.com', anonymousId: 'a-mum' }),
      event('m2', 5, { userId: 'kid', email: 'family@mail.com', anonymousId: 'a-kid' }),
    ]);
    const mum = profile(state, 'user_id:mum');
    const kid = profile(state, 'user_id:kid');
    expect(mum).not.toBe(kid);
    expect(profile(state, 'email:family@mail.com')).toBe(mum);
    // Levels were dropped until the record fit ({kid}), then the dropped identifiers were offered
    // back: the kid's own anonymous id fits, the shared email does not.
    expect(profile(state, 'anonymous_id:a-kid')).toBe(kid);
    expect(diff.rejectedLinks.map((r) => [r.a, r.b, r.rule, r.recordId])).toEqual([['user_id:kid', 'email:family@mail.com', 'user_id limit 1', 'm2']]);
    // The refusal repeats on every such record and is counted, not duplicated.
    await resolveInto(state, [event('m3', 6, { userId: 'kid', email: 'family@mail.com' })]);
    expect([...state.rejectedLinks.values()].map((r) => [r.recordId, r.count, r.lastSeen])).toEqual([['m2', 2, T0 + 6 * MIN]]);
  });

  it('with readmitDropped off, whole levels are dropped as Segment does', async () => {
    const segment = parseIdentityConfig({ readmitDropped: false });
    const { state, diff } = await resolveAll(
      [
        event('m1', 0, { userId: 'mum', email: 'family@mail.com', anonymousId: 'a-mum' }),
        event('m2', 5, { userId: 'kid', email: 'family@mail.com', anonymousId: 'a-kid' }),
      ],
      segment,
    );
    expect(profile(state, 'user_id:kid')).not.toBe(profile(state, 'user_id:mum'));
    expect(profile(state, 'anonymous_id:a-kid')).toBeUndefined();
    expect(diff.rejectedLinks.map((r) => [r.a, r.b, r.rule])).toEqual([
      ['user_id:kid', 'anonymous_id:a-kid', 'user_id limit 1'],
      ['user_id:kid', 'email:family@mail.com', 'user_id limit 1'],
    ]);
  });

  it('replaying the same records changes nothing', async () => {
    const rows = [
      event('m1', 0, { anonymousId: 'a1' }),
      event('m2', 1, { userId: 'u1', anonymousId: 'a1', email: 'u1@mail.com' }),
      event('m3', 2, { userId: 'u2', anonymousId: 'a1' }),
    ];
    const { state } = await resolveAll(rows);
    const before = structuredClone(state);
    const replay = await resolveInto(state, rows);
    expect(isEmptyDiff(replay)).toBe(true);
    expect(replay.stats).toMatchObject({ records: 0, skipped: 3 });
    expect(state).toEqual(before);
    // Shuffled and partial replays too.
    const again = await resolveInto(state, [rows[2]!, rows[0]!]);
    expect(isEmptyDiff(again)).toBe(true);
    expect(state).toEqual(before);
  });

  it('re-resolving the same records without a checkpoint keeps every assignment', async () => {
    const rows = [
      event('m1', 0, { anonymousId: 'a1' }),
      event('m2', 1, { userId: 'u1', anonymousId: 'a1', email: 'u1@mail.com' }),
      event('m3', 2, { userId: 'u2', anonymousId: 'a1' }),
    ];
    const { state } = await resolveAll(rows);
    const diff = await resolveBatch(rows.map(extractFromEvent), { ...memoryResolverState(state), checkpoint: null }, config);
    expect(diff.identifiers).toEqual([]);
    expect(diff.merges).toEqual([]);
    expect(diff.redirects).toEqual([]);
  });

  it('drops one priority level at a time and keeps the first identifier when one level conflicts', async () => {
    const { state, diff } = await resolveAll([
      event('m1', 0, { userId: 'u1', email: 'e1@mail.com' }),
      event('m2', 1, { userId: 'u2', email: 'e2@mail.com' }),
      // One record naming both user ids (alias user → user with previousId read as user_id).
      {
        ...event('m3', 2, { type: 'alias', userId: 'u2', previousId: 'u1' }),
      },
    ]);
    expect(profile(state, 'user_id:u1')).not.toBe(profile(state, 'user_id:u2'));
    expect(diff.rejectedLinks).toEqual([]);
    // With previousId typed as user_id, both user ids are in one record: only the first is kept.
    const cfg = config;
    const records: IdentityRecord[] = [
      { recordId: 'r1', source: 'crm', timestamp: 1, identifiers: [{ type: 'user_id', value: 'u1' }] },
      { recordId: 'r2', source: 'crm', timestamp: 2, identifiers: [{ type: 'user_id', value: 'u2' }] },
      {
        recordId: 'r3',
        source: 'crm',
        timestamp: 3,
        identifiers: [
          { type: 'user_id', value: 'u2' },
          { type: 'user_id', value: 'u1' },
          { type: 'email', value: 'x@mail.com' },
        ],
      },
    ];
    const d = rebuild(records, cfg);
    expect(d.rejectedLinks.map((r) => [r.a, r.b, r.rule])).toEqual([['user_id:u1', 'user_id:u2', 'user_id limit 1']]);
    // The email, offered back, joins the kept identifier's profile.
    const byKey = new Map(d.identifiers.map((i) => [i.key, i.profileId]));
    expect(byKey.get('email:x@mail.com')).toBe(byKey.get('user_id:u1'));
    expect(byKey.get('user_id:u2')).not.toBe(byKey.get('user_id:u1'));
  });

  it('a limit of 3 emails stops a kiosk collecting addresses under one anonymous id', async () => {
    const rows = ['a', 'b', 'c', 'd', 'e'].map((x, i) => event(`m${i}`, i, { anonymousId: 'kiosk', email: `${x}@mail.com` }));
    const { state, diff } = await resolveAll(rows);
    const kiosk = profile(state, 'anonymous_id:kiosk');
    expect(['a', 'b', 'c'].map((x) => profile(state, `email:${x}@mail.com`))).toEqual([kiosk, kiosk, kiosk]);
    // d and e are refused; being the record's most important identifier, each lands on its own profile.
    expect(profile(state, 'email:d@mail.com')).not.toBe(kiosk);
    expect(profile(state, 'email:e@mail.com')).not.toBe(profile(state, 'email:d@mail.com'));
    expect(diff.rejectedLinks.map((r) => [r.a, r.b, r.rule])).toEqual([
      ['email:d@mail.com', 'anonymous_id:kiosk', 'email limit 3'],
      ['email:e@mail.com', 'anonymous_id:kiosk', 'email limit 3'],
    ]);
  });

  it('in the same millisecond, a more important identifier takes the anchor over (with a redirect)', async () => {
    const state = createMemoryState();
    await resolveInto(state, [event('m1', 0, { anonymousId: 'a1' })]);
    expect(profile(state, 'anonymous_id:a1')).toBe(profileIdFor('anonymous_id:a1'));
    const diff = await resolveInto(state, [event('m2', 0, { userId: 'u1', anonymousId: 'a1' })]);
    expect(profile(state, 'anonymous_id:a1')).toBe(profileIdFor('user_id:u1'));
    expect(diff.redirects).toMatchObject([{ from: profileIdFor('anonymous_id:a1'), to: profileIdFor('user_id:u1'), recordId: 'm2' }]);
    // A minute later the anonymous profile would have been the older one and kept its id.
    const later = await resolveAll([event('m1', 0, { anonymousId: 'a1' }), event('m2', 1, { userId: 'u1', anonymousId: 'a1' })]);
    expect(profile(later.state, 'user_id:u1')).toBe(profileIdFor('anonymous_id:a1'));
    expect(later.diff.redirects).toEqual([]);
  });

  it('rebuild refuses records out of order but skips exact repeats', () => {
    const r = (id: string, t: number): IdentityRecord => ({ recordId: id, source: 's', timestamp: t, identifiers: [{ type: 'user_id', value: id }] });
    expect(rebuild([r('a', 1), r('a', 1), r('b', 1)], config).stats).toMatchObject({ records: 2, skipped: 1 });
    expect(() => rebuild([r('b', 1), r('a', 1)], config)).toThrow(OutOfOrderError);
  });
});
