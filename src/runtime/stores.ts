import path from 'node:path';
import { openClickhouse, type Clickhouse, type ClickhouseTarget } from '../clients/clickhouse.ts';
import { openPostgres, type Postgres } from '../clients/postgres.ts';
import { openRedis, type Redis } from '../clients/redis.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../embedded/embedded-postgres.ts';
import { startEmbeddedRedis } from '../embedded/embedded-redis.ts';
import { migrateClickhouse } from '../db/migrate-clickhouse.ts';
import { migratePostgres } from '../db/migrate-postgres.ts';
import type { Config } from '../config/env.ts';
import type { Logger } from '../common/logger.ts';
import { findRunningInstance } from './instance.ts';

/** The three stores, opened once in a composition root and passed to everything else. */
export interface Stores {
  pg: Postgres;
  ch: Clickhouse;
  redis: Redis;
  /** For connections that manage their own prefix (BullMQ refuses ioredis key prefixes). */
  redisUrl: string;
  /** How ClickHouse was reached: a server, the embedded engine, or a running instance's proxy. */
  clickhouseMode: 'server' | 'embedded' | 'instance';
  close(): Promise<void>;
}

async function clickhouseTarget(config: Config): Promise<{ target: ClickhouseTarget; mode: Stores['clickhouseMode'] }> {
  if (config.CLICKHOUSE_URL) return { target: { url: config.CLICKHOUSE_URL }, mode: 'server' };
  const instance = await findRunningInstance(config.dataDir);
  if (instance?.clickhouseUrl) return { target: { url: instance.clickhouseUrl }, mode: 'instance' };
  return { target: { path: path.join(config.dataDir, 'clickhouse') }, mode: 'embedded' };
}

/**
 * Opens PostgreSQL, ClickHouse and Redis from the configuration: configured URLs first, then the
 * stores of a `tessera start` running on the same data directory, then embedded ones started here.
 */
export async function openStores(config: Config, log: Logger, opts: { migrate?: boolean } = {}): Promise<Stores> {
  const started: EmbeddedServer[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => log.warn({ err }, 'closing a store failed'));
    for (const s of started.reverse()) await s.stop().catch((err) => log.warn({ err }, 'stopping an embedded store failed'));
  };
  try {
    let pgUrl = config.DATABASE_URL;
    if (!pgUrl) {
      const server = await startEmbeddedPostgres(path.join(config.dataDir, 'postgres'), log);
      started.push(server);
      pgUrl = server.url;
    }
    let redisUrl = config.REDIS_URL;
    if (!redisUrl) {
      const server = await startEmbeddedRedis(path.join(config.dataDir, 'redis'), log);
      started.push(server);
      redisUrl = server.url;
    }
    const pg = openPostgres(pgUrl);
    cleanups.push(() => pg.close());
    const redis = openRedis(redisUrl, config.REDIS_KEY_PREFIX);
    cleanups.push(async () => void (await redis.quit()));
    const { target, mode } = await clickhouseTarget(config);
    const ch = await openClickhouse({ target, database: config.CLICKHOUSE_DATABASE, insertConnections: config.CLICKHOUSE_INSERT_CONNECTIONS });
    cleanups.push(() => ch.close());
    if (opts.migrate) await migrateAll(pg, ch);
    return { pg, ch, redis, redisUrl, clickhouseMode: mode, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface MigrationResult {
  /** How many PostgreSQL migrations were applied now. */
  postgres: number;
  /** Versions of the ClickHouse migrations applied now. */
  clickhouse: number[];
}

export async function migrateAll(pg: Postgres, ch: Clickhouse): Promise<MigrationResult> {
  return { postgres: await migratePostgres(pg), clickhouse: await migrateClickhouse(ch) };
}
