import type { FastifyInstance } from 'fastify';
import type { ApiKeyVerifier } from '../../src/auth/api-keys.ts';
import { ValidationError } from '../../src/common/errors.ts';
import type { FeatureService } from '../../features/feature-service.ts';
import { toCsv } from '../../features/entity-rows.ts';
import { authenticate } from '../auth.ts';

export interface FeatureRouteDeps {
  features: FeatureService;
  keys: ApiKeyVerifier;
}

/** Entity rows for a training set can be many. */
const TRAINING_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * The feature catalog and point-in-time training sets; read scope.
 *
 * - `GET /v1/features`: every declared feature with its latest statistics and drift flags.
 * - `POST /v1/training-sets`: entity rows as JSON (`[{ identifier, timestamp }]` or `{ rows }`) or
 *   CSV (`Content-Type: text/csv`); answers `{ columns, rows }`, or CSV with `?format=csv`.
 */
export function featureRoutes(app: FastifyInstance, deps: FeatureRouteDeps): void {
  app.get('/v1/features', async (req) => {
    await authenticate(deps.keys, req, 'read');
    return { features: await deps.features.catalog() };
  });

  void app.register(async (scope) => {
    scope.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: TRAINING_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.post<{ Querystring: { format?: string } }>('/v1/training-sets', { bodyLimit: TRAINING_BODY_LIMIT }, async (req, reply) => {
      await authenticate(deps.keys, req, 'read');
      const format = req.query.format ?? 'json';
      if (format !== 'json' && format !== 'csv') throw new ValidationError('format must be json or csv');
      const csvInput = typeof req.body === 'string';
      const result = await deps.features.trainingSet(req.body, csvInput ? 'csv' : 'json');
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(toCsv(result.columns, result.rows));
      return result;
    });
  });
}
