import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { openClickhouse } from '../../src/clients/clickhouse.ts';
import { openPostgres } from '../../src/clients/postgres.ts';
import { openRedis } from '../../src/clients/redis.ts';
import { migrateAll, type Stores } from '../../src/runtime/stores.ts';
import { createScratchDatabase } from '../../src/db/scratch-database.ts';
import { loadConfig, type Config } from '../../src/config/env.ts';

export interface TestStores extends Stores {
  config: Config;
}

/**
 * Isolated stores for one test file: its own PostgreSQL database, its own ClickHouse database in a
 * chdb directory of its own process, its own Redis key prefix. Everything is dropped on close.
 */
export function testId(): string {
  return `t_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** A fresh PostgreSQL database on the test server; `drop` removes it. */
export function createTestDatabase(id: string): Promise<{ url: string; drop(): Promise<void> }> {
  return createScratchDatabase(inject('pgAdminUrl'), id);
}

export async function openTestStores(opts: { migrate?: boolean } = { migrate: true }): Promise<TestStores> {
  const id = testId();
  const database = await createTestDatabase(id);

  const chDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-ch-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-data-'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${id}:`,
    CLICKHOUSE_DATABASE: id,
    TESSERA_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    IDENTITY_SETTLE_MS: '0',
  });
  const pg = openPostgres(config.DATABASE_URL!, { max: 5 });
  const redis = openRedis(config.REDIS_URL!, config.REDIS_KEY_PREFIX);
  const ch = await openClickhouse({ target: { path: chDir }, database: id });
  if (opts.migrate) await migrateAll(pg, ch);

  const close = async () => {
    const keys = await redis.keys(`${config.REDIS_KEY_PREFIX}*`);
    if (keys.length) await redis.del(...keys.map((k) => k.slice(config.REDIS_KEY_PREFIX.length)));
    await redis.quit();
    await ch.command(`DROP DATABASE IF EXISTS \`${id}\``).catch(() => {});
    await ch.close();
    await pg.close();
    await database.drop();
    await rm(chDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  };
  return { pg, ch, redis, redisUrl: config.REDIS_URL!, clickhouseMode: 'embedded', config, close };
}
