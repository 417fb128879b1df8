import type { FastifyInstance } from 'fastify';
import type { ApiKeyVerifier } from '../../src/auth/api-keys.ts';
import type { CdcWriter } from '../../src/cdc/cdc-writer.ts';
import { parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import type { CdcStatusReader } from '../../src/cdc/cdc-status.ts';
import { errorMessage } from '../../src/common/errors.ts';
import { authenticate } from '../auth.ts';

export interface CdcRouteDeps {
  cdc: CdcWriter;
  cdcStatus: CdcStatusReader;
  keys: ApiKeyVerifier;
}

/** Debezium Server's HTTP sink may send large arrays of change events. */
const DEBEZIUM_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * CDC over HTTP. `POST /v1/cdc/debezium` takes what Debezium Server's HTTP sink sends (write
 * scope; `?source=NAME` files the changes under a declared CDC source, else each event's
 * `source.name` does). Bad changes never fail the request: they are dead-lettered and listed,
 * so the stream goes on. `GET /v1/cdc/status` (read scope) reports each table.
 */
export function cdcRoutes(app: FastifyInstance, deps: CdcRouteDeps): void {
  // Debezium's body is read as text here: JSON that does not parse is dead-lettered like any other
  // bad envelope (answering 400 would make the sink retry it forever and stop the stream).
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: DEBEZIUM_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.post<{ Querystring: { source?: string }; Body: string }>('/v1/cdc/debezium', async (req) => {
      await authenticate(deps.keys, req, 'write');
      return debezium(deps, req.body, req.query.source);
    });
  });

  app.get('/v1/cdc/status', async (req) => {
    await authenticate(deps.keys, req, 'read');
    return { tables: await deps.cdcStatus.status() };
  });
}

async function debezium(deps: CdcRouteDeps, text: string, source: string | undefined) {
  const origin = 'POST /v1/cdc/debezium';
  let body: unknown;
  try {
    body = text.trim() === '' ? null : JSON.parse(text);
  } catch (err) {
    const rejection = { index: 0, code: 'invalid_envelope' as const, message: `the body is not JSON: ${errorMessage(err)}`, origin, payload: text };
    await deps.cdc.deadLetter([rejection]);
    return { accepted: 0, ignored: 0, rejected: [{ index: 0, code: rejection.code, message: rejection.message }] };
  }
  const parsed = parseDebeziumBody(body, { source, origin, receivedAt: Date.now() });
  const [result] = await Promise.all([deps.cdc.apply(parsed.changes), deps.cdc.deadLetter(parsed.rejections)]);
  const rejected = [...parsed.rejections, ...result.rejected].map(({ index, code, message }) => ({ index, code, message })).sort((a, b) => a.index - b.index);
  return { accepted: result.accepted, ignored: parsed.ignored, rejected };
}
