/**
 * `tessera cdc status` / `GET /v1/cdc/status`: per CDC table, its current rows, changes received,
 * the last change, how late changes arrive (lag), dead letters and schema drift. Tables that are
 * not declared but were sent anyway show up through their dead letters.
 */
import type { Clickhouse } from '../clients/clickhouse.ts';
import type { Postgres } from '../clients/postgres.ts';
import type { SourcesConfig } from '../sources/sources-config.ts';
import { cdcTableNames } from './cdc-tables.ts';

export interface CdcTableStatus {
  source: string;
  table: string;
  declared: boolean;
  /** Current rows (deletes and truncates applied); null when the table has no data yet. */
  rows: number | null;
  changes: number;
  /** Source time of the newest change, ISO-8601. */
  lastChangeAt: string | null;
  /** Seconds between the source committing the newest change and Tessera storing it. */
  lagSeconds: number | null;
  deadLetters: number;
  /** Columns received but not declared (kept in cdc_changes.row). */
  drift: { column: string; firstSeenAt: string }[];
}

const key = (source: string, table: string) => `${source}\0${table}`;

export class CdcStatusReader {
  constructor(
    private readonly ch: Clickhouse,
    private readonly pg: Postgres,
    private readonly config: SourcesConfig,
  ) {}

  async status(): Promise<CdcTableStatus[]> {
    const tables = new Map<string, CdcTableStatus>();
    const entry = (source: string, table: string, declared = false): CdcTableStatus => {
      const k = key(source, table);
      let t = tables.get(k);
      if (!t) {
        t = { source, table, declared, rows: null, changes: 0, lastChangeAt: null, lagSeconds: null, deadLetters: 0, drift: [] };
        tables.set(k, t);
      }
      return t;
    };
    for (const [source, { tables: declared }] of Object.entries(this.config.cdc)) {
      for (const table of Object.keys(declared)) entry(source, table, true);
    }

    const changes = await this.ch.query<{ source: string; table_name: string; changes: string; last: number; lag: number }>(
      `SELECT source, table_name, count() AS changes, max(toUnixTimestamp64Milli(changed_at)) AS last,
              argMax(toUnixTimestamp64Milli(ingested_at) - toUnixTimestamp64Milli(changed_at), (changed_at, position)) AS lag
       FROM ${this.ch.table('cdc_changes')} FINAL GROUP BY source, table_name`,
    );
    for (const c of changes) {
      const t = entry(c.source, c.table_name);
      t.changes = Number(c.changes);
      t.lastChangeAt = new Date(Number(c.last)).toISOString();
      t.lagSeconds = Math.max(0, Number(c.lag)) / 1000;
    }

    const dead = await this.ch.query<{ source: string; n: string }>(
      `SELECT source, count() AS n FROM ${this.ch.table('rejected_events')} WHERE startsWith(source, 'cdc:') GROUP BY source`,
    );
    for (const d of dead) {
      const [, source = '?', table = '?'] = d.source.split(':');
      entry(source, table).deadLetters = Number(d.n);
    }

    const drift = await this.pg.sql<{ source: string; table_name: string; column_name: string; first_seen_at: Date | string }[]>`
      SELECT source, table_name, column_name, first_seen_at FROM cdc_schema_drift ORDER BY first_seen_at, column_name`;
    for (const d of drift) entry(d.source, d.table_name).drift.push({ column: d.column_name, firstSeenAt: new Date(d.first_seen_at).toISOString() });

    for (const t of tables.values()) {
      if (!t.declared || t.changes === 0) continue;
      const [row] = await this.ch.query<{ n: string }>(`SELECT count() AS n FROM ${this.ch.table(cdcTableNames(t.source, t.table).current)}`);
      t.rows = Number(row?.n ?? 0);
    }
    return [...tables.values()].sort((a, b) => key(a.source, a.table).localeCompare(key(b.source, b.table)));
  }
}
