import type { FastifyInstance } from 'fastify';
import type { ApiKeyVerifier } from '../../src/auth/api-keys.ts';
import { ValidationError } from '../../src/common/errors.ts';
import type { IdentityService } from '../../identity/identity-service.ts';
import { authenticate } from '../auth.ts';

export interface IdentityRouteDeps {
  identity: IdentityService;
  keys: ApiKeyVerifier;
}

/** Identity explanations; read scope (`Authorization: Bearer KEY`). */
export function identityRoutes(app: FastifyInstance, deps: IdentityRouteDeps): void {
  app.get<{ Querystring: { from?: string; to?: string } }>('/v1/identity/explain', async (req) => {
    await authenticate(deps.keys, req, 'read');
    const { from, to } = req.query;
    if (!from || !to) throw new ValidationError('Both `from` and `to` are required, as type:value (e.g. ?from=email:a@b.com&to=user_id:42)');
    return deps.identity.explain(deps.identity.keyOfRef(from), deps.identity.keyOfRef(to));
  });

  app.get<{ Params: { type: string; value: string } }>('/v1/identity/:type/:value', async (req) => {
    await authenticate(deps.keys, req, 'read');
    return deps.identity.lookup(deps.identity.keyOf(req.params.type, req.params.value));
  });
}
