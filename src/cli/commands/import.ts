import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { importNdjson } from '../../ingest/ndjson-import.ts';
import type { ImportOptions, ImportSummary } from '../../ingest/import-summary.ts';
import { importCrmCsv } from '../../crm/crm-csv-import.ts';
import { crmMappingSchema, loadSourcesConfig, readJsonFile, sourcesConfigSchema, type CrmMapping, type SourcesConfig } from '../../sources/sources-config.ts';
import { loadConfig } from '../../config/env.ts';
import type { Services } from '../../runtime/services.ts';
import { withServices } from '../context.ts';
import { formatNumber, print } from '../output.ts';
import { startProgress } from '../progress.ts';
import { CliError } from '../cli-error.ts';

const MAX_PRINTED = 50;

/** Refuses a path that is not a readable file before any store is opened. */
function requireFile(file: string, hint: string): void {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new CliError(`${file}: ${stat ? 'not a file' : 'no such file'}`, hint);
}

/**
 * Runs one file import on the stores with a progress bar (percent of bytes read), prints every
 * reported bad line as `FILE:LINE: code: reason` and the summary (`--json`: the summary only).
 */
async function runImport(
  file: string,
  opts: { json?: boolean; noun: string },
  load: (services: Services, progress: Pick<ImportOptions, 'onProgress'>) => Promise<ImportSummary>,
): Promise<void> {
  const summary = await withServices(async ({ services }) => {
    const progress = startProgress('import', 100, '%');
    try {
      return await load(services, { onProgress: (read, total) => progress.update(Math.floor((100 * read) / Math.max(1, total))) });
    } finally {
      progress.stop();
    }
  });
  if (!opts.json) {
    for (const r of summary.rejections.slice(0, MAX_PRINTED)) process.stderr.write(`${file}:${r.line}: ${r.code}: ${r.message}\n`);
    if (summary.rejected > MAX_PRINTED) {
      process.stderr.write(`... and ${summary.rejected - MAX_PRINTED} more; every rejected line is in the rejected_events table\n`);
    }
  }
  print(opts.json ?? false, summary, () => {
    const rate = summary.accepted / Math.max(summary.seconds, 0.001);
    const codes = Object.entries(summary.rejectedByCode).map(([c, n]) => `${c}: ${n}`).join(', ');
    return [
      `Imported ${file}`,
      `  lines     ${formatNumber(summary.lines)}`,
      `  stored    ${formatNumber(summary.accepted)} ${opts.noun} (${formatNumber(rate)}/s)`,
      `  rejected  ${formatNumber(summary.rejected)}${codes ? ` (${codes}) — dead-lettered in rejected_events` : ''}`,
      `  took      ${summary.seconds.toFixed(1)} s`,
    ].join('\n');
  });
}

const SOURCE_NAME = sourcesConfigSchema.shape.crm.unwrap().keyType;

const MAPPING_EXAMPLE = '{ "idColumn": "id", "updatedAtColumn": "updated_at", "identifiers": { "email": "email" }, "traits": { "plan": "string", "score": "float" } }';

/** The mapping of CRM source `source`: from `--mapping FILE`, else from the sources config. */
export function crmMappingFor(sources: SourcesConfig, source: string, mappingFile?: string): CrmMapping {
  if (mappingFile) return readJsonFile(crmMappingSchema, mappingFile);
  const declared = sources.crm[source];
  if (declared) return declared;
  throw new CliError(
    `no mapping for CRM source '${source}'`,
    `Pass --mapping FILE.json holding ${MAPPING_EXAMPLE},\nor declare it as "crm": { "${source}": ... } in the sources config file named by TESSERA_SOURCES_CONFIG.`,
  );
}

/** `--delimiter`: one character; `\t` or `tab` for a tab. */
function delimiterOption(value: string): string {
  const d = value === '\\t' || value === 'tab' ? '\t' : value;
  if (d.length !== 1 || d === '"' || d === '\n' || d === '\r') throw new CliError(`--delimiter must be one character other than a quote or a line break (got '${value}')`);
  return d;
}

export function importCommand(program: Command): void {
  const cmd = program.command('import').description('bulk-load records from files');
  cmd
    .command('events')
    .description('load Segment messages from a newline-delimited JSON file (one message per line)')
    .argument('<file>', 'NDJSON file')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      requireFile(file, 'Check the path; the file must hold one JSON message per line.');
      await runImport(file, { json: opts.json, noun: 'events' }, (services, progress) => importNdjson(file, services.ingestor, progress));
    });

  cmd
    .command('crm')
    .description('load CRM records from a CSV export (header row = column names); the latest updated_at per record wins')
    .argument('<file>', 'CSV file')
    .requiredOption('--source <name>', 'the CRM source the records belong to (e.g. hubspot)')
    .option('--mapping <file>', 'JSON mapping: idColumn, updatedAtColumn, identifiers, traits (default: the source in TESSERA_SOURCES_CONFIG)')
    .option('--delimiter <char>', "field delimiter (default: ',' or ';', whichever the header line uses)", delimiterOption)
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { source: string; mapping?: string; delimiter?: string; json?: boolean }) => {
      const name = SOURCE_NAME.safeParse(opts.source);
      if (!name.success) throw new CliError(`--source '${opts.source}': CRM source names are lower-case letters, digits and _ (starting with a letter)`);
      requireFile(file, 'Check the path; the file must be a CSV export with a header row.');
      // Before any store is opened: a bad or missing mapping fails at once.
      const mapping = crmMappingFor(loadSourcesConfig(loadConfig().TESSERA_SOURCES_CONFIG), opts.source, opts.mapping);
      await runImport(file, { json: opts.json, noun: 'records' }, (services, progress) =>
        importCrmCsv(file, services.crm, opts.source, mapping, { ...progress, delimiter: opts.delimiter }),
      );
    });
}
