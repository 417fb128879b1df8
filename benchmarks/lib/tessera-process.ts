import { spawn, type StdioOptions } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TesseraProcess {
  apiUrl: string;
  /** The running instance's ClickHouse endpoint (a proxy onto its chdb). */
  clickhouseUrl: string;
  /** A write-scope API key. */
  writeKey: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** Reads a JSON file once it exists and is complete. */
async function waitForJson<T>(file: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch {
      if (Date.now() > deadline) throw new Error(`${file} did not appear`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('node', ['bin/tessera.js', ...args], { env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`tessera ${args.join(' ')} failed`))));
  });
}

/**
 * `tessera start` in a child process on a fresh data directory (as it runs in production; the load
 * generator stays in this process), with a write key created through the CLI.
 */
export async function startTesseraProcess(extraEnv: Record<string, string> = {}, prepare?: (dataDir: string) => Promise<Record<string, string>>): Promise<TesseraProcess> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-'));
  const env = { ...process.env, TESSERA_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CLICKHOUSE_DATABASE: 'bench', ...extraEnv, ...(await prepare?.(dataDir)) };
  // As `npx tessera start` runs it (the bin's own node flags); BENCH_SERVER_NODE_ARGS replaces those flags (e.g. to add --cpu-prof).
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean);
  const stdio: StdioOptions = ['ignore', 'inherit', 'inherit'];
  const server = nodeArgs ? spawn('node', [...nodeArgs, 'bin/tessera.js', 'start'], { env, stdio }) : spawn('bin/tessera.js', ['start'], { env, stdio });
  const stop = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const info = await waitForJson<{ apiUrl: string; clickhouseUrl: string }>(path.join(dataDir, 'instance.json'), 60_000);
    const { key } = JSON.parse(await run(['keys', 'create', '--scope', 'write', '--json'], env)) as { key: string };
    return { ...info, writeKey: key, dataDir, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
