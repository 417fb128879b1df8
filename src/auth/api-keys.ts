import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import type { Db } from '../clients/postgres.ts';
import { ForbiddenError, UnauthorizedError } from '../common/errors.ts';

export const SCOPES = ['write', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyIdentity {
  id: string;
  scope: Scope;
}

/** Keys look like `tsk_write_<43 url-safe chars>`; only their SHA-256 is stored. */
export function generateKey(scope: Scope): string {
  return `tsk_${scope}_${randomBytes(32).toString('base64url')}`;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** admin may do everything; write and read only their own kind of call. */
export function scopeAllows(granted: Scope, needed: Scope): boolean {
  return granted === 'admin' || granted === needed;
}

export class ApiKeyRepository {
  constructor(private readonly db: Db) {}

  async create(scope: Scope, name = `${scope} key`): Promise<{ id: string; key: string; scope: Scope; name: string }> {
    const key = generateKey(scope);
    const [row] = await this.db
      .insert(apiKeys)
      .values({ name, scope, keyHash: hashKey(key), keyPrefix: key.slice(0, 14) })
      .returning({ id: apiKeys.id });
    return { id: row!.id, key, scope, name };
  }

  list() {
    return this.db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        scope: apiKeys.scope,
        keyPrefix: apiKeys.keyPrefix,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .orderBy(desc(apiKeys.createdAt));
  }

  async revoke(id: string): Promise<boolean> {
    const rows = await this.db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  async findActive(key: string): Promise<ApiKeyIdentity | undefined> {
    const [row] = await this.db
      .select({ id: apiKeys.id, scope: apiKeys.scope })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, hashKey(key)), isNull(apiKeys.revokedAt)));
    return row;
  }
}

/**
 * Checks keys on the request path. Answers (found or not) are cached for `ttlMs`, so ingestion does
 * not query PostgreSQL per request; a revoked key stops working within that time.
 */
export class ApiKeyVerifier {
  private cache = new Map<string, { identity: ApiKeyIdentity | undefined; expires: number }>();

  constructor(
    private readonly repo: ApiKeyRepository,
    private readonly ttlMs = 30_000,
  ) {}

  async verify(key: string | undefined, needed: Scope): Promise<ApiKeyIdentity> {
    if (!key) throw new UnauthorizedError();
    const now = Date.now();
    let hit = this.cache.get(key);
    if (!hit || hit.expires < now) {
      hit = { identity: await this.repo.findActive(key), expires: now + this.ttlMs };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, hit);
    }
    if (!hit.identity) throw new UnauthorizedError();
    if (!scopeAllows(hit.identity.scope, needed)) {
      throw new ForbiddenError(`This key has scope '${hit.identity.scope}'; this call needs '${needed}'`);
    }
    return hit.identity;
  }
}
