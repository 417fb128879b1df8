import { describe, it, expect } from 'vitest';
import { MultiUndirectedGraph } from 'graphology';
import { generateShop, type PersonTruth, type SegmentMessage } from '../../benchmarks/generator/shop.ts';
import { prepareEvents, type EventRow } from '../../src/ingest/prepare-events.ts';
import { parseIdentityConfig } from '../../identity/identity-config.ts';
import { extractFromEvent, type EventIdentityRow } from '../../identity/extract.ts';
import { rebuild, resolveBatch } from '../../identity/resolver.ts';
import { applyDiff, createMemoryState, memoryResolverState } from '../../identity/memory-state.ts';
import { buildProfileGraph, explainPath } from '../../identity/explain.ts';
import { UnionFind } from '../../identity/union-find.ts';

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

/** Lighter than prepareEvents for 2M messages: the columns identity reads, as ClickHouse returns them. */
function toRow(m: SegmentMessage): EventIdentityRow {
  return {
    message_id: m.messageId,
    type: m.type,
    user_id: m.userId ?? '',
    anonymous_id: m.anonymousId ?? '',
    previous_id: m.previousId ?? '',
    timestamp: m.timestamp.slice(0, 23).replace('T', ' '),
    traits: m.traits ? JSON.stringify(m.traits) : '{}',
    context: m.context ? JSON.stringify(m.context) : '{}',
  };
}

describe('identity resolution speed (printed, not asserted)', () => {
  it('resolves 200k people', { timeout: 600_000 }, () => {
    const people = 200_000;
    let t = performance.now();
    // Rows as ClickHouse would stream them (JSONEachRow, ORDER BY timestamp, message_id): bytes
    // outside the JS heap plus a sorted index, so the garbage collector measures resolution only.
    const chunks: Buffer[] = [];
    let chunk = Buffer.allocUnsafe(64 << 20);
    let used = 0;
    let count = 0;
    let ts = new Float64Array(1 << 21);
    let loc = new Int32Array(3 << 21); // chunk, offset, length
    for (const { messages } of generateShop({ people })) {
      for (const m of messages) {
        const line = JSON.stringify(toRow(m));
        if (used + line.length * 3 > chunk.length) {
          chunks.push(chunk.subarray(0, used));
          chunk = Buffer.allocUnsafe(64 << 20);
          used = 0;
        }
        if (count === ts.length) {
          const grownTs = new Float64Array(count * 2);
          grownTs.set(ts);
          ts = grownTs;
          const grownLoc = new Int32Array(count * 6);
          grownLoc.set(loc);
          loc = grownLoc;
        }
        const bytes = chunk.write(line, used);
        ts[count] = Date.parse(m.timestamp);
        loc.set([chunks.length, used, bytes], count * 3);
        used += bytes;
        count++;
      }
    }
    chunks.push(chunk.subarray(0, used));
    const text = (i: number) => (chunks[loc[i * 3]!] as Buffer).toString('utf8', loc[i * 3 + 1]!, loc[i * 3 + 1]! + loc[i * 3 + 2]!);
    const messageId = (i: number) => (JSON.parse(text(i)) as EventIdentityRow).message_id;
    const order = new Int32Array(count).map((_, i) => i);
    order.sort((x, y) => ts[x]! - ts[y]! || (messageId(x) < messageId(y) ? -1 : 1));
    const records = count;
    const generateMs = performance.now() - t;
    function* stream(): Generator<EventIdentityRow> {
      for (let k = 0; k < order.length; k++) yield JSON.parse(text(order[k]!)) as EventIdentityRow;
    }
    t = performance.now();
    let parsed = 0;
    for (const row of stream()) parsed += row.message_id.length > 0 ? 1 : 0;
    const parseMs = performance.now() - t;
    t = performance.now();
    let identifiers = 0;
    for (const row of stream()) identifiers += extractFromEvent(row).identifiers.length;
    const extractMs = performance.now() - t - parseMs;
    t = performance.now();
    const diff = rebuild(
      (function* () {
        for (const row of stream()) yield extractFromEvent(row);
      })(),
      config,
      { capacity: 1 << 20 },
    );
    const resolveMs = performance.now() - t - parseMs - extractMs;
    expect(parsed).toBe(records);

    // Baselines on the same edges: our union-find alone, and graphology (build + BFS components).
    const ids = new Map<string, number>();
    const idOf = (k: string) => {
      let id = ids.get(k);
      if (id === undefined) ids.set(k, (id = ids.size));
      return id;
    };
    for (const i of diff.identifiers) idOf(i.key);
    const a = Int32Array.from(diff.edges, (e) => idOf(e.a));
    const b = Int32Array.from(diff.edges, (e) => idOf(e.b));
    t = performance.now();
    const uf = new UnionFind(ids.size);
    for (let i = 0; i < ids.size; i++) uf.add();
    for (let i = 0; i < a.length; i++) uf.union(a[i]!, b[i]!);
    let ufComponents = 0;
    for (let i = 0; i < ids.size; i++) if (uf.find(i) === i) ufComponents++;
    const ufMs = performance.now() - t;

    t = performance.now();
    const graph = new MultiUndirectedGraph();
    for (const k of ids.keys()) graph.addNode(k);
    for (const e of diff.edges) graph.addEdge(e.a, e.b);
    const seen = new Set<string>();
    let graphComponents = 0;
    graph.forEachNode((start) => {
      if (seen.has(start)) return;
      graphComponents++;
      const stack = [start];
      seen.add(start);
      while (stack.length) {
        graph.forEachNeighbor(stack.pop()!, (n) => {
          if (!seen.has(n)) {
            seen.add(n);
            stack.push(n);
          }
        });
      }
    });
    const graphMs = performance.now() - t;

    const profiles = new Set(diff.identifiers.map((i) => i.profileId)).size;
    expect(ufComponents).toBe(graphComponents);
    expect(graphComponents).toBe(profiles);
    expect(identifiers).toBeGreaterThan(records);
    console.log(
      [
        `identity speed, ${people} people: ${records} records, ${diff.identifiers.length} identifiers, ${diff.edges.length} edges, ${profiles} profiles`,
        `  generate, serialise, sort rows ${(generateMs / 1000).toFixed(2)} s (not part of resolution)`,
        `  parse rows (JSONEachRow)       ${(parseMs / 1000).toFixed(2)} s  (${((parseMs * 1000) / records).toFixed(2)} µs/record; the repository's job)`,
        `  extract (traits/context JSON)  ${(extractMs / 1000).toFixed(2)} s  (${((extractMs * 1000) / records).toFixed(2)} µs/record)`,
        `  resolve (rebuild)              ${(resolveMs / 1000).toFixed(2)} s  (${((resolveMs * 1000) / records).toFixed(2)} µs/record: normalisation, rules, edges, diff)`,
        `  union-find alone on the edges ${ufMs.toFixed(0)} ms; graphology build + BFS components ${graphMs.toFixed(0)} ms`,
      ].join('\n'),
    );
  });
});
