import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { importNdjson } from '../../ingest/ndjson-import.ts';
import { withServices } from '../context.ts';
import { formatNumber, print } from '../output.ts';
import { startProgress } from '../progress.ts';
import { CliError } from '../cli-error.ts';

const MAX_PRINTED = 50;

export function importCommand(program: Command): void {
  const cmd = program.command('import').description('bulk-load records from files');
  cmd
    .command('events')
    .description('load Segment messages from a newline-delimited JSON file (one message per line)')
    .argument('<file>', 'NDJSON file')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const stat = statSync(file, { throwIfNoEntry: false });
      if (!stat?.isFile()) {
        throw new CliError(`${file}: ${stat ? 'not a file' : 'no such file'}`, 'Check the path; the file must hold one JSON message per line.');
      }
      const summary = await withServices(async ({ services }) => {
        const progress = startProgress('import', 100, '%');
        try {
          return await importNdjson(file, services.ingestor, {
            onProgress: (read, total) => progress.update(Math.floor((100 * read) / Math.max(1, total))),
          });
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
          `  stored    ${formatNumber(summary.accepted)} events (${formatNumber(rate)}/s)`,
          `  rejected  ${formatNumber(summary.rejected)}${codes ? ` (${codes}) — dead-lettered in rejected_events` : ''}`,
          `  took      ${summary.seconds.toFixed(1)} s`,
        ].join('\n');
      });
    });
}
