import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { Postgres } from '../clients/postgres.ts';

export const POSTGRES_MIGRATIONS = path.resolve(fileURLToPath(import.meta.url), '../../../migrations/postgres');

async function appliedCount(pg: Postgres): Promise<number> {
  const [exists] = await pg.sql<{ t: string | null }[]>`SELECT to_regclass('public.__drizzle_migrations')::text AS t`;
  if (!exists?.t) return 0;
  const [row] = await pg.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM public.__drizzle_migrations`;
  return row!.n;
}

/**
 * Applies the drizzle-kit migrations and returns how many were new. An advisory lock, held by a
 * transaction on another connection, makes concurrent runs wait for each other.
 */
export async function migratePostgres(pg: Postgres): Promise<number> {
  return pg.sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('tessera_migrations'))`;
    const before = await appliedCount(pg);
    await migrate(pg.db, { migrationsFolder: POSTGRES_MIGRATIONS, migrationsSchema: 'public' });
    return (await appliedCount(pg)) - before;
  });
}
