/** The feature catalog: what each feature is, where it comes from, and its latest statistics. Pure. */
import type { FeatureStatistics } from './feature-statistics.ts';
import { describeAggregation, describeSource, renderExpr, type Feature, type FeatureSet } from './feature-model.ts';
import { effectiveDefault } from './compiler/aggregation-sql.ts';
import type { Literal } from './declarations.ts';

export interface CatalogEntry {
  name: string;
  description: string;
  owner: string;
  tags: string[];
  type: string;
  kind: 'aggregate' | 'derived';
  /** `events 'Order Completed'`, `cdc shop public.customers`, `derived from a, b`. */
  source: string;
  /** How it is computed: `sum(properties.revenue) over 30d`, or the derived expression. */
  definition: string;
  window: string | null;
  default: Literal | null;
  file: string;
  statistics: Omit<FeatureStatistics, 'feature' | 'type' | 'drift'> | null;
  /** Statistics that moved away from recent runs (empty when none, or without statistics). */
  drift: FeatureStatistics['drift'];
}

function entry(f: Feature, stats: FeatureStatistics | undefined): CatalogEntry {
  const { feature: _f, type: _t, drift, ...statistics } = stats ?? ({ drift: [] } as unknown as FeatureStatistics);
  return {
    name: f.name,
    description: f.description,
    owner: f.owner,
    tags: f.tags,
    type: f.type,
    kind: f.kind,
    source: f.kind === 'aggregate' ? describeSource(f.source) : `derived from ${f.dependsOn.join(', ')}`,
    definition: f.kind === 'aggregate' ? describeAggregation(f) : renderExpr(f.derive),
    window: f.kind === 'aggregate' ? (f.window?.text ?? null) : null,
    default: effectiveDefault(f),
    file: f.file,
    statistics: stats ? statistics : null,
    drift: drift ?? [],
  };
}

/** Every declared feature (sorted by name) with its latest statistics, if it has run. */
export function buildCatalog(set: FeatureSet, latest: Map<string, FeatureStatistics>): CatalogEntry[] {
  return set.features.map((f) => entry(f, latest.get(f.name))).sort((a, b) => a.name.localeCompare(b.name));
}
