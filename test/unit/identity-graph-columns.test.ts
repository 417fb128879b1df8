import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseIdentityConfig } from '../../identity/identity-config.ts';
import type { IdentityRecord } from '../../identity/extract.ts';
import { ResolverEngine } from '../../identity/resolver-engine.ts';
import { copyField, CopyTextWriter } from '../../identity/copy-text.ts';
import { edgeCopyText, identifierCopyText, identityMapText } from '../../identity/graph-columns.ts';

const config = parseIdentityConfig({ identifierTypes: { email: { limit: 2 }, crm_id: { priority: 2, limit: 1 } } });

/** Values with everything the COPY text must escape or encode: tabs, newlines, backslashes, Latin-1, CJK, emoji, a lone surrogate. */
const VALUES = ['plain', 'tab\there', 'line\nbreak', 'back\\slash', 'cr\rlf', 'café', 'ÿ\\\t', '中文', '😀 emoji', 'lone \ud800 surrogate', 'x'.repeat(300)];
const TYPES = ['user_id', 'anonymous_id', 'device_id', 'crm_id', 'email', 'braze\tid'];

const recordsArb = fc.array(
  fc.record({
    t: fc.integer({ min: -5, max: 40 }),
    ids: fc.array(fc.tuple(fc.constantFrom(...TYPES), fc.constantFrom(...VALUES)), { maxLength: 4 }),
    source: fc.constantFrom('events', 'crm:hub\tspot'),
    rid: fc.constantFrom('m', 'm\\1', 'm\n2', 'mé'),
  }),
  { maxLength: 40 },
);

function resolve(raw: { t: number; ids: [string, string][]; source: string; rid: string }[], reserve = 0): ResolverEngine {
  const records: IdentityRecord[] = raw
    .map((r, i) => ({
      recordId: `${r.rid}${String(i).padStart(3, '0')}`,
      source: r.source,
      timestamp: r.t,
      // Emails need an @ to be valid; the rest are taken as they are.
      identifiers: r.ids.map(([type, value]) => ({ type, value: type === 'email' ? `${value.replace(/\s/g, '')}@x.io` : value })),
    }))
    .sort((a, b) => a.timestamp - b.timestamp || (a.recordId < b.recordId ? -1 : 1));
  const engine = new ResolverEngine(config, null, { capacity: 16 });
  if (reserve > 0) engine.reserve(reserve);
  for (const r of records) engine.applyRecord(r);
  return engine;
}

const text = (chunks: Iterable<Uint8Array>) => Buffer.concat([...chunks]);
/** The reference escape, written out on its own: what PostgreSQL's COPY and ClickHouse's TabSeparated read back. */
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const f = (v: string) => v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!);

describe('a rebuild writes its graph straight from the engine columns', () => {
  it('as the same COPY and TabSeparated rows as the diff objects would give, escapes and UTF-8 included', () => {
    fc.assert(
      fc.property(recordsArb, fc.integer({ min: 1, max: 1e9 }), (raw, first) => {
        const engine = resolve(raw);
        const diff = engine.diff();
        const graph = engine.graphColumns();
        expect(graph.identifiers.count).toBe(diff.identifiers.length);
        expect(graph.edges.count).toBe(diff.edges.length);
        const identifiers = diff.identifiers.map((r, i) => `${f(r.key)}\t${f(r.type)}\t${f(r.value)}\t${f(r.profileId)}\t${r.firstSeen}\t${first + i}\n`).join('');
        const edges = diff.edges.map((e) => `${f(e.a)}\t${f(e.b)}\t${f(e.source)}\t${e.firstSeen}\t${f(e.firstRecordId)}\t${e.lastSeen}\t${e.count}\n`).join('');
        const map = diff.identifiers.map((r, i) => `${f(r.type)}\t${f(r.value)}\t${f(r.profileId)}\t${first + i}\t0\n`).join('');
        expect(text(identifierCopyText(graph, first))).toEqual(Buffer.from(identifiers));
        expect(text(edgeCopyText(graph))).toEqual(Buffer.from(edges));
        expect(text(identityMapText(graph, first))).toEqual(Buffer.from(map));
        // The rest of the diff is the same without the graph.
        const { identifiers: _i, edges: _e, ...rest } = diff;
        expect(engine.diff({ graph: false })).toEqual({ ...rest, identifiers: [], edges: [] });
      }),
      { numRuns: 300 },
    );
  });

  it('cuts the text into chunks of about a megabyte of whole rows (each can be inserted on its own)', () => {
    const engine = resolve(Array.from({ length: 3000 }, (_, i) => ({ t: i, ids: [['user_id', `u${i}-${'v'.repeat(400)}`], ['anonymous_id', `a${i}`]] as [string, string][], source: 'events', rid: 'm' })));
    const chunks = [...identifierCopyText(engine.graphColumns(), 1)];
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(1 << 20);
    for (const c of chunks) expect(c.at(-1)).toBe(10);
    expect(Buffer.concat(chunks).toString().split('\n').length).toBe(6001);
  });

  it('writes a row longer than a chunk whole', () => {
    const long = 'r'.repeat(1 << 21);
    const engine = resolve([{ t: 1, ids: [['user_id', 'u1'], ['anonymous_id', 'a1']], source: 'events', rid: long }]);
    const [chunk, ...rest] = [...edgeCopyText(engine.graphColumns())];
    expect(rest).toEqual([]);
    expect(chunk!.toString()).toBe(`user_id:u1\tanonymous_id:a1\tevents\t1\t${long}000\t1\t1\n`);
  });
});

describe('an engine that reserved room for a rebuild', () => {
  it('resolves as one that grew on the way, whether it reserved too little or too much', () => {
    fc.assert(
      fc.property(recordsArb, fc.integer({ min: 1, max: 5000 }), (raw, reserve) => {
        const grown = resolve(raw);
        const reserved = resolve(raw, reserve);
        expect(reserved.diff()).toEqual(grown.diff());
        expect(text(edgeCopyText(reserved.graphColumns()))).toEqual(text(edgeCopyText(grown.graphColumns())));
      }),
      { numRuns: 100 },
    );
  });
});

describe('CopyTextWriter', () => {
  it('escapes a field as the reference does', () => {
    for (const v of VALUES) expect(copyField(v)).toBe(f(v));
  });

  it('writes integers as decimal, negative and large ones too, and refuses what is not a safe integer', () => {
    const w = new CopyTextWriter();
    for (const n of [0, 7, -1, 10, 99, 1e8, 100000007, -1234567890123, 1e15, 1e15 + 2, Number.MAX_SAFE_INTEGER]) w.integer(n).tab();
    expect(Buffer.concat(w.take(true)).toString()).toBe(`0\t7\t-1\t10\t99\t100000000\t100000007\t-1234567890123\t1000000000000000\t1000000000000002\t${Number.MAX_SAFE_INTEGER}\t`);
    expect(() => w.integer(1.5)).toThrow(/safe integer/);
    expect(() => w.integer(NaN)).toThrow(/safe integer/);
  });
});
