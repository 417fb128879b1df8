import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { createTestDatabase, testId } from './stores.ts';

const run = promisify(execFile);
export const BIN = path.resolve('bin/tessera.js');

export interface CliSandbox {
  /** Its own data directory (embedded ClickHouse lives in `clickhouse/` under it). */
  dataDir: string;
  /** The ClickHouse database the CLI writes to. */
  chDatabase: string;
  env: NodeJS.ProcessEnv;
  /** Runs `tessera ...args` as a user would; rejects on a non-zero exit. */
  tessera(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Runs a command that must fail and returns its exit code and output. */
  failing(...args: string[]): Promise<{ code: number; stderr: string; stdout: string }>;
  close(): Promise<void>;
}

/**
 * The `tessera` CLI on isolated stores: its own PostgreSQL database, Redis key prefix, ClickHouse
 * database and data directory (embedded ClickHouse). `sources` is written as the sources config.
 */
export async function openCliSandbox(opts: { env?: Record<string, string>; sources?: unknown } = {}): Promise<CliSandbox> {
  const id = testId();
  const database = await createTestDatabase(id);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-cli-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${id}:`,
    CLICKHOUSE_DATABASE: id,
    TESSERA_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  delete env.CLICKHOUSE_URL;
  if (opts.sources !== undefined) {
    env.TESSERA_SOURCES_CONFIG = path.join(dataDir, 'sources.json');
    await writeFile(env.TESSERA_SOURCES_CONFIG, JSON.stringify(opts.sources));
  }
  const tessera = async (...args: string[]) => {
    const { stdout, stderr } = await run('node', [BIN, ...args], { env, timeout: 60_000 });
    return { stdout, stderr };
  };
  return {
    dataDir,
    chDatabase: id,
    env,
    tessera,
    failing: async (...args) => {
      try {
        await tessera(...args);
      } catch (err) {
        return err as { code: number; stderr: string; stdout: string };
      }
      throw new Error(`tessera ${args.join(' ')} succeeded`);
    },
    close: async () => {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
