import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { ChdbConnection } from 'chdb/connection';

type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];

export type ClickhouseTarget = { url: string } | { path: string };

export interface ClickhouseOptions {
  target: ClickhouseTarget;
  database: string;
  /** Embedded engine: connections of their own for inserts (0: inserts share the main one). Default 2. */
  insertConnections?: number;
}

/**
 * Tessera's handle on ClickHouse: a `@clickhouse/client` (HTTP server or in-process chdb) and the
 * database its tables live in. Table names are always qualified, so the same SQL runs on both.
 */
export class Clickhouse {
  /** Inserts in flight per inserter. */
  private readonly busy: number[];

  constructor(
    public readonly client: ClickHouseClient,
    public readonly database: string,
    /**
     * Embedded mode: opens a new session on this handle's in-process engine. Settings a query sets
     * stay in its session (chdb runs `clickhouse_settings` as `SET` statements), so work with
     * settings of its own, like the ClickHouse proxy's requests, runs in a session of its own.
     */
    public readonly openSession?: () => ChdbConnection,
    /**
     * Clients inserts go to (the least busy one). chdb runs one query at a time per connection, so
     * the embedded engine gets connections of their own for inserts: inserts into different tables
     * (a CDC batch's changelog and state tables) run in parallel instead of queueing behind each
     * other and behind reads. An HTTP client already runs requests in parallel.
     */
    private readonly inserters: readonly ClickHouseClient[] = [client],
  ) {
    this.busy = inserters.map(() => 0);
  }

  /** Fully qualified, quoted table name: `db`.`name`. */
  table(name: string): string {
    return `\`${this.database}\`.\`${name}\``;
  }

  async query<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const rs = await this.client.query({ query, query_params: params, format: 'JSONEachRow' });
    return rs.json<T>();
  }

  async command(query: string, params: Record<string, unknown> = {}): Promise<void> {
    await this.client.command({ query, query_params: params });
  }

  /**
   * Inserts rows of one shape (the keys of the first row are the columns). They travel as
   * JSONCompactEachRow, which ClickHouse parses faster than keyed JSON, inline in the INSERT: the
   * whole batch is one `JSON.stringify` (rows separated by commas, which the format accepts),
   * without the client's per-row encoding and stream. Settings are written into the statement
   * (`settingsClause`).
   */
  async insert<T extends object>(table: string, rows: readonly T[], settings?: ClickHouseSettings): Promise<void> {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!) as (keyof T & string)[];
    const values = JSON.stringify(rows.map((row) => columns.map((c) => row[c]))).slice(1, -1);
    const query = `INSERT INTO ${this.table(table)} (${columns.map((c) => `\`${c}\``).join(', ')})${settingsClause(settings)} FORMAT JSONCompactEachRow\n${values}`;
    const i = this.busy.indexOf(Math.min(...this.busy));
    this.busy[i]!++;
    try {
      await this.inserters[i]!.command({ query });
    } finally {
      this.busy[i]!--;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.inserters.filter((c) => c !== this.client).map((c) => c.close()));
    await this.client.close();
  }
}

/**
 * ` SETTINGS a = 1, b = 'x'` for an INSERT. The embedded engine runs `clickhouse_settings` as `SET`
 * statements in front of the query, which stay in the session, and an INSERT whose data follows
 * them costs up to twice as much as with its settings in the statement (`npm run bench:insert-size`:
 * 18.0 against 10.2 µs of CPU per event in inserts of 1,500 rows).
 */
export function settingsClause(settings: ClickHouseSettings = {}): string {
  const entries = Object.entries(settings).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '';
  const literal = (v: unknown) => {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'boolean') return v ? '1' : '0';
    return `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  };
  for (const [name] of entries) if (!/^[A-Za-z_]\w*$/.test(name)) throw new Error(`invalid ClickHouse setting name: ${JSON.stringify(name)}`);
  return ` SETTINGS ${entries.map(([name, v]) => `${name} = ${literal(v)}`).join(', ')}`;
}

export async function openClickhouse(opts: ClickhouseOptions): Promise<Clickhouse> {
  if ('url' in opts.target) {
    const client = createClient({ url: opts.target.url, compression: { request: false, response: false } });
    return new Clickhouse(client, opts.database);
  }
  // chdb is loaded lazily: a server deployment never needs the native engine.
  const { createChdbConnection } = await import('chdb/connection');
  const dataPath = opts.target.path;
  const openSession = () => createChdbConnection({ path: dataPath });
  // chdb builds on its own copy of @clickhouse/client-common; the shapes match, the nominal types do not.
  const client = () => createClient({ connection: openSession() as unknown as ClientConnection });
  const main = client();
  const inserters = Array.from({ length: opts.insertConnections ?? 2 }, client);
  return new Clickhouse(main, opts.database, openSession, inserters.length > 0 ? inserters : [main]);
}
