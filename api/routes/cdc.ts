import type { FastifyInstance } from 'fastify';
import type { ApiKeyVerifier } from '../../src/auth/api-keys.ts';
import type { CdcWriter } from '../../src/cdc/cdc-writer.ts';
import { parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import type { CdcStatusReader } from '../../src/cdc/cdc-status.ts';
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
  app.post<{ Querystring: { source?: string } }>('/v1/cdc/debezium', { bodyLimit: DEBEZIUM_BODY_LIMIT }, async (req) => {
    await authenticate(deps.keys, req, 'write');
    const parsed = parseDebeziumBody(req.body, { source: req.query.source, origin: 'POST /v1/cdc/debezium', receivedAt: Date.now() });
    const [result] = await Promise.all([deps.cdc.apply(parsed.changes), deps.cdc.deadLetter(parsed.rejections)]);
    const rejected = [...parsed.rejections, ...result.rejected].map(({ index, code, message }) => ({ index, code, message })).sort((a, b) => a.index - b.index);
    return { accepted: result.accepted, ignored: parsed.ignored, rejected };
  });

  app.get('/v1/cdc/status', async (req) => {
    await authenticate(deps.keys, req, 'read');
    return { tables: await deps.cdcStatus.status() };
  });
}
