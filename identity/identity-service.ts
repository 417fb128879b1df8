/**
 * Identity resolution on the real stores: the incremental run (new events by ingestion order, in
 * one PostgreSQL transaction with its cursor), the rebuild, the ClickHouse copy of the identity
 * map, overrides (link, unlink, delete) and lookups/explanations. Clients are passed in.
 */
import { Readable } from 'node:stream';
import type { TransactionSql } from 'postgres';
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import type { Postgres } from '../src/clients/postgres.ts';
import { NotFoundError, ValidationError } from '../src/common/errors.ts';
import { readCheckpoint, writeCheckpoint } from '../src/jobs/checkpoints.ts';
import { readNewRecords, START_CURSOR, STREAM_NAMES, streamAllRecords, streamOf, type IngestCursor, type StreamName } from './source-records.ts';
import { buildProfileGraph, explainPath, explainProfile, type PathStep, type ProfileExplanation, type ProfileGraph } from './explain.ts';
import { identifierKey, parseIdentifierKey } from './identifier.ts';
import type { ResolvedIdentityConfig } from './identity-config.ts';
import { normaliseIdentifier } from './normalise.ts';
import { overridesTouching, type IdentityOverrides } from './overrides.ts';
import { PostgresIdentityRepository, type OverrideRow } from './postgres-identity-repository.ts';
import type { GraphLoad } from './graph-reload.ts';
import { edgeCopyText, identifierCopyText, identityMapText } from './graph-columns.ts';
import { textBlocks } from './copy-text.ts';
import { recomputeComponents } from './recompute.ts';
import { resolveBatch } from './resolver.ts';
import { ResolverEngine } from './resolver-engine.ts';
import type { ResolutionDiff, ResolutionStats } from './resolution-diff.ts';

export const RESOLVE_JOB = 'identity.resolve';

/** The checkpoint of each record stream's incremental cursor. */
export function resolveCheckpoint(stream: StreamName): string {
  return stream === 'events' ? RESOLVE_JOB : `${RESOLVE_JOB}:${stream}`;
}
export const MAP_SYNC_JOB = 'identity.map_sync';

export interface IdentityServiceOptions {
  /** Records per incremental batch. */
  batchSize?: number;
  /** Records younger than this are left for the next run (inserts in flight commit later). */
  settleMs?: number;
}

export interface RunSummary extends ResolutionStats {
  batches: number;
  /** Records read per stream (events, CDC changes, CRM records). */
  read: Record<StreamName, number>;
  mapRowsCopied: number;
  seconds: number;
  /** Seconds per phase (read, resolve, PostgreSQL writes, ClickHouse map, ...). */
  phases?: Record<string, number>;
  /** What went otherwise than planned without failing the run (e.g. a slower fallback). */
  notes?: string[];
}

export interface IdentityView {
  profileId: string;
  identifiers: ProfileExplanation['identifiers'];
  edges: ProfileExplanation['edges'];
  refusedLinks: ProfileExplanation['refused'];
}

function emptyStats(): ResolutionStats {
  return { records: 0, skipped: 0, empty: 0, newIdentifiers: 0, merges: 0, rejectedLinks: 0 };
}

/**
 * Seconds per phase of a run: `lap(name)` adds the time since the previous lap to `name`; `time`
 * moves the time of one call from the running lap to `name`.
 */
function phaseTimer(start = Date.now()) {
  const phases: Record<string, number> = {};
  let mark = start;
  const add = (name: string, ms: number) => {
    phases[name] = Math.round(((phases[name] ?? 0) + ms / 1000) * 1000) / 1000;
  };
  return {
    phases,
    lap(name: string): void {
      const now = Date.now();
      add(name, now - mark);
      mark = now;
    },
    async time<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
      const t = Date.now();
      try {
        return await fn();
      } finally {
        add(name, Date.now() - t);
        mark += Date.now() - t;
      }
    },
  };
}

function addStats(total: ResolutionStats, s: ResolutionStats): void {
  for (const k of Object.keys(emptyStats()) as (keyof ResolutionStats)[]) total[k] += s[k];
}

export class IdentityService {
  readonly repo: PostgresIdentityRepository;
  private readonly batchSize: number;
  private readonly settleMs: number;

  constructor(
    private readonly pg: Postgres,
    private readonly ch: Clickhouse,
    readonly config: ResolvedIdentityConfig,
    opts: IdentityServiceOptions = {},
  ) {
    this.repo = new PostgresIdentityRepository(pg.sql);
    this.batchSize = opts.batchSize ?? 50_000;
    this.settleMs = opts.settleMs ?? 2_000;
  }

  /**
   * Resolves the records (events, CDC changes, CRM records) ingested since the last run, stream by
   * stream, batch by batch. Each batch's changes and its stream's cursor commit in one transaction
   * under the identity lock, so a crash loses nothing and applies nothing twice, and two runs at
   * once take turns.
   */
  async resolve(onProgress?: (summary: RunSummary) => void): Promise<RunSummary> {
    const started = Date.now();
    const timer = phaseTimer();
    const summary: RunSummary = { ...emptyStats(), batches: 0, read: { events: 0, cdc: 0, crm: 0 }, mapRowsCopied: 0, seconds: 0, phases: timer.phases };
    for (const stream of STREAM_NAMES) {
      for (;;) {
        const more = await this.repo.transaction(async (tx) => {
          const cursor = (await readCheckpoint<IngestCursor>(tx, resolveCheckpoint(stream))) ?? START_CURSOR;
          timer.lap('lock');
          const { records, cursor: next } = await readNewRecords(this.ch, stream, cursor, { limit: this.batchSize, settleMs: this.settleMs });
          timer.lap('read');
          if (records.length === 0) return false;
          // Records are applied in ingestion batches; within a batch in (timestamp, id) order.
          const load = this.repo.loader(tx);
          const diff = await resolveBatch(records, { checkpoint: null, load: (keys) => timer.time('load', () => load(keys)) }, this.config);
          timer.lap('resolve');
          await this.repo.writeDiff(tx, diff);
          await writeCheckpoint(tx, resolveCheckpoint(stream), next);
          timer.lap('write');
          addStats(summary, diff.stats);
          summary.batches++;
          summary.read[stream] += records.length;
          return records.length === this.batchSize;
        });
        timer.lap('commit');
        summary.mapRowsCopied += await this.syncMap();
        timer.lap('map');
        onProgress?.(summary);
        if (!more) break;
      }
    }
    summary.seconds = (Date.now() - started) / 1000;
    return summary;
  }

  /**
   * Resolves every record of every stream from scratch in (timestamp, record id) order and replaces
   * the graph (overrides stay and are honoured). The incremental cursors move to where it stopped.
   */
  async rebuild(onProgress?: (records: number) => void): Promise<RunSummary> {
    const started = Date.now();
    const overrides = await this.repo.overrides();
    const engine = new ResolverEngine(this.config, null, { capacity: 1 << 16 });
    engine.addOverrides(overrides);
    const read = { events: 0, cdc: 0, crm: 0 };
    let reported = 0;
    // A folded record brings ~1.3 identifiers not seen before (shop traffic); the engine sizes its
    // tables for that once instead of doubling them on the way.
    const onSorted = (rows: number) => engine.reserve(Math.ceil(rows * 1.5));
    const { cursors, seconds } = await streamAllRecords(this.ch, { settleMs: this.settleMs, fold: engine.foldsRefusals, onSorted }, (record) => {
      read[streamOf(record.source)] += 1 + (record.repeats?.count ?? 0);
      engine.applyRecord(record);
      if (onProgress && engine.stats.records >= reported + 100_000) onProgress((reported = engine.stats.records));
    });
    const timer = phaseTimer(started);
    timer.lap('resolve');
    // Of which ClickHouse sorting every record, and waiting for pages while nothing was left to resolve.
    timer.phases['resolve: sort'] = seconds.sort;
    timer.phases['resolve: wait for pages'] = Math.round(seconds.wait * 1000) / 1000;
    const phase = (name: string) => timer.lap(name);
    // The identifiers and edges go out as columns of the engine, written straight into COPY text;
    // the rest of the diff (redirects, merges, refusals) as objects.
    const diff = engine.diff({ graph: false });
    const graph = engine.graphColumns();
    const load: GraphLoad = { identifiers: (first) => identifierCopyText(graph, first), edges: () => edgeCopyText(graph), diff };
    phase('diff');
    // The new map goes to ClickHouse straight from memory, into a staging table while PostgreSQL
    // loads (its versions are known once the transaction holds the lock), attached after the commit.
    const staging = this.ch.table(`identity_map_rebuild_${Date.now().toString(36)}`);
    let staged: Promise<void> | undefined;
    const notes: string[] = [];
    try {
      const block = await this.repo.transaction(async (tx) => {
        const versions = await this.repo.allocateVersions(tx, graph.identifiers.count);
        staged = this.stageMapRows(staging, identityMapText(graph, versions.from));
        staged.catch(() => {}); // awaited below
        await this.repo.replaceAll(tx, load, versions.from, phase);
        for (const stream of STREAM_NAMES) await writeCheckpoint(tx, resolveCheckpoint(stream), cursors[stream]);
        return versions;
      }).catch(async (err: unknown) => {
        // Rolled back: staging tables a failed load left are dropped (nothing to drop otherwise).
        await this.repo.dropReplaceLeftovers().catch(() => {});
        throw err;
      });
      phase('commit');
      let mapRowsCopied: number;
      try {
        await staged;
        await this.ch.command(`ALTER TABLE ${this.ch.table('identity_map')} ATTACH PARTITION tuple() FROM ${staging}`);
        // The rest (identifiers the rebuild removed) the usual way.
        mapRowsCopied = graph.identifiers.count + (await this.syncMap({ copied: block }));
      } catch (err) {
        // The graph is committed; the copy catches up from PostgreSQL instead (slower: said so).
        notes.push(`the identity map was copied from PostgreSQL: staging it from memory failed (${err instanceof Error ? err.message : String(err)})`);
        mapRowsCopied = await this.syncMap();
      }
      phase('map');
      return { ...diff.stats, batches: 1, read, mapRowsCopied, seconds: (Date.now() - started) / 1000, phases: timer.phases, ...(notes.length > 0 && { notes }) };
    } finally {
      await staged?.catch(() => {});
      await this.ch.command(`DROP TABLE IF EXISTS ${staging}`);
    }
  }

  /**
   * Writes a rebuild's identity map rows (TabSeparated: id_type, id_value, profile_id, version,
   * deleted) into a new table shaped like the ClickHouse identity map: the whole map without
   * reading it back from PostgreSQL.
   */
  private async stageMapRows(table: string, text: Iterable<Uint8Array>): Promise<void> {
    await this.ch.command(`CREATE TABLE ${table} AS ${this.ch.table('identity_map')}`);
    // Blocks of ~64 MB, each an insert of its own: the embedded engine takes an insert's body as
    // one string, which a 4M-row map would make hundreds of megabytes long.
    for (const block of textBlocks(text, 64 << 20)) {
      await this.ch.client.insert({
        table,
        columns: ['id_type', 'id_value', 'profile_id', 'version', 'deleted'],
        values: Readable.from(block, { objectMode: false }),
        format: 'TabSeparated',
      });
    }
  }

  /**
   * Copies identity map changes (by version) to ClickHouse; resumable from its checkpoint.
   * `copied`: a block of versions already copied (a rebuild's map), skipped, and the checkpoint
   * moves past it once everything before it is copied.
   */
  async syncMap(opts: { copied?: { from: number; to: number } } = {}): Promise<number> {
    let copied = 0;
    for (;;) {
      const from = (await readCheckpoint<{ version: number }>(this.pg.sql, MAP_SYNC_JOB))?.version ?? 0;
      const changes = await this.repo.changesSince(from, 200_000, opts.copied);
      if (changes.length === 0) {
        if (opts.copied && from < opts.copied.to) await writeCheckpoint(this.pg.sql, MAP_SYNC_JOB, { version: opts.copied.to });
        return copied;
      }
      await this.ch.insert(
        'identity_map',
        changes.map((c) => {
          const { type, value } = parseIdentifierKey(c.key);
          return { id_type: type, id_value: value, profile_id: c.profileId, version: c.version, deleted: c.deleted ? 1 : 0 };
        }),
      );
      await writeCheckpoint(this.pg.sql, MAP_SYNC_JOB, { version: changes.at(-1)!.version });
      copied += changes.length;
    }
  }

  /** Normalises a (type, value) pair as resolution does; invalid input is a 400. */
  keyOf(type: string, value: string): string {
    const result = normaliseIdentifier(type, value, this.config);
    if (!result.ok) throw new ValidationError(`${type} '${value}' is not a valid identifier (${result.reason})`, { type, value, reason: result.reason });
    return identifierKey(type, result.value);
  }

  /** Parses `type:value` (CLI and query strings). */
  keyOfRef(ref: string): string {
    let parsed: { type: string; value: string };
    try {
      parsed = parseIdentifierKey(ref);
    } catch {
      throw new ValidationError(`'${ref}' is not an identifier: write it as type:value, e.g. email:alice@example.com`);
    }
    return this.keyOf(parsed.type, parsed.value);
  }

  private async requireProfile(key: string): Promise<string> {
    const profileId = await this.repo.profileOf(key);
    if (!profileId) throw new NotFoundError(`No profile has the identifier ${key}`, { identifier: key });
    return profileId;
  }

  /** A profile's graph: its identifiers and the stored edges between them. */
  private async profileGraph(profileId: string): Promise<{ graph: ProfileGraph; keys: string[] }> {
    const members = await this.repo.members(profileId);
    const keys = members.map((m) => m.key);
    return { graph: buildProfileGraph(members, await this.repo.edgesAmong(keys)), keys };
  }

  /** The profile of an identifier: every identifier, the edges between them, the refused links. */
  async lookup(key: string): Promise<IdentityView> {
    const profileId = await this.requireProfile(key);
    const { graph, keys } = await this.profileGraph(profileId);
    const explanation = explainProfile(graph, await this.repo.rejectedLinksOf(keys));
    return { profileId, identifiers: explanation.identifiers, edges: explanation.edges, refusedLinks: explanation.refused };
  }

  /** The shortest chain of edges linking two identifiers, or why there is none. */
  async explain(from: string, to: string): Promise<{ linked: boolean; profileId?: string; fromProfile: string; toProfile: string; path: PathStep[] }> {
    const [fromProfile, toProfile] = [await this.requireProfile(from), await this.requireProfile(to)];
    if (fromProfile !== toProfile) return { linked: false, fromProfile, toProfile, path: [] };
    const { graph } = await this.profileGraph(fromProfile);
    return { linked: true, profileId: fromProfile, fromProfile, toProfile, path: explainPath(graph, from, to) ?? [] };
  }

  /** Never link a and b again; their profile is recomputed without that link. */
  unlink(a: string, b: string): Promise<ResolutionDiff> {
    return this.applyOverride({ kind: 'unlink', a, b }, [a, b]);
  }

  /** Always link a and b (both must be known); their profiles are merged. */
  async link(a: string, b: string): Promise<ResolutionDiff> {
    await this.requireProfile(a);
    await this.requireProfile(b);
    return this.applyOverride({ kind: 'link', a, b }, [a, b]);
  }

  /**
   * Deletes an identifier from the graph and tombstones it, so that replayed events do not bring
   * it back; its profile is recomputed without it (it may split).
   */
  async deleteIdentifier(key: string): Promise<ResolutionDiff> {
    await this.requireProfile(key);
    return this.applyOverride({ kind: 'tombstone', a: key, b: '' }, [key]);
  }

  private async applyOverride(row: OverrideRow, keys: string[]): Promise<ResolutionDiff> {
    if (row.kind !== 'tombstone' && row.a === row.b) throw new ValidationError('The two identifiers are the same');
    const diff = await this.repo.transaction(async (tx) => {
      await this.repo.addOverride(tx, row);
      return this.recompute(tx, keys, `override:${row.kind}:${row.a}:${row.b}`);
    });
    await this.syncMap();
    return diff;
  }

  private async recompute(tx: TransactionSql, keys: string[], recordId: string): Promise<ResolutionDiff> {
    const loaded = await this.repo.loader(tx)(keys);
    const members = loaded.identifiers.map((i) => i.key);
    const overrides: IdentityOverrides = overridesTouching(await this.repo.overrides(tx), new Set([...members, ...keys]));
    const snapshot = { identifiers: loaded.identifiers, edges: await this.repo.edgesAmong(members, tx) };
    const diff = recomputeComponents(snapshot, overrides, this.config, { recordId, timestamp: Date.now() });
    await this.repo.writeDiff(tx, diff);
    return diff;
  }

  stats() {
    return this.repo.stats();
  }
}
