import postgres, { type Sql } from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';

export type Db = PostgresJsDatabase;

export interface Postgres {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

export function openPostgres(url: string, opts: { max?: number } = {}): Postgres {
  const sql = postgres(url, { max: opts.max ?? 10, onnotice: () => {} });
  const db = drizzle(sql);
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
