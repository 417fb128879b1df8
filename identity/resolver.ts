/**
 * The entry points of deterministic identity resolution:
 *
 * - `resolveBatch(records, state, config)`: incremental. Sorts the batch by (timestamp, recordId),
 *   skips what the checkpoint already covers, asks `state.load` for the components of the batch's
 *   identifiers (and of their link-override partners), resolves in memory and returns the diff.
 * - `rebuild(records, config, overrides)`: everything from scratch, streaming records that are
 *   already in order (no loader, no sort); its diff is the whole graph.
 *
 * Both run the same `ResolverEngine`, so for any in-order stream split into batches, applying each
 * batch's diff to the store gives exactly the graph of one rebuild — profile ids included.
 *
 * Neither does I/O: the loader is supplied by the caller (a Postgres repository in production,
 * `memoryResolverState` in tests). A typical incremental job:
 *
 * ```ts
 * const diff = await resolveBatch(records, { checkpoint, load: (keys) => repo.loadComponents(tx, keys) }, config);
 * await repo.writeDiff(tx, diff); // identifiers, edges, redirects, merges, rejections, checkpoint
 * ```
 */
import type { ResolvedIdentityConfig } from './identity-config.ts';
import type { IdentityRecord } from './extract.ts';
import type { IdentityOverrides } from './overrides.ts';
import { prepareRecord, type PreparedRecord } from './prepare-record.ts';
import { compareRecordOrder, type Checkpoint, type ResolutionDiff } from './resolution-diff.ts';
import { ResolverEngine, type StoredIdentifier } from './resolver-engine.ts';

/** What a loader returns for a set of identifier keys. */
export interface LoadedState {
  /**
   * Every member (with its stored profile id and first seen) of every profile that contains one of
   * the requested keys. Whole profiles, never parts: limits are checked on them.
   */
  identifiers: StoredIdentifier[];
  /**
   * Overrides that mention a requested key or a returned member (links, unlinks), and the
   * requested keys that are tombstoned.
   */
  overrides?: Partial<IdentityOverrides>;
}

/** Loads the current components of some identifiers (keys `type:value`). May be async. */
export type StateLoader = (keys: readonly string[]) => LoadedState | Promise<LoadedState>;

/** What a resolution run starts from. */
export interface ResolverState {
  /** Records at or before it were applied already and are skipped. */
  checkpoint: Checkpoint | null;
  /** Absent: the store is empty (a rebuild). */
  load?: StateLoader;
  /** Overrides known up front (all of them in a rebuild); merged with what `load` returns. */
  overrides?: Partial<IdentityOverrides>;
}

function fullOverrides(o: Partial<IdentityOverrides> | undefined): IdentityOverrides {
  return { links: o?.links ?? [], unlinks: o?.unlinks ?? [], tombstones: o?.tombstones ?? [] };
}

/** Resolves one batch of records against the loaded state; returns what changed. */
export async function resolveBatch(records: readonly IdentityRecord[], state: ResolverState, config: ResolvedIdentityConfig): Promise<ResolutionDiff> {
  const engine = new ResolverEngine(config, state.checkpoint, { capacity: Math.min(1 << 20, records.length * 3 + 1024) });
  if (state.overrides) engine.addOverrides(fullOverrides(state.overrides));

  const sorted = records.slice().sort((a, b) => compareRecordOrder({ timestamp: a.timestamp, recordId: a.recordId }, { timestamp: b.timestamp, recordId: b.recordId }));
  const prepared: (PreparedRecord | null)[] = [];
  const keys = new Set<string>();
  for (const record of sorted) {
    if (engine.isBeforeCheckpoint(record.timestamp, record.recordId)) {
      prepared.push(null);
      continue;
    }
    const p = prepareRecord(record, config);
    prepared.push(p);
    for (const ident of p.identifiers) keys.add(ident.key);
  }

  if (state.load && keys.size > 0) {
    const requested = new Set<string>();
    let round = [...keys];
    while (round.length > 0) {
      for (const k of round) requested.add(k);
      const loaded = await state.load(round);
      engine.addOverrides(fullOverrides(loaded.overrides));
      engine.loadComponents(loaded.identifiers);
      // Link partners of what we have must be loaded too: a forced merge may pull them in.
      round = [...new Set(engine.linkPartnerKeys(requested))].filter((k) => !requested.has(k));
    }
  }

  for (let i = 0; i < sorted.length; i++) {
    const p = prepared[i];
    const record = sorted[i] as IdentityRecord;
    if (!p) {
      engine.stats.skipped++;
      continue;
    }
    if (!engine.apply(record.recordId, record.source, record.timestamp, p.identifiers)) continue;
    for (const r of p.rejected) engine.rejectIdentifier(r.type, r.raw, r.reason, record.recordId, record.timestamp);
  }
  return engine.diff();
}

/** Thrown by `rebuild` when a record comes before the previous one. */
export class OutOfOrderError extends Error {
  readonly code = 'records_out_of_order';
  constructor(record: Checkpoint, previous: Checkpoint) {
    super(
      `record ${record.recordId} at ${record.timestamp} comes before ${previous.recordId} at ${previous.timestamp}; ` +
        'a rebuild needs records in (timestamp, recordId) order',
    );
    this.name = 'OutOfOrderError';
  }
}

export interface RebuildOptions {
  overrides?: Partial<IdentityOverrides>;
  /** Initial capacity in identifiers (arrays grow anyway). */
  capacity?: number;
}

/**
 * Resolves all records from an empty store. Records must come in (timestamp, recordId) order
 * (ClickHouse `ORDER BY timestamp, message_id`); an exact repeat of the previous record is skipped,
 * anything earlier throws `OutOfOrderError`. Accepts any iterable, so rows can stream through.
 */
export function rebuild(records: Iterable<IdentityRecord>, config: ResolvedIdentityConfig, options: RebuildOptions = {}): ResolutionDiff {
  const engine = new ResolverEngine(config, null, { capacity: options.capacity ?? 1 << 16 });
  if (options.overrides) engine.addOverrides(fullOverrides(options.overrides));
  let previous: Checkpoint | null = null;
  for (const record of records) {
    if (previous && (record.timestamp < previous.timestamp || (record.timestamp === previous.timestamp && record.recordId < previous.recordId))) {
      throw new OutOfOrderError(record, previous);
    }
    previous = record;
    engine.applyRecord(record);
  }
  return engine.diff();
}
