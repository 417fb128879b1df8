/**
 * An in-memory identity store: the reference implementation of the repository contract (what a
 * loader returns, how a diff is written) for tests, the demo and tooling. A Postgres repository
 * must behave the same; the property tests compare incremental runs through this store with a
 * rebuild.
 */
import { overridesTouching, type IdentityOverrides } from './overrides.ts';
import type { LoadedState, ResolverState, StateLoader } from './resolver.ts';
import type { StoredIdentifier } from './resolver-engine.ts';
import type {
  Checkpoint,
  EdgeDelta,
  MergeEntry,
  Redirect,
  RejectedIdentifierEntry,
  RejectedLink,
  ResolutionDiff,
} from './resolution-diff.ts';

export interface MemoryIdentityState {
  /** key → profile and first seen. */
  identifiers: Map<string, { profileId: string; firstSeen: number }>;
  /** profile id → member keys. */
  members: Map<string, Set<string>>;
  /** `a \u0001 b \u0001 source` → edge (count = total). */
  edges: Map<string, EdgeDelta>;
  /** from → redirect (always one hop to a live profile). */
  redirects: Map<string, Redirect>;
  merges: MergeEntry[];
  /** `a \u0001 b` → aggregated refusal (the first rule kept). */
  rejectedLinks: Map<string, RejectedLink>;
  /** `type \u0001 raw \u0001 reason` → aggregated rejection. */
  rejectedIdentifiers: Map<string, RejectedIdentifierEntry>;
  overrides: IdentityOverrides;
  checkpoint: Checkpoint | null;
}

export function createMemoryState(overrides?: Partial<IdentityOverrides>): MemoryIdentityState {
  return {
    identifiers: new Map(),
    members: new Map(),
    edges: new Map(),
    redirects: new Map(),
    merges: [],
    rejectedLinks: new Map(),
    rejectedIdentifiers: new Map(),
    overrides: { links: [...(overrides?.links ?? [])], unlinks: [...(overrides?.unlinks ?? [])], tombstones: [...(overrides?.tombstones ?? [])] },
    checkpoint: null,
  };
}

export function edgeKey(e: { a: string; b: string; source: string }): string {
  return `${e.a}\u0001${e.b}\u0001${e.source}`;
}

/** The stored members of the profiles of `keys` (whole profiles). */
export function loadComponents(state: MemoryIdentityState, keys: Iterable<string>): StoredIdentifier[] {
  const profiles = new Set<string>();
  for (const key of keys) {
    const found = state.identifiers.get(key);
    if (found) profiles.add(found.profileId);
  }
  const out: StoredIdentifier[] = [];
  for (const profileId of profiles) {
    for (const key of state.members.get(profileId) ?? []) {
      out.push({ key, profileId, firstSeen: (state.identifiers.get(key) as { firstSeen: number }).firstSeen });
    }
  }
  return out;
}

/** A `StateLoader` over the memory store (the loader contract, in memory). */
export function memoryLoader(state: MemoryIdentityState): StateLoader {
  return (keys): LoadedState => {
    const identifiers = loadComponents(state, keys);
    const touched = new Set<string>(keys);
    for (const s of identifiers) touched.add(s.key);
    return { identifiers, overrides: overridesTouching(state.overrides, touched) };
  };
}

/** The starting point of an incremental run on the memory store. */
export function memoryResolverState(state: MemoryIdentityState): ResolverState {
  return { checkpoint: state.checkpoint, load: memoryLoader(state) };
}

/** The stored edges between members of the given profiles' members (for explanations, recompute). */
export function edgesOf(state: MemoryIdentityState, keys: Iterable<string>): EdgeDelta[] {
  const set = new Set(keys);
  return [...state.edges.values()].filter((e) => set.has(e.a) && set.has(e.b));
}

function upsertAggregate<T extends { count: number; lastSeen: number }>(map: Map<string, T>, key: string, incoming: T): void {
  const stored = map.get(key);
  if (!stored) map.set(key, { ...incoming });
  else {
    stored.count += incoming.count;
    stored.lastSeen = Math.max(stored.lastSeen, incoming.lastSeen);
  }
}

/** Writes a diff into the store, with the semantics documented in resolution-diff.ts. */
export function applyDiff(state: MemoryIdentityState, diff: ResolutionDiff): void {
  const removeMember = (key: string) => {
    const old = state.identifiers.get(key);
    if (!old) return;
    const set = state.members.get(old.profileId);
    set?.delete(key);
    if (set && set.size === 0) state.members.delete(old.profileId);
  };
  for (const a of diff.identifiers) {
    removeMember(a.key);
    state.identifiers.set(a.key, { profileId: a.profileId, firstSeen: a.firstSeen });
    let set = state.members.get(a.profileId);
    if (!set) state.members.set(a.profileId, (set = new Set()));
    set.add(a.key);
  }
  for (const key of diff.removed.identifiers) {
    removeMember(key);
    state.identifiers.delete(key);
  }

  for (const e of diff.edges) {
    const key = edgeKey(e);
    const stored = state.edges.get(key);
    if (!stored) state.edges.set(key, { ...e });
    else {
      stored.count += e.count;
      stored.lastSeen = Math.max(stored.lastSeen, e.lastSeen);
    }
  }
  for (const e of diff.removed.edges) state.edges.delete(edgeKey(e));

  for (const from of diff.removed.redirects) state.redirects.delete(from);
  for (const r of diff.redirects) {
    state.redirects.set(r.from, { ...r });
    for (const stored of state.redirects.values()) if (stored.to === r.from) stored.to = r.to;
  }
  state.merges.push(...diff.merges);

  for (const r of diff.rejectedLinks) upsertAggregate(state.rejectedLinks, `${r.a}\u0001${r.b}`, r);
  for (const r of diff.rejectedIdentifiers) upsertAggregate(state.rejectedIdentifiers, `${r.type}\u0001${r.raw}\u0001${r.reason}`, r);
  if (diff.checkpoint) state.checkpoint = diff.checkpoint;
}

/** Adds overrides to the store (the caller then recomputes the components they touch). */
export function addOverrides(state: MemoryIdentityState, overrides: Partial<IdentityOverrides>): void {
  state.overrides.links.push(...(overrides.links ?? []));
  state.overrides.unlinks.push(...(overrides.unlinks ?? []));
  state.overrides.tombstones.push(...(overrides.tombstones ?? []));
}

/** key → profile id, sorted by key (handy for comparisons). */
export function identityMap(state: MemoryIdentityState): Map<string, string> {
  return new Map([...state.identifiers.entries()].map(([k, v]) => [k, v.profileId] as [string, string]).sort((x, y) => (x[0] < y[0] ? -1 : 1)));
}

/** The live profile id behind a possibly merged-away id. */
export function resolveProfileId(state: MemoryIdentityState, profileId: string): string {
  return state.redirects.get(profileId)?.to ?? profileId;
}
