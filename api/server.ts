import { createGunzip } from 'node:zlib';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../src/common/logger.ts';
import type { Stores } from '../src/runtime/stores.ts';
import type { EventIngestor } from '../src/ingest/event-ingestor.ts';
import type { ApiKeyVerifier } from '../src/auth/api-keys.ts';
import { registerErrorHandling } from './errors.ts';
import { segmentRoutes } from './routes/segment.ts';
import { healthRoutes } from './routes/health.ts';
import { identityRoutes } from './routes/identity.ts';
import { cdcRoutes, type CdcRouteDeps } from './routes/cdc.ts';
import { crmRoutes, type CrmRouteDeps } from './routes/crm.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import { featureRoutes, type FeatureRouteDeps } from './routes/features.ts';

/** Segment's limit for one request. */
export const MAX_BODY_BYTES = 500 * 1024;

export interface ApiDeps extends CdcRouteDeps, CrmRouteDeps, FeatureRouteDeps {
  stores: Stores;
  ingestor: EventIngestor;
  keys: ApiKeyVerifier;
  identity: IdentityService;
  log: Logger;
}

/** Builds the HTTP API; routes only translate HTTP to the services passed in. */
export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Per-request log lines would dominate ingestion; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: true,
  });
  // Browser SDKs send JSON as text/plain (sendBeacon) and some clients gzip their batches.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'));
  app.addHook('preParsing', async (req, _reply, payload) => {
    if (req.headers['content-encoding'] === 'gzip') {
      delete req.headers['content-length'];
      return payload.pipe(createGunzip());
    }
    return payload;
  });
  registerErrorHandling(app);
  healthRoutes(app, deps.stores);
  segmentRoutes(app, deps);
  identityRoutes(app, deps);
  cdcRoutes(app, deps);
  crmRoutes(app, deps);
  featureRoutes(app, deps);
  return app;
}
