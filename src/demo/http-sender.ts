/**
 * Sending events over HTTP, for the demo and the benchmarks: POSTs over kept-alive `node:http`
 * connections (one per sender). The benchmarks run their load on the same 2 cores as the server,
 * and `fetch` (WHATWG streams over undici) cost ~17 µs of CPU per ingested event against ~5 for
 * this, CPU a real client on another machine would not take from the server.
 */
import http from 'node:http';

export interface PostResult {
  status: number;
  body: string;
}

export interface HttpPoster {
  post(path: string, body: string): Promise<PostResult>;
  close(): void;
}

/** JSON POSTs to `baseUrl` (http only: Tessera's local API) over at most `connections` kept-alive connections. */
export function httpPoster(baseUrl: string, headers: Record<string, string>, connections: number): HttpPoster {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:') throw new Error(`${baseUrl}: only http:// URLs are supported`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return {
    post: (path, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          { host: url.hostname, port: url.port, path, method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}

export interface SendOptions {
  /** Default `/v1/batch`. */
  path?: string;
  /** The request body of one batch; default Segment's `{ batch, sentAt }`. */
  body?: (batch: unknown[]) => unknown;
  batchSize?: number;
  concurrency?: number;
  onProgress?: (sent: number) => void;
}

export interface SendResult {
  sent: number;
  accepted: number;
  rejected: number;
  seconds: number;
}

/**
 * Sends messages to `POST /v1/batch` (or `opts.path`) as a Segment SDK would (HTTP Basic with the
 * write key), in batches, from `concurrency` concurrent senders. Any non-2xx answer fails the run.
 */
export async function sendBatches(baseUrl: string, writeKey: string, messages: Iterable<unknown>, opts: SendOptions = {}): Promise<SendResult> {
  const batchSize = opts.batchSize ?? 100;
  const concurrency = opts.concurrency ?? 8;
  const path = opts.path ?? '/v1/batch';
  const toBody = opts.body ?? ((batch: unknown[]) => ({ batch, sentAt: new Date().toISOString() }));
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const iterator = messages[Symbol.iterator]();
  const result: SendResult = { sent: 0, accepted: 0, rejected: 0, seconds: 0 };
  const started = performance.now();

  const nextBatch = (): unknown[] => {
    const batch: unknown[] = [];
    while (batch.length < batchSize) {
      const next = iterator.next();
      if (next.done) break;
      batch.push(next.value);
    }
    return batch;
  };

  const poster = httpPoster(baseUrl, { authorization: auth }, concurrency);
  const sender = async () => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      const res = await poster.post(path, JSON.stringify(toBody(batch)));
      const body = parseAnswer(res.body);
      if (res.status < 200 || res.status > 299) throw new Error(`POST ${path} answered ${res.status}: ${body.error?.message ?? (res.body.slice(0, 200) || 'no message')}`);
      result.sent += batch.length;
      result.accepted += body.accepted ?? 0;
      result.rejected += body.rejected?.length ?? 0;
      opts.onProgress?.(result.sent);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, sender));
  } finally {
    poster.close();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** The API's JSON answer; an answer that is not JSON (a proxy's error page) has no fields. */
function parseAnswer(text: string): { accepted?: number; rejected?: unknown[]; error?: { message: string } } {
  try {
    return JSON.parse(text) as { accepted?: number; rejected?: unknown[]; error?: { message: string } };
  } catch {
    return {};
  }
}
