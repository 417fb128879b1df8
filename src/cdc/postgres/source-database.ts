/**
 * What the pull connector asks of the source database over an ordinary connection: that it can
 * replicate (wal_level), that the declared tables exist with a replica identity covering their
 * declared primary key, the publication of those tables (created or altered to match), the state
 * of the replication slot, and the current WAL position.
 */
import type { Sql } from 'postgres';
import type { CdcSourceConfig, CdcTableConfig } from '../../sources/sources-config.ts';
import { CdcSourceError, sourceError, walLevelError, type SourceContext } from './replication-errors.ts';
import { parseLsn } from './lsn.ts';

/** The slot and publication names of a source (default `tessera_<source>`). */
export function replicationNames(source: string, config: CdcSourceConfig): { slot: string; publication: string } {
  return { slot: config.slot ?? `tessera_${source}`, publication: config.publication ?? `tessera_${source}` };
}

/** `"schema"."table"` of a declared `schema.table` (names are plain identifiers, see sources-config). */
export function quoteTable(table: string): string {
  const [schema, name] = table.split('.') as [string, string];
  return `"${schema}"."${name}"`;
}

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function run<T>(ctx: SourceContext, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw sourceError(err, ctx, doing);
  }
}

/** Fails with what to do when the source cannot serve logical replication of the declared tables. */
export async function checkSource(sql: Sql, ctx: SourceContext, tables: Record<string, CdcTableConfig>): Promise<void> {
  const [setting] = await run(ctx, 'reading wal_level', () => sql<{ level: string }[]>`SELECT current_setting('wal_level') AS level`);
  if (setting!.level !== 'logical') throw walLevelError(ctx.source, setting!.level);

  const names = Object.keys(tables);
  const found = await run(
    ctx,
    'reading the declared tables',
    () => sql<{ name: string; identity: string; identity_columns: string[] }[]>`
      SELECT t.name, c.relreplident::text AS identity,
        coalesce((SELECT array_agg(a.attname::text) FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
          WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))), '{}') AS identity_columns
      FROM unnest(${names}::text[]) AS t(name)
      JOIN pg_class c ON c.oid = to_regclass(format('%I.%I', split_part(t.name, '.', 1), split_part(t.name, '.', 2)))`,
  );
  const byName = new Map(found.map((f) => [f.name, f]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length) {
    throw new CdcSourceError('cdc_unknown_table', `CDC source '${ctx.source}': table(s) ${missing.join(', ')} do not exist in the source database (or role ${ctx.user} cannot see them). Fix \`tables\` in the sources config.`);
  }
  for (const [name, table] of Object.entries(tables)) {
    const { identity, identity_columns: columns } = byName.get(name)!;
    if (identity === 'f') continue;
    const uncovered = table.primaryKey.filter((c) => !columns.includes(c));
    if (columns.length === 0 || identity === 'n') {
      throw new CdcSourceError(
        'cdc_no_replica_identity',
        `CDC source '${ctx.source}': table ${name} has no replica identity, so PostgreSQL would refuse UPDATE and DELETE on it once it is published. ` +
          `Give it a primary key, or run ALTER TABLE ${quoteTable(name)} REPLICA IDENTITY FULL;`,
      );
    }
    if (uncovered.length) {
      throw new CdcSourceError(
        'cdc_key_not_replicated',
        `CDC source '${ctx.source}': deletes of ${name} would arrive without its declared primary key column(s) ${uncovered.join(', ')} (its replica identity is ${columns.join(', ')}). ` +
          `Declare primaryKey [${columns.map((c) => `"${c}"`).join(', ')}], or run ALTER TABLE ${quoteTable(name)} REPLICA IDENTITY FULL;`,
      );
    }
  }
}

/** Creates the publication of the declared tables, or alters it to publish exactly them. */
export async function ensurePublication(sql: Sql, ctx: SourceContext, tables: readonly string[]): Promise<'created' | 'altered' | 'unchanged'> {
  return run(ctx, `preparing publication ${ctx.publication}`, async () => {
    const list = tables.map(quoteTable).join(', ');
    const [pub] = await sql<{ all_tables: boolean; complete: boolean }[]>`
      SELECT puballtables AS all_tables, (pubinsert AND pubupdate AND pubdelete AND pubtruncate) AS complete FROM pg_publication WHERE pubname = ${ctx.publication}`;
    if (!pub) {
      await sql.unsafe(`CREATE PUBLICATION ${quoteIdent(ctx.publication)} FOR TABLE ${list}`);
      return 'created';
    }
    if (pub.all_tables) {
      throw new CdcSourceError(
        'cdc_publication_all_tables',
        `CDC source '${ctx.source}': publication ${ctx.publication} publishes all tables; the connector manages its own publication of the declared tables. Set \`publication\` in the sources config to an unused name.`,
      );
    }
    const published = await sql<{ name: string }[]>`
      SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = ${ctx.publication}`;
    const current = new Set(published.map((p) => p.name));
    let changed = false;
    if (current.size !== tables.length || tables.some((t) => !current.has(t))) {
      await sql.unsafe(`ALTER PUBLICATION ${quoteIdent(ctx.publication)} SET TABLE ${list}`);
      changed = true;
    }
    if (!pub.complete) {
      await sql.unsafe(`ALTER PUBLICATION ${quoteIdent(ctx.publication)} SET (publish = 'insert, update, delete, truncate')`);
      changed = true;
    }
    return changed ? 'altered' : 'unchanged';
  });
}

export interface SlotState {
  plugin: string | null;
  database: string | null;
  active: boolean;
  /** Invalidated: it fell behind max_slot_wal_keep_size, its WAL is gone. */
  lost: boolean;
  confirmedFlush: bigint | undefined;
}

export async function readSlot(sql: Sql, ctx: SourceContext): Promise<SlotState | undefined> {
  return run(ctx, `reading replication slot ${ctx.slot}`, async () => {
    const [slot] = await sql<{ plugin: string | null; database: string | null; active: boolean; wal_status: string | null; confirmed_flush_lsn: string | null }[]>`
      SELECT plugin, database, active, wal_status, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ${ctx.slot}`;
    if (!slot) return undefined;
    return {
      plugin: slot.plugin,
      database: slot.database,
      active: slot.active,
      lost: slot.wal_status === 'lost',
      confirmedFlush: slot.confirmed_flush_lsn ? parseLsn(slot.confirmed_flush_lsn) : undefined,
    };
  });
}

/** Refuses a slot of the same name that is not a pgoutput slot of this database. */
export async function checkSlotIsOurs(sql: Sql, ctx: SourceContext, slot: SlotState): Promise<void> {
  const [row] = await run(ctx, 'reading the database name', () => sql<{ db: string }[]>`SELECT current_database() AS db`);
  const db = row!.db;
  if (slot.plugin !== 'pgoutput' || slot.database !== db) {
    throw new CdcSourceError(
      'cdc_foreign_slot',
      `CDC source '${ctx.source}': replication slot ${ctx.slot} exists but is not a pgoutput slot of database ${db} (plugin ${slot.plugin ?? 'none'}, database ${slot.database ?? 'none'}). Set \`slot\` in the sources config to an unused name.`,
    );
  }
}

export async function dropSlot(sql: Sql, ctx: SourceContext): Promise<void> {
  await run(ctx, `dropping replication slot ${ctx.slot}`, () => sql`SELECT pg_drop_replication_slot(${ctx.slot})`);
}

export async function dropPublication(sql: Sql, ctx: SourceContext): Promise<void> {
  await run(ctx, `dropping publication ${ctx.publication}`, () => sql.unsafe(`DROP PUBLICATION IF EXISTS ${quoteIdent(ctx.publication)}`));
}

/**
 * The WAL position every transaction committed so far lies before: the insert position, not the
 * write position (with synchronous_commit=off a commit is acknowledged before its WAL is written).
 */
export async function currentWalLsn(sql: Sql, ctx: SourceContext): Promise<bigint> {
  const [row] = await run(
    ctx,
    'reading the current WAL position',
    () => sql<{ lsn: string }[]>`SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text AS lsn`,
  );
  return parseLsn(row!.lsn);
}
