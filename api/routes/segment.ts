import type { FastifyInstance } from 'fastify';
import { ValidationError, TesseraError } from '../../src/common/errors.ts';
import { batchSchema, MESSAGE_TYPES } from '../../src/ingest/segment-schemas.ts';
import { formatZodIssues } from '../../src/common/zod-issues.ts';
import type { EventIngestor } from '../../src/ingest/event-ingestor.ts';
import type { ApiKeyVerifier } from '../../src/auth/api-keys.ts';
import { authenticate } from '../auth.ts';

export interface SegmentRouteDeps {
  ingestor: EventIngestor;
  keys: ApiKeyVerifier;
}

/** The Segment HTTP Tracking API: /v1/batch (and /v1/import) plus one route per call type. */
export function segmentRoutes(app: FastifyInstance, deps: SegmentRouteDeps): void {
  const batchHandler = async (req: import('fastify').FastifyRequest) => {
    const key = await authenticate(deps.keys, req, 'write');
    const parsed = batchSchema.safeParse(req.body);
    if (!parsed.success) throw new ValidationError(`Invalid batch: ${formatZodIssues(parsed.error)}`, parsed.error.issues);
    const { batch, sentAt, context, integrations } = parsed.data;
    const result = await deps.ingestor.ingest(
      batch,
      { receivedAt: Date.now(), sentAt, context, integrations, source: 'api', writeKeyId: key.id },
      (i) => `${req.url}#${i}`,
    );
    return { success: true, accepted: result.accepted, rejected: result.rejected };
  };
  app.post('/v1/batch', batchHandler);
  app.post('/v1/import', batchHandler);

  for (const type of MESSAGE_TYPES) {
    app.post(`/v1/${type}`, async (req) => {
      const key = await authenticate(deps.keys, req, 'write');
      const body = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new ValidationError('The body must be a JSON object');
      }
      const message = { ...body, type };
      const result = await deps.ingestor.ingest([message], { receivedAt: Date.now(), source: 'api', writeKeyId: key.id }, () => req.url);
      const rejection = result.rejected[0];
      if (rejection) throw new TesseraError(rejection.code, rejection.message, 400, { index: 0 });
      return { success: true };
    });
  }
}
