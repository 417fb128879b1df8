/**
 * The identity graph in PostgreSQL: loading the components a batch touches, writing a
 * `ResolutionDiff` (semantics in resolution-diff.ts; memory-state.ts is the reference), replacing
 * the whole graph after a rebuild, overrides, and the reads behind explanations and stats.
 * Every write runs inside a transaction the caller opens (so a job's checkpoint commits with it).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sql, TransactionSql } from 'postgres';
import type { IdentityOverrides, IdentifierPair } from './overrides.ts';
import type { LoadedState, StateLoader } from './resolver.ts';
import type { StoredIdentifier } from './resolver-engine.ts';
import type { EdgeDelta, RejectedLink, ResolutionDiff } from './resolution-diff.ts';

type Tx = Sql | TransactionSql;
const CHUNK = 20_000;

function chunks<T>(rows: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Column arrays for `unnest`: one array per field. */
function columns<T, K extends keyof T>(rows: readonly T[], keys: readonly K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]));
}

/** PostgreSQL COPY text format: tab-separated, with backslash escapes. */
const NEEDS_ESCAPE = /[\\\t\n\r]/;

export function copyField(v: string): string {
  return !NEEDS_ESCAPE.test(v) ? v : v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * Streams rows into `table` with COPY (far faster than INSERT for a rebuild's millions of rows);
 * `line` writes one row in COPY text format (fields through `copyField`), newline included.
 */
async function copyRows<T>(tx: Tx, table: string, cols: readonly string[], rows: readonly T[], line: (row: T, i: number) => string): Promise<void> {
  // FREEZE: the rebuild emptied the table in this transaction.
  const stream = await tx.unsafe(`COPY ${table} (${cols.join(', ')}) FROM STDIN WITH (FREEZE)`).writable();
  function* chunks() {
    let buffer = '';
    for (let i = 0; i < rows.length; i++) {
      buffer += line(rows[i] as T, i);
      if (buffer.length > 1 << 16) {
        yield buffer;
        buffer = '';
      }
    }
    if (buffer) yield buffer;
  }
  await pipeline(Readable.from(chunks()), stream);
}

/** The graph tables a rebuild replaces (not the overrides, not the removal log). */
const GRAPH_TABLES = [
  'identity_identifiers',
  'identity_edges',
  'identity_redirects',
  'identity_merges',
  'identity_rejected_links',
  'identity_rejected_identifiers',
] as const;

/** A primary key or index of a graph table, as the catalog defines it (so migrations stay the source). */
interface IndexDefinition {
  name: string;
  table: string;
  /** Set for a primary key: its constraint definition (`PRIMARY KEY (key)`). */
  constraint: string | null;
  /** The index definition (`CREATE INDEX ... ON ... USING btree (...)`). */
  index: string;
}

async function graphIndexes(tx: Tx): Promise<IndexDefinition[]> {
  return tx<IndexDefinition[]>`
    SELECT CASE WHEN c.oid IS NULL THEN i.indexrelid::regclass::text ELSE quote_ident(c.conname) END AS name,
           i.indrelid::regclass::text AS table,
           CASE WHEN c.oid IS NULL THEN NULL ELSE pg_get_constraintdef(c.oid) END AS constraint,
           pg_get_indexdef(i.indexrelid) AS index
    FROM pg_index i
    LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'p'
    WHERE i.indrelid = ANY(${GRAPH_TABLES.map((t) => t)}::regclass[])
    ORDER BY i.indrelid::regclass::text, name`;
}

export interface OverrideRow {
  kind: 'link' | 'unlink' | 'tombstone';
  a: string;
  b: string;
}

export function overridesFromRows(rows: readonly OverrideRow[]): IdentityOverrides {
  const pairs = (kind: OverrideRow['kind']): IdentifierPair[] => rows.filter((r) => r.kind === kind).map((r) => ({ a: r.a, b: r.b }));
  return { links: pairs('link'), unlinks: pairs('unlink'), tombstones: rows.filter((r) => r.kind === 'tombstone').map((r) => r.a) };
}

export class PostgresIdentityRepository {
  constructor(private readonly sql: Sql) {}

  /** Runs `fn` in a transaction that holds the identity lock: concurrent runs wait for each other. */
  transaction<T>(fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('tessera_identity'))`;
      return fn(tx);
    }) as Promise<T>;
  }

  /** The loader contract: whole profiles of `keys`, and the overrides touching them. */
  loader(tx: Tx): StateLoader {
    return async (keys): Promise<LoadedState> => {
      const identifiers = await tx<StoredIdentifier[]>`
        SELECT i.key, i.profile_id AS "profileId", i.first_seen::float8 AS "firstSeen"
        FROM identity_identifiers i
        WHERE i.profile_id IN (SELECT profile_id FROM identity_identifiers WHERE key = ANY(${keys as string[]}))`;
      const touched = [...new Set([...keys, ...identifiers.map((i) => i.key)])];
      const overrides = await tx<OverrideRow[]>`
        SELECT kind, a, b FROM identity_overrides WHERE a = ANY(${touched}) OR b = ANY(${touched})`;
      return { identifiers, overrides: overridesFromRows(overrides) };
    };
  }

  async overrides(tx: Tx = this.sql): Promise<IdentityOverrides> {
    return overridesFromRows(await tx<OverrideRow[]>`SELECT kind, a, b FROM identity_overrides ORDER BY created_at, kind, a, b`);
  }

  async addOverride(tx: Tx, row: OverrideRow): Promise<boolean> {
    const inserted = await tx`INSERT INTO identity_overrides (kind, a, b) VALUES (${row.kind}, ${row.a}, ${row.b}) ON CONFLICT DO NOTHING RETURNING a`;
    return inserted.length > 0;
  }

  async removeOverride(tx: Tx, row: OverrideRow): Promise<boolean> {
    const removed = await tx`DELETE FROM identity_overrides WHERE kind = ${row.kind} AND a = ${row.a} AND b = ${row.b} RETURNING a`;
    return removed.length > 0;
  }

  /** Writes a diff with the upsert semantics of resolution-diff.ts. Changed identifiers get a new version. */
  async writeDiff(tx: Tx, diff: ResolutionDiff): Promise<void> {
    for (const rows of chunks(diff.identifiers)) {
      const keys = rows.map((r) => r.key);
      await tx`
        INSERT INTO identity_identifiers (key, type, value, profile_id, first_seen, version)
        SELECT k, t, v, p, f, nextval('identity_version_seq')
        FROM unnest(${keys}::text[], ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.value)}::text[],
                    ${rows.map((r) => r.profileId)}::text[], ${rows.map((r) => r.firstSeen)}::bigint[]) AS u(k, t, v, p, f)
        ON CONFLICT (key) DO UPDATE SET profile_id = EXCLUDED.profile_id, first_seen = EXCLUDED.first_seen, version = EXCLUDED.version
        WHERE identity_identifiers.profile_id IS DISTINCT FROM EXCLUDED.profile_id OR identity_identifiers.first_seen <> EXCLUDED.first_seen`;
    }
    if (diff.removed.identifiers.length > 0) {
      await tx`
        INSERT INTO identity_removed (key, version)
        SELECT key, nextval('identity_version_seq') FROM identity_identifiers WHERE key = ANY(${diff.removed.identifiers})`;
      await tx`DELETE FROM identity_identifiers WHERE key = ANY(${diff.removed.identifiers})`;
    }
    for (const rows of chunks(diff.edges)) await this.upsertEdges(tx, rows);
    for (const e of diff.removed.edges) await tx`DELETE FROM identity_edges WHERE a = ${e.a} AND b = ${e.b} AND source = ${e.source}`;

    if (diff.removed.redirects.length > 0) await tx`DELETE FROM identity_redirects WHERE from_id = ANY(${diff.removed.redirects})`;
    for (const rows of chunks(diff.redirects)) {
      await tx`
        INSERT INTO identity_redirects (from_id, to_id, record_id, ts)
        SELECT * FROM unnest(${rows.map((r) => r.from)}::text[], ${rows.map((r) => r.to)}::text[], ${rows.map((r) => r.recordId)}::text[], ${rows.map((r) => r.timestamp)}::bigint[])
        ON CONFLICT (from_id) DO UPDATE SET to_id = EXCLUDED.to_id, record_id = EXCLUDED.record_id, ts = EXCLUDED.ts`;
      // Keep chains one hop: whatever pointed at a merged-away id now points at its target.
      await tx`
        UPDATE identity_redirects r SET to_id = u.t
        FROM unnest(${rows.map((r) => r.from)}::text[], ${rows.map((r) => r.to)}::text[]) AS u(f, t)
        WHERE r.to_id = u.f`;
    }
    for (const rows of chunks(diff.merges)) {
      await tx`
        INSERT INTO identity_merges (from_id, into_id, record_id, ts, reason)
        SELECT * FROM unnest(${rows.map((r) => r.from)}::text[], ${rows.map((r) => r.into)}::text[], ${rows.map((r) => r.recordId)}::text[],
                             ${rows.map((r) => r.timestamp)}::bigint[], ${rows.map((r) => r.reason)}::text[])`;
    }
    for (const rows of chunks(diff.rejectedLinks)) {
      const [a, b, rule, source, recordId, ts, lastSeen, count] = columns(rows, ['a', 'b', 'rule', 'source', 'recordId', 'timestamp', 'lastSeen', 'count'] as const);
      await tx`
        INSERT INTO identity_rejected_links (a, b, rule, source, record_id, ts, last_seen, count)
        SELECT * FROM unnest(${a as string[]}::text[], ${b as string[]}::text[], ${rule as string[]}::text[], ${source as string[]}::text[],
                             ${recordId as string[]}::text[], ${ts as number[]}::bigint[], ${lastSeen as number[]}::bigint[], ${count as number[]}::int[])
        ON CONFLICT (a, b, rule) DO UPDATE SET count = identity_rejected_links.count + EXCLUDED.count,
          last_seen = GREATEST(identity_rejected_links.last_seen, EXCLUDED.last_seen)`;
    }
    for (const rows of chunks(diff.rejectedIdentifiers)) {
      const [type, raw, reason, recordId, ts, lastSeen, count] = columns(rows, ['type', 'raw', 'reason', 'recordId', 'timestamp', 'lastSeen', 'count'] as const);
      await tx`
        INSERT INTO identity_rejected_identifiers (type, raw, reason, record_id, ts, last_seen, count)
        SELECT * FROM unnest(${type as string[]}::text[], ${raw as string[]}::text[], ${reason as string[]}::text[], ${recordId as string[]}::text[],
                             ${ts as number[]}::bigint[], ${lastSeen as number[]}::bigint[], ${count as number[]}::int[])
        ON CONFLICT (type, raw, reason) DO UPDATE SET count = identity_rejected_identifiers.count + EXCLUDED.count,
          last_seen = GREATEST(identity_rejected_identifiers.last_seen, EXCLUDED.last_seen)`;
    }
  }

  private async upsertEdges(tx: Tx, rows: EdgeDelta[]): Promise<void> {
    const [a, b, source, firstSeen, firstRecordId, lastSeen, count] = columns(rows, ['a', 'b', 'source', 'firstSeen', 'firstRecordId', 'lastSeen', 'count'] as const);
    await tx`
      INSERT INTO identity_edges (a, b, source, first_seen, first_record_id, last_seen, count)
      SELECT * FROM unnest(${a as string[]}::text[], ${b as string[]}::text[], ${source as string[]}::text[], ${firstSeen as number[]}::bigint[],
                           ${firstRecordId as string[]}::text[], ${lastSeen as number[]}::bigint[], ${count as number[]}::int[])
      ON CONFLICT (a, b, source) DO UPDATE SET count = identity_edges.count + EXCLUDED.count,
        last_seen = GREATEST(identity_edges.last_seen, EXCLUDED.last_seen)`;
  }

  /**
   * Replaces the graph (not the overrides) with a rebuild's, with COPY into the emptied tables.
   * Identifiers that existed before and are gone now are logged as removed, so the ClickHouse copy
   * drops them too. The identifiers get versions `first`, `first + 1`, ... in `diff.identifiers`
   * order (`allocateVersions`).
   *
   * A bulk load: primary keys and indexes are dropped after the TRUNCATE and built once, by
   * sorting, after the COPY (maintaining a B-tree row by row over millions of random keys is
   * several times slower than the load itself); rows are written frozen (the tables were emptied
   * in this transaction, so no later vacuum has to revisit them). All of it is one transaction:
   * concurrent readers wait on the TRUNCATE's lock and see the old graph or the new one.
   */
  async replaceAll(tx: Tx, diff: ResolutionDiff, first: number, phase: (name: string) => void = () => {}): Promise<void> {
    await tx`SET LOCAL maintenance_work_mem = '1GB'`;
    await tx`CREATE TEMP TABLE identity_old_keys ON COMMIT DROP AS SELECT key FROM identity_identifiers`;
    const indexes = await graphIndexes(tx);
    await tx.unsafe(`TRUNCATE ${GRAPH_TABLES.join(', ')}`);
    for (const ix of indexes) {
      if (ix.constraint) await tx.unsafe(`ALTER TABLE ${ix.table} DROP CONSTRAINT ${ix.name}`);
      else await tx.unsafe(`DROP INDEX ${ix.name}`);
    }
    const f = copyField;
    await copyRows(tx, 'identity_identifiers', ['key', 'type', 'value', 'profile_id', 'first_seen', 'version'], diff.identifiers,
      (r, i) => `${f(r.key)}\t${f(r.type)}\t${f(r.value)}\t${f(r.profileId)}\t${r.firstSeen}\t${first + i}\n`);
    phase('copy identifiers');
    await copyRows(tx, 'identity_edges', ['a', 'b', 'source', 'first_seen', 'first_record_id', 'last_seen', 'count'], diff.edges,
      (e) => `${f(e.a)}\t${f(e.b)}\t${f(e.source)}\t${e.firstSeen}\t${f(e.firstRecordId)}\t${e.lastSeen}\t${e.count}\n`);
    phase('copy edges');
    await copyRows(tx, 'identity_redirects', ['from_id', 'to_id', 'record_id', 'ts'], diff.redirects,
      (r) => `${f(r.from)}\t${f(r.to)}\t${f(r.recordId)}\t${r.timestamp}\n`);
    await copyRows(tx, 'identity_merges', ['from_id', 'into_id', 'record_id', 'ts', 'reason'], diff.merges,
      (m) => `${f(m.from)}\t${f(m.into)}\t${f(m.recordId)}\t${m.timestamp}\t${f(m.reason)}\n`);
    await copyRows(tx, 'identity_rejected_links', ['a', 'b', 'rule', 'source', 'record_id', 'ts', 'last_seen', 'count'], diff.rejectedLinks,
      (r) => `${f(r.a)}\t${f(r.b)}\t${f(r.rule)}\t${f(r.source)}\t${f(r.recordId)}\t${r.timestamp}\t${r.lastSeen}\t${r.count}\n`);
    await copyRows(tx, 'identity_rejected_identifiers', ['type', 'raw', 'reason', 'record_id', 'ts', 'last_seen', 'count'], diff.rejectedIdentifiers,
      (r) => `${f(r.type)}\t${f(r.raw)}\t${f(r.reason)}\t${f(r.recordId)}\t${r.timestamp}\t${r.lastSeen}\t${r.count}\n`);
    phase('copy rest');
    for (const ix of indexes) {
      if (ix.constraint) await tx.unsafe(`ALTER TABLE ${ix.table} ADD CONSTRAINT ${ix.name} ${ix.constraint}`);
      else await tx.unsafe(ix.index);
    }
    phase('indexes');
    // Fresh statistics, or the planner keeps treating the reloaded tables as empty.
    await tx`ANALYZE identity_identifiers, identity_edges, identity_redirects, identity_rejected_links`;
    phase('analyze');
    await tx`
      INSERT INTO identity_removed (key, version)
      SELECT o.key, nextval('identity_version_seq') FROM identity_old_keys o
      WHERE NOT EXISTS (SELECT 1 FROM identity_identifiers i WHERE i.key = o.key)`;
  }

  /**
   * Takes `n` consecutive identity map versions (at least one) and returns the first. Call it in
   * the transaction that uses them, under the identity lock: every writer of versions holds it, so
   * nothing else takes a version until that transaction ends.
   */
  async allocateVersions(tx: Tx, n: number): Promise<{ from: number; to: number }> {
    const [{ first }] = (await tx`SELECT nextval('identity_version_seq')::float8 AS first`) as unknown as [{ first: number }];
    if (n > 1) await tx`SELECT setval('identity_version_seq', ${first + n - 1})`;
    return { from: first, to: first + Math.max(n, 1) - 1 };
  }

  // ---- reads -------------------------------------------------------------------------------

  /** The live profile of an identifier key, or undefined. */
  async profileOf(key: string): Promise<string | undefined> {
    const [row] = await this.sql<{ profile_id: string }[]>`SELECT profile_id FROM identity_identifiers WHERE key = ${key}`;
    return row?.profile_id;
  }

  /** A live profile id for a possibly merged-away one. */
  async liveProfileId(profileId: string): Promise<string> {
    const [row] = await this.sql<{ to_id: string }[]>`SELECT to_id FROM identity_redirects WHERE from_id = ${profileId}`;
    return row?.to_id ?? profileId;
  }

  async members(profileId: string): Promise<{ key: string; type: string; value: string; firstSeen: number }[]> {
    return this.sql`
      SELECT key, type, value, first_seen::float8 AS "firstSeen" FROM identity_identifiers
      WHERE profile_id = ${profileId} ORDER BY first_seen, key`;
  }

  async edgesAmong(keys: readonly string[], tx: Tx = this.sql): Promise<EdgeDelta[]> {
    return tx<EdgeDelta[]>`
      SELECT a, b, source, first_seen::float8 AS "firstSeen", first_record_id AS "firstRecordId",
             last_seen::float8 AS "lastSeen", count
      FROM identity_edges WHERE a = ANY(${keys as string[]}) AND b = ANY(${keys as string[]})`;
  }

  async rejectedLinksOf(keys: readonly string[]): Promise<RejectedLink[]> {
    return this.sql<RejectedLink[]>`
      SELECT a, b, rule, source, record_id AS "recordId", ts::float8 AS "timestamp", last_seen::float8 AS "lastSeen", count
      FROM identity_rejected_links WHERE a = ANY(${keys as string[]}) OR b = ANY(${keys as string[]})
      ORDER BY ts, a, b`;
  }

  async stats(limit = 10) {
    const [totals] = await this.sql<{ profiles: number; identifiers: number; edges: number; redirects: number }[]>`
      SELECT (SELECT count(DISTINCT profile_id)::int FROM identity_identifiers) AS profiles,
             (SELECT count(*)::int FROM identity_identifiers) AS identifiers,
             (SELECT count(*)::int FROM identity_edges) AS edges,
             (SELECT count(*)::int FROM identity_redirects) AS redirects`;
    const byType = await this.sql<{ type: string; identifiers: number }[]>`
      SELECT type, count(*)::int AS identifiers FROM identity_identifiers GROUP BY type ORDER BY identifiers DESC, type`;
    const largest = await this.sql<{ profileId: string; identifiers: number }[]>`
      SELECT profile_id AS "profileId", count(*)::int AS identifiers FROM identity_identifiers
      GROUP BY profile_id ORDER BY identifiers DESC, profile_id LIMIT ${limit}`;
    const refusedByRule = await this.sql<{ rule: string; links: number; records: number }[]>`
      SELECT rule, count(*)::int AS links, sum(count)::int AS records FROM identity_rejected_links GROUP BY rule ORDER BY records DESC, rule`;
    const rejectedIdentifiers = await this.sql<{ type: string; reason: string; values: number; records: number }[]>`
      SELECT type, reason, count(*)::int AS values, sum(count)::int AS records FROM identity_rejected_identifiers
      GROUP BY type, reason ORDER BY records DESC, type, reason`;
    return { ...totals!, byType, largest, refusedByRule, rejectedIdentifiers };
  }

  /**
   * Identity map rows changed after `version` (upserts and removals), in version order; `skip`: a
   * block of identifier versions left out (already copied).
   */
  async changesSince(
    version: number,
    limit: number,
    skip?: { from: number; to: number },
  ): Promise<{ key: string; profileId: string; deleted: boolean; version: number }[]> {
    const [lo, hi] = skip ? [skip.from, skip.to] : [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    return this.sql`
      SELECT key, "profileId", deleted, version FROM (
        SELECT key, profile_id AS "profileId", false AS deleted, version::float8 AS version FROM identity_identifiers
        WHERE (version > ${version}::bigint AND version < ${lo}::bigint) OR version > GREATEST(${version}::bigint, ${hi}::bigint)
        UNION ALL
        SELECT key, '' AS "profileId", true AS deleted, version::float8 AS version FROM identity_removed WHERE version > ${version}
      ) c ORDER BY version LIMIT ${limit}`;
  }
}
