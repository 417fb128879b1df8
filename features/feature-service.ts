/**
 * The feature store's entry points for the API, the CLI and the scheduled job: load and validate
 * the definitions, show the plan, run, read the catalog, build training sets. Definitions are
 * loaded afresh on every call, so edits to the files take effect without a restart, and a broken
 * set stops every run before it starts.
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import type { Postgres } from '../src/clients/postgres.ts';
import type { SourcesConfig } from '../src/sources/sources-config.ts';
import { ruleForType, type ResolvedIdentityConfig } from '../identity/identity-config.ts';
import { buildCatalog, type CatalogEntry } from './catalog.ts';
import { parseEntityRows } from './entity-rows.ts';
import { latestStatistics } from './feature-statistics.ts';
import { FeatureRunner, type RunOptions, type RunSummary } from './feature-runner.ts';
import { buildPlan, type Plan } from './plan.ts';
import { scratchTable, versionTable } from './profile-versions.ts';
import { loadDefinitions, type LoadedDefinitions } from './load-definitions.ts';
import { buildTrainingSet, type TrainingSet } from './training-set.ts';
import { FeatureValidationError, type Issue } from './validate-definitions.ts';

export interface FeatureServiceOptions {
  /** The definitions directory. */
  dir: string;
  sources: SourcesConfig;
  identity: ResolvedIdentityConfig;
  settleMs: number;
  driftStddevs: number;
}

export type ValidationReport = { ok: true; files: string[]; features: number } | { ok: false; issues: Issue[] };

export class FeatureService {
  readonly runner: FeatureRunner;

  constructor(
    private readonly ch: Clickhouse,
    pg: Postgres,
    private readonly opts: FeatureServiceOptions,
  ) {
    this.runner = new FeatureRunner(ch, pg, {
      settleMs: opts.settleMs,
      driftStddevs: opts.driftStddevs,
      identifierRule: (type) => ruleForType(opts.identity, type),
    });
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Loads and validates the definitions; throws FeatureValidationError with every problem. */
  load(): Promise<LoadedDefinitions> {
    return loadDefinitions(this.opts.dir, this.opts.sources);
  }

  async validate(): Promise<ValidationReport> {
    try {
      const defs = await this.load();
      return { ok: true, files: defs.files, features: defs.set.features.length };
    } catch (err) {
      if (err instanceof FeatureValidationError) return { ok: false, issues: err.issues };
      throw err;
    }
  }

  /** The SQL of a full run now: one query per source group, and the assembly into the profiles table. */
  async plan(): Promise<Plan> {
    const { set } = await this.load();
    const now = Date.now();
    return buildPlan(set, this.runner.compileContext(), now, this.ch.table(versionTable(now)), (what) => this.ch.table(scratchTable(now, what)));
  }

  async run(options: RunOptions = {}): Promise<RunSummary> {
    const { set } = await this.load();
    return this.runner.run(set, options);
  }

  async catalog(): Promise<CatalogEntry[]> {
    const { set } = await this.load();
    return buildCatalog(set, await latestStatistics(this.ch));
  }

  /** Entity rows (CSV or JSON text, or parsed JSON) → every feature as of each row's time. */
  async trainingSet(input: unknown, format?: 'csv' | 'json'): Promise<TrainingSet> {
    const { set } = await this.load();
    const rows = parseEntityRows(input, this.opts.identity, format);
    return buildTrainingSet(this.ch, set, this.runner.compileContext(this.ch.table('identity_map_current')), rows);
  }
}
