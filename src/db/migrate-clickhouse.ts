import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clickhouse } from '../clients/clickhouse.ts';

export const CLICKHOUSE_MIGRATIONS = path.resolve(fileURLToPath(import.meta.url), '../../../migrations/clickhouse');

export interface ClickhouseMigration {
  version: number;
  name: string;
  statements: string[];
}

/** Splits a migration file into statements (`;` at the end of a line), dropping `--` comments. */
export function parseMigration(file: string, text: string, database: string): ClickhouseMigration {
  const match = /^(\d+)_(.+)\.sql$/.exec(file);
  if (!match) throw new Error(`ClickHouse migration ${file}: name must look like 0001_what.sql`);
  const body = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .replaceAll('{db}', `\`${database}\``);
  const statements = body
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean);
  return { version: Number(match[1]), name: match[2]!, statements };
}

export async function loadClickhouseMigrations(database: string, dir = CLICKHOUSE_MIGRATIONS): Promise<ClickhouseMigration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(files.map(async (f) => parseMigration(f, await readFile(path.join(dir, f), 'utf8'), database)));
}

/**
 * Applies numbered, idempotent SQL files in order and records each in `schema_migrations`.
 * Statements are written with IF NOT EXISTS so a crash between a statement and its record is safe.
 */
export async function migrateClickhouse(ch: Clickhouse): Promise<number[]> {
  await ch.command(`CREATE DATABASE IF NOT EXISTS \`${ch.database}\``);
  await ch.command(
    `CREATE TABLE IF NOT EXISTS ${ch.table('schema_migrations')} (
       version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
     ) ENGINE = ReplacingMergeTree ORDER BY version`,
  );
  const applied = new Set(
    (await ch.query<{ version: number }>(`SELECT version FROM ${ch.table('schema_migrations')}`)).map((r) => Number(r.version)),
  );
  const done: number[] = [];
  for (const m of await loadClickhouseMigrations(ch.database)) {
    if (applied.has(m.version)) continue;
    for (const statement of m.statements) await ch.command(statement);
    await ch.insert('schema_migrations', [{ version: m.version, name: m.name }]);
    done.push(m.version);
  }
  return done;
}
