/**
 * The in-memory, synchronous core of deterministic identity resolution. It holds the components
 * (profiles) it has seen — all of them in a rebuild, only the loaded and touched ones in an
 * incremental run — applies records one at a time in (timestamp, recordId) order, and produces a
 * `ResolutionDiff`. `resolver.ts` wraps it with sorting, loading and the checkpoint; recompute.ts
 * reuses it to replay stored edges.
 *
 * Per record (identifiers normalised, deduplicated, sorted by (priority, key)):
 *
 * 1. Tombstoned identifiers are removed.
 * 2. The *parts* are the current profiles of its identifiers plus each identifier not seen yet.
 *    Merging them is refused when, for some type with a limit, the merged profile would hold more
 *    distinct values than the limit *and* more than the largest part already holds (so a profile a
 *    manual link pushed over a limit can still absorb anonymous parts), or when it would join the
 *    two sides of an unlink override.
 * 3. On refusal, a `RejectedLink` (kept identifier, dropped identifier, rule) is recorded for each
 *    identifier of the least important priority level present, that level is dropped, and the rest
 *    is tried again — as Segment does. When only one level is left and it still breaks a rule,
 *    only the first identifier is kept. One identifier always lands: on its profile, or on a new one.
 * 4. On acceptance, new identifiers are registered (first seen = record time), the parts are
 *    united, and star edges from the record's first identifier to each other one are counted.
 *    Every part whose anchor is not the merged anchor (see profile-id.ts) is a merge: a log entry
 *    and a redirect from its id to the merged id.
 * 5. Link overrides of identifiers registered by this record are applied (forced merges).
 *
 * The decisions for a record depend only on the components of its identifiers (and the overrides
 * touching them), which is why loading just those components gives the same result as a rebuild.
 *
 * Hot-loop data lives in typed arrays indexed by interned identifier ids; per-record scratch arrays
 * are reused. Limits: < 2^26 identifiers per run (edge keys pack two ids in one number).
 */
import { ruleForType, type ResolvedIdentityConfig } from './identity-config.ts';
import { keyType, type Identifier } from './identifier.ts';
import type { IdentityOverrides } from './overrides.ts';
import { profileIdFor } from './profile-id.ts';
import { UnionFind } from './union-find.ts';
import type {
  Checkpoint,
  EdgeDelta,
  IdentifierAssignment,
  MergeEntry,
  Redirect,
  RejectedIdentifierEntry,
  RejectedLink,
  ResolutionDiff,
  ResolutionStats,
} from './resolution-diff.ts';
import type { RejectionReason } from './normalise.ts';

/** An identifier as stored: its key, current profile and first-seen time. */
export interface StoredIdentifier {
  key: string;
  profileId: string;
  firstSeen: number;
}

export interface EngineOptions {
  /** Count star edges of accepted records (default true; recompute replays stored edges instead). */
  emitEdges?: boolean;
  /** Initial capacity (identifiers); arrays grow by doubling. */
  capacity?: number;
}

/** Edge source of forced links. */
export const LINK_OVERRIDE_SOURCE = 'override:link';

const MAX_IDS = 1 << 26;
const PAIR_SHIFT = 1 << 26;

export class ResolverEngine {
  private readonly config: ResolvedIdentityConfig;
  private readonly emitEdges: boolean;

  // ---- identifiers (indexed by id) ----
  private readonly ids = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly uf: UnionFind;
  private capacity: number;
  private typeOf: Int32Array;
  /** NaN until the identifier is on a profile. */
  private firstSeen: Float64Array;
  /** At roots: the id of the component's anchor. */
  private anchor: Int32Array;
  /** At roots: distinct values per limited type (stride = slots). */
  private counts: Int32Array;
  private stride: number;

  // ---- types ----
  private readonly typeIndex = new Map<string, number>();
  private readonly typePriority: number[] = [];
  private readonly typeSlot: number[] = [];
  private readonly slotLimit: number[] = [];
  private readonly slotRule: string[] = [];
  private slotNew: Int32Array;

  // ---- overrides ----
  private readonly tombstones = new Set<string>();
  private readonly linkPartners = new Map<number, number[]>();
  private readonly unlinkPartners = new Map<number, number[]>();
  /** At roots: members that have unlink partners. */
  private readonly rootUnlinkMembers = new Map<number, number[]>();

  // ---- edges ----
  private readonly edgeIndex = new Map<number, number>();
  private readonly sourceIndex = new Map<string, number>();
  private readonly sources: string[] = [];
  private edgeCount = 0;
  private edgeA = new Int32Array(1024);
  private edgeB = new Int32Array(1024);
  private edgeSrc = new Int32Array(1024);
  private edgeNext = new Int32Array(1024);
  private edgeHits = new Int32Array(1024);
  private edgeFirst = new Float64Array(1024);
  private edgeLast = new Float64Array(1024);
  private readonly edgeFirstRecord: string[] = [];

  // ---- outputs ----
  private readonly initialProfile = new Map<number, string>();
  private readonly profileIds = new Map<number, string>();
  private readonly merges: MergeEntry[] = [];
  private readonly redirects = new Map<string, Redirect>();
  private readonly redirectSources = new Map<string, string[]>();
  private readonly rejectedLinks = new Map<string, RejectedLink>();
  private readonly rejectedIdentifiers = new Map<string, RejectedIdentifierEntry>();
  readonly stats: ResolutionStats = { records: 0, skipped: 0, empty: 0, newIdentifiers: 0, merges: 0, rejectedLinks: 0 };
  private checkpoint: Checkpoint | null;

  // ---- per-record scratch ----
  private readonly act: number[] = [];
  private readonly parts: number[] = [];
  private readonly partAnchors: number[] = [];
  private readonly fresh: number[] = [];

  constructor(config: ResolvedIdentityConfig, checkpoint: Checkpoint | null = null, options: EngineOptions = {}) {
    this.config = config;
    this.checkpoint = checkpoint;
    this.emitEdges = options.emitEdges ?? true;
    this.capacity = Math.max(1024, options.capacity ?? 1024);
    this.uf = new UnionFind(this.capacity);
    let limited = 0;
    for (const rule of Object.values(config.identifierTypes)) if (rule.limit !== null) limited++;
    this.stride = limited + 2;
    this.typeOf = new Int32Array(this.capacity);
    this.firstSeen = new Float64Array(this.capacity);
    this.anchor = new Int32Array(this.capacity);
    this.counts = new Int32Array(this.capacity * this.stride);
    this.slotNew = new Int32Array(this.stride);
  }

  // ======================================================================================
  // Setup: overrides and loaded components
  // ======================================================================================

  /** Adds override data (idempotent). Call before loading components and processing records. */
  addOverrides(overrides: IdentityOverrides): void {
    for (const key of overrides.tombstones) this.tombstones.add(key);
    const add = (map: Map<number, number[]>, a: number, b: number) => {
      const list = map.get(a);
      if (!list) map.set(a, [b]);
      else if (!list.includes(b)) {
        list.push(b);
        // Deterministic order whatever order the store returned the overrides in.
        list.sort((x, y) => (this.keys[x]! < this.keys[y]! ? -1 : 1));
      }
    };
    for (const { a, b } of overrides.unlinks) {
      const ia = this.intern(a);
      const ib = this.intern(b);
      add(this.unlinkPartners, ia, ib);
      add(this.unlinkPartners, ib, ia);
      for (const id of [ia, ib]) if (this.isRegistered(id)) this.noteUnlinkMember(id);
    }
    for (const { a, b } of overrides.links) {
      const ia = this.intern(a);
      const ib = this.intern(b);
      add(this.linkPartners, ia, ib);
      add(this.linkPartners, ib, ia);
    }
  }

  /** Whether a key is known to be registered (loaded or resolved in this run). */
  has(key: string): boolean {
    const id = this.ids.get(key);
    return id !== undefined && this.isRegistered(id);
  }

  /** Keys of link partners of `keys` (for the loader's second round). */
  linkPartnerKeys(keys: Iterable<string>): string[] {
    const out: string[] = [];
    for (const key of keys) {
      const id = this.ids.get(key);
      if (id === undefined) continue;
      for (const p of this.linkPartners.get(id) ?? []) out.push(this.keys[p] as string);
    }
    return out;
  }

  /**
   * Loads already-resolved components: members grouped by profile id. Members already present are
   * skipped, so overlapping loads are harmless.
   */
  loadComponents(identifiers: readonly StoredIdentifier[]): void {
    const byProfile = new Map<string, number>();
    for (const s of identifiers) {
      const id = this.intern(s.key);
      if (this.isRegistered(id)) continue;
      this.register(id, s.firstSeen);
      this.stats.newIdentifiers--; // loaded, not new
      this.initialProfile.set(id, s.profileId);
      const first = byProfile.get(s.profileId);
      if (first === undefined) byProfile.set(s.profileId, id);
      else this.unite(this.uf.find(first), this.uf.find(id));
    }
  }

  // ======================================================================================
  // Records
  // ======================================================================================

  /** Whether a record is at or before the checkpoint (a replay or late record: skipped). */
  isBeforeCheckpoint(timestamp: number, recordId: string): boolean {
    const c = this.checkpoint;
    return c !== null && (timestamp < c.timestamp || (timestamp === c.timestamp && recordId <= c.recordId));
  }

  /**
   * Applies one record (identifiers prepared: normalised, deduplicated, sorted by priority, key).
   * Records must come in (timestamp, recordId) order; those at or before the checkpoint are
   * counted as skipped. Returns false when skipped.
   */
  apply(recordId: string, source: string, timestamp: number, identifiers: readonly Identifier[]): boolean {
    if (this.isBeforeCheckpoint(timestamp, recordId)) {
      this.stats.skipped++;
      return false;
    }
    this.checkpoint = { timestamp, recordId };
    this.stats.records++;
    this.process(recordId, source, timestamp, identifiers);
    return true;
  }

  /** Records a value normalisation refused (aggregated per type, raw, reason). */
  rejectIdentifier(type: string, raw: unknown, reason: RejectionReason | 'tombstoned', recordId: string, timestamp: number): void {
    const text = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw));
    const k = `${type}\u0001${text}\u0001${reason}`;
    const e = this.rejectedIdentifiers.get(k);
    if (e) {
      e.count++;
      e.lastSeen = timestamp;
    } else {
      this.rejectedIdentifiers.set(k, { type, raw: text, reason, recordId, timestamp, lastSeen: timestamp, count: 1 });
    }
  }

  /**
   * Applies one record without the order / checkpoint check (recompute replays stored edges, whose
   * order it controls itself). Prefer `apply`.
   */
  process(recordId: string, source: string, timestamp: number, identifiers: readonly Identifier[]): void {
    const act = this.act;
    act.length = 0;
    for (let i = 0; i < identifiers.length; i++) {
      const ident = identifiers[i] as Identifier;
      if (this.tombstones.size > 0 && this.tombstones.has(ident.key)) {
        this.rejectIdentifier(ident.type, ident.value, 'tombstoned', recordId, timestamp);
        continue;
      }
      act.push(this.intern(ident.key, ident.type, ident.priority));
    }
    if (act.length === 0) {
      this.stats.empty++;
      return;
    }
    let m = act.length;
    for (;;) {
      if (m === 1) break;
      const rule = this.check(m);
      if (rule === null) break;
      const prio = this.typePriority;
      const typeOf = this.typeOf;
      const low = prio[typeOf[act[m - 1] as number] as number] as number;
      const high = prio[typeOf[act[0] as number] as number] as number;
      let keep = 1;
      if (low !== high) {
        keep = m - 1;
        while (keep > 1 && prio[typeOf[act[keep - 1] as number] as number] === low) keep--;
      }
      const a = act[0] as number;
      const ra = this.isRegistered(a) ? this.uf.find(a) : -1;
      for (let i = keep; i < m; i++) {
        const b = act[i] as number;
        // Already on the kept identifier's profile: nothing was refused.
        if (ra >= 0 && this.isRegistered(b) && this.uf.find(b) === ra) continue;
        this.rejectLink(a, b, rule, source, recordId, timestamp);
      }
      m = keep;
    }
    this.commit(m, recordId, source, timestamp);
  }

  /** null when merging the parts of act[0..m) breaks no rule, else the rule it breaks. */
  private check(m: number): string | null {
    const act = this.act;
    const parts = this.parts;
    parts.length = 0;
    const slotNew = this.slotNew;
    slotNew.fill(0);
    let fresh = 0;
    for (let i = 0; i < m; i++) {
      const id = act[i] as number;
      if (this.isRegistered(id)) {
        const r = this.uf.find(id);
        if (!parts.includes(r)) parts.push(r);
      } else {
        fresh++;
        const slot = this.typeSlot[this.typeOf[id] as number] as number;
        if (slot >= 0) slotNew[slot] = (slotNew[slot] as number) + 1;
      }
    }
    if (parts.length + fresh <= 1) return null;
    const counts = this.counts;
    const stride = this.stride;
    for (let s = 0; s < this.slotLimit.length; s++) {
      const added = slotNew[s] as number;
      let total = added;
      let max = added > 0 ? 1 : 0;
      for (let j = 0; j < parts.length; j++) {
        const c = counts[(parts[j] as number) * stride + s] as number;
        total += c;
        if (c > max) max = c;
      }
      if (total > (this.slotLimit[s] as number) && total > max) return this.slotRule[s] as string;
    }
    if (this.unlinkPartners.size > 0) return this.unlinkViolation(m);
    return null;
  }

  /** An unlink pair both of whose sides would end up in the merge of act[0..m) (parts computed). */
  private unlinkViolation(m: number): string | null {
    const act = this.act;
    const parts = this.parts;
    const inMerge = (p: number): boolean => {
      if (this.isRegistered(p)) return parts.includes(this.uf.find(p));
      for (let i = 0; i < m; i++) if (act[i] === p) return true;
      return false;
    };
    const test = (x: number, partOf: number): string | null => {
      for (const p of this.unlinkPartners.get(x) ?? []) {
        if (!inMerge(p)) continue;
        if (partOf >= 0 && this.isRegistered(p) && this.uf.find(p) === partOf) continue; // already together (forced)
        return this.unlinkRule(x, p);
      }
      return null;
    };
    for (const r of parts) {
      for (const x of this.rootUnlinkMembers.get(r) ?? []) {
        const rule = test(x, r);
        if (rule) return rule;
      }
    }
    for (let i = 0; i < m; i++) {
      const x = act[i] as number;
      if (!this.isRegistered(x) && this.unlinkPartners.has(x)) {
        const rule = test(x, -1);
        if (rule) return rule;
      }
    }
    return null;
  }

  private unlinkRule(x: number, y: number): string {
    const a = this.keys[x] as string;
    const b = this.keys[y] as string;
    return a < b ? `unlink ${a} ${b}` : `unlink ${b} ${a}`;
  }

  /** Registers, unites and links act[0..m) (the rules allow it). */
  private commit(m: number, recordId: string, source: string, timestamp: number): void {
    const act = this.act;
    const parts = this.parts;
    const partAnchors = this.partAnchors;
    const fresh = this.fresh;
    parts.length = 0;
    partAnchors.length = 0;
    fresh.length = 0;
    for (let i = 0; i < m; i++) {
      const id = act[i] as number;
      if (this.isRegistered(id)) {
        const r = this.uf.find(id);
        if (!parts.includes(r)) {
          parts.push(r);
          partAnchors.push(this.anchor[r] as number);
        }
      } else {
        fresh.push(id);
      }
    }
    for (const id of fresh) this.register(id, timestamp);

    let root = this.uf.find(act[0] as number);
    for (let i = 1; i < m; i++) {
      const r = this.uf.find(act[i] as number);
      if (r !== root) root = this.unite(root, r);
    }
    const finalAnchor = this.anchor[root] as number;
    for (const old of partAnchors) {
      if (old !== finalAnchor) this.logMerge(old, finalAnchor, recordId, timestamp, 'record');
    }

    if (this.emitEdges && m > 1) {
      const a = act[0] as number;
      const src = this.sourceId(source);
      for (let i = 1; i < m; i++) this.countEdge(a, act[i] as number, src, recordId, timestamp);
    }

    if (this.linkPartners.size > 0) {
      for (const id of fresh) this.applyLinks(id, recordId, timestamp);
    }
  }

  /** Forced merges of a newly registered identifier with its registered link partners. */
  private applyLinks(x: number, recordId: string, timestamp: number): void {
    for (const p of this.linkPartners.get(x) ?? []) {
      if (!this.isRegistered(p)) continue;
      const rx = this.uf.find(x);
      const rp = this.uf.find(p);
      if (rx === rp) continue;
      // Unlinks win over links.
      const parts = this.parts;
      parts.length = 0;
      parts.push(rx, rp);
      this.act.length = 0;
      const rule = this.unlinkPartners.size > 0 ? this.unlinkViolation(0) : null;
      const [a, b] = this.ordered(x, p);
      if (rule) {
        this.rejectLink(a, b, rule, LINK_OVERRIDE_SOURCE, recordId, timestamp);
        continue;
      }
      const ax = this.anchor[rx] as number;
      const ap = this.anchor[rp] as number;
      const root = this.unite(rx, rp);
      const finalAnchor = this.anchor[root] as number;
      if (ax !== finalAnchor) this.logMerge(ax, finalAnchor, recordId, timestamp, 'link');
      if (ap !== finalAnchor) this.logMerge(ap, finalAnchor, recordId, timestamp, 'link');
      if (this.emitEdges) this.countEdge(a, b, this.sourceId(LINK_OVERRIDE_SOURCE), recordId, timestamp);
    }
  }

  /** (x, y) in identifier order (priority, key). */
  private ordered(x: number, y: number): [number, number] {
    const px = this.typePriority[this.typeOf[x] as number] as number;
    const py = this.typePriority[this.typeOf[y] as number] as number;
    if (px !== py) return px < py ? [x, y] : [y, x];
    return (this.keys[x] as string) < (this.keys[y] as string) ? [x, y] : [y, x];
  }

  // ======================================================================================
  // Internals
  // ======================================================================================

  private isRegistered(id: number): boolean {
    return !Number.isNaN(this.firstSeen[id] as number);
  }

  private intern(key: string, type?: string, priority?: number): number {
    let id = this.ids.get(key);
    if (id !== undefined) return id;
    id = this.uf.add();
    if (id >= MAX_IDS) throw new RangeError(`more than ${MAX_IDS} identifiers in one resolution run`);
    if (id >= this.capacity) this.grow();
    this.ids.set(key, id);
    this.keys.push(key);
    this.typeOf[id] = this.typeId(type ?? keyType(key), priority);
    this.firstSeen[id] = NaN;
    return id;
  }

  private typeId(type: string, priority?: number): number {
    let t = this.typeIndex.get(type);
    if (t !== undefined) return t;
    t = this.typePriority.length;
    this.typeIndex.set(type, t);
    const rule = ruleForType(this.config, type) ?? this.config.externalIdTypes.rule;
    this.typePriority.push(priority ?? rule.priority);
    if (rule.limit === null) {
      this.typeSlot.push(-1);
    } else {
      const slot = this.slotLimit.length;
      if (slot >= this.stride) this.restride(this.stride * 2);
      this.typeSlot.push(slot);
      this.slotLimit.push(rule.limit);
      this.slotRule.push(`${type} limit ${rule.limit}`);
    }
    return t;
  }

  /** Puts an identifier on a profile of its own. */
  private register(id: number, firstSeen: number): void {
    this.firstSeen[id] = firstSeen;
    this.anchor[id] = id;
    const slot = this.typeSlot[this.typeOf[id] as number] as number;
    if (slot >= 0) this.counts[id * this.stride + slot] = 1;
    if (this.unlinkPartners.has(id)) this.noteUnlinkMember(id);
    this.stats.newIdentifiers++;
  }

  private noteUnlinkMember(id: number): void {
    const r = this.uf.find(id);
    const list = this.rootUnlinkMembers.get(r);
    if (!list) this.rootUnlinkMembers.set(r, [id]);
    else if (!list.includes(id)) list.push(id);
  }

  /** Unites two roots, merging per-root data; returns the new root. */
  private unite(ra: number, rb: number): number {
    const root = this.uf.unionRoots(ra, rb);
    const other = root === ra ? rb : ra;
    const aRoot = this.anchor[root] as number;
    const aOther = this.anchor[other] as number;
    if (this.anchorBefore(aOther, aRoot)) this.anchor[root] = aOther;
    const stride = this.stride;
    const counts = this.counts;
    for (let s = 0; s < this.slotLimit.length; s++) {
      counts[root * stride + s] = (counts[root * stride + s] as number) + (counts[other * stride + s] as number);
    }
    const moved = this.rootUnlinkMembers.get(other);
    if (moved) {
      this.rootUnlinkMembers.delete(other);
      const list = this.rootUnlinkMembers.get(root);
      if (list) list.push(...moved);
      else this.rootUnlinkMembers.set(root, moved);
    }
    return root;
  }

  /** Anchor order: first seen, priority, key. */
  private anchorBefore(x: number, y: number): boolean {
    const fx = this.firstSeen[x] as number;
    const fy = this.firstSeen[y] as number;
    if (fx !== fy) return fx < fy;
    const px = this.typePriority[this.typeOf[x] as number] as number;
    const py = this.typePriority[this.typeOf[y] as number] as number;
    if (px !== py) return px < py;
    return (this.keys[x] as string) < (this.keys[y] as string);
  }

  private profileIdOfAnchor(anchor: number): string {
    let pid = this.profileIds.get(anchor);
    if (pid === undefined) {
      pid = profileIdFor(this.keys[anchor] as string);
      this.profileIds.set(anchor, pid);
    }
    return pid;
  }

  /** The current profile id of a registered identifier. */
  profileIdOf(key: string): string | undefined {
    const id = this.ids.get(key);
    if (id === undefined || !this.isRegistered(id)) return undefined;
    return this.profileIdOfAnchor(this.anchor[this.uf.find(id)] as number);
  }

  private logMerge(fromAnchor: number, toAnchor: number, recordId: string, timestamp: number, reason: MergeEntry['reason']): void {
    const from = this.profileIdOfAnchor(fromAnchor);
    const into = this.profileIdOfAnchor(toAnchor);
    this.merges.push({ from, into, recordId, timestamp, reason });
    this.stats.merges++;
    this.redirects.set(from, { from, to: into, recordId, timestamp });
    const pointing = this.redirectSources.get(from);
    let targets = this.redirectSources.get(into);
    if (!targets) this.redirectSources.set(into, (targets = []));
    targets.push(from);
    if (pointing) {
      for (const src of pointing) {
        const r = this.redirects.get(src);
        if (r) r.to = into;
        targets.push(src);
      }
      this.redirectSources.delete(from);
    }
  }

  private rejectLink(a: number, b: number, rule: string, source: string, recordId: string, timestamp: number): void {
    const ka = this.keys[a] as string;
    const kb = this.keys[b] as string;
    const k = `${ka}\u0001${kb}\u0001${rule}`;
    this.stats.rejectedLinks++;
    const e = this.rejectedLinks.get(k);
    if (e) {
      e.count++;
      e.lastSeen = timestamp;
    } else {
      this.rejectedLinks.set(k, { a: ka, b: kb, rule, source, recordId, timestamp, lastSeen: timestamp, count: 1 });
    }
  }

  private sourceId(source: string): number {
    let s = this.sourceIndex.get(source);
    if (s === undefined) {
      s = this.sources.length;
      this.sources.push(source);
      this.sourceIndex.set(source, s);
    }
    return s;
  }

  private countEdge(a: number, b: number, src: number, recordId: string, timestamp: number): void {
    const pair = a * PAIR_SHIFT + b;
    const head = this.edgeIndex.get(pair);
    let e = head ?? -1;
    while (e >= 0) {
      if (this.edgeSrc[e] === src) {
        this.edgeHits[e] = (this.edgeHits[e] as number) + 1;
        this.edgeLast[e] = timestamp;
        return;
      }
      e = this.edgeNext[e] as number;
    }
    if (this.edgeCount === this.edgeA.length) this.growEdges();
    e = this.edgeCount++;
    this.edgeA[e] = a;
    this.edgeB[e] = b;
    this.edgeSrc[e] = src;
    this.edgeHits[e] = 1;
    this.edgeFirst[e] = timestamp;
    this.edgeLast[e] = timestamp;
    this.edgeFirstRecord[e] = recordId;
    this.edgeNext[e] = head ?? -1;
    this.edgeIndex.set(pair, e);
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const typeOf = new Int32Array(capacity);
    typeOf.set(this.typeOf);
    const firstSeen = new Float64Array(capacity);
    firstSeen.set(this.firstSeen);
    const anchor = new Int32Array(capacity);
    anchor.set(this.anchor);
    const counts = new Int32Array(capacity * this.stride);
    counts.set(this.counts);
    this.typeOf = typeOf;
    this.firstSeen = firstSeen;
    this.anchor = anchor;
    this.counts = counts;
    this.capacity = capacity;
  }

  private restride(stride: number): void {
    const counts = new Int32Array(this.capacity * stride);
    for (let i = 0; i < this.keys.length; i++) {
      for (let s = 0; s < this.stride; s++) counts[i * stride + s] = this.counts[i * this.stride + s] as number;
    }
    this.counts = counts;
    this.stride = stride;
    this.slotNew = new Int32Array(stride);
  }

  private growEdges(): void {
    const n = this.edgeA.length * 2;
    const i32 = (old: Int32Array) => {
      const a = new Int32Array(n);
      a.set(old);
      return a;
    };
    const f64 = (old: Float64Array) => {
      const a = new Float64Array(n);
      a.set(old);
      return a;
    };
    this.edgeA = i32(this.edgeA);
    this.edgeB = i32(this.edgeB);
    this.edgeSrc = i32(this.edgeSrc);
    this.edgeNext = i32(this.edgeNext);
    this.edgeHits = i32(this.edgeHits);
    this.edgeFirst = f64(this.edgeFirst);
    this.edgeLast = f64(this.edgeLast);
  }

  // ======================================================================================
  // Output
  // ======================================================================================

  /** Every registered identifier with its current profile (for recompute and tests). */
  assignments(): IdentifierAssignment[] {
    const out: IdentifierAssignment[] = [];
    for (let id = 0; id < this.keys.length; id++) {
      if (!this.isRegistered(id)) continue;
      out.push(this.assignment(id));
    }
    return out;
  }

  private assignment(id: number): IdentifierAssignment {
    const key = this.keys[id] as string;
    const at = key.indexOf(':');
    return {
      key,
      type: key.slice(0, at),
      value: key.slice(at + 1),
      profileId: this.profileIdOfAnchor(this.anchor[this.uf.find(id)] as number),
      firstSeen: this.firstSeen[id] as number,
    };
  }

  /** The changes of this run: new identifiers, identifiers whose profile changed, edges, … */
  diff(): ResolutionDiff {
    const identifiers: IdentifierAssignment[] = [];
    for (let id = 0; id < this.keys.length; id++) {
      if (!this.isRegistered(id)) continue;
      const pid = this.profileIdOfAnchor(this.anchor[this.uf.find(id)] as number);
      if (this.initialProfile.get(id) === pid) continue;
      identifiers.push(this.assignment(id));
    }
    const edges: EdgeDelta[] = [];
    for (let e = 0; e < this.edgeCount; e++) {
      edges.push({
        a: this.keys[this.edgeA[e] as number] as string,
        b: this.keys[this.edgeB[e] as number] as string,
        source: this.sources[this.edgeSrc[e] as number] as string,
        firstSeen: this.edgeFirst[e] as number,
        firstRecordId: this.edgeFirstRecord[e] as string,
        lastSeen: this.edgeLast[e] as number,
        count: this.edgeHits[e] as number,
      });
    }
    return {
      identifiers,
      edges,
      redirects: [...this.redirects.values()],
      merges: this.merges.slice(),
      rejectedLinks: [...this.rejectedLinks.values()],
      rejectedIdentifiers: [...this.rejectedIdentifiers.values()],
      removed: { identifiers: [], edges: [], redirects: [] },
      checkpoint: this.checkpoint,
      stats: { ...this.stats },
    };
  }
}
