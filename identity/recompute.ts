/**
 * Recomputing already-resolved components after manual changes: a new unlink (split), a new link
 * (forced merge) or a deletion (tombstone). The raw records are not needed: the component is
 * replayed from what the store keeps — each member registered at its first-seen time, each stored
 * edge as a two-identifier record at its first-seen time — through the same engine and rules, with
 * the new overrides in force and tombstoned identifiers left out.
 *
 * The replay reproduces the original components exactly when nothing changed (stored edges are the
 * accepted links, in the order they were accepted), so only the effect of the new overrides shows:
 *
 * - a split: the part with the old anchor keeps the profile id, other parts get the id of their own
 *   anchor (and any stored redirect *from* such an id is removed: it is live again);
 * - a forced merge: the younger id becomes a redirect to the older one (merge reason `link`);
 * - a deletion: the identifier and its edges are removed; if it was the anchor, the profile's id
 *   changes and the old id redirects to the profile of its earliest remaining member.
 *
 * Edges whose ends no longer share a profile are removed (edges only live inside profiles).
 *
 * This is the incremental approximation of a rebuild with the new overrides: it agrees with the
 * rebuild on everything the override decides, but records that were refused before the override
 * (because the component was as it was then) are not re-examined. Run a rebuild for exactness.
 */
import { ruleForType, type ResolvedIdentityConfig } from './identity-config.ts';
import { compareIdentifiers, parseIdentifierKey, type Identifier } from './identifier.ts';
import type { IdentityOverrides } from './overrides.ts';
import { compareAnchors } from './profile-id.ts';
import { LINK_OVERRIDE_SOURCE, ResolverEngine, type StoredIdentifier } from './resolver-engine.ts';
import type { EdgeDelta, MergeEntry, Redirect, ResolutionDiff } from './resolution-diff.ts';

/** Complete components (every member, every edge between members) as stored. */
export interface ComponentSnapshot {
  identifiers: StoredIdentifier[];
  /** Stored edges with their total counts. */
  edges: EdgeDelta[];
}

/** When and why the recompute happens (recorded on merges, redirects and new link edges). */
export interface RecomputeContext {
  /** e.g. `override:unlink:42`, the id of the override or deletion request. */
  recordId: string;
  timestamp: number;
}

function toIdentifier(key: string, config: ResolvedIdentityConfig): Identifier {
  const { type, value } = parseIdentifierKey(key);
  const rule = ruleForType(config, type) ?? config.externalIdTypes.rule;
  return { type, value, key, priority: rule.priority };
}

/**
 * Replays `snapshot` under `overrides` (all overrides touching its members: links, unlinks and
 * tombstones) and returns the changes. The snapshot must hold whole components, including the
 * components of both sides of every link and unlink being applied.
 */
export function recomputeComponents(
  snapshot: ComponentSnapshot,
  overrides: Partial<IdentityOverrides>,
  config: ResolvedIdentityConfig,
  context: RecomputeContext,
): ResolutionDiff {
  const tombstones = new Set(overrides.tombstones ?? []);
  const engine = new ResolverEngine(config, null, { emitEdges: false, capacity: snapshot.identifiers.length * 2 });
  engine.addOverrides({ links: overrides.links ?? [], unlinks: overrides.unlinks ?? [], tombstones: [] });

  type Step = { t: number; kind: 0 | 1; order: string; recordId: string; source: string; ids: Identifier[] };
  const steps: Step[] = [];
  const stored = new Map<string, StoredIdentifier>();
  for (const s of snapshot.identifiers) {
    stored.set(s.key, s);
    if (tombstones.has(s.key)) continue;
    steps.push({ t: s.firstSeen, kind: 0, order: s.key, recordId: context.recordId, source: 'recompute', ids: [toIdentifier(s.key, config)] });
  }
  const live = (key: string) => stored.has(key) && !tombstones.has(key);
  for (const e of snapshot.edges) {
    if (!live(e.a) || !live(e.b)) continue;
    const ids = [toIdentifier(e.a, config), toIdentifier(e.b, config)].sort(compareIdentifiers);
    steps.push({ t: e.firstSeen, kind: 1, order: `${e.firstRecordId}\u0001${e.a}\u0001${e.b}\u0001${e.source}`, recordId: e.firstRecordId, source: e.source, ids });
  }
  steps.sort((x, y) => x.t - y.t || x.kind - y.kind || (x.order < y.order ? -1 : x.order > y.order ? 1 : 0));
  for (const step of steps) engine.process(step.recordId, step.source, step.t, step.ids);

  const replay = engine.diff();
  const after = new Map(engine.assignments().map((a) => [a.key, a]));

  // Identifiers whose profile changed, and the removed ones.
  const identifiers = [...after.values()].filter((a) => stored.get(a.key)?.profileId !== a.profileId);
  const removedIdentifiers = snapshot.identifiers.filter((s) => tombstones.has(s.key)).map((s) => s.key);

  // Edges: removed when an end is gone or the ends were split apart; forced links get an edge.
  const removedEdges: { a: string; b: string; source: string }[] = [];
  const storedEdgeKeys = new Set<string>();
  for (const e of snapshot.edges) {
    storedEdgeKeys.add(`${e.a}\u0001${e.b}\u0001${e.source}`);
    const pa = after.get(e.a)?.profileId;
    const pb = after.get(e.b)?.profileId;
    if (pa === undefined || pb === undefined || pa !== pb) removedEdges.push({ a: e.a, b: e.b, source: e.source });
  }
  const edges: EdgeDelta[] = [];
  for (const { a, b } of overrides.links ?? []) {
    const pa = after.get(a)?.profileId;
    if (pa === undefined || pa !== after.get(b)?.profileId) continue;
    const [x, y] = [toIdentifier(a, config), toIdentifier(b, config)].sort(compareIdentifiers) as [Identifier, Identifier];
    if (storedEdgeKeys.has(`${x.key}\u0001${y.key}\u0001${LINK_OVERRIDE_SOURCE}`)) continue;
    edges.push({ a: x.key, b: y.key, source: LINK_OVERRIDE_SOURCE, firstSeen: context.timestamp, firstRecordId: context.recordId, lastSeen: context.timestamp, count: 1 });
  }

  // Profiles that disappeared redirect to where their earliest remaining member went.
  const before = new Map<string, StoredIdentifier[]>();
  for (const s of snapshot.identifiers) {
    let list = before.get(s.profileId);
    if (!list) before.set(s.profileId, (list = []));
    list.push(s);
  }
  const liveAfter = new Set([...after.values()].map((a) => a.profileId));
  const redirects: Redirect[] = [];
  const merges: MergeEntry[] = [];
  for (const [profileId, members] of before) {
    if (liveAfter.has(profileId)) continue;
    const remaining = members
      .filter((m) => after.has(m.key))
      .map((m) => ({ key: m.key, firstSeen: m.firstSeen, priority: toIdentifier(m.key, config).priority }))
      .sort(compareAnchors);
    const first = remaining[0];
    if (!first) continue;
    const to = (after.get(first.key) as { profileId: string }).profileId;
    redirects.push({ from: profileId, to, recordId: context.recordId, timestamp: context.timestamp });
    // Another old profile in the same new one: a forced merge. Otherwise a rename (deletion).
    const merged = [...before].some(([p, list]) => p !== profileId && list.some((m) => after.get(m.key)?.profileId === to));
    if (merged) merges.push({ from: profileId, into: to, recordId: context.recordId, timestamp: context.timestamp, reason: 'link' });
  }
  const liveBefore = new Set(before.keys());
  const revived = [...liveAfter].filter((p) => !liveBefore.has(p));

  return {
    identifiers,
    edges,
    redirects,
    merges,
    rejectedLinks: replay.rejectedLinks,
    rejectedIdentifiers: [],
    removed: { identifiers: removedIdentifiers, edges: removedEdges, redirects: revived },
    checkpoint: null,
    stats: { records: 0, skipped: 0, empty: 0, newIdentifiers: 0, merges: merges.length, rejectedLinks: replay.stats.rejectedLinks },
  };
}
