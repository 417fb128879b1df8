import type { FastifyInstance } from 'fastify';
import type { Config } from '../src/config/env.ts';
import type { Logger } from '../src/common/logger.ts';
import { openStores } from '../src/runtime/stores.ts';
import { createServices, type Services } from '../src/runtime/services.ts';
import { startClickhouseProxy, type ClickhouseProxy } from '../src/runtime/clickhouse-proxy.ts';
import { findRunningInstance, removeInstance, writeInstance } from '../src/runtime/instance.ts';
import { buildServer } from './server.ts';
import { startScheduler, type Scheduler } from '../src/jobs/scheduler.ts';
import { startPullJobs, type PullJobs } from '../src/cdc/postgres/pull-jobs.ts';

export interface RunningTessera {
  app: FastifyInstance;
  services: Services;
  url: string;
  stop(): Promise<void>;
}

/**
 * `tessera start`: migrate, serve the API, run the scheduled jobs, and (with in-process ClickHouse)
 * serve that engine to other CLI processes, recording both in the data directory. `stop` drains
 * writes and lets a running job finish before closing.
 */
export async function startTessera(config: Config, log: Logger, opts: { port?: number } = {}): Promise<RunningTessera> {
  const other = await findRunningInstance(config.dataDir);
  if (other) {
    throw new Error(`Tessera already runs on ${config.dataDir} (pid ${other.pid}, API ${other.apiUrl}). Stop it first, or set TESSERA_DATA_DIR.`);
  }
  const stores = await openStores(config, log, { migrate: true });
  const services = createServices(stores, config);
  await services.cdc.ensureTables();
  let proxy: ClickhouseProxy | undefined;
  let app: FastifyInstance | undefined;
  let scheduler: Scheduler | undefined;
  let cdcPull: PullJobs | undefined;
  const stop = async () => {
    await app?.close();
    await cdcPull?.stop();
    await scheduler?.close();
    await Promise.all([services.ingestor.drain(), services.cdc.drain(), services.crm.drain()]);
    await proxy?.close();
    await removeInstance(config.dataDir);
    await stores.close();
  };
  try {
    app = await buildServer({ ...services, log });
    const url = await app.listen({ host: config.HOST, port: opts.port ?? config.PORT });
    if (stores.ch.openSession) proxy = await startClickhouseProxy(stores.ch.openSession, log);
    scheduler = await startScheduler(services, { redisUrl: stores.redisUrl, prefix: config.REDIS_KEY_PREFIX, resolveEveryMs: config.IDENTITY_RESOLVE_EVERY_MS, featuresEveryMs: config.FEATURES_RUN_EVERY_MS }, log);
    cdcPull = startPullJobs({ sources: services.sources, sink: services.cdc, checkpoints: stores.pg.sql, clickhouse: stores.ch, log });
    await writeInstance(config.dataDir, { pid: process.pid, apiUrl: url, clickhouseUrl: proxy?.url, startedAt: new Date().toISOString() });
    return { app, services, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
