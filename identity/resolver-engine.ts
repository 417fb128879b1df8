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
 * 3. On refusal, the least important priority level present is dropped and the rest is tried
 *    again — as Segment does. When only one level is left and it still breaks a rule, only the
 *    first identifier is kept. One identifier always lands: on its profile, or on a new one.
 *    Then (`readmitDropped`, default on) each dropped identifier is offered back in (priority, key)
 *    order and kept if adding it breaks no rule, so an innocent new anonymous id is not lost
 *    because an email of the same record belonged to someone else. Every identifier finally left
 *    out gets a `RejectedLink` (record's first identifier, dropped identifier, rule). With
 *    `readmitDropped: false` the rejected links are those of each dropped level (Segment exactly).
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
 * are reused. Identifiers are interned per type by value (no `type:value` string is built per
 * record; keys are made once, for the output), raw values are memoised per type (the normalised
 * id, or the rejection reason), and edges live in an open-addressing table over typed arrays.
 * `applyRecord` takes raw records (the rebuild path); `apply` takes prepared ones (incremental).
 *
 * Folded repeats: a record with `repeats` stands for itself and `count` later records with the same
 * source and identifiers (a rebuild reads them grouped: a visitor's page views all carry the same
 * anonymous id). Such a repeat changes no profile, so it is applied as the counts it would add:
 * - If the first record linked all its identifiers, they share a profile for good (profiles only
 *   merge in a rebuild), and each repeat takes the fast path: its star edges are counted again.
 * - If it refused some, each repeat refuses the same pairs and keeps the same ones, as long as no
 *   profile holds more than a limit allows (no link overrides) and dropped identifiers are offered
 *   back (`readmitDropped`): profiles only grow, so a merge that broke a limit or an unlink still
 *   breaks it, and what was kept is on one profile already. `foldsRefusals` says whether that holds.
 * So a folded stream gives the same diff as the records one by one (property-tested).
 */
import { ruleForType, type ResolvedIdentityConfig } from './identity-config.ts';
import { parseIdentifierKey, type Identifier } from './identifier.ts';
import type { IdentityRecord, RecordRepeats } from './extract.ts';
import { normaliseIdentifier } from './normalise.ts';
import type { IdentityOverrides } from './overrides.ts';
import { profileIdFor } from './profile-id.ts';
import { UnionFind } from './union-find.ts';
import { MISSING, StringTable } from './string-table.ts';
import type { GraphColumns } from './graph-columns.ts';
import {
  compareRecordOrder,
  type Checkpoint,
  type EdgeDelta,
  type IdentifierAssignment,
  type MergeEntry,
  type Redirect,
  type RejectedIdentifierEntry,
  type RejectedLink,
  type ResolutionDiff,
  type ResolutionStats,
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

const MAX_IDS = 0x7fffffff;
const REASONS: readonly RejectionReason[] = ['unknown_type', 'not_a_string', 'empty', 'too_long', 'invalid_email', 'invalid_phone', 'blocklisted'];
const REASON_CODE = new Map(REASONS.map((r, i) => [r, i] as const));
/** Raw spellings longer than this are normalised every time instead of memoised. */
const RAW_MEMO_MAX = 1024;

export class ResolverEngine {
  private readonly config: ResolvedIdentityConfig;
  private readonly emitEdges: boolean;

  // ---- identifiers (indexed by id) ----
  /**
   * (type index, string) → payload: for normalised values the id; for raw values the id they
   * normalise to (memoised) or -1 - reason code when rejected. Normalisers are idempotent, so the
   * two kinds of entries can share one namespace per type.
   */
  private readonly table: StringTable;
  /** Per id: the table handle and length of its normalised value. */
  private valueHandle: Int32Array;
  private valueLength: Int32Array;
  private idCount = 0;
  /** Keys made on demand (output, rules, overrides). */
  private readonly keyCache: (string | undefined)[] = [];
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
  private readonly typeNames: string[] = [];
  /** `name:`; comparing these orders keys of different types. */
  private readonly typePrefix: string[] = [];
  /** Whether the config accepts the type (else its values are rejected as unknown_type). */
  private readonly typeAccepted: boolean[] = [];
  private readonly typePriority: number[] = [];
  private readonly typeSlot: number[] = [];
  private readonly slotLimit: number[] = [];
  private readonly slotRule: string[] = [];
  private readonly slotPriority: number[] = [];
  private slotNew: Int32Array;

  // ---- overrides ----
  private readonly tombstones = new Set<number>();
  private readonly linkPartners = new Map<number, number[]>();
  private readonly unlinkPartners = new Map<number, number[]>();
  /** At roots: members that have unlink partners. */
  private readonly rootUnlinkMembers = new Map<number, number[]>();

  // ---- edges ----
  /** Open addressing: slot → edge index, -1 when empty; size a power of two, at most half full. */
  private edgeTable = new Int32Array(2048).fill(-1);
  private readonly sourceIndex = new Map<string, number>();
  private readonly sources: string[] = [];
  private edgeCount = 0;
  /** Per edge e: [a, b, source, count] at e * 4 (one cache line per probe). */
  private edgeInts = new Int32Array(4096);
  /** Per edge e: [first seen, last seen] at e * 2. */
  private edgeTimes = new Float64Array(2048);
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
  private hasCheckpoint: boolean;
  private lastTimestamp: number;
  private lastRecordId: string;

  // ---- per-record scratch ----
  private readonly act: number[] = [];
  private readonly parts: number[] = [];
  private readonly partAnchors: number[] = [];
  private readonly fresh: number[] = [];
  private readonly dropped: number[] = [];
  private readonly seen: number[] = [];
  private readonly readmit: boolean;
  // ---- what the record being applied counted, while its repeats are to be folded ----
  private folding = false;
  private readonly foldedEdges: number[] = [];
  private readonly foldedRefusals: RejectedLink[] = [];
  private readonly foldedRejections: RejectedIdentifierEntry[] = [];
  /** The last record folded into an earlier one, when later than the last applied. */
  private foldedEnd: Checkpoint | null = null;

  constructor(config: ResolvedIdentityConfig, checkpoint: Checkpoint | null = null, options: EngineOptions = {}) {
    this.config = config;
    this.hasCheckpoint = checkpoint !== null;
    this.lastTimestamp = checkpoint?.timestamp ?? 0;
    this.lastRecordId = checkpoint?.recordId ?? '';
    this.emitEdges = options.emitEdges ?? true;
    this.readmit = config.readmitDropped;
    this.capacity = Math.max(1024, options.capacity ?? 1024);
    this.uf = new UnionFind(this.capacity);
    let limited = 0;
    for (const rule of Object.values(config.identifierTypes)) if (rule.limit !== null) limited++;
    this.stride = limited + 2;
    this.table = new StringTable(this.capacity);
    this.valueHandle = new Int32Array(this.capacity);
    this.valueLength = new Int32Array(this.capacity);
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
    for (const key of overrides.tombstones) this.tombstones.add(this.internKey(key));
    const add = (map: Map<number, number[]>, a: number, b: number) => {
      const list = map.get(a);
      if (!list) map.set(a, [b]);
      else if (!list.includes(b)) {
        list.push(b);
        // Deterministic order whatever order the store returned the overrides in.
        list.sort((x, y) => this.identifierOrder(x, y));
      }
    };
    for (const { a, b } of overrides.unlinks) {
      const ia = this.internKey(a);
      const ib = this.internKey(b);
      add(this.unlinkPartners, ia, ib);
      add(this.unlinkPartners, ib, ia);
      for (const id of [ia, ib]) if (this.isRegistered(id)) this.noteUnlinkMember(id);
    }
    for (const { a, b } of overrides.links) {
      const ia = this.internKey(a);
      const ib = this.internKey(b);
      add(this.linkPartners, ia, ib);
      add(this.linkPartners, ib, ia);
    }
  }

  /** The id of a key if interned. */
  private lookupKey(key: string): number | undefined {
    const { type, value } = parseIdentifierKey(key);
    const t = this.typeIndex.get(type);
    if (t === undefined) return undefined;
    const id = this.table.get(t, value);
    return id >= 0 ? id : undefined;
  }

  /** Whether a key is registered (loaded or resolved in this run). */
  has(key: string): boolean {
    const id = this.lookupKey(key);
    return id !== undefined && this.isRegistered(id);
  }

  /** Keys of link partners of `keys` (for the loader's second round). */
  linkPartnerKeys(keys: Iterable<string>): string[] {
    const out: string[] = [];
    for (const key of keys) {
      const id = this.lookupKey(key);
      if (id === undefined) continue;
      for (const p of this.linkPartners.get(id) ?? []) out.push(this.key(p));
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
      const id = this.internKey(s.key);
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
    return this.hasCheckpoint && (timestamp < this.lastTimestamp || (timestamp === this.lastTimestamp && recordId <= this.lastRecordId));
  }

  private advance(timestamp: number, recordId: string): boolean {
    if (this.isBeforeCheckpoint(timestamp, recordId)) {
      this.stats.skipped++;
      return false;
    }
    this.hasCheckpoint = true;
    this.lastTimestamp = timestamp;
    this.lastRecordId = recordId;
    this.stats.records++;
    return true;
  }

  /**
   * Applies one record (identifiers prepared: normalised, deduplicated). Records must come in
   * (timestamp, recordId) order; those at or before the checkpoint are counted as skipped.
   * Returns false when skipped.
   */
  apply(recordId: string, source: string, timestamp: number, identifiers: readonly Identifier[]): boolean {
    if (!this.advance(timestamp, recordId)) return false;
    this.process(recordId, source, timestamp, identifiers);
    return true;
  }

  /**
   * Applies one raw record: normalises its identifiers (memoised per type and raw value), records
   * rejections, then resolves — the same outcome as `prepareRecord` + `apply`, without the objects.
   */
  applyRecord(record: IdentityRecord): boolean {
    const { recordId, timestamp, repeats } = record;
    if (!this.advance(timestamp, recordId)) return false;
    if (repeats && repeats.count > 0) {
      this.folding = true;
      const empty = this.stats.empty;
      try {
        this.applyRaw(record);
      } finally {
        this.folding = false;
      }
      this.foldRepeats(repeats, this.stats.empty - empty);
    } else {
      this.applyRaw(record);
    }
    return true;
  }

  /**
   * Whether the repeats of a record that refused a link can be folded (see the file comment):
   * dropped identifiers are offered back, and no link override can push a profile over a limit.
   */
  get foldsRefusals(): boolean {
    return this.readmit && this.linkPartners.size === 0;
  }

  /** Adds what the record just applied counted, once per repeat. */
  private foldRepeats(repeats: RecordRepeats, empty: number): void {
    const n = repeats.count;
    const last = repeats.last.timestamp;
    const refusals = this.foldedRefusals;
    if (refusals.length > 0 && !this.foldsRefusals) {
      throw new Error(`the repeats of record ${this.lastRecordId} cannot be folded: it refused a link, and profiles may break limits (link overrides) or dropped identifiers are not offered back`);
    }
    for (const e of this.foldedEdges) {
      this.edgeInts[e * 4 + 3] = (this.edgeInts[e * 4 + 3] as number) + n;
      this.edgeTimes[e * 2 + 1] = Math.max(this.edgeTimes[e * 2 + 1] as number, last);
    }
    for (const aggregate of [refusals, this.foldedRejections]) {
      for (const r of aggregate) {
        r.count += n;
        r.lastSeen = Math.max(r.lastSeen, last);
      }
    }
    this.stats.records += n;
    this.stats.empty += n * empty;
    this.stats.rejectedLinks += n * refusals.length;
    if (!this.foldedEnd || compareRecordOrder(repeats.last, this.foldedEnd) > 0) this.foldedEnd = repeats.last;
    this.foldedEdges.length = 0;
    refusals.length = 0;
    this.foldedRejections.length = 0;
  }

  private applyRaw(record: IdentityRecord): void {
    const { recordId, timestamp } = record;
    const act = this.act;
    const seen = this.seen;
    act.length = 0;
    seen.length = 0;
    const raws = record.identifiers;
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i]!;
      const t = this.typeId(raw.type);
      if (!this.typeAccepted[t]) {
        this.rejectIdentifier(raw.type, raw.value, 'unknown_type', recordId, timestamp);
        continue;
      }
      let value = raw.value;
      if (typeof value !== 'string') {
        if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') value = String(value);
        else {
          this.rejectIdentifier(raw.type, raw.value, 'not_a_string', recordId, timestamp);
          continue;
        }
      }
      let id = this.table.get(t, value as string);
      if (id === MISSING) id = this.normaliseRaw(t, value as string);
      if (id < 0) {
        this.rejectIdentifier(raw.type, raw.value, REASONS[-1 - id] as RejectionReason, recordId, timestamp);
        continue;
      }
      if (seen.includes(id)) continue;
      seen.push(id);
      if (this.tombstones.size > 0 && this.tombstones.has(id)) {
        this.rejectIdentifier(raw.type, this.value(id), 'tombstoned', recordId, timestamp);
        continue;
      }
      act.push(id);
    }
    this.resolveAct(recordId, record.source, timestamp);
  }

  /** Normalises a raw value of type t, memoises and returns its id (or -1 - reason). */
  private normaliseRaw(t: number, raw: string): number {
    const result = normaliseIdentifier(this.typeNames[t] as string, raw, this.config);
    const id = result.ok ? this.internValue(t, result.value) : -1 - (REASON_CODE.get(result.reason) as number);
    // Memoise the raw spelling too (not huge junk values: they would only fill the arena).
    if (raw.length <= RAW_MEMO_MAX && (!result.ok || result.value !== raw)) this.table.set(t, raw, id);
    return id;
  }

  /** Records a value normalisation refused (aggregated per type, raw, reason). */
  rejectIdentifier(type: string, raw: unknown, reason: RejectionReason | 'tombstoned', recordId: string, timestamp: number): void {
    const text = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw));
    const k = `${type}\u0001${text}\u0001${reason}`;
    let e = this.rejectedIdentifiers.get(k);
    if (e) {
      e.count++;
      e.lastSeen = Math.max(e.lastSeen, timestamp);
    } else {
      e = { type, raw: text, reason, recordId, timestamp, lastSeen: timestamp, count: 1 };
      this.rejectedIdentifiers.set(k, e);
    }
    if (this.folding) this.foldedRejections.push(e);
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
      const id = this.internValue(this.typeId(ident.type), ident.value);
      if (act.includes(id)) continue;
      if (this.tombstones.size > 0 && this.tombstones.has(id)) {
        this.rejectIdentifier(ident.type, ident.value, 'tombstoned', recordId, timestamp);
        continue;
      }
      act.push(id);
    }
    this.resolveAct(recordId, source, timestamp);
  }

  /** Resolves the record's identifiers in `act` (deduplicated, any order). */
  private resolveAct(recordId: string, source: string, timestamp: number): void {
    const act = this.act;
    if (act.length === 0) {
      this.stats.empty++;
      return;
    }
    // Insertion sort by (priority, key): records hold a handful of identifiers.
    for (let i = 1; i < act.length; i++) {
      const x = act[i] as number;
      let j = i - 1;
      while (j >= 0 && this.identifierOrder(act[j] as number, x) > 0) {
        act[j + 1] = act[j] as number;
        j--;
      }
      act[j + 1] = x;
    }
    // Fast path, most records: everything already on one profile. Only edges to count.
    const uf = this.uf;
    const first = act[0] as number;
    if (this.isRegistered(first)) {
      const r0 = uf.find(first);
      let same = true;
      for (let i = 1; i < act.length; i++) {
        const id = act[i] as number;
        if (!this.isRegistered(id) || uf.find(id) !== r0) {
          same = false;
          break;
        }
      }
      if (same) {
        if (this.emitEdges && act.length > 1) {
          const src = this.sourceId(source);
          for (let i = 1; i < act.length; i++) this.countEdge(first, act[i] as number, src, recordId, timestamp);
        }
        return;
      }
    }
    let m = act.length;
    const dropped = this.dropped;
    dropped.length = 0;
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
      if (this.readmit) {
        // Most important first, as they will be offered back.
        for (let i = keep; i < m; i++) dropped.push(act[i] as number);
      } else {
        const a = act[0] as number;
        const ra = this.isRegistered(a) ? this.uf.find(a) : -1;
        for (let i = keep; i < m; i++) {
          const b = act[i] as number;
          // Already on the kept identifier's profile: nothing was refused.
          if (ra >= 0 && this.isRegistered(b) && this.uf.find(b) === ra) continue;
          this.rejectLink(a, b, rule, source, recordId, timestamp);
        }
      }
      m = keep;
    }
    if (dropped.length > 0) {
      // Offer each dropped identifier back, in (priority, key) order; only those whose own
      // profile breaks a rule stay out.
      dropped.sort((x, y) => this.identifierOrder(x, y));
      for (const d of dropped) {
        act[m] = d;
        const rule = this.check(m + 1);
        if (rule === null) m++;
        else this.rejectLink(act[0] as number, d, rule, source, recordId, timestamp);
      }
    }
    this.commit(m, recordId, source, timestamp);
  }

  /** Identifier order inside a record: priority, then key (type prefix, then value). */
  private identifierOrder(x: number, y: number): number {
    const tx = this.typeOf[x] as number;
    const ty = this.typeOf[y] as number;
    if (tx !== ty) {
      const px = this.typePriority[tx] as number;
      const py = this.typePriority[ty] as number;
      if (px !== py) return px - py;
      return (this.typePrefix[tx] as string) < (this.typePrefix[ty] as string) ? -1 : 1;
    }
    if (x === y) return 0;
    return this.table.compare(this.valueHandle[x] as number, this.valueLength[x] as number, this.valueHandle[y] as number, this.valueLength[y] as number);
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
    // Slots are numbered in the order types were met, which differs between runs; when several
    // limits break, report the most important type so the rule text is the same in every run.
    let broken = -1;
    for (let s = 0; s < this.slotLimit.length; s++) {
      const added = slotNew[s] as number;
      let total = added;
      let max = added > 0 ? 1 : 0;
      for (let j = 0; j < parts.length; j++) {
        const c = counts[(parts[j] as number) * stride + s] as number;
        total += c;
        if (c > max) max = c;
      }
      if (total > (this.slotLimit[s] as number) && total > max && (broken < 0 || this.slotOrder(s, broken) < 0)) broken = s;
    }
    if (broken >= 0) return this.slotRule[broken] as string;
    if (this.unlinkPartners.size > 0) return this.unlinkViolation(m);
    return null;
  }

  private slotOrder(s: number, t: number): number {
    const ps = this.slotPriority[s] as number;
    const pt = this.slotPriority[t] as number;
    if (ps !== pt) return ps - pt;
    return (this.slotRule[s] as string) < (this.slotRule[t] as string) ? -1 : 1;
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
    // All broken pairs are looked at and the smallest rule reported, so the text does not depend
    // on the order members were loaded in.
    let found: string | null = null;
    const test = (x: number, partOf: number): void => {
      for (const p of this.unlinkPartners.get(x) ?? []) {
        if (!inMerge(p)) continue;
        if (partOf >= 0 && this.isRegistered(p) && this.uf.find(p) === partOf) continue; // already together (forced)
        const rule = this.unlinkRule(x, p);
        if (found === null || rule < found) found = rule;
      }
    };
    for (const r of parts) {
      for (const x of this.rootUnlinkMembers.get(r) ?? []) test(x, r);
    }
    for (let i = 0; i < m; i++) {
      const x = act[i] as number;
      if (!this.isRegistered(x) && this.unlinkPartners.has(x)) test(x, -1);
    }
    return found;
  }

  private unlinkRule(x: number, y: number): string {
    const a = this.key(x);
    const b = this.key(y);
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
      // Forced merges happen once, when an identifier first lands: not part of what repeats count.
      const folding = this.folding;
      this.folding = false;
      for (const id of fresh) this.applyLinks(id, recordId, timestamp);
      this.folding = folding;
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
    return this.identifierOrder(x, y) < 0 ? [x, y] : [y, x];
  }

  // ======================================================================================
  // Internals
  // ======================================================================================

  private isRegistered(id: number): boolean {
    return !Number.isNaN(this.firstSeen[id] as number);
  }

  /** The key (`type:value`) of an id, made once. */
  private key(id: number): string {
    let key = this.keyCache[id];
    if (key === undefined) {
      key = (this.typePrefix[this.typeOf[id] as number] as string) + this.value(id);
      this.keyCache[id] = key;
    }
    return key;
  }

  /** The normalised value of an id. */
  private value(id: number): string {
    const key = this.keyCache[id];
    if (key !== undefined) return key.slice((this.typePrefix[this.typeOf[id] as number] as string).length);
    return this.table.text(this.valueHandle[id] as number, this.valueLength[id] as number);
  }

  private internKey(key: string): number {
    const { type, value } = parseIdentifierKey(key);
    return this.internValue(this.typeId(type), value);
  }

  /** The id of a normalised value of type t, interning it when new (not registered yet). */
  private internValue(t: number, value: string): number {
    const found = this.table.get(t, value);
    if (found >= 0) return found;
    const id = this.uf.add();
    if (id >= MAX_IDS) throw new RangeError(`more than ${MAX_IDS} identifiers in one resolution run`);
    if (id >= this.capacity) this.grow();
    const handle = this.table.set(t, value, id);
    if (handle === -1) throw new RangeError(`identifier value too long (${value.length})`);
    this.valueHandle[id] = handle;
    this.valueLength[id] = value.length;
    this.idCount = id + 1;
    this.keyCache.push(undefined); // stays dense (index = id)
    this.typeOf[id] = t;
    this.firstSeen[id] = NaN;
    return id;
  }

  private typeId(type: string): number {
    let t = this.typeIndex.get(type);
    if (t !== undefined) return t;
    t = this.typePriority.length;
    this.typeIndex.set(type, t);
    const configured = ruleForType(this.config, type);
    const rule = configured ?? this.config.externalIdTypes.rule;
    this.typeNames.push(type);
    this.typePrefix.push(`${type}:`);
    this.typeAccepted.push(configured !== undefined);
    this.typePriority.push(rule.priority);
    if (rule.limit === null) {
      this.typeSlot.push(-1);
    } else {
      const slot = this.slotLimit.length;
      if (slot >= this.stride) this.restride(this.stride * 2);
      this.typeSlot.push(slot);
      this.slotLimit.push(rule.limit);
      this.slotPriority.push(rule.priority);
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
    return this.identifierOrder(x, y) < 0;
  }

  private profileIdOfAnchor(anchor: number): string {
    let pid = this.profileIds.get(anchor);
    if (pid === undefined) {
      pid = profileIdFor(this.key(anchor));
      this.profileIds.set(anchor, pid);
    }
    return pid;
  }

  /** The current profile id of a registered identifier. */
  profileIdOf(key: string): string | undefined {
    const id = this.lookupKey(key);
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
    const ka = this.key(a);
    const kb = this.key(b);
    // Per pair: it keeps the rule that first refused it (see RejectedLink).
    const k = `${ka}\u0001${kb}`;
    this.stats.rejectedLinks++;
    let e = this.rejectedLinks.get(k);
    if (e) {
      e.count++;
      e.lastSeen = Math.max(e.lastSeen, timestamp);
    } else {
      e = { a: ka, b: kb, rule, source, recordId, timestamp, lastSeen: timestamp, count: 1 };
      this.rejectedLinks.set(k, e);
    }
    if (this.folding) this.foldedRefusals.push(e);
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
    const table = this.edgeTable;
    const ints = this.edgeInts;
    const mask = table.length - 1;
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(src, 0xc2b2ae3d)) & mask;
    for (;;) {
      const e = table[slot] as number;
      if (e < 0) break;
      const o = e * 4;
      if (ints[o] === a && ints[o + 1] === b && ints[o + 2] === src) {
        ints[o + 3] = (ints[o + 3] as number) + 1;
        if (timestamp > (this.edgeTimes[e * 2 + 1] as number)) this.edgeTimes[e * 2 + 1] = timestamp;
        if (this.folding) this.foldedEdges.push(e);
        return;
      }
      slot = (slot + 1) & mask;
    }
    if (this.edgeCount * 4 === this.edgeInts.length) this.growEdges();
    const e = this.edgeCount++;
    const o = e * 4;
    this.edgeInts[o] = a;
    this.edgeInts[o + 1] = b;
    this.edgeInts[o + 2] = src;
    this.edgeInts[o + 3] = 1;
    this.edgeTimes[e * 2] = timestamp;
    this.edgeTimes[e * 2 + 1] = timestamp;
    this.edgeFirstRecord[e] = recordId;
    table[slot] = e;
    if (this.folding) this.foldedEdges.push(e);
    if (this.edgeCount * 2 > table.length) this.rehashEdges();
  }

  private rehashEdges(size = this.edgeTable.length * 2): void {
    const table = new Int32Array(size).fill(-1);
    const mask = table.length - 1;
    const ints = this.edgeInts;
    for (let e = 0; e < this.edgeCount; e++) {
      const o = e * 4;
      let slot = (Math.imul(ints[o] as number, 0x9e3779b1) ^ Math.imul(ints[o + 1] as number, 0x85ebca77) ^ Math.imul(ints[o + 2] as number, 0xc2b2ae3d)) & mask;
      while ((table[slot] as number) >= 0) slot = (slot + 1) & mask;
      table[slot] = e;
    }
    this.edgeTable = table;
  }

  /**
   * Makes room for about `identifiers` identifiers and as many edges, so that a rebuild that knows
   * its size allocates its tables once instead of doubling and rehashing them on the way (at a
   * million people that rehashing cost a fifth of the resolve). More still fit: arrays grow.
   */
  reserve(identifiers: number): void {
    if (identifiers > this.capacity) this.grow(identifiers);
    this.uf.reserve(identifiers);
    this.table.reserve(identifiers);
    if (identifiers * 4 > this.edgeInts.length) {
      this.growEdges(identifiers * 4);
      let size = this.edgeTable.length;
      while (size < identifiers * 2) size *= 2;
      if (size > this.edgeTable.length) this.rehashEdges(size);
    }
  }

  private grow(capacity = this.capacity * 2): void {
    const handles = new Int32Array(capacity);
    handles.set(this.valueHandle);
    this.valueHandle = handles;
    const lengths = new Int32Array(capacity);
    lengths.set(this.valueLength);
    this.valueLength = lengths;
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
    for (let i = 0; i < this.idCount; i++) {
      for (let s = 0; s < this.stride; s++) counts[i * stride + s] = this.counts[i * this.stride + s] as number;
    }
    this.counts = counts;
    this.stride = stride;
    this.slotNew = new Int32Array(stride);
  }

  private growEdges(ints4 = this.edgeInts.length * 2): void {
    const ints = new Int32Array(ints4);
    ints.set(this.edgeInts);
    const times = new Float64Array(ints4 / 2);
    times.set(this.edgeTimes);
    this.edgeInts = ints;
    this.edgeTimes = times;
  }

  // ======================================================================================
  // Output
  // ======================================================================================

  /** Every registered identifier with its current profile (for recompute and tests). */
  assignments(): IdentifierAssignment[] {
    const out: IdentifierAssignment[] = [];
    for (let id = 0; id < this.idCount; id++) {
      if (!this.isRegistered(id)) continue;
      out.push(this.assignment(id, this.profileIdOfAnchor(this.anchor[this.uf.find(id)] as number)));
    }
    return out;
  }

  private assignment(id: number, profileId: string): IdentifierAssignment {
    const t = this.typeOf[id] as number;
    return { key: this.key(id), type: this.typeNames[t] as string, value: this.value(id), profileId, firstSeen: this.firstSeen[id] as number };
  }

  /**
   * `diff()`'s identifiers and edges as columns over the engine's arrays (graph-columns.ts): the
   * same rows in the same order, without an object or a key string per row. Valid until the next
   * record is applied.
   */
  graphColumns(): GraphColumns {
    const ids = new Int32Array(this.idCount);
    const profile = new Int32Array(this.idCount);
    const profiles: string[] = [];
    const profileOfAnchor = new Map<number, number>();
    let count = 0;
    for (let id = 0; id < this.idCount; id++) {
      if (!this.isRegistered(id)) continue;
      const anchor = this.anchor[this.uf.find(id)] as number;
      let p = profileOfAnchor.get(anchor);
      if (p === undefined) {
        p = profiles.push(this.profileIdOfAnchor(anchor)) - 1;
        profileOfAnchor.set(anchor, p);
      }
      if (this.initialProfile.get(id) === profiles[p]) continue;
      ids[count] = id;
      profile[count++] = p;
    }
    return {
      arena: this.table.arena,
      types: this.typeNames,
      profiles,
      sources: this.sources,
      keys: { type: this.typeOf, valueHandle: this.valueHandle, valueLength: this.valueLength, firstSeen: this.firstSeen },
      identifiers: { count, id: ids.subarray(0, count), profile: profile.subarray(0, count) },
      edges: { count: this.edgeCount, ints: this.edgeInts, times: this.edgeTimes, firstRecordId: this.edgeFirstRecord },
    };
  }

  /** The last record applied or folded, null when none was. */
  private checkpoint(): Checkpoint | null {
    if (!this.hasCheckpoint) return null;
    const last = { timestamp: this.lastTimestamp, recordId: this.lastRecordId };
    return this.foldedEnd && compareRecordOrder(this.foldedEnd, last) > 0 ? { ...this.foldedEnd } : last;
  }

  /**
   * The changes of this run: new identifiers, identifiers whose profile changed, edges, … With
   * `graph: false` the identifiers and edges are left out: `graphColumns()` has them (a rebuild
   * writes them in bulk from there).
   */
  diff(options: { graph?: boolean } = {}): ResolutionDiff {
    const graph = options.graph ?? true;
    const identifiers: IdentifierAssignment[] = [];
    if (graph) {
      const { identifiers: rows, profiles } = this.graphColumns();
      for (let i = 0; i < rows.count; i++) identifiers.push(this.assignment(rows.id[i] as number, profiles[rows.profile[i] as number] as string));
    }
    const edges: EdgeDelta[] = [];
    for (let e = 0; graph && e < this.edgeCount; e++) {
      edges.push({
        a: this.key(this.edgeInts[e * 4] as number),
        b: this.key(this.edgeInts[e * 4 + 1] as number),
        source: this.sources[this.edgeInts[e * 4 + 2] as number] as string,
        firstSeen: this.edgeTimes[e * 2] as number,
        firstRecordId: this.edgeFirstRecord[e] as string,
        lastSeen: this.edgeTimes[e * 2 + 1] as number,
        count: this.edgeInts[e * 4 + 3] as number,
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
      checkpoint: this.checkpoint(),
      stats: { ...this.stats },
    };
  }
}
