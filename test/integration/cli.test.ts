import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, openCliSandbox, type CliSandbox } from '../helpers/cli.ts';

interface InstanceInfo {
  pid: number;
  apiUrl: string;
  clickhouseUrl: string;
}

describe('tessera CLI', () => {
  let cli: CliSandbox;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let chDatabase: string;
  const tessera = (...args: string[]) => cli.tessera(...args);
  const failing = (...args: string[]) => cli.failing(...args);

  beforeAll(async () => {
    cli = await openCliSandbox({ env: { PORT: '0', IDENTITY_SETTLE_MS: '0' } });
    ({ dataDir, env, chDatabase } = cli);
  });
  afterAll(() => cli.close());

  // Twelve CLI processes, each loading TypeScript: ~1-2.5 s apiece while the other test files run.
  it('has --help on every command', { timeout: 120_000 }, async () => {
    for (const args of [[], ['start'], ['migrate'], ['import', 'events'], ['import', 'crm'], ['cdc', 'pull'], ['cdc', 'status'], ['keys', 'create'], ['keys', 'list'], ['demo'], ['identity'], ['identity', 'explain']]) {
      const { stdout } = await tessera(...args, '--help');
      expect(stdout, args.join(' ')).toContain('Usage: tessera');
    }
  });

  it('names the option and the range for a bad number', async () => {
    const bad = await failing('demo', '--people', 'many');
    expect(bad.stderr).toContain("--people must be a whole number from 1 to 10000000 (got 'many')");
  });

  it('migrates, and a second run has nothing left to do', async () => {
    const first = JSON.parse((await tessera('migrate', '--json')).stdout);
    expect(first.postgres).toBeGreaterThan(0);
    expect(first.clickhouse).toContain(1);
    const second = JSON.parse((await tessera('migrate', '--json')).stdout);
    expect(second).toEqual({ postgres: 0, clickhouse: [] });
  });

  it('creates keys, prints them once, lists only their prefix', async () => {
    const created = JSON.parse((await tessera('keys', 'create', '--scope', 'write', '--json')).stdout);
    expect(created.key).toMatch(/^tsk_write_/);
    const listed = JSON.parse((await tessera('keys', 'list', '--json')).stdout);
    expect(listed.some((k: { id: string }) => k.id === created.id)).toBe(true);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const bad = await failing('keys', 'create', '--scope', 'everything');
    expect(bad.stderr).toContain("unknown scope 'everything'");
  });

  it('imports NDJSON, reporting every bad line by file and line while the rest loads', async () => {
    const file = path.join(dataDir, 'events.ndjson');
    await writeFile(
      file,
      [
        JSON.stringify({ type: 'track', userId: 'u1', event: 'A', messageId: 'imp-1' }),
        '{"type": "track", "userId": ',
        '',
        JSON.stringify({ type: 'track', userId: 'u2', messageId: 'imp-2' }),
        JSON.stringify({ type: 'identify', anonymousId: 'a3', traits: { email: 'x@y.z' }, messageId: 'imp-3' }),
      ].join('\n'),
    );
    const { stdout, stderr } = await tessera('import', 'events', file);
    expect(stderr).toContain(`${file}:2: invalid_json`);
    expect(stderr).toContain(`${file}:4: invalid_event: event: `);
    expect(stdout).toMatch(/stored\s+2 events/);
    const summary = JSON.parse((await tessera('import', 'events', file, '--json')).stdout);
    expect(summary).toMatchObject({ lines: 5, accepted: 2, rejected: 2, rejectedByCode: { invalid_json: 1, invalid_event: 1 } });
    const missing = await failing('import', 'events', path.join(dataDir, 'nope.ndjson'));
    expect(missing.stderr).toContain('nope.ndjson: no such file');
  });

  it('resolves identities and explains them', async () => {
    const file = path.join(dataDir, 'people.ndjson');
    await writeFile(
      file,
      [
        { type: 'page', anonymousId: 'cli-anon', messageId: 'p-1', timestamp: '2026-01-01T00:00:00Z' },
        { type: 'identify', anonymousId: 'cli-anon', userId: 'cli-user', traits: { email: 'Cli@Example.com' }, messageId: 'p-2', timestamp: '2026-01-01T00:01:00Z' },
      ]
        .map((m) => JSON.stringify(m))
        .join('\n'),
    );
    await tessera('import', 'events', file);
    const summary = JSON.parse((await tessera('identity', 'resolve', '--json')).stdout);
    expect(summary.read.events).toBeGreaterThanOrEqual(2);
    const show = (await tessera('identity', 'show', 'email:cli@example.com')).stdout;
    expect(show).toMatch(/Profile p_[0-9a-f]+/);
    expect(show).toContain('anonymous_id');
    const explain = (await tessera('identity', 'explain', 'anonymous_id:cli-anon', 'email:CLI@example.com')).stdout;
    expect(explain).toContain('1. anonymous_id:cli-anon — user_id:cli-user');
    const stats = JSON.parse((await tessera('identity', 'stats', '--json')).stdout);
    expect(stats.profiles).toBeGreaterThanOrEqual(1);
    const rebuilt = JSON.parse((await tessera('identity', 'rebuild', '--json')).stdout);
    expect(rebuilt.read).toEqual(summary.read);
    const missing = await failing('identity', 'show', 'email:nobody@example.com');
    expect(missing.stderr).toContain('No profile has the identifier email:nobody@example.com');
    const bad = await failing('identity', 'show', 'cli-user');
    expect(bad.stderr).toContain('write it as type:value');
  });

  it('while `tessera start` runs on the embedded engine, other commands use its data', async () => {
    const server: ChildProcess = spawn('node', [BIN, 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let serverErr = '';
    server.stderr!.on('data', (d) => (serverErr += d));
    try {
      const info = await waitForInstance(dataDir, server);
      const key = JSON.parse((await tessera('keys', 'create', '--scope', 'write', '--json')).stdout).key as string;
      const file = path.join(dataDir, 'more.ndjson');
      await writeFile(file, JSON.stringify({ type: 'track', userId: 'u9', event: 'Live', messageId: 'live-1' }));
      const summary = JSON.parse((await tessera('import', 'events', file, '--json')).stdout);
      expect(summary.accepted).toBe(1);
      const res = await fetch(`${info.apiUrl}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
        body: JSON.stringify({ userId: 'u9', event: 'Live', messageId: 'live-2' }),
      });
      expect(res.status).toBe(200);
      // The instance's ClickHouse endpoint speaks ClickHouse's HTTP interface to a stock client.
      const client = createClient({ url: info.clickhouseUrl, compression: { request: false, response: false } });
      const rs = await client.query({
        query: `SELECT message_id FROM ${chDatabase}.events_unique WHERE message_id LIKE {p:String} ORDER BY message_id`,
        query_params: { p: 'live-%' },
        format: 'JSONEachRow',
      });
      expect(await rs.json()).toEqual([{ message_id: 'live-1' }, { message_id: 'live-2' }]);
      // Each request is a session of its own: one request's settings never reach the next.
      const maxThreads = async (settings?: { max_threads: number }) =>
        (await (await client.query({ query: "SELECT getSetting('max_threads') AS n", format: 'JSONEachRow', clickhouse_settings: settings })).json<{ n: number }>())[0]!.n;
      const usual = await maxThreads();
      expect(await maxThreads({ max_threads: usual + 3 })).toBe(usual + 3);
      expect(await maxThreads()).toBe(usual);
      await client.close();
      const second = await failing('start');
      expect(second.stderr).toContain('Tessera already runs on');
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    expect(serverErr).not.toContain('"level":50');
    await expect(readFile(path.join(dataDir, 'instance.json'))).rejects.toThrow();
  });
});

async function waitForInstance(dataDir: string, server: ChildProcess): Promise<InstanceInfo> {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`tessera start exited with ${server.exitCode}`);
    try {
      return JSON.parse(await readFile(path.join(dataDir, 'instance.json'), 'utf8')) as InstanceInfo;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('tessera start did not come up in 30 s');
}
