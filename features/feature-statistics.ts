/**
 * Statistics per run and feature, stored in ClickHouse (`feature_stats`) with the drift flags
 * against the feature's recent runs; and reading the latest ones for the catalog.
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import type { FeatureGroup } from './compiler/group-sql.ts';
import type { CompileContext } from './compiler/source-sql.ts';
import { freshestSql, statisticsSql } from './compiler/statistics-sql.ts';
import { timeLiteral } from './compiler/sql.ts';
import { detectDrift, type DriftFlag, type StatPoint } from './drift.ts';
import type { Feature, FeatureSet } from './feature-model.ts';

/** How many earlier runs drift is judged against. */
export const DRIFT_HISTORY = 20;

export interface FeatureStatistics {
  runId: number;
  feature: string;
  type: string;
  asOf: string;
  rows: number;
  nulls: number;
  nullFraction: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  distinctCount: number;
  /** The newest source row behind the feature (ISO-8601), when known. */
  freshest: string | null;
  /** Metrics that drifted from recent runs. */
  drift: DriftFlag[];
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const iso = (ms: number) => new Date(ms).toISOString();
/** ClickHouse DateTime64 text (`2026-01-02 03:04:05.678`, UTC) → ISO-8601. */
const chTimeToIso = (t: string) => `${t.replace(' ', 'T')}Z`;

/** The newest source time behind each feature: its group's, or for a derived feature the oldest of its inputs'. */
async function freshness(ch: Clickhouse, set: FeatureSet, groups: FeatureGroup[], ctx: CompileContext, asOfMs: number): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const group of groups) {
    const [row] = await ch.query<{ t: string | null }>(freshestSql(group, ctx, timeLiteral(asOfMs)));
    const t = row?.t && !row.t.startsWith('1970-01-01') ? chTimeToIso(row.t) : null;
    for (const f of group.features) out.set(f.name, t);
  }
  for (const f of set.features) {
    if (f.kind !== 'derived') continue;
    const inputs = f.dependsOn.map((d) => out.get(d) ?? null);
    out.set(f.name, inputs.length && inputs.every((t) => t !== null) ? inputs.sort()[0]! : null);
  }
  return out;
}

async function history(ch: Clickhouse, runId: number, names: string[]): Promise<Map<string, StatPoint[]>> {
  const rows = await ch.query<{ feature: string; null_fraction: number; mean: number | null; distinct_count: string }>(
    `SELECT feature, null_fraction, mean, distinct_count FROM ${ch.table('feature_stats')}
     WHERE feature IN {names:Array(String)} AND run_id < {run:UInt64}
     ORDER BY run_id DESC LIMIT {n:UInt32} BY feature`,
    { names, run: runId, n: DRIFT_HISTORY },
  );
  const out = new Map<string, StatPoint[]>();
  for (const r of rows) {
    const list = out.get(r.feature) ?? [];
    list.push({ null_fraction: Number(r.null_fraction), mean: num(r.mean), distinct_count: Number(r.distinct_count) });
    out.set(r.feature, list);
  }
  return out;
}

/** Computes, flags and stores the statistics of a run's table. */
export async function recordStatistics(
  ch: Clickhouse,
  run: { runId: number; asOfMs: number; table: string },
  set: FeatureSet,
  groups: FeatureGroup[],
  ctx: CompileContext,
  driftStddevs: number,
): Promise<FeatureStatistics[]> {
  const features: Feature[] = set.features;
  if (features.length === 0) return [];
  const [row] = await ch.query<Record<string, unknown>>(statisticsSql(ch.table(run.table), features));
  const fresh = await freshness(ch, set, groups, ctx, run.asOfMs);
  const past = await history(
    ch,
    run.runId,
    features.map((f) => f.name),
  );
  const rows = Number(row?.rows ?? 0);
  const stats = features.map((f, i): FeatureStatistics => {
    const nulls = Number(row?.[`n${i}`] ?? 0);
    const current: StatPoint = {
      null_fraction: rows ? nulls / rows : 0,
      mean: num(row?.[`mean${i}`]),
      distinct_count: Number(row?.[`d${i}`] ?? 0),
    };
    return {
      runId: run.runId,
      feature: f.name,
      type: f.type,
      asOf: iso(run.asOfMs),
      rows,
      nulls,
      nullFraction: current.null_fraction ?? 0,
      min: num(row?.[`min${i}`]),
      max: num(row?.[`max${i}`]),
      mean: current.mean,
      distinctCount: current.distinct_count ?? 0,
      freshest: fresh.get(f.name) ?? null,
      drift: detectDrift(current, past.get(f.name) ?? [], driftStddevs),
    };
  });
  await ch.insert(
    'feature_stats',
    stats.map((s) => ({
      run_id: s.runId,
      feature: s.feature,
      type: s.type,
      as_of: run.asOfMs,
      rows: s.rows,
      nulls: s.nulls,
      null_fraction: s.nullFraction,
      min: s.min,
      max: s.max,
      mean: s.mean,
      distinct_count: s.distinctCount,
      freshest: s.freshest === null ? null : Date.parse(s.freshest),
      drift: s.drift.map((d) => d.metric),
      drift_detail: JSON.stringify(s.drift),
    })),
  );
  return stats;
}

/** The statistics of each feature's latest run. */
export async function latestStatistics(ch: Clickhouse): Promise<Map<string, FeatureStatistics>> {
  const rows = await ch.query<{
    run_id: string;
    feature: string;
    type: string;
    as_of: string;
    rows: string;
    nulls: string;
    null_fraction: number;
    min: number | null;
    max: number | null;
    mean: number | null;
    distinct_count: string;
    freshest: string | null;
    drift_detail: string;
  }>(`SELECT * FROM ${ch.table('feature_stats')} ORDER BY run_id DESC LIMIT 1 BY feature`);
  return new Map(
    rows.map((r) => [
      r.feature,
      {
        runId: Number(r.run_id),
        feature: r.feature,
        type: r.type,
        asOf: chTimeToIso(r.as_of),
        rows: Number(r.rows),
        nulls: Number(r.nulls),
        nullFraction: Number(r.null_fraction),
        min: num(r.min),
        max: num(r.max),
        mean: num(r.mean),
        distinctCount: Number(r.distinct_count),
        freshest: r.freshest ? chTimeToIso(r.freshest) : null,
        drift: JSON.parse(r.drift_detail || '[]') as DriftFlag[],
      },
    ]),
  );
}
