/**
 * The load generator's HTTP client: POSTs over kept-alive `node:http` connections, one per sender.
 * The benchmarks run the load generator on the same 2 cores as the server, so its cost is taken
 * from the server: `fetch` (WHATWG streams over undici) used ~17 µs of CPU per ingested event,
 * about a third of what the server itself used.
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

export function httpPoster(baseUrl: string, headers: Record<string, string>, connections: number): HttpPoster {
  const url = new URL(baseUrl);
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
