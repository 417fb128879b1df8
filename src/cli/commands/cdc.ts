import type { Command } from 'commander';
import { cdcSource } from '../../sources/sources-config.ts';
import { PostgresPullConnector, type PullStats } from '../../cdc/postgres/postgres-pull-connector.ts';
import { withServices } from '../context.ts';
import { formatNumber, print } from '../output.ts';
import { cdcStatusCommand } from './cdc-status.ts';

interface PullSummary extends PullStats {
  seconds: number;
  stoppedBy: 'caught up' | 'signal';
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function progressLine(s: PullStats, rate: number): string {
  if (s.phase === 'snapshot') return `${s.source}: initial snapshot, ${formatNumber(s.snapshotRows)} rows copied`;
  if (s.phase === 'retrying') return `${s.source}: retrying after: ${s.lastError ?? 'an error'}`;
  if (s.phase !== 'streaming') return `${s.source}: ${s.phase}`;
  return `${s.source}: ${formatNumber(s.changesApplied)} changes, ${formatNumber(rate)}/s, lag ${seconds(s.lagMs)}, position ${s.lsn ?? '-'}`;
}

/** A progress line on stderr: rewritten in place on a terminal, one line every 10 s elsewhere. */
function startProgressLine(stats: () => PullStats): () => void {
  const tty = process.stderr.isTTY;
  let last = { at: Date.now(), changes: 0, printed: 0 };
  const timer = setInterval(
    () => {
      const s = stats();
      const now = Date.now();
      const rate = ((s.changesApplied - last.changes) * 1000) / Math.max(1, now - last.at);
      last = { at: now, changes: s.changesApplied, printed: last.printed };
      const line = progressLine(s, rate);
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (now - last.printed >= 10_000) {
        process.stderr.write(`${line}\n`);
        last.printed = now;
      }
    },
    tty ? 1000 : 2000,
  );
  return () => {
    clearInterval(timer);
    if (tty) process.stderr.write('\n');
  };
}

function summaryText(s: PullSummary): string {
  const rate = s.seconds > 0 ? s.changesApplied / s.seconds : 0;
  return [
    `CDC pull of source ${s.source} stopped (${s.stoppedBy}) after ${s.seconds.toFixed(1)} s`,
    `  snapshot      ${formatNumber(s.snapshotRows)} rows`,
    `  changes       ${formatNumber(s.changesApplied)} applied in ${formatNumber(s.transactions)} transactions (${formatNumber(rate)}/s)`,
    `  dead letters  ${formatNumber(s.rejected)}${s.rejected > 0 ? ' (reasons: `tessera cdc status`, rejected_events)' : ''}`,
    `  position      ${s.lsn ?? '-'}${s.lastCommitTime ? `, last commit ${new Date(s.lastCommitTime).toISOString()}` : ''}`,
  ].join('\n');
}

/** `tessera cdc`: the PostgreSQL pull connector and the status of CDC tables. */
export function cdcCommand(program: Command): void {
  const cdc = program.command('cdc').description('CDC sources: pull changes from PostgreSQL, status of CDC tables');
  cdc
    .command('pull')
    .description(
      "stream a PostgreSQL source's changes into ClickHouse over logical replication: an initial snapshot on first start, then every change; " +
        'runs until Ctrl-C and resumes where it stopped, without losing or doubling changes',
    )
    .requiredOption('--source <name>', 'the CDC source, declared with a `connection` in TESSERA_SOURCES_CONFIG')
    .option('--until-caught-up', 'stop once every change the source had committed at start is applied')
    .option('--resnapshot', 'forget the position, empty the current-state tables and copy the tables again (after a lost slot)')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { source: string; untilCaughtUp?: boolean; resnapshot?: boolean; json?: boolean }) => {
      const summary = await withServices(async ({ services, log }) => {
        const connector = new PostgresPullConnector({
          source: opts.source,
          config: cdcSource(services.sources, opts.source),
          sink: services.cdc,
          checkpoints: services.stores.pg.sql,
          clickhouse: services.stores.ch,
          log,
          untilCaughtUp: opts.untilCaughtUp,
          resnapshot: opts.resnapshot,
        });
        const started = Date.now();
        let signalled = false;
        const stop = () => {
          signalled = true;
          process.stderr.write('\nstopping: storing what arrived and checkpointing it (Ctrl-C again to quit at once)\n');
          void connector.stop();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const stopProgress = opts.json ? () => {} : startProgressLine(() => connector.stats());
        try {
          await connector.run();
        } finally {
          stopProgress();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        const result: PullSummary = { ...connector.stats(), seconds: (Date.now() - started) / 1000, stoppedBy: signalled ? 'signal' : 'caught up' };
        return result;
      });
      print(opts.json ?? false, summary, () => summaryText(summary));
    });
  cdcStatusCommand(cdc);
}
