import postgres, { type Sql } from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import * as schema from '../db/schema.ts';

export type Db = PostgresJsDatabase<typeof schema>;

export interface Postgres {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

export function openPostgres(url: string, opts: { max?: number } = {}): Postgres {
  const sql = postgres(url, { max: opts.max ?? 10, onnotice: () => {} });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
