/**
 * The output of a resolution run: what changed, in a shape a repository writes in one transaction
 * together with the checkpoint. A rebuild's diff is the whole graph.
 *
 * Write semantics (how a repository applies each part; `applyDiff` in memory-state.ts is the
 * reference implementation):
 *
 * - `identifiers`: upsert by `key` (profile id and first seen are the new values).
 * - `edges`: upsert by `(a, b, source)`; on conflict `count += count`, `lastSeen = max(...)`, keep
 *   the stored `firstSeen` / `firstRecordId` (the stored edge is older).
 * - `redirects`: upsert by `from`; then re-point every stored redirect whose `to` is this `from` to
 *   this `to` (chains stay one hop). Targets inside one diff are already final.
 * - `merges`: append (the merge log).
 * - `rejectedLinks`, `rejectedIdentifiers`: upsert by their key fields; on conflict add `count`,
 *   take the later `lastSeen`, keep the stored first occurrence.
 * - `removed` (only from recompute): delete those identifiers, edges and redirects.
 * - `checkpoint`: store; the next run skips records at or before it.
 */
import type { RejectionReason } from './normalise.ts';

/** (timestamp, recordId) of the last record applied. */
export interface Checkpoint {
  timestamp: number;
  recordId: string;
}

/** An identifier with its (new) profile. */
export interface IdentifierAssignment {
  key: string;
  type: string;
  value: string;
  profileId: string;
  /** Timestamp of the record that first put it on a profile. */
  firstSeen: number;
}

/**
 * Co-occurrence of `a` and `b` in accepted records of `source` (star edges: `a` is the record's
 * most important identifier). In a diff, `count` is the number of records *in this run*.
 */
export interface EdgeDelta {
  a: string;
  b: string;
  source: string;
  firstSeen: number;
  firstRecordId: string;
  lastSeen: number;
  count: number;
}

/** `from` was merged into `to` (the older profile); lookups of `from` should follow. */
export interface Redirect {
  from: string;
  to: string;
  recordId: string;
  timestamp: number;
}

/** One merge as it happened (the log keeps intermediate targets that redirects collapse). */
export interface MergeEntry {
  from: string;
  into: string;
  recordId: string;
  timestamp: number;
  /** `record`: identifiers of one record; `link`: a manual link override. */
  reason: 'record' | 'link';
}

/**
 * A link the rules refused: `a` is the record's most important identifier (kept), `b` an identifier
 * dropped because adding it broke `rule` (`user_id limit 1`, `unlink a b`). Aggregated per pair
 * `(a, b)`: the first refusal (its rule, record and time), the last time, how many records. A
 * later refusal of the same pair can break a more important rule too, once the profiles on either
 * side have grown; the pair keeps the rule that first kept it apart.
 */
export interface RejectedLink {
  a: string;
  b: string;
  rule: string;
  source: string;
  recordId: string;
  timestamp: number;
  lastSeen: number;
  count: number;
}

/** Raw values normalisation refused (or tombstoned), aggregated per `(type, raw, reason)`. */
export interface RejectedIdentifierEntry {
  type: string;
  /** The raw value as text (JSON for non-strings). */
  raw: string;
  reason: RejectionReason | 'tombstoned';
  recordId: string;
  timestamp: number;
  lastSeen: number;
  count: number;
}

export interface ResolutionStats {
  /** Records applied. */
  records: number;
  /** Records at or before the checkpoint (replays, late arrivals) or repeated in the batch. */
  skipped: number;
  /** Records with no valid identifier. */
  empty: number;
  /** Identifiers put on a profile for the first time. */
  newIdentifiers: number;
  merges: number;
  rejectedLinks: number;
}

export interface ResolutionDiff {
  identifiers: IdentifierAssignment[];
  edges: EdgeDelta[];
  redirects: Redirect[];
  merges: MergeEntry[];
  rejectedLinks: RejectedLink[];
  rejectedIdentifiers: RejectedIdentifierEntry[];
  /** Only set by recompute (overrides, deletions). */
  removed: {
    identifiers: string[];
    edges: { a: string; b: string; source: string }[];
    /** Redirect sources that are live profile ids again (a split gave the id back). */
    redirects: string[];
  };
  /** Unchanged when no record was applied. */
  checkpoint: Checkpoint | null;
  stats: ResolutionStats;
}

/** True when applying the diff would change nothing but the counters of nothing. */
export function isEmptyDiff(diff: ResolutionDiff): boolean {
  return (
    diff.identifiers.length === 0 &&
    diff.edges.length === 0 &&
    diff.redirects.length === 0 &&
    diff.merges.length === 0 &&
    diff.rejectedLinks.length === 0 &&
    diff.rejectedIdentifiers.length === 0 &&
    diff.removed.identifiers.length === 0 &&
    diff.removed.edges.length === 0 &&
    diff.removed.redirects.length === 0 &&
    diff.stats.records === 0
  );
}

/** Order of records: timestamp, then recordId (code-unit order; ClickHouse sorts ASCII ids the same). */
export function compareRecordOrder(a: Checkpoint, b: Checkpoint): number {
  return a.timestamp - b.timestamp || (a.recordId < b.recordId ? -1 : a.recordId > b.recordId ? 1 : 0);
}
