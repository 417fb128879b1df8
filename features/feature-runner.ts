/**
 * Feature runs: compute the declared features into a new version of the wide `profiles` table and
 * swap it in.
 *
 * - **Full**: every profile of the identity map, from all source rows.
 * - **Incremental**: the previous version, with the rows of touched profiles replaced. A profile
 *   is touched when one of its identifiers moved (identity map version), when rows of its
 *   identifiers were ingested since the last run, or when one of its rows crossed a window edge
 *   (or the as-of edge) between the two runs' times. Where the only change is rows of an
 *   append-only source (events), those rows are folded into the profile's stored feature states;
 *   otherwise the profile is recomputed from all its rows. Derived features that read the clock
 *   are recomputed on every row. The result equals a full run at the same time on the same data.
 *
 * A run falls back to full when there is no usable previous version (first run, changed feature
 * set, interrupted identity sync) or when most profiles are touched anyway. Runs take a PostgreSQL
 * advisory lock, so two never overlap; the checkpoint is written after the swap.
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import type { Postgres } from '../src/clients/postgres.ts';
import { readCheckpoint, writeCheckpoint } from '../src/jobs/checkpoints.ts';
import { allProfilesSql, compileRun, featureSetSignature, foldedRowsSql, groupTableSql, type CompileContext, type CompiledRun } from './compiler/compile.ts';
import {
  deltaCandidatesSql,
  deltaCopiesSql,
  deltaRowsSql,
  foldWindows,
  groupFeatures,
  groupWindows,
  rowKeysSql,
  timeBandsCondition,
  touchedKeysSql,
  touchedMapSql,
  touchedProfilesSql,
  touchedRowsSql,
  type DeltaSpan,
  type FeatureGroup,
  type RunScope,
} from './compiler/group-sql.ts';
import { clockUpdateSql, createProfilesTableSql, visibleColumns } from './compiler/profile-sql.ts';
import { sourceSql } from './compiler/source-sql.ts';
import { timeLiteral } from './compiler/sql.ts';
import type { AggregateFeature, FeatureSet } from './feature-model.ts';
import { recordStatistics, type FeatureStatistics } from './feature-statistics.ts';
import { syncMaterializedFields } from './materialized-fields.ts';
import { FEATURE_QUERY_SETTINGS } from './feature-settings.ts';
import { IDENTITY_SNAPSHOT, currentMapVersion, snapshotState, syncIdentitySnapshot } from './identity-snapshot.ts';
import { cloneTable, dropOldVersions, dropScratchTables, scratchTable, swapProfiles, tableExists, versionTable, waitForMutations } from './profile-versions.ts';

/** The key of the runs' checkpoint in job_checkpoints. */
export const FEATURES_CHECKPOINT = 'features.run';
/** Above this share of profiles touched, an incremental run is not worth it. */
const INCREMENTAL_LIMIT = 0.5;

export interface FeatureCheckpoint {
  runId: number;
  table: string;
  asOfMs: number;
  /** Rows ingested up to here are in the table. */
  ingestedMs: number;
  mapVersion: number;
  signature: string;
  /** Rows of the table. */
  profiles: number;
}

export interface RunProgress {
  step: string;
  index: number;
  total: number;
}

export interface RunOptions {
  /** Recompute every profile even if an incremental run is possible. */
  full?: boolean;
  /** The run's time (default now); tests pin it. */
  asOfMs?: number;
  onProgress?: (p: RunProgress) => void;
}

export interface RunSummary {
  runId: number;
  mode: 'full' | 'incremental';
  /** Why a run asked to be incremental was full. */
  fullReason?: string;
  asOf: string;
  table: string;
  profiles: number;
  /** Profiles recomputed (all of them in a full run). */
  touched: number;
  /** In an incremental run, the touched profiles computed from all their rows (the others had their new rows folded into their states). */
  recomputed?: number;
  features: number;
  seconds: number;
  steps: { step: string; seconds: number }[];
  /** The main statements of the compute step, with their time (which source group costs what). */
  statements: { statement: string; seconds: number }[];
  statistics: FeatureStatistics[];
}

export interface RunnerOptions {
  /** Rows ingested less than this long ago are left to the next incremental run (inserts in flight). */
  settleMs: number;
  driftStddevs: number;
  identifierRule: CompileContext['identifierRule'];
}

/** How runs compile: tables of `table(name)`, identifiers ranked and normalised as identity does, joined through the snapshot. */
export function compileContextFor(table: (name: string) => string, identifierRule: CompileContext['identifierRule'], identityMap = table(IDENTITY_SNAPSHOT)): CompileContext {
  return { table, identifierRule, identityMap };
}

/** Scratch tables of an incremental run: the profiles touched, and those of them computed from all their rows. */
interface TouchedTables {
  touched: string;
  recompute: string;
}

interface Touched {
  touched: number;
  recompute: number;
  /** The delta rows of append-only groups and the identity map of their identifiers (tables), by group key. */
  deltas: Map<string, { rows: string; map: string }>;
}

const STEPS = ['event fields', 'identity map', 'touched profiles', 'compute', 'swap', 'statistics'] as const;

export class FeatureRunner {
  private statements: RunSummary['statements'] = [];

  constructor(
    private readonly ch: Clickhouse,
    private readonly pg: Postgres,
    private readonly opts: RunnerOptions,
  ) {}

  compileContext(identityMap = this.ch.table(IDENTITY_SNAPSHOT)): CompileContext {
    return compileContextFor((n) => this.ch.table(n), this.opts.identifierRule, identityMap);
  }

  /** Runs under the features lock; the checkpoint is written in the lock's transaction. */
  async run(set: FeatureSet, options: RunOptions = {}): Promise<RunSummary> {
    return this.pg.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('tessera_features'))`;
      const previous = await readCheckpoint<FeatureCheckpoint>(tx, FEATURES_CHECKPOINT);
      const { summary, checkpoint } = await this.compute(set, previous, options);
      await writeCheckpoint(tx, FEATURES_CHECKPOINT, checkpoint);
      return summary;
    }) as Promise<RunSummary>;
  }

  private async compute(set: FeatureSet, previous: FeatureCheckpoint | undefined, options: RunOptions): Promise<{ summary: RunSummary; checkpoint: FeatureCheckpoint }> {
    const started = Date.now();
    const ch = this.ch;
    const asOfMs = options.asOfMs ?? started;
    const runId = Math.max(Date.now(), (previous?.runId ?? 0) + 1);
    const ingestedMs = started - this.opts.settleMs;
    const signature = featureSetSignature(set);
    const groups = groupFeatures(set.features.filter((f): f is AggregateFeature => f.kind === 'aggregate'));
    const table = versionTable(runId);
    const steps: RunSummary['steps'] = [];
    let stepStarted = Date.now();
    const step = (index: number) => {
      if (index > 0) steps.push({ step: STEPS[index - 1]!, seconds: (Date.now() - stepStarted) / 1000 });
      stepStarted = Date.now();
      if (index < STEPS.length) options.onProgress?.({ step: STEPS[index]!, index, total: STEPS.length });
    };

    await dropScratchTables(ch);
    this.statements = [];
    let swapped = false;
    try {
      step(0);
      // JSON fields the features read, kept as columns of events (read instead of parsing the JSON).
      const ctx: CompileContext = { ...this.compileContext(), materialized: (await syncMaterializedFields(ch, set)).columns };
      step(1);
      const mapVersion = await currentMapVersion(ch);
      const fullReason = await this.fullReason(set, previous, signature, options);
      const tables: TouchedTables = { touched: scratchTable(runId, 'touched'), recompute: scratchTable(runId, 'recompute') };
      if (!fullReason) for (const t of Object.values(tables)) await ch.command(`CREATE TABLE ${ch.table(t)} (profile_id String) ENGINE = MergeTree ORDER BY profile_id`);
      await syncIdentitySnapshot(ch, mapVersion, { touched: fullReason ? undefined : tables.recompute, scratch: scratchTable(runId, 'map_changes') });

      step(2);
      let found: Touched | undefined;
      let mode: RunSummary['mode'] = 'full';
      let reason = fullReason;
      const span: DeltaSpan = { previousAsOfMs: previous?.asOfMs ?? asOfMs, asOfMs, previousIngestedMs: previous?.ingestedMs ?? ingestedMs, ingestedMs };
      if (!fullReason) {
        found = await this.findTouched(groups, ctx, tables, span, runId);
        if (found.touched > INCREMENTAL_LIMIT * (previous!.profiles ?? 0)) reason = `${found.touched} of ${previous!.profiles} profiles touched`;
        else mode = 'incremental';
      }

      step(3);
      if (mode === 'incremental') await this.writeIncremental(set, ctx, groups, previous!.table, table, tables, found!, runId, span);
      else await this.writeFull(set, ctx, table, runId, asOfMs);
      const [count] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table(table)}`);
      const profiles = Number(count?.n ?? 0);

      step(4);
      await swapProfiles(ch, table, visibleColumns(set));
      swapped = true;
      await dropOldVersions(ch, [table, ...(previous ? [previous.table] : [])]);

      step(5);
      const statistics = await recordStatistics(ch, { runId, asOfMs, table }, set, groups, ctx, this.opts.driftStddevs);
      step(6);

      const seconds = (Date.now() - started) / 1000;
      await ch.insert('feature_runs', [
        {
          run_id: runId,
          mode,
          as_of: asOfMs,
          started_at: started,
          finished_at: Date.now(),
          table_name: table,
          signature,
          profiles,
          touched: mode === 'full' ? profiles : found!.touched,
          features: set.features.length,
          seconds,
        },
      ]);
      return {
        summary: {
          runId,
          mode,
          ...(options.full || !reason ? {} : { fullReason: reason }),
          asOf: new Date(asOfMs).toISOString(),
          table,
          profiles,
          touched: mode === 'full' ? profiles : found!.touched,
          ...(mode === 'incremental' && { recomputed: found!.recompute }),
          features: set.features.length,
          seconds,
          steps,
          statements: this.statements,
          statistics,
        },
        checkpoint: { runId, table, asOfMs, ingestedMs, mapVersion, signature, profiles },
      };
    } catch (err) {
      // A run that fails before the swap leaves the previous version in place; after it, the new
      // one stays (without a checkpoint, the next run is full).
      if (!swapped) await ch.command(`DROP TABLE IF EXISTS ${ch.table(table)}`).catch(() => {});
      throw err;
    } finally {
      await dropScratchTables(ch, runId).catch(() => {});
    }
  }

  /** Runs a statement and records its time under `label`. */
  private exec(label: string, sql: string): Promise<void> {
    return this.timed(label, () => this.ch.command(sql));
  }

  /** Records the time of `work` under `label`, with the statements. */
  private async timed(label: string, work: () => Promise<void>): Promise<void> {
    const started = performance.now();
    await work();
    this.statements.push({ statement: label, seconds: (performance.now() - started) / 1000 });
  }

  /** Why this run cannot be incremental, or undefined when it can. */
  private async fullReason(set: FeatureSet, previous: FeatureCheckpoint | undefined, signature: string, options: RunOptions): Promise<string | undefined> {
    if (options.full) return 'asked for';
    if (!previous) return 'first run';
    if (previous.signature !== signature) return 'the feature set changed';
    if (!(await tableExists(this.ch, previous.table))) return `the previous version ${previous.table} is gone`;
    const state = await snapshotState(this.ch);
    if (!state?.clean || state.version !== previous.mapVersion) return 'the identity snapshot is not where the last run left it';
    if ((options.asOfMs ?? Date.now()) < previous.asOfMs) return 'the run time is before the previous run';
    if (set.features.length === 0) return 'no features';
    return undefined;
  }

  /**
   * Finds the profiles touched since `previous`. Those whose rows can be folded into their stored
   * states (new rows of append-only sources, rows the as-of edge reached or an invertible window
   * left) go to `touched` with their delta rows (`deltas`, by group); the others (identifiers that
   * moved, changed rows of CDC and CRM sources, windows of other features, duplicated messages)
   * go to `recompute` too, and are computed from all their rows.
   */
  private async findTouched(groups: FeatureGroup[], ctx: CompileContext, tables: TouchedTables, span: DeltaSpan, runId: number): Promise<Touched> {
    const ch = this.ch;
    const [touched, recompute] = [ch.table(tables.touched), ch.table(tables.recompute)];
    const scratch = this.scratch(runId);
    const deltas: Touched['deltas'] = new Map();
    const windowBands = (windows: number[]) => windows.map((w) => ({ fromMs: span.previousAsOfMs - w, toMs: span.asOfMs - w })).filter((b) => b.toMs > b.fromMs);
    for (const [i, group] of groups.entries()) {
      const src = sourceSql(group.source, ctx);
      if (!src.appendOnly) {
        const { ingestedAt } = src.changes;
        const ingested = `(${ingestedAt} > ${timeLiteral(span.previousIngestedMs)} AND ${ingestedAt} <= ${timeLiteral(span.ingestedMs)})`;
        const crossed = timeBandsCondition(group, ctx, windowBands(groupWindows(group)));
        await this.addProfiles(group, ctx, recompute, scratch(`keys${i}`), touchedKeysSql(group, ctx, crossed ? `${ingested} OR ${crossed}` : ingested));
        continue;
      }
      deltas.set(group.key, await this.findDelta(group, ctx, span, (what) => scratch(`${what}${i}`), { touched, recompute }));
      const crossed = timeBandsCondition(group, ctx, windowBands(foldWindows(group, false)));
      if (crossed) await this.addProfiles(group, ctx, recompute, scratch(`crossed_keys${i}`), touchedKeysSql(group, ctx, crossed));
    }
    await ch.command(`INSERT INTO ${touched} SELECT profile_id FROM ${recompute}`);
    const [row] = await ch.query<{ touched: string; recompute: string }>(
      `SELECT (SELECT uniqExact(profile_id) FROM ${touched}) AS touched, (SELECT uniqExact(profile_id) FROM ${recompute}) AS recompute`,
    );
    return { touched: Number(row?.touched ?? 0), recompute: Number(row?.recompute ?? 0), deltas };
  }

  /**
   * The delta of an append-only group: its rows (messages with one copy) and the identity map of
   * their identifiers; their profiles go to `touched`, those of messages with several copies to
   * `recompute`.
   */
  private async findDelta(group: FeatureGroup, ctx: CompileContext, span: DeltaSpan, scratch: (what: string) => string, to: { touched: string; recompute: string }): Promise<{ rows: string; map: string }> {
    const [candidates, copies, rows, duplicated, map] = ['candidates', 'copies', 'delta', 'duplicated', 'delta_map'].map(scratch) as [string, string, string, string, string];
    await this.exec(`new rows of ${group.label}, and rows that crossed an edge`, `CREATE TABLE ${candidates} ENGINE = Memory AS ${deltaCandidatesSql(group, ctx, span)} ${FEATURE_QUERY_SETTINGS}`);
    await this.exec('copies of their messages', `CREATE TABLE ${copies} ENGINE = Memory AS ${deltaCopiesSql(group, ctx, candidates)}`);
    await this.ch.command(`CREATE TABLE ${rows} ENGINE = Memory AS ${deltaRowsSql(candidates, copies, span.previousIngestedMs, 'fold')}`);
    await this.ch.command(`CREATE TABLE ${duplicated} ENGINE = Memory AS ${deltaRowsSql(candidates, copies, span.previousIngestedMs, 'recompute')}`);
    // The identity map of the delta's identifiers gives the touched profiles here, and the delta rows' profiles when folding.
    await this.exec(`identifiers of the delta of ${group.label}`, `CREATE TABLE ${map} ENGINE = Memory AS ${touchedMapSql(group, ctx, rows)}`);
    await this.addProfiles(group, { ...ctx, identityMap: map }, to.touched, scratch('keys'), rowKeysSql(group, ctx, rows));
    await this.addProfiles(group, ctx, to.recompute, scratch('duplicated_keys'), rowKeysSql(group, ctx, duplicated));
    return { rows, map };
  }

  /** Adds to `to` the profiles of the identifier keys `keysSql` selects (kept in `keyed`), looked up in `ctx`'s identity map. */
  private async addProfiles(group: FeatureGroup, ctx: CompileContext, to: string, keyed: string, keysSql: string): Promise<void> {
    await this.exec(`touched by ${group.label}`, `CREATE TABLE ${keyed} ENGINE = Memory AS ${keysSql} ${FEATURE_QUERY_SETTINGS}`);
    await this.exec('their profiles', `INSERT INTO ${to} ${touchedProfilesSql(group, ctx, keyed)} ${FEATURE_QUERY_SETTINGS}`);
  }

  private async writeFull(set: FeatureSet, ctx: CompileContext, table: string, runId: number, asOfMs: number): Promise<void> {
    const run = compileRun(set, ctx, asOfMs, { kind: 'all' }, allProfilesSql(ctx), this.scratch(runId));
    const target = this.ch.table(table);
    await this.ch.command(createProfilesTableSql(target, set, run.states));
    if (run.direct) {
      await this.createLookups(run);
      const { group, features } = run.queries[0]!;
      await this.exec(`${group.label}: ${features.map((f) => f.name).join(', ')}`, `INSERT INTO ${target} ${run.direct.rows} ${FEATURE_QUERY_SETTINGS}`);
      await this.exec('profiles without rows', `INSERT INTO ${target} ${run.direct.missing(target)} ${FEATURE_QUERY_SETTINGS}`);
      return;
    }
    await this.computeGroups(run);
    await this.exec('assemble the profiles table', `INSERT INTO ${target} ${run.select} ${FEATURE_QUERY_SETTINGS}`);
  }

  private scratch(runId: number): (what: string) => string {
    return (what) => this.ch.table(scratchTable(runId, what));
  }

  private async createLookups(run: CompiledRun): Promise<void> {
    for (const l of run.lookups) await this.exec(`lookup of ${l.type} identifiers`, l.sql);
  }

  /** The queries of the run (one per source group), each into its own scratch table. */
  private async computeGroups(run: CompiledRun): Promise<void> {
    await this.createLookups(run);
    for (const { group, features, sql, table, staged, rowsTable } of run.queries) {
      const label = `${group.label}: ${features.map((f) => f.name).join(', ')}`;
      if (!staged) {
        await this.exec(label, `${groupTableSql(table, sql)} ${FEATURE_QUERY_SETTINGS}`);
        continue;
      }
      await this.exec(`rows of the delta of ${group.label}`, `${groupTableSql(rowsTable, staged.rows)} ${FEATURE_QUERY_SETTINGS}`);
      await this.exec(label, `${groupTableSql(table, staged.aggregate(rowsTable))} ${FEATURE_QUERY_SETTINGS}`);
    }
  }

  /**
   * The previous version with the touched profiles' rows replaced: folded (their stored states
   * with the delta rows folded in) or recomputed from all their rows; then the clock-reading
   * features moved to `asOfMs`.
   */
  private async writeIncremental(set: FeatureSet, ctx: CompileContext, groups: FeatureGroup[], previous: string, table: string, tables: TouchedTables, found: Touched, runId: number, span: DeltaSpan): Promise<void> {
    const ch = this.ch;
    const [touched, recompute] = [ch.table(tables.touched), ch.table(tables.recompute)];
    await cloneTable(ch, previous, table);
    // The touched rows are marked deleted in the background while their new rows are computed: the
    // mutation only reaches the parts cloned from `previous` (rows inserted after it are newer).
    // It runs in the engine's background pool, where it may queue behind merges of `events`.
    await this.exec('delete the touched rows (started)', `DELETE FROM ${ch.table(table)} WHERE profile_id IN (SELECT profile_id FROM ${touched}) SETTINGS lightweight_deletes_sync = 0`);
    if (found.recompute > 0) await this.recompute(set, ctx, groups, table, recompute, runId, span.asOfMs);
    if (found.touched > found.recompute) {
      const folded = ch.table(scratchTable(runId, 'folded'));
      await ch.command(`CREATE TABLE ${folded} ENGINE = Memory AS SELECT DISTINCT profile_id FROM ${touched} WHERE profile_id NOT IN (SELECT profile_id FROM ${recompute})`);
      const scope: RunScope = { kind: 'touched', profiles: folded, groups: Object.fromEntries(found.deltas) };
      const scratch = this.scratch(runId);
      const run = compileRun(set, ctx, span.asOfMs, scope, `SELECT profile_id FROM ${folded}`, (what) => scratch(`fold_${what}`), span);
      await this.computeGroups(run);
      const deltas = run.queries.map((q) => ({ features: q.features, table: q.table }));
      await this.exec('fold the deltas into the states', `INSERT INTO ${ch.table(table)} ${foldedRowsSql(set, ctx, span.asOfMs, ch.table(previous), folded, deltas)} ${FEATURE_QUERY_SETTINGS}`);
    }
    await this.timed('wait for the delete', () => waitForMutations(ch, table));
    const clock = clockUpdateSql(ch.table(table), set, timeLiteral(span.asOfMs));
    if (clock) await this.exec('move clock-reading features', `${clock} SETTINGS mutations_sync = 2`);
  }

  /** Inserts the rows of the profiles in `profiles` computed from all their rows (the ones that still exist: merged-away ones only lose their row). */
  private async recompute(set: FeatureSet, ctx: CompileContext, groups: FeatureGroup[], table: string, profiles: string, runId: number, asOfMs: number): Promise<void> {
    const ch = this.ch;
    const ids = ch.table(scratchTable(runId, 'touched_ids'));
    await this.exec('identifiers of the recomputed profiles', `CREATE TABLE ${ids} ENGINE = Memory AS SELECT id_type, id_value, profile_id FROM ${ctx.identityMap} WHERE profile_id IN (SELECT profile_id FROM ${profiles})`);
    const scope: Extract<RunScope, { kind: 'touched' }> = { kind: 'touched', profiles, groups: {} };
    for (const [i, group] of groups.entries()) {
      const [rows, map] = [ch.table(scratchTable(runId, `rows${i}`)), ch.table(scratchTable(runId, `map${i}`))];
      await this.exec(`rows of the recomputed profiles in ${group.label}`, `CREATE TABLE ${rows} ENGINE = Memory AS ${touchedRowsSql(group, ctx, timeLiteral(asOfMs), ids)} ${FEATURE_QUERY_SETTINGS}`);
      await this.exec(`their identifiers in the identity map`, `CREATE TABLE ${map} ENGINE = Memory AS ${touchedMapSql(group, ctx, rows)}`);
      scope.groups[group.key] = { rows, map };
    }
    const run = compileRun(set, ctx, asOfMs, scope, `SELECT DISTINCT profile_id FROM ${ids}`, this.scratch(runId));
    await this.computeGroups(run);
    await this.exec('insert the recomputed rows', `INSERT INTO ${ch.table(table)} ${run.select} ${FEATURE_QUERY_SETTINGS}`);
  }
}
