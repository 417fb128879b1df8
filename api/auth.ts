import type { FastifyRequest } from 'fastify';
import type { ApiKeyIdentity, ApiKeyVerifier, Scope } from '../src/auth/api-keys.ts';

/**
 * The key a request carries: HTTP Basic with the key as user name (what Segment SDKs send),
 * `Authorization: Bearer KEY`, or a `writeKey` field in the body (Segment's HTTP API allows it).
 */
export function requestKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const user = decoded.split(':')[0];
    if (user) return user;
  }
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  const body = req.body as { writeKey?: unknown } | undefined;
  return typeof body?.writeKey === 'string' ? body.writeKey : undefined;
}

export function authenticate(verifier: ApiKeyVerifier, req: FastifyRequest, scope: Scope): Promise<ApiKeyIdentity> {
  return verifier.verify(requestKey(req), scope);
}
