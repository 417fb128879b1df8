import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { Postgres } from '../clients/postgres.ts';

export const POSTGRES_MIGRATIONS = path.resolve(fileURLToPath(import.meta.url), '../../../migrations/postgres');

/** Applies the drizzle-kit migrations; an advisory lock makes concurrent runs wait for each other. */
export async function migratePostgres(pg: Postgres): Promise<void> {
  await pg.sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('tessera_migrations'))`;
    // drizzle runs its own statements; the lock above is held until this transaction ends.
    await migrate(pg.db, { migrationsFolder: POSTGRES_MIGRATIONS, migrationsSchema: 'public' });
  });
}
