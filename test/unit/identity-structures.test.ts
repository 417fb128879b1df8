import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { InternedUnionFind, UnionFind } from '../../identity/union-find.ts';
import { MISSING, StringTable } from '../../identity/string-table.ts';
import { buildProfileGraph, explainPath, explainProfile } from '../../identity/explain.ts';
import type { EdgeDelta, RejectedLink } from '../../identity/resolution-diff.ts';

describe('union-find', () => {
  it('agrees with a naive labelling for random unions', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 120 }), (n, pairs) => {
        const uf = new UnionFind(4); // grows
        for (let i = 0; i < n; i++) expect(uf.add()).toBe(i);
        const label = Array.from({ length: n }, (_, i) => i);
        for (const [x, y] of pairs) {
          const a = x % n;
          const b = y % n;
          const joined = uf.union(a, b) !== -1;
          expect(joined).toBe(label[a] !== label[b]);
          const from = label[b]!;
          const to = label[a]!;
          for (let i = 0; i < n; i++) if (label[i] === from) label[i] = to;
        }
        for (let a = 0; a < n; a++) {
          for (let b = 0; b < n; b++) expect(uf.connected(a, b)).toBe(label[a] === label[b]);
          expect(uf.size(a)).toBe(label.filter((l) => l === label[a]).length);
        }
      }),
    );
  });

  it('interns string keys', () => {
    const uf = new InternedUnionFind();
    expect(uf.union('email:a', 'user_id:1')).toBe(true);
    expect(uf.union('user_id:1', 'anonymous_id:x')).toBe(true);
    expect(uf.union('email:a', 'anonymous_id:x')).toBe(false);
    uf.id('device_id:lonely');
    expect(uf.connected('email:a', 'anonymous_id:x')).toBe(true);
    expect(uf.lookup('nope')).toBeUndefined();
    expect(uf.components().map((c) => c.sort())).toEqual([['anonymous_id:x', 'email:a', 'user_id:1'], ['device_id:lonely']]);
    expect(uf.components(2)).toHaveLength(1);
  });
});

describe('string table', () => {
  it('behaves like a Map keyed by (namespace, string), Unicode included', () => {
    const str = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('a', 'é', '€', '😀', ''));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), str, fc.integer({ min: -5, max: 1000 })), { maxLength: 200 }), (ops) => {
        const table = new StringTable(2); // grows and rehashes
        const map = new Map<string, { payload: number; handle: number; text: string }>();
        for (const [ns, s, payload] of ops) {
          const handle = table.set(ns, s, payload);
          const k = `${ns}|${s}`;
          const before = map.get(k);
          if (before) expect(handle).toBe(before.handle);
          map.set(k, { payload, handle, text: s });
        }
        expect(table.size).toBe(map.size);
        for (const [k, v] of map) {
          const ns = Number(k.slice(0, k.indexOf('|')));
          expect(table.get(ns, v.text)).toBe(v.payload);
          expect(table.text(v.handle, v.text.length)).toBe(v.text);
        }
        expect(table.get(9, 'absent')).toBe(MISSING);
        const entries = [...map.values()];
        for (let i = 1; i < entries.length; i++) {
          const x = entries[i - 1]!;
          const y = entries[i]!;
          const c = Math.sign(table.compare(x.handle, x.text.length, y.handle, y.text.length));
          expect(c).toBe(x.text < y.text ? -1 : x.text > y.text ? 1 : 0);
        }
      }),
    );
  });
});

describe('explanations', () => {
  const edge = (a: string, b: string, source: string, firstSeen: number, count = 1): EdgeDelta => ({
    a,
    b,
    source,
    firstSeen,
    firstRecordId: `r${firstSeen}`,
    lastSeen: firstSeen + 10,
    count,
  });
  const edges = [
    edge('user_id:u1', 'anonymous_id:a1', 'events', 1, 5),
    edge('user_id:u1', 'anonymous_id:a1', 'crm', 0, 1),
    edge('user_id:u1', 'email:e1', 'events', 2),
    edge('email:e1', 'anonymous_id:a2', 'events', 3, 2),
    edge('anonymous_id:a2', 'device_id:d2', 'events', 4),
  ];
  const graph = buildProfileGraph([{ key: 'user_id:u1', firstSeen: 1 }, 'device_id:lonely'], edges);

  it('gives the shortest chain with the earliest of parallel edges', () => {
    const path = explainPath(graph, 'anonymous_id:a1', 'device_id:d2')!;
    expect(path.map((s) => [s.from, s.to, s.source, s.count])).toEqual([
      ['anonymous_id:a1', 'user_id:u1', 'crm', 1],
      ['user_id:u1', 'email:e1', 'events', 1],
      ['email:e1', 'anonymous_id:a2', 'events', 2],
      ['anonymous_id:a2', 'device_id:d2', 'events', 1],
    ]);
    expect(path[0]).toMatchObject({ firstSeen: 0, firstRecordId: 'r0', lastSeen: 10 });
    expect(explainPath(graph, 'email:e1', 'email:e1')).toEqual([]);
    expect(explainPath(graph, 'email:e1', 'device_id:lonely')).toBeNull();
    expect(explainPath(graph, 'email:e1', 'email:unknown')).toBeNull();
  });

  it('summarises a profile with its refused links', () => {
    const refused: RejectedLink[] = [
      { a: 'user_id:u2', b: 'anonymous_id:a1', rule: 'user_id limit 1', source: 'events', recordId: 'r9', timestamp: 9, lastSeen: 9, count: 3 },
      { a: 'user_id:u3', b: 'email:zz', rule: 'user_id limit 1', source: 'events', recordId: 'r9', timestamp: 9, lastSeen: 9, count: 1 },
    ];
    const summary = explainProfile(graph, refused);
    expect(summary.identifiers.map((i) => i.key)).toEqual([
      'anonymous_id:a1',
      'anonymous_id:a2',
      'device_id:d2',
      'device_id:lonely',
      'email:e1',
      'user_id:u1',
    ]);
    expect(summary.identifiers.find((i) => i.key === 'user_id:u1')).toMatchObject({ type: 'user_id', value: 'u1', firstSeen: 1, degree: 3 });
    expect(summary.edges).toHaveLength(5);
    expect(summary.refused).toEqual([refused[0]]);
    expect(summary.pieces).toBe(2);
  });
});
