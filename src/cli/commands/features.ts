import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/env.ts';
import { loadSourcesConfig } from '../../sources/sources-config.ts';
import { loadIdentityConfig } from '../../../identity/load-identity-config.ts';
import { ruleForType } from '../../../identity/identity-config.ts';
import { DEFAULT_FEATURES_DIR, loadDefinitions } from '../../../features/load-definitions.ts';
import { FeatureValidationError, formatIssues } from '../../../features/validate-definitions.ts';
import { compileContextFor } from '../../../features/feature-runner.ts';
import { buildPlan } from '../../../features/plan.ts';
import { toCsv } from '../../../features/entity-rows.ts';
import { scratchTable, versionTable } from '../../../features/profile-versions.ts';
import type { CatalogEntry } from '../../../features/catalog.ts';
import { withServices } from '../context.ts';
import { CliError } from '../cli-error.ts';
import { formatNumber, print, table } from '../output.ts';

const quote = (name: string) => `\`${name}\``;

/** Validation and plans need no store: only the definitions and the sources and identity configs. */
async function definitions(config: Config) {
  const dir = config.TESSERA_FEATURES_DIR ?? DEFAULT_FEATURES_DIR;
  try {
    return await loadDefinitions(dir, loadSourcesConfig(config.TESSERA_SOURCES_CONFIG));
  } catch (err) {
    if (err instanceof FeatureValidationError) {
      throw new CliError(`${path.relative(process.cwd(), dir) || dir}: ${err.issues.length} problem(s) in the feature definitions:\n${formatIssues(err.issues)}`, 'Fix them; no run starts while any is left.');
    }
    throw err;
  }
}

function number(v: number | null, type: string): string {
  if (v === null) return '';
  if (type === 'timestamp' || type === 'date') return new Date(v).toISOString().slice(0, 16).replace('T', ' ');
  return Number.isInteger(v) ? formatNumber(v) : v.toFixed(2);
}

/** The catalog as a table (the demo prints it too). */
export function catalogText(entries: CatalogEntry[]): string {
  const rows = entries.map((e) => ({
    feature: e.name,
    type: e.type,
    source: e.source,
    'null %': e.statistics ? (100 * e.statistics.nullFraction).toFixed(1) : '',
    min: e.statistics ? number(e.statistics.min, e.type) : '',
    max: e.statistics ? number(e.statistics.max, e.type) : '',
    mean: e.statistics?.mean != null && e.type !== 'timestamp' && e.type !== 'date' ? number(e.statistics.mean, 'float') : '',
    distinct: e.statistics ? formatNumber(e.statistics.distinctCount) : '',
    freshest: e.statistics?.freshest?.slice(0, 16).replace('T', ' ') ?? '',
    drift: e.drift.map((d) => `${d.metric} (${d.z === Infinity ? '∞' : d.z.toFixed(1)}σ)`).join(', '),
  }));
  const run = entries.find((e) => e.statistics)?.statistics;
  return [
    table(rows, ['feature', 'type', 'source', 'null %', 'min', 'max', 'mean', 'distinct', 'freshest', 'drift']),
    run ? `\nLatest run ${run.runId} as of ${run.asOf}: ${formatNumber(run.rows)} profiles.` : '\nNo run yet: `tessera features run`.',
  ].join('\n');
}

export function featuresCommand(program: Command): void {
  const features = program.command('features').description('features as code: validate, plan, run, statistics, training sets');

  features
    .command('validate')
    .description('load and check the feature definitions (TESSERA_FEATURES_DIR); exits 1 listing every problem')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const defs = await definitions(loadConfig());
      const summary = { ok: true, dir: defs.dir, files: defs.files, features: defs.set.features.map((f) => f.name) };
      print(opts.json ?? false, summary, () => `${defs.set.features.length} feature(s) in ${defs.files.length} file(s) are valid: ${summary.features.join(', ')}`);
    });

  features
    .command('plan')
    .description('print the ClickHouse SQL of a full run: one query per source group, then the wide table')
    .option('--json', 'print the plan as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const { set } = await definitions(config);
      const identity = loadIdentityConfig(config.TESSERA_IDENTITY_CONFIG);
      const qualified = (n: string) => `${quote(config.CLICKHOUSE_DATABASE)}.${quote(n)}`;
      const now = Date.now();
      const plan = buildPlan(set, compileContextFor(qualified, (t) => ruleForType(identity, t)), now, qualified(versionTable(now)), (i) => qualified(scratchTable(now, `group${i}`)));
      print(opts.json ?? false, plan, () =>
        [
          ...(plan.materialized.sql.length ? [`-- JSON fields kept as columns of events (a run adds them once)\n${plan.materialized.sql.join(';\n')};\n`] : []),
          ...plan.queries.map((q, i) => `-- query ${i + 1}/${plan.queries.length}: ${q.label} (${q.features.length} feature(s): ${q.features.join(', ')})\n${q.sql};\n`),
          `-- the new version of the wide table, assembled from the group tables (then the view \`profiles\` is pointed at it)\n${plan.createTable};\n`,
          `${plan.insert};`,
        ].join('\n'),
      );
    });

  features
    .command('run')
    .description('compute the features into a new version of the profiles table: incremental when possible')
    .option('--full', 'recompute every profile')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { full?: boolean; json?: boolean }) => {
      const started = Date.now();
      const summary = await withServices(({ services }) =>
        services.features.run({
          full: opts.full,
          onProgress: (p) => process.stderr.write(`[${p.index + 1}/${p.total}] ${p.step}... (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
        }),
      );
      const drifted = summary.statistics.filter((s) => s.drift.length > 0);
      print(opts.json ?? false, summary, () =>
        [
          `${summary.mode === 'full' ? 'Full' : 'Incremental'} run ${summary.runId} as of ${summary.asOf}${summary.fullReason ? ` (full: ${summary.fullReason})` : ''}`,
          `  profiles   ${formatNumber(summary.profiles)} in ${summary.table}, ${formatNumber(summary.touched)} computed${
            summary.recomputed === undefined ? '' : ` (${formatNumber(summary.touched - summary.recomputed)} by folding new rows into their states, ${formatNumber(summary.recomputed)} from all their rows)`
          }`,
          `  features   ${summary.features}`,
          `  time       ${summary.seconds.toFixed(2)} s (${summary.steps.map((s) => `${s.step} ${s.seconds.toFixed(2)}`).join(', ')})`,
          `  drift      ${drifted.length ? drifted.map((s) => `${s.feature}: ${s.drift.map((d) => d.metric).join(', ')}`).join('; ') : 'none'}`,
        ].join('\n'),
      );
    });

  features
    .command('stats')
    .description('the catalog: every feature with its latest statistics and drift flags')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const entries = await withServices(({ services }) => services.features.catalog());
      print(opts.json ?? false, entries, () => catalogText(entries));
    });

  features
    .command('training-set')
    .description('feature values as of each entity row (identifier and timestamp), with nothing from later')
    .argument('<file>', 'entity rows: CSV (identifier,timestamp or type,value,timestamp) or JSON ([{ identifier, timestamp }])')
    .option('--out <file>', 'write the training set here instead of stdout')
    .option('--format <format>', 'csv or json (default: csv, or json when --out ends in .json)')
    .action(async (file: string, opts: { out?: string; format?: string }) => {
      let input: string;
      try {
        input = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError(`${file}: ${(err as Error).message}`);
      }
      const format = opts.format ?? (opts.out?.endsWith('.json') ? 'json' : 'csv');
      if (format !== 'csv' && format !== 'json') throw new CliError(`--format must be csv or json (got '${format}')`);
      const result = await withServices(({ services }) => services.features.trainingSet(input, file.endsWith('.csv') ? 'csv' : undefined));
      const text = format === 'csv' ? toCsv(result.columns, result.rows) : `${JSON.stringify(result.rows, null, 2)}\n`;
      if (opts.out) {
        writeFileSync(opts.out, text);
        process.stderr.write(`Wrote ${formatNumber(result.rows.length)} row(s) with ${result.columns.length - 3} feature(s) to ${opts.out}\n`);
      } else process.stdout.write(text);
    });
}
