/**
 * The pull connectors `tessera start` runs: one per CDC source that has a `connection`. They
 * retry transient failures (the source down at start, a restart) with backoff; a configuration
 * problem stops that source's connector with an error in the log saying what to do.
 */
import type { Sql } from 'postgres';
import type { Logger } from '../../common/logger.ts';
import type { Clickhouse } from '../../clients/clickhouse.ts';
import type { SourcesConfig } from '../../sources/sources-config.ts';
import { PostgresPullConnector, type ChangeSink, type PullStats } from './postgres-pull-connector.ts';

export interface PullJobDeps {
  sources: SourcesConfig;
  sink: ChangeSink;
  checkpoints: Sql;
  clickhouse: Clickhouse;
  log: Logger;
}

export interface PullJobs {
  stats(): PullStats[];
  /** Stops every connector after it has stored and checkpointed what it received. */
  stop(): Promise<void>;
}

export function startPullJobs(deps: PullJobDeps): PullJobs {
  const connectors = Object.entries(deps.sources.cdc)
    .filter(([, config]) => config.connection)
    .map(([source, config]) => {
      const log = deps.log.child({ job: `cdc.pull:${source}` });
      const connector = new PostgresPullConnector({ source, config, sink: deps.sink, checkpoints: deps.checkpoints, clickhouse: deps.clickhouse, log, retryBeforeStreaming: true });
      connector.run().catch((err: unknown) => log.error({ err }, `CDC pull of source ${source} stopped`));
      return connector;
    });
  if (connectors.length) deps.log.info({ sources: connectors.map((c) => c.stats().source) }, 'CDC pull connectors started');
  return {
    stats: () => connectors.map((c) => c.stats()),
    stop: async () => {
      await Promise.all(connectors.map((c) => c.stop().catch(() => {})));
    },
  };
}
