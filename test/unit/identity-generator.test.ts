import { describe, it, expect } from 'vitest';
import { generateShop, type PersonTruth, type SegmentMessage } from '../../benchmarks/generator/shop.ts';
import { prepareEvents, type EventRow } from '../../src/ingest/prepare-events.ts';
import { parseIdentityConfig } from '../../identity/identity-config.ts';
import { extractFromEvent } from '../../identity/extract.ts';
import { rebuild, resolveBatch } from '../../identity/resolver.ts';
import { applyDiff, createMemoryState, memoryResolverState } from '../../identity/memory-state.ts';
import { buildProfileGraph, explainPath } from '../../identity/explain.ts';

const config = parseIdentityConfig({});
/** ClickHouse order: `ORDER BY timestamp, message_id`. */
const byOrder = (a: { timestamp: string | number; message_id: string }, b: { timestamp: string | number; message_id: string }) =>
  a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.message_id < b.message_id ? -1 : a.message_id > b.message_id ? 1 : 0;

/** Generator messages → ClickHouse `events` rows, through the real ingest code. */
function shopRows(people: number): { truths: PersonTruth[]; rows: EventRow[] } {
  const truths: PersonTruth[] = [];
  const messages: SegmentMessage[] = [];
  for (const { truth, messages: m } of generateShop({ people })) {
    truths.push(truth);
    messages.push(...m);
  }
  const { rows, rejections } = prepareEvents(messages, { receivedAt: Date.parse('2026-06-01T00:00:00Z'), source: 'test', writeKeyId: 'wk' });
  expect(rejections).toEqual([]);
  return { truths, rows: rows.sort(byOrder) };
}

/** The identifiers of a person that must be on their profile (shared devices excluded). */
function ownKeys(t: PersonTruth): string[] {
  const keys = [...t.emails.map((e) => `email:${e}`), ...t.phones.map((p) => `phone:${p}`)];
  if (t.userId) keys.push(`user_id:${t.userId}`);
  for (const a of t.anonymousIds) if (!a.includes('-shared-')) keys.push(`anonymous_id:${a}`);
  for (const d of t.deviceIds) if (!d.includes('-shared-')) keys.push(`device_id:${d}`);
  return keys;
}

describe('identity resolution on the shop generator', () => {
  const { truths, rows } = shopRows(3000);

  it('finds each person: one profile per user id, never two user ids together, all own identifiers in it', () => {
    const diff = rebuild(rows.map(extractFromEvent), config);
    const profileOf = new Map(diff.identifiers.map((i) => [i.key, i.profileId]));
    const userIdsByProfile = new Map<string, string[]>();
    for (const [key, profileId] of profileOf) {
      if (!key.startsWith('user_id:')) continue;
      const list = userIdsByProfile.get(profileId) ?? [];
      list.push(key);
      userIdsByProfile.set(profileId, list);
    }
    for (const list of userIdsByProfile.values()) expect(list).toHaveLength(1);

    const personOfProfile = new Map<string, number>();
    let signedUp = 0;
    let shared = 0;
    for (const t of truths) {
      const keys = ownKeys(t);
      const profile = profileOf.get(keys.find((k) => k.startsWith('user_id:')) ?? keys[0]!);
      expect(profile, `person ${t.person}`).toBeDefined();
      if (t.userId) signedUp++;
      if (t.deviceIds.some((d) => d.includes('-shared-'))) shared++;
      for (const key of keys) expect(profileOf.get(key), `${key} of person ${t.person}`).toBe(profile);
      // Nobody else's identifiers on it.
      expect(personOfProfile.get(profile!) ?? t.person).toBe(t.person);
      personOfProfile.set(profile!, t.person);
    }
    expect(userIdsByProfile.size).toBe(signedUp);
    expect(shared).toBeGreaterThan(0);
    // The shared devices produced refusals, and junk emails were rejected, not linked.
    expect(diff.rejectedLinks.some((r) => r.b.includes('-shared-') && r.rule === 'user_id limit 1')).toBe(true);
    expect(diff.rejectedIdentifiers.some((r) => r.reason === 'blocklisted' && r.raw === 'test@test.com')).toBe(true);
  });

  it('gives the same graph incrementally, batch by batch', async () => {
    const records = rows.map(extractFromEvent);
    const expected = createMemoryState();
    applyDiff(expected, rebuild(records, config));
    const state = createMemoryState();
    for (let i = 0; i < records.length; i += 2500) {
      applyDiff(state, await resolveBatch(records.slice(i, i + 2500), memoryResolverState(state), config));
    }
    expect(state.identifiers).toEqual(expected.identifiers);
    expect(state.edges).toEqual(expected.edges);
    expect(state.redirects).toEqual(expected.redirects);
    expect(state.rejectedLinks).toEqual(expected.rejectedLinks);
  });

  it('explains why two identifiers of a person are one profile', () => {
    const person = truths.find((t) => t.userId && t.anonymousIds.length >= 2 && t.emails.length >= 1)!;
    const keys = new Set(ownKeys(person));
    const diff = rebuild(rows.map(extractFromEvent), config);
    const graph = buildProfileGraph(
      diff.identifiers.filter((i) => keys.has(i.key)),
      diff.edges.filter((e) => keys.has(e.a) && keys.has(e.b)),
    );
    const from = `anonymous_id:${person.anonymousIds[1]}`;
    const to = `email:${person.emails[0]}`;
    const path = explainPath(graph, from, to)!;
    expect(path.length).toBeGreaterThan(0);
    expect(path[0]!.from).toBe(from);
    expect(path.at(-1)!.to).toBe(to);
    for (const step of path) expect(step).toMatchObject({ source: 'events', count: expect.any(Number) });
  });
});
