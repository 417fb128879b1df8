import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseIdentityConfig, type ResolvedIdentityConfig } from '../../identity/identity-config.ts';
import type { IdentityRecord } from '../../identity/extract.ts';
import type { IdentityOverrides } from '../../identity/overrides.ts';
import { rebuild, resolveBatch, type StateLoader } from '../../identity/resolver.ts';
import { compareRecordOrder } from '../../identity/resolution-diff.ts';
import {
  addOverrides,
  applyDiff,
  createMemoryState,
  edgesOf,
  identityMap,
  loadComponents,
  memoryLoader,
  memoryResolverState,
  type MemoryIdentityState,
} from '../../identity/memory-state.ts';
import { recomputeComponents } from '../../identity/recompute.ts';
import { profileIdFor } from '../../identity/profile-id.ts';

/** Tight limits so that small alphabets produce merges, conflicts and refusals. */
const tight = parseIdentityConfig({ identifierTypes: { email: { limit: 2 }, phone: { limit: 1 }, crm_id: { priority: 2, limit: 1 } } });
const loose = parseIdentityConfig({ readmitDropped: false });

const ALPHABET: [string, string][] = [
  ['user_id', 'u1'],
  ['user_id', 'u2'],
  ['user_id', 'u3'],
  ['email', 'a@x.io'],
  ['email', 'b@x.io'],
  ['email', 'c@x.io'],
  ['email', 'null'],
  ['phone', '415-555-0101'],
  ['phone', '+1 415 555 0102'],
  ['device_id', 'd1'],
  ['device_id', 'd2'],
  ['anonymous_id', 'a1'],
  ['anonymous_id', 'a2'],
  ['anonymous_id', 'a3'],
  ['anonymous_id', 'a4'],
  ['crm_id', 'c1'],
  ['crm_id', 'c2'],
  ['braze_id', 'b1'],
];
const KEYS = ['user_id:u1', 'user_id:u2', 'email:a@x.io', 'email:b@x.io', 'anonymous_id:a1', 'anonymous_id:a2', 'device_id:d1', 'crm_id:c1'];

const recordArb = fc.record({
  t: fc.integer({ min: 0, max: 40 }),
  ids: fc.uniqueArray(fc.integer({ min: 0, max: ALPHABET.length - 1 }), { minLength: 0, maxLength: 4 }),
  source: fc.constantFrom('events', 'crm'),
});
const pairArb = fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS)).filter(([a, b]) => a !== b);
const overridesArb = fc.record({
  links: fc.array(pairArb, { maxLength: 2 }),
  unlinks: fc.array(pairArb, { maxLength: 2 }),
  tombstones: fc.array(fc.constantFrom(...KEYS), { maxLength: 1 }),
});

function toRecords(raw: { t: number; ids: number[]; source: string }[]): IdentityRecord[] {
  const records = raw.map((r, i) => ({
    recordId: `r${String(i).padStart(3, '0')}`,
    source: r.source,
    timestamp: 1_000 + r.t * 1000,
    identifiers: r.ids.map((k) => {
      const [type, value] = ALPHABET[k] as [string, string];
      return { type, value };
    }),
  }));
  return records.sort((a, b) => compareRecordOrder(a, b));
}

function toOverrides(o: { links: [string, string][]; unlinks: [string, string][]; tombstones: string[] }): IdentityOverrides {
  const unlinks = o.unlinks.map(([a, b]) => ({ a, b }));
  const same = (p: { a: string; b: string }, q: { a: string; b: string }) => (p.a === q.a && p.b === q.b) || (p.a === q.b && p.b === q.a);
  return { links: o.links.map(([a, b]) => ({ a, b })).filter((l) => !unlinks.some((u) => same(u, l))), unlinks, tombstones: o.tombstones };
}

/** Cuts a sorted stream at the given positions. */
function split<T>(items: T[], cuts: number[]): T[][] {
  const at = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let from = 0;
  for (const c of [...at, items.length]) {
    out.push(items.slice(from, c));
    from = c;
  }
  return out;
}

/** A loader that returns rows in a scrambled order, as a database might. */
function scrambled(loader: StateLoader, seed: number): StateLoader {
  return async (keys) => {
    const loaded = await loader(keys);
    const rotate = <T>(xs: T[] | undefined) => (xs && xs.length > 0 ? [...xs.slice(seed % xs.length), ...xs.slice(0, seed % xs.length)].reverse() : (xs ?? []));
    return {
      identifiers: rotate(loaded.identifiers),
      overrides: { links: rotate(loaded.overrides?.links), unlinks: rotate(loaded.overrides?.unlinks), tombstones: rotate(loaded.overrides?.tombstones) },
    };
  };
}

function snapshot(state: MemoryIdentityState) {
  const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  return {
    identifiers: sorted(state.identifiers),
    edges: sorted(state.edges),
    redirects: sorted(state.redirects),
    merges: state.merges,
    rejectedLinks: sorted(state.rejectedLinks),
    rejectedIdentifiers: sorted(state.rejectedIdentifiers),
    checkpoint: state.checkpoint,
  };
}

async function incremental(batches: IdentityRecord[][], overrides: IdentityOverrides, config: ResolvedIdentityConfig, seed: number) {
  const state = createMemoryState(overrides);
  for (const batch of batches) {
    // Batches arrive unsorted; resolveBatch orders them.
    const shuffled = [...batch].reverse();
    const diff = await resolveBatch(shuffled, { ...memoryResolverState(state), load: scrambled(memoryLoader(state), seed) }, config);
    applyDiff(state, diff);
  }
  return state;
}

function rebuilt(records: IdentityRecord[], overrides: IdentityOverrides, config: ResolvedIdentityConfig) {
  const state = createMemoryState(overrides);
  applyDiff(state, rebuild(records, config, { overrides }));
  return state;
}

describe('incremental resolution equals a rebuild', () => {
  for (const [name, config] of [
    ['tight limits, readmission', tight],
    ['default limits, Segment dropping', loose],
  ] as const) {
    it(`for any in-order stream split into any batches (${name})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(recordArb, { minLength: 1, maxLength: 40 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          overridesArb,
          fc.nat(),
          async (raw, cuts, o, seed) => {
            const records = toRecords(raw);
            const overrides = toOverrides(o);
            const expected = rebuilt(records, overrides, config);
            const actual = await incremental(split(records, cuts), overrides, config, seed);
            expect(snapshot(actual)).toEqual(snapshot(expected));
            // Profile ids are the hash of each profile's anchor.
            for (const [profileId, members] of actual.members) {
              const anchor = [...members].sort((x, y) => {
                const fx = actual.identifiers.get(x)!.firstSeen;
                const fy = actual.identifiers.get(y)!.firstSeen;
                const px = config.identifierTypes[x.split(':')[0]!]?.priority ?? 50;
                const py = config.identifierTypes[y.split(':')[0]!]?.priority ?? 50;
                return fx - fy || px - py || (x < y ? -1 : 1);
              })[0]!;
              expect(profileId).toBe(profileIdFor(anchor));
            }
            // Invariants: limits hold (no forced links here break them unless linked), redirects are one hop.
            for (const r of actual.redirects.values()) {
              expect(actual.members.has(r.to)).toBe(true);
              expect(actual.members.has(r.from)).toBe(false);
            }
            for (const [key] of actual.identifiers) expect(overrides.tombstones).not.toContain(key);
            for (const { a, b } of overrides.unlinks) {
              const pa = actual.identifiers.get(a)?.profileId;
              if (pa !== undefined) expect(actual.identifiers.get(b)?.profileId).not.toBe(pa);
            }
            for (const { a, b } of overrides.links) {
              const pa = actual.identifiers.get(a)?.profileId;
              const pb = actual.identifiers.get(b)?.profileId;
              if (pa !== undefined && pb !== undefined && !overrides.unlinks.length) expect(pa).toBe(pb);
            }
            if (overrides.links.length === 0) {
              for (const members of actual.members.values()) {
                const userIds = [...members].filter((k) => k.startsWith('user_id:'));
                expect(userIds.length).toBeLessThanOrEqual(1);
              }
            }
            // Every edge lies inside one profile.
            for (const e of actual.edges.values()) expect(actual.identifiers.get(e.a)!.profileId).toBe(actual.identifiers.get(e.b)!.profileId);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('replaying any prefix after the fact changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 30 }), fc.nat(), async (raw, cut) => {
        const records = toRecords(raw);
        const state = rebuilt(records, toOverrides({ links: [], unlinks: [], tombstones: [] }), tight);
        const before = snapshot(state);
        const diff = await resolveBatch(records.slice(0, cut % (records.length + 1)), memoryResolverState(state), tight);
        applyDiff(state, diff);
        expect(snapshot(state)).toEqual(before);
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * The records grouped as a rebuild reads them from ClickHouse: one per (source, identifiers), the
 * first of each group carrying how many more there were and the last of them.
 */
const groupKey = (r: IdentityRecord) => JSON.stringify([r.source, r.identifiers]);

function folded(records: IdentityRecord[]): IdentityRecord[] {
  const groups = new Map<string, IdentityRecord>();
  for (const r of records) {
    const group = groups.get(groupKey(r));
    if (!group) groups.set(groupKey(r), { ...r });
    else group.repeats = { count: (group.repeats?.count ?? 0) + 1, last: { timestamp: r.timestamp, recordId: r.recordId } };
  }
  return [...groups.values()];
}

describe('a rebuild from records folded by (source, identifiers)', () => {
  // Few distinct identifier sets, so most records repeat one: shared devices, family emails and
  // blocklisted values make the repeats refuse links too.
  const streamArb = fc
    .tuple(
      fc.array(fc.uniqueArray(fc.integer({ min: 0, max: ALPHABET.length - 1 }), { minLength: 0, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.record({ t: fc.integer({ min: 0, max: 40 }), set: fc.nat(), source: fc.constantFrom('events', 'crm') }), { minLength: 1, maxLength: 50 }),
    )
    .map(([sets, picks]) => toRecords(picks.map((p) => ({ t: p.t, ids: sets[p.set % sets.length]!, source: p.source }))));
  const noLinks = overridesArb.map((o) => toOverrides({ ...o, links: [] }));

  it('gives the same diff as the records one by one, when no link override can break a limit', () => {
    fc.assert(
      fc.property(streamArb, noLinks, (records, overrides) => {
        const expected = rebuild(records, tight, { overrides });
        const actual = rebuild(folded(records), tight, { overrides });
        expect(actual).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('with link overrides, folds the repeats of records that linked all their identifiers', () => {
    fc.assert(
      fc.property(streamArb, overridesArb.map(toOverrides), (records, overrides) => {
        const expected = rebuild(records, tight, { overrides });
        // Only groups whose first record refused nothing are folded; the others come one by one.
        const clean = folded(records).flatMap((group) => {
          const earlier = records.filter((r) => compareRecordOrder(r, group) < 0);
          const refused = (rs: IdentityRecord[]) => rebuild(rs, tight, { overrides }).stats.rejectedLinks;
          if (!group.repeats || refused([...earlier, { ...group, repeats: undefined }]) === refused(earlier)) return [group];
          return records.filter((r) => groupKey(r) === groupKey(group));
        });
        clean.sort((a, b) => compareRecordOrder(a, b));
        expect(rebuild(clean, tight, { overrides })).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  const rec = (id: string, t: number, ...ids: [string, string][]): IdentityRecord => ({
    recordId: id,
    source: 'events',
    timestamp: t,
    identifiers: ids.map(([type, value]) => ({ type, value })),
  });

  it('counts a repeated refusal under the rule that first refused the pair', () => {
    // m3 is refused for the email limit (2); by m6 both sides also hold a user id, so the same
    // pair now breaks the user_id limit too. It stays one refused pair, under its first rule.
    const records = [
      rec('m1', 1, ['anonymous_id', 'a1'], ['email', 'b@x.io']),
      rec('m2', 2, ['anonymous_id', 'a1'], ['email', 'c@x.io']),
      rec('m3', 3, ['email', 'a@x.io'], ['anonymous_id', 'a1']),
      rec('m4', 4, ['email', 'a@x.io'], ['user_id', 'u1']),
      rec('m5', 5, ['anonymous_id', 'a1'], ['user_id', 'u2']),
      rec('m6', 6, ['email', 'a@x.io'], ['anonymous_id', 'a1']),
    ];
    const expected = rebuild(records, tight);
    expect(expected.rejectedLinks).toMatchObject([{ a: 'email:a@x.io', b: 'anonymous_id:a1', rule: 'email limit 2', count: 2, lastSeen: 6 }]);
    expect(rebuild(folded(records), tight)).toEqual(expected);
  });

  it('refuses to fold a refusal that a link override or Segment dropping could change', () => {
    const records = [
      rec('m1', 1, ['user_id', 'u1'], ['anonymous_id', 'a1']),
      { ...rec('m2', 2, ['user_id', 'u2'], ['anonymous_id', 'a1']), repeats: { count: 3, last: { timestamp: 9, recordId: 'm9' } } },
    ];
    const overrides = { links: [{ a: 'user_id:u1', b: 'user_id:u3' }], unlinks: [], tombstones: [] };
    expect(() => rebuild(records, tight, { overrides })).toThrow(/cannot be folded/);
    expect(() => rebuild(records, loose)).toThrow(/cannot be folded/);
    const diff = rebuild(records, tight);
    expect(diff.rejectedLinks).toMatchObject([{ a: 'user_id:u2', b: 'anonymous_id:a1', rule: 'user_id limit 1', count: 4, lastSeen: 9 }]);
    expect(diff.checkpoint).toEqual({ timestamp: 9, recordId: 'm9' });
    expect(diff.stats.records).toBe(5);
  });
});

describe('manual overrides on a resolved graph (recompute)', () => {
  const config = parseIdentityConfig({});
  const rec = (id: string, t: number, ...ids: [string, string][]): IdentityRecord => ({
    recordId: id,
    source: 'events',
    timestamp: t,
    identifiers: ids.map(([type, value]) => ({ type, value })),
  });
  const records = [
    rec('m1', 1, ['anonymous_id', 'a1'], ['device_id', 'd1']),
    rec('m2', 2, ['user_id', 'u1'], ['anonymous_id', 'a1'], ['email', 'u1@x.io']),
    rec('m3', 3, ['anonymous_id', 'a2']),
    rec('m4', 4, ['email', 'u1@x.io'], ['anonymous_id', 'a2']),
    rec('m5', 5, ['user_id', 'u2'], ['email', 'u2@x.io']),
  ];

  function resolved() {
    const state = createMemoryState();
    applyDiff(state, rebuild(records, config));
    return state;
  }

  function recompute(state: MemoryIdentityState, keys: string[], id: string) {
    const identifiers = loadComponents(state, keys);
    const diff = recomputeComponents({ identifiers, edges: edgesOf(state, identifiers.map((i) => i.key)) }, state.overrides, config, { recordId: id, timestamp: 100 });
    applyDiff(state, diff);
    return diff;
  }

  it('unlink splits a profile; the part with the anchor keeps the id; later records honour it', async () => {
    const state = resolved();
    const p = state.identifiers.get('user_id:u1')!.profileId;
    expect(p).toBe(profileIdFor('device_id:d1'));
    expect(state.identifiers.get('anonymous_id:a2')!.profileId).toBe(p);

    addOverrides(state, { unlinks: [{ a: 'email:u1@x.io', b: 'anonymous_id:a2' }] });
    const diff = recompute(state, ['email:u1@x.io'], 'unlink-1');
    expect(state.identifiers.get('user_id:u1')!.profileId).toBe(p);
    expect(state.identifiers.get('anonymous_id:a2')!.profileId).toBe(profileIdFor('anonymous_id:a2'));
    expect(diff.identifiers.map((i) => i.key)).toEqual(['anonymous_id:a2']);
    expect(diff.removed.edges).toEqual([{ a: 'email:u1@x.io', b: 'anonymous_id:a2', source: 'events' }]);
    expect(diff.removed.redirects).toEqual([profileIdFor('anonymous_id:a2')]);
    expect(state.redirects.has(profileIdFor('anonymous_id:a2'))).toBe(false);

    // The same co-occurrence again is refused now, and recorded.
    const next = await resolveBatch([rec('m6', 6, ['email', 'u1@x.io'], ['anonymous_id', 'a2'])], memoryResolverState(state), config);
    applyDiff(state, next);
    expect(state.identifiers.get('anonymous_id:a2')!.profileId).not.toBe(p);
    expect(next.rejectedLinks.map((r) => r.rule)).toEqual(['unlink anonymous_id:a2 email:u1@x.io']);

    // And a rebuild with the override from the start agrees.
    const fresh = createMemoryState(state.overrides);
    applyDiff(fresh, rebuild([...records, rec('m6', 6, ['email', 'u1@x.io'], ['anonymous_id', 'a2'])], config, { overrides: state.overrides }));
    expect(identityMap(fresh)).toEqual(identityMap(state));
  });

  it('link forces two profiles together; the younger id redirects to the older', async () => {
    const state = resolved();
    const p1 = state.identifiers.get('user_id:u1')!.profileId;
    const p2 = state.identifiers.get('user_id:u2')!.profileId;
    addOverrides(state, { links: [{ a: 'user_id:u1', b: 'user_id:u2' }] });
    const diff = recompute(state, ['user_id:u1', 'user_id:u2'], 'link-1');
    expect(state.identifiers.get('user_id:u2')!.profileId).toBe(p1);
    expect(diff.merges).toEqual([{ from: p2, into: p1, recordId: 'link-1', timestamp: 100, reason: 'link' }]);
    expect(state.redirects.get(p2)?.to).toBe(p1);
    expect(diff.edges).toMatchObject([{ a: 'user_id:u1', b: 'user_id:u2', source: 'override:link', count: 1 }]);
    // Forced beyond the user_id limit, the profile still takes anonymous ids but no third user id.
    const next = await resolveBatch(
      [rec('m7', 7, ['user_id', 'u2'], ['anonymous_id', 'a9']), rec('m8', 8, ['user_id', 'u3'], ['anonymous_id', 'a9'])],
      memoryResolverState(state),
      config,
    );
    applyDiff(state, next);
    expect(state.identifiers.get('anonymous_id:a9')!.profileId).toBe(p1);
    expect(state.identifiers.get('user_id:u3')!.profileId).not.toBe(p1);
  });

  it('deleting an identifier removes it, splits what it held together, and replays cannot recreate it', async () => {
    const state = resolved();
    const p = state.identifiers.get('user_id:u1')!.profileId;
    addOverrides(state, { tombstones: ['email:u1@x.io'] });
    const diff = recompute(state, ['email:u1@x.io'], 'gdpr-1');
    expect(diff.removed.identifiers).toEqual(['email:u1@x.io']);
    expect(state.identifiers.has('email:u1@x.io')).toBe(false);
    expect([...state.edges.values()].some((e) => e.a === 'email:u1@x.io' || e.b === 'email:u1@x.io')).toBe(false);
    expect(state.identifiers.get('user_id:u1')!.profileId).toBe(p);
    // a2 was only linked through the email.
    expect(state.identifiers.get('anonymous_id:a2')!.profileId).not.toBe(p);
    const replay = await resolveBatch([rec('m9', 9, ['email', 'u1@x.io'], ['user_id', 'u1'])], memoryResolverState(state), config);
    applyDiff(state, replay);
    expect(state.identifiers.has('email:u1@x.io')).toBe(false);
    expect(replay.rejectedIdentifiers).toMatchObject([{ type: 'email', raw: 'u1@x.io', reason: 'tombstoned' }]);
  });

  it('recompute without new overrides changes nothing', () => {
    const state = resolved();
    for (const key of ['user_id:u1', 'user_id:u2']) {
      const diff = recompute(state, [key], 'noop');
      expect(diff.identifiers).toEqual([]);
      expect(diff.removed.edges).toEqual([]);
      expect(diff.redirects).toEqual([]);
    }
  });
});
