import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiKeyVerifier } from '../../src/auth/api-keys.ts';
import { ValidationError } from '../../src/common/errors.ts';
import type { CrmWriter } from '../../src/crm/crm-writer.ts';
import { formatZodIssues } from '../../src/common/zod-issues.ts';
import { crmSource, type SourcesConfig } from '../../src/sources/sources-config.ts';
import { authenticate } from '../auth.ts';

export interface CrmRouteDeps {
  crm: CrmWriter;
  sources: SourcesConfig;
  keys: ApiKeyVerifier;
}

/** CRM exports can be large; records are small, so one request may carry thousands. */
const CRM_BODY_LIMIT = 16 * 1024 * 1024;

/** A JSON array of records, or `{ records: [...] }`; each record is checked on its own. */
const crmBodySchema = z.union([z.array(z.unknown()), z.object({ records: z.array(z.unknown()) }).transform((b) => b.records)], {
  error: 'the body must be a JSON array of records or { "records": [...] }',
});

/**
 * `POST /v1/crm/{source}/records` (write scope): records of a CRM source declared in the sources
 * config, mapped by its mapping. Bad records are dead-lettered and listed while the rest are
 * stored; the answer comes once they are stored.
 */
export function crmRoutes(app: FastifyInstance, deps: CrmRouteDeps): void {
  app.post<{ Params: { source: string } }>('/v1/crm/:source/records', { bodyLimit: CRM_BODY_LIMIT }, async (req) => {
    await authenticate(deps.keys, req, 'write');
    const { source } = req.params;
    const mapping = crmSource(deps.sources, source);
    const parsed = crmBodySchema.safeParse(req.body);
    if (!parsed.success) throw new ValidationError(`Invalid body: ${formatZodIssues(parsed.error)}`, parsed.error.issues);
    const result = await deps.crm.write(source, mapping, parsed.data, (i) => `POST /v1/crm/${source}/records#${i}`);
    return { accepted: result.accepted, rejected: result.rejected };
  });
}
