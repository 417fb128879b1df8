import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { freePort, isAlive, readJson, removeFile, waitForPort, writeJson } from './process-files.ts';
import type { EmbeddedServer } from './embedded-postgres.ts';
import type { Logger } from '../common/logger.ts';

function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

/**
 * Finds `redis-server`; as root on a Debian/Ubuntu machine without it, installs the distribution
 * package, else stops with a message that says how to get one.
 */
export function ensureRedisBinary(log: Logger): string {
  if (onPath('redis-server')) return 'redis-server';
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    log.info('redis-server not found: installing the distribution package (apt-get install -y redis-server)');
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    const res = spawnSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'ignore' });
    if (res.status === 0 && onPath('redis-server')) return 'redis-server';
  }
  throw new Error(
    'redis-server was not found on PATH. Install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`, ' +
      'macOS: `brew install redis`) or set REDIS_URL to a running Redis.',
  );
}

interface RedisState {
  pid: number;
  port: number;
}

/** A redis-server child process with its data (AOF) in `dir`; shared if one already runs there. */
export async function startEmbeddedRedis(dir: string, log: Logger): Promise<EmbeddedServer> {
  const stateFile = path.join(dir, 'server.json');
  const state = await readJson<RedisState>(stateFile);
  if (state && isAlive(state.pid)) {
    log.debug({ port: state.port }, 'using the embedded Redis already running');
    return { url: `redis://127.0.0.1:${state.port}`, stop: async () => {} };
  }
  const bin = ensureRedisBinary(log);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    bin,
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`))),
  );
  await Promise.race([waitForPort(port, 15_000), exited]);
  await writeJson(stateFile, { pid: child.pid!, port } satisfies RedisState);
  const stop = async () => {
    if (child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    await removeFile(stateFile);
  };
  process.once('exit', () => child.kill('SIGTERM'));
  return { url: `redis://127.0.0.1:${port}`, stop };
}
