import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded/embedded-postgres.ts';
import { startEmbeddedRedis } from '../../src/embedded/embedded-redis.ts';
import { createLogger } from '../../src/common/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    redisUrl: string;
  }
}

async function pgReachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function redisReachable(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function firstReachable(candidates: (string | undefined)[], check: (url: string) => Promise<boolean>) {
  for (const url of candidates) if (url && (await check(url))) return url;
  return undefined;
}

/**
 * Finds the stores tests run against: DATABASE_URL / REDIS_URL when given and reachable, else the
 * standard local ports, else embedded servers started here for the run.
 */
export default async function setup(project: TestProject) {
  const log = createLogger('warn', { name: 'test-setup' });
  const started: EmbeddedServer[] = [];
  let tmp: string | undefined;
  const embeddedDir = async () => (tmp ??= await mkdtemp(path.join(os.tmpdir(), 'tessera-test-')));

  let pgAdminUrl = await firstReachable(
    [process.env.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/postgres'],
    pgReachable,
  );
  if (!pgAdminUrl) {
    const server = await startEmbeddedPostgres(path.join(await embeddedDir(), 'postgres'), log);
    started.push(server);
    pgAdminUrl = server.url;
  }
  let redisUrl = await firstReachable([process.env.REDIS_URL, 'redis://127.0.0.1:6379'], redisReachable);
  if (!redisUrl) {
    const server = await startEmbeddedRedis(path.join(await embeddedDir(), 'redis'), log);
    started.push(server);
    redisUrl = server.url;
  }
  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('redisUrl', redisUrl);

  return async () => {
    for (const s of started) await s.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  };
}
