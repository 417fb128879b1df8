/**
 * A rebuild's new graph into PostgreSQL without blocking readers: every graph table is loaded into
 * a staging copy beside the live one (`<table>_rebuild`), and the copies replace the live tables
 * in one short transaction at the end. Until then readers see the old graph; the swap renames
 * tables, so they see the old graph or the new one, never a mix.
 *
 * A bulk load: each copy is created without keys or indexes, filled with COPY (rows written
 * frozen: the table is new in the same transaction), then its primary key and indexes are built
 * once, by sorting, from the live table's definitions (the migrations stay their source), and
 * analyzed. The swap renames them back to their live names, so the schema is unchanged.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sql, TransactionSql } from 'postgres';
import type { ResolutionDiff } from './resolution-diff.ts';
import { copyField } from './copy-text.ts';

type Tx = Sql | TransactionSql;

/** The graph tables a rebuild replaces (not the overrides, not the removal log). */
const GRAPH_TABLES = [
  'identity_identifiers',
  'identity_edges',
  'identity_redirects',
  'identity_merges',
  'identity_rejected_links',
  'identity_rejected_identifiers',
] as const;
type GraphTable = (typeof GRAPH_TABLES)[number];

const staging = (table: string) => `${table}_rebuild`;

/**
 * Streams COPY text into `table` (far faster than INSERT for a rebuild's millions of rows). FREEZE:
 * the table was created in this transaction.
 */
async function copyText(tx: Tx, table: string, cols: readonly string[], text: Iterable<string | Uint8Array>): Promise<void> {
  const stream = await tx.unsafe(`COPY ${table} (${cols.join(', ')}) FROM STDIN WITH (FREEZE)`).writable();
  await pipeline(Readable.from(text, { objectMode: false }), stream);
}

/** `rows` as COPY text in chunks of ~64 KB; `line` writes one row (fields through `copyField`), newline included. */
function* copyLines<T>(rows: readonly T[], line: (row: T) => string): Generator<string> {
  let buffer = '';
  for (const row of rows) {
    buffer += line(row);
    if (buffer.length > 1 << 16) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}

/** A primary key or index of a graph table, as the catalog defines it. */
interface IndexDefinition {
  table: GraphTable;
  name: string;
  /** Set for a primary key: its definition (`PRIMARY KEY (key)`). */
  constraint: string | null;
  unique: boolean;
  /** The index definition from its method on (`USING btree (profile_id)`). */
  using: string;
}

async function graphIndexes(tx: Tx): Promise<IndexDefinition[]> {
  const rows = await tx<(Omit<IndexDefinition, 'using'> & { definition: string })[]>`
    SELECT t.relname AS table, x.relname AS name, i.indisunique AS unique,
           CASE WHEN c.oid IS NULL THEN NULL ELSE pg_get_constraintdef(c.oid) END AS constraint,
           pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_class x ON x.oid = i.indexrelid
    LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'p'
    WHERE i.indrelid = ANY(${[...GRAPH_TABLES]}::regclass[])
    ORDER BY t.relname, x.relname`;
  return rows.map(({ definition, ...ix }) => ({ ...ix, using: definition.slice(definition.indexOf(' USING ') + 1) }));
}

/** Sequences owned by a column of a graph table (bigserial ids): they move to the staging copy. */
async function ownedSequences(tx: Tx): Promise<{ sequence: string; table: GraphTable; column: string }[]> {
  return tx`
    SELECT d.objid::regclass::text AS sequence, t.relname AS table, a.attname AS column
    FROM pg_depend d
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.deptype = 'a' AND d.refobjid = ANY(${[...GRAPH_TABLES]}::regclass[])`;
}

const stagingIndex = (name: string) => staging(name.slice(0, 63 - '_rebuild'.length));

/**
 * Creates the staging copy of `table`, COPYs `text` into it, then builds its keys and indexes and
 * its statistics; one transaction.
 */
function loadTable(sql: Sql, indexes: readonly IndexDefinition[], table: GraphTable, cols: readonly string[], text: Iterable<string | Uint8Array>): Promise<void> {
  const into = staging(table);
  return sql.begin(async (tx) => {
    await tx`SET LOCAL maintenance_work_mem = '1GB'`;
    await tx.unsafe(`DROP TABLE IF EXISTS ${into}`);
    // LIKE copies the columns (collations included), defaults and checks; not the indexes.
    await tx.unsafe(`CREATE TABLE ${into} (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)`);
    await copyText(tx, into, cols, text);
    for (const ix of indexes.filter((i) => i.table === table)) {
      if (ix.constraint) await tx.unsafe(`ALTER TABLE ${into} ADD CONSTRAINT ${stagingIndex(ix.name)} ${ix.constraint}`);
      else await tx.unsafe(`CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ${stagingIndex(ix.name)} ON ${into} ${ix.using}`);
    }
    // Fresh statistics, or the planner treats the new tables as empty.
    await tx.unsafe(`ANALYZE ${into}`);
  }) as Promise<void>;
}

/**
 * What a rebuild loads: the COPY text of its identifiers (key, type, value, profile_id, first_seen,
 * version; versions `first`, `first + 1`, ...) and of its edges (a, b, source, first_seen,
 * first_record_id, last_seen, count), made as it is read (graph-columns.ts), and the rest of its
 * diff (redirects, merges, refused links and values; its identifiers and edges are not read).
 */
export interface GraphLoad {
  identifiers(first: number): Iterable<string | Uint8Array>;
  edges(): Iterable<string | Uint8Array>;
  diff: Pick<ResolutionDiff, 'redirects' | 'merges' | 'rejectedLinks' | 'rejectedIdentifiers'>;
}

/**
 * Loads a rebuild's graph into the staging copies, each table in a transaction of its own: the
 * identifiers and the edges at once on two connections (PostgreSQL parses and indexes each on a
 * core of its own), then the smaller tables.
 */
export async function loadStagingGraph(sql: Sql, graph: GraphLoad, first: number): Promise<void> {
  const indexes = await graphIndexes(sql);
  const f = copyField;
  const { redirects, merges, rejectedLinks, rejectedIdentifiers } = graph.diff;
  // Both settle before a failure is thrown: its clean-up must not race the other load.
  const loaded = await Promise.allSettled([
    loadTable(sql, indexes, 'identity_identifiers', ['key', 'type', 'value', 'profile_id', 'first_seen', 'version'], graph.identifiers(first)),
    loadTable(sql, indexes, 'identity_edges', ['a', 'b', 'source', 'first_seen', 'first_record_id', 'last_seen', 'count'], graph.edges()),
  ]);
  for (const r of loaded) if (r.status === 'rejected') throw r.reason;
  await loadTable(sql, indexes, 'identity_redirects', ['from_id', 'to_id', 'record_id', 'ts'],
    copyLines(redirects, (r) => `${f(r.from)}\t${f(r.to)}\t${f(r.recordId)}\t${r.timestamp}\n`));
  await loadTable(sql, indexes, 'identity_merges', ['from_id', 'into_id', 'record_id', 'ts', 'reason'],
    copyLines(merges, (m) => `${f(m.from)}\t${f(m.into)}\t${f(m.recordId)}\t${m.timestamp}\t${f(m.reason)}\n`));
  await loadTable(sql, indexes, 'identity_rejected_links', ['a', 'b', 'rule', 'source', 'record_id', 'ts', 'last_seen', 'count'],
    copyLines(rejectedLinks, (r) => `${f(r.a)}\t${f(r.b)}\t${f(r.rule)}\t${f(r.source)}\t${f(r.recordId)}\t${r.timestamp}\t${r.lastSeen}\t${r.count}\n`));
  await loadTable(sql, indexes, 'identity_rejected_identifiers', ['type', 'raw', 'reason', 'record_id', 'ts', 'last_seen', 'count'],
    copyLines(rejectedIdentifiers, (r) => `${f(r.type)}\t${f(r.raw)}\t${f(r.reason)}\t${f(r.recordId)}\t${r.timestamp}\t${r.lastSeen}\t${r.count}\n`));
}

/**
 * Replaces the live graph tables with the loaded staging copies, in `tx` (which holds the identity
 * lock). Identifiers that existed before and are gone now are logged as removed, so the ClickHouse
 * copy drops them too.
 */
export async function swapInStagingGraph(tx: Tx): Promise<void> {
  await tx`
    INSERT INTO identity_removed (key, version)
    SELECT o.key, nextval('identity_version_seq') FROM identity_identifiers o
    WHERE NOT EXISTS (SELECT 1 FROM identity_identifiers_rebuild n WHERE n.key = o.key)
    ORDER BY o.key`;
  const indexes = await graphIndexes(tx);
  for (const s of await ownedSequences(tx)) await tx.unsafe(`ALTER SEQUENCE ${s.sequence} OWNED BY ${staging(s.table)}.${s.column}`);
  await tx.unsafe(`DROP TABLE ${GRAPH_TABLES.join(', ')}`);
  for (const table of GRAPH_TABLES) await tx.unsafe(`ALTER TABLE ${staging(table)} RENAME TO ${table}`);
  for (const ix of indexes) {
    if (ix.constraint) await tx.unsafe(`ALTER TABLE ${ix.table} RENAME CONSTRAINT ${stagingIndex(ix.name)} TO ${ix.name}`);
    else await tx.unsafe(`ALTER INDEX ${stagingIndex(ix.name)} RENAME TO ${ix.name}`);
  }
}

/** Drops staging copies a failed rebuild left behind (under the identity lock: not another rebuild's). */
export async function dropStagingGraph(sql: Tx): Promise<void> {
  await sql.unsafe(`DROP TABLE IF EXISTS ${GRAPH_TABLES.map(staging).join(', ')}`);
}
