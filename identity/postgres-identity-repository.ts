/**
 * The identity graph in PostgreSQL: loading the components a batch touches, writing a
 * `ResolutionDiff` (semantics in resolution-diff.ts; memory-state.ts is the reference), replacing
 * the whole graph after a rebuild, overrides, and the reads behind explanations and stats.
 * Every write runs inside a transaction the caller opens (so a job's checkpoint commits with it).
 */
import type { Sql, TransactionSql } from 'postgres';
import type { IdentityOverrides, IdentifierPair } from './overrides.ts';
import type { LoadedState, StateLoader } from './resolver.ts';
import type { StoredIdentifier } from './resolver-engine.ts';
import type { EdgeDelta, RejectedLink, ResolutionDiff } from './resolution-diff.ts';
import { dropStagingGraph, loadStagingGraph, swapInStagingGraph, type GraphLoad } from './graph-reload.ts';

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
        ON CONFLICT (a, b) DO UPDATE SET count = identity_rejected_links.count + EXCLUDED.count,
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
   * Replaces the graph (not the overrides) with a rebuild's (graph-reload.ts): loaded beside the
   * live tables on connections of their own while readers go on, then swapped in within `tx`,
   * which holds the identity lock. The identifiers get versions `first`, `first + 1`, ... in
   * their order (`allocateVersions`).
   */
  async replaceAll(tx: Tx, graph: GraphLoad, first: number, phase: (name: string) => void = () => {}): Promise<void> {
    await loadStagingGraph(this.sql, graph, first);
    phase('load graph');
    await swapInStagingGraph(tx);
    phase('swap');
  }

  /**
   * Drops what a failed `replaceAll` left behind; call it once its transaction is over. Under the
   * identity lock, so never while another rebuild is loading.
   */
  async dropReplaceLeftovers(): Promise<void> {
    await this.transaction((tx) => dropStagingGraph(tx));
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
