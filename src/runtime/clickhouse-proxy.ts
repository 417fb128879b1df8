import http from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream/promises';
import type { ChdbConnection } from 'chdb/connection';
import type { Logger } from '../common/logger.ts';

/** URL parameters of ClickHouse's HTTP interface that are not settings. */
const NON_SETTINGS = new Set(['query', 'query_id', 'database', 'session_id', 'role', 'user', 'password']);

export interface ClickhouseProxy {
  /** `http://default:TOKEN@127.0.0.1:PORT`: usable as CLICKHOUSE_URL by another process. */
  url: string;
  close(): Promise<void>;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function authorized(req: http.IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString().split(':')[1] ?? '' : '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Serves the subset of ClickHouse's HTTP interface that `@clickhouse/client` uses, on loopback, backed
 * by this process's in-process chdb engine. CLI commands run while `tessera start` holds the data
 * directory reach ClickHouse through it with an ordinary `@clickhouse/client`.
 */
export async function startClickhouseProxy(openSession: () => ChdbConnection, log: Logger): Promise<ClickhouseProxy> {
  const token = randomBytes(24).toString('base64url');
  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/ping')) return void res.end('Ok.\n');
    if (!authorized(req, token)) {
      res.writeHead(401, { 'X-ClickHouse-Exception-Code': '516' });
      return void res.end('Code: 516. DB::Exception: Authentication failed. (AUTHENTICATION_FAILED)');
    }
    // A session per request, as ClickHouse's HTTP interface has without a session_id: settings and
    // SET statements of one request never reach another, nor this process's own queries.
    const session = openSession();
    try {
      const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
      const body = await readBody(req);
      const query_params: Record<string, string> = {};
      const clickhouse_settings: Record<string, string> = {};
      for (const [key, value] of params) {
        if (key.startsWith('param_')) query_params[key.slice(6)] = value;
        else if (!NON_SETTINGS.has(key)) clickhouse_settings[key] = value;
      }
      const inUrl = params.get('query');
      const result = await session.exec({
        query: inUrl ?? body,
        values: inUrl ? body : undefined,
        query_params,
        clickhouse_settings,
        query_id: params.get('query_id') ?? undefined,
      } as Parameters<ChdbConnection['exec']>[0]);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
      result.stream.pipe(res);
      await finished(res).catch(() => undefined);
    } catch (err) {
      const e = err as { code?: string; type?: string; message?: string };
      res.writeHead(500, { 'X-ClickHouse-Exception-Code': String(e.code ?? '1000') });
      res.end(`Code: ${e.code ?? 1000}. DB::Exception: ${e.message ?? String(err)} (${e.type ?? 'UNKNOWN'})`);
      log.debug({ err }, 'clickhouse proxy query failed');
    } finally {
      await session.close();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://default:${token}@127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
