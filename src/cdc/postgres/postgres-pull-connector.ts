/**
 * The PostgreSQL logical replication pull connector of one CDC source: checks the source, keeps
 * its publication and permanent slot, takes the initial snapshot on first start, then streams
 * changes into ClickHouse with exactly-once effect across restarts (see README.md). Transient
 * failures (the source restarting, the network) reconnect with backoff and resume from the
 * checkpoint; configuration problems stop it with an error saying what to do.
 */
import postgres, { type Sql } from 'postgres';
import type { Logger } from '../../common/logger.ts';
import { TesseraError } from '../../common/errors.ts';
import type { Clickhouse } from '../../clients/clickhouse.ts';
import type { CdcSourceConfig } from '../../sources/sources-config.ts';
import type { CdcChange } from '../cdc-change.ts';
import { clearStateTables, previousValues } from './clickhouse-state.ts';
import { formatLsn, parseLsn } from './lsn.ts';
import { deletePullCheckpoint, readPullCheckpoint, writePullCheckpoint, type PullCheckpoint } from './pull-checkpoint.ts';
import { ReplicationConnection } from './replication-connection.ts';
import { CdcSourceError, slotLostError, sourceError, tablesAddedError, type SourceContext } from './replication-errors.ts';
import { checkSlotIsOurs, checkSource, currentWalLsn, dropSlot, ensurePublication, readSlot, replicationNames } from './source-database.ts';
import { copySnapshot } from './table-snapshot.ts';
import { WalChangeAssembler } from './wal-change-assembler.ts';
import { WalStreamer, type StreamOutcome, type StreamProgress } from './wal-streamer.ts';

/** Where changes go: the CDC writer (`services.cdc`), or anything with its `apply`. */
export interface ChangeSink {
  apply(changes: readonly CdcChange[]): Promise<{ accepted: number; rejected: readonly unknown[] }>;
}

export interface PullConnectorOptions {
  source: string;
  config: CdcSourceConfig;
  sink: ChangeSink;
  /** Tessera's PostgreSQL, which holds the checkpoint. */
  checkpoints: Sql;
  /** The ClickHouse of the state tables (emptied before a snapshot; unchanged TOAST values). */
  clickhouse?: Clickhouse;
  log: Logger;
  /** Most changes in one ClickHouse write (default 5,000). */
  batchSize?: number;
  /** How long a partial batch waits before it is written (default 200 ms). */
  lingerMs?: number;
  /** How often the position is confirmed to the server (default 10 s). */
  statusIntervalMs?: number;
  /** Rows per page of the initial snapshot (default 5,000). */
  snapshotPageSize?: number;
  /** Stop once everything up to the server's WAL position at start is applied. */
  untilCaughtUp?: boolean;
  /** Forget the checkpoint and the slot, empty the state tables and take a new snapshot. */
  resnapshot?: boolean;
  /** Also retry transient errors before streaming ever started (default: fail at once). */
  retryBeforeStreaming?: boolean;
  /** Backoff between retries (default 1 s doubling to 30 s). */
  retryDelayMs?: { min: number; max: number };
}

export type PullPhase = 'idle' | 'connecting' | 'snapshot' | 'streaming' | 'retrying' | 'stopped';

export interface PullStats {
  source: string;
  phase: PullPhase;
  snapshotRows: number;
  /** Streamed changes stored in ClickHouse (dead letters included). */
  changesApplied: number;
  /** Changes dead-lettered by the writer (bad values, missing keys). */
  rejected: number;
  transactions: number;
  /** Commit time of the last applied transaction (epoch ms). */
  lastCommitTime?: number;
  /** How far behind the source the stored state is: now - the time up to which every commit is applied. */
  lagMs: number;
  /** The WAL position confirmed to the source (`X/Y`). */
  lsn?: string;
  caughtUp: boolean;
  /** The last error retried, if any. */
  lastError?: string;
}

/** `stop()` during the initial snapshot: it is abandoned (the checkpoint says so) and redone next time. */
class SnapshotInterrupted extends Error {
  constructor() {
    super('the initial snapshot was interrupted by stop()');
  }
}

const sleep = (ms: number, cancel: { wake?: () => void }) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    cancel.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

export class PostgresPullConnector {
  private readonly url: string;
  private readonly ctx: SourceContext;
  private readonly tables: string[];
  private readonly primaryKeys: Record<string, string[]>;
  private readonly progress: StreamProgress = { changesApplied: 0, transactions: 0, confirmed: 0n, caughtUp: false };
  private phase: PullPhase = 'idle';
  private snapshotRows = 0;
  private rejected = 0;
  private lastError: string | undefined;
  private startedAt = Date.now();
  /** Sessions that reached streaming (a failure after one starts the backoff over). */
  private streamingSessions = 0;
  private resnapshotPending: boolean;
  private stopping = false;
  private streamer: WalStreamer | undefined;
  private readonly backoff: { wake?: () => void } = {};
  private running: Promise<void> | undefined;

  constructor(private readonly opts: PullConnectorOptions) {
    if (!opts.config.connection) {
      throw new CdcSourceError(
        'cdc_no_connection',
        `CDC source '${opts.source}' has no \`connection\`: add "connection": "postgres://USER@HOST:5432/DATABASE" to cdc.${opts.source} in the sources config (TESSERA_SOURCES_CONFIG).`,
      );
    }
    this.url = opts.config.connection;
    const names = replicationNames(opts.source, opts.config);
    this.ctx = { source: opts.source, user: decodeURIComponent(new URL(this.url).username) || 'postgres', ...names };
    this.tables = Object.keys(opts.config.tables);
    this.primaryKeys = Object.fromEntries(Object.entries(opts.config.tables).map(([t, c]) => [t, c.primaryKey]));
    this.resnapshotPending = opts.resnapshot ?? false;
  }

  /**
   * Runs until `stop()` (or, with `untilCaughtUp`, until caught up); rejects on an error that
   * retrying cannot fix. Calling it again returns the same run.
   */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops streaming, stores what arrived, checkpoints it; resolves when the run ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.backoff.wake?.();
    this.streamer?.stop();
    await this.running;
  }

  stats(): PullStats {
    const p = this.progress;
    const lagMs = p.caughtUp ? 0 : Math.max(0, Date.now() - (p.appliedThrough ?? this.startedAt));
    return {
      source: this.opts.source,
      phase: this.phase,
      snapshotRows: this.snapshotRows,
      changesApplied: p.changesApplied,
      rejected: this.rejected,
      transactions: p.transactions,
      lastCommitTime: p.lastCommitTime,
      lagMs,
      lsn: p.confirmed > 0n ? formatLsn(p.confirmed) : undefined,
      caughtUp: p.caughtUp,
      lastError: this.lastError,
    };
  }

  private async loop(): Promise<void> {
    const { min, max } = this.opts.retryDelayMs ?? { min: 1000, max: 30_000 };
    let delay = min;
    try {
      while (!this.stopping) {
        const sessionsBefore = this.streamingSessions;
        try {
          const outcome = await this.session();
          if (outcome !== 'ended') return;
          this.opts.log.warn({ source: this.opts.source }, 'the source ended the replication stream; reconnecting');
          delay = min;
        } catch (err) {
          if (err instanceof SnapshotInterrupted) return;
          const error = err instanceof TesseraError ? err : sourceError(err, this.ctx, 'streaming changes');
          if (this.stopping || !error.retryable || (this.streamingSessions === 0 && !this.opts.retryBeforeStreaming)) throw error;
          if (this.streamingSessions > sessionsBefore) delay = min;
          this.lastError = error.message;
          this.phase = 'retrying';
          this.opts.log.warn({ source: this.opts.source, err: error.message, retryInMs: delay }, 'CDC pull failed; retrying');
          await sleep(delay, this.backoff);
          delay = Math.min(delay * 2, max);
        }
      }
    } finally {
      this.phase = 'stopped';
    }
  }

  /** One connection to the source: prepare, snapshot if needed, stream. */
  private async session(): Promise<StreamOutcome> {
    this.phase = 'connecting';
    const sql = postgres(this.url, { max: 2, onnotice: () => {}, connect_timeout: 10 });
    const replication = new ReplicationConnection(this.url, this.ctx);
    try {
      await checkSource(sql, this.ctx, this.opts.config.tables);
      if (this.resnapshotPending) await deletePullCheckpoint(this.opts.checkpoints, this.opts.source);
      let checkpoint = await readPullCheckpoint(this.opts.checkpoints, this.opts.source, this.ctx.slot);
      const added = checkpoint?.snapshotDone && checkpoint.tables ? this.tables.filter((t) => !checkpoint!.tables!.includes(t)) : [];
      if (added.length) throw tablesAddedError(this.opts.source, added);
      const publication = await ensurePublication(sql, this.ctx, this.tables);
      if (publication !== 'unchanged') this.opts.log.info({ source: this.opts.source, publication: this.ctx.publication }, `publication ${publication}`);
      const slot = await readSlot(sql, this.ctx);
      if (slot) await checkSlotIsOurs(sql, this.ctx, slot);
      if (!checkpoint?.snapshotDone) {
        // First start, or a snapshot that did not finish: its exported snapshot is gone with its
        // connection, so the slot is made again with a new one.
        if (slot) await dropSlot(sql, this.ctx);
        checkpoint = await this.snapshot(sql, replication);
        this.resnapshotPending = false;
      } else if (!slot || slot.lost) {
        throw slotLostError(this.ctx);
      }

      const from = parseLsn(checkpoint.lsn!);
      if (from > this.progress.confirmed) this.progress.confirmed = from;
      const target = this.opts.untilCaughtUp ? await currentWalLsn(sql, this.ctx) : undefined;
      const stream = await replication.start(from);
      this.phase = 'streaming';
      this.streamingSessions++;
      this.lastError = undefined;
      this.streamer = new WalStreamer({
        stream,
        assembler: new WalChangeAssembler({ source: this.opts.source, primaryKeys: this.primaryKeys, resumeLsn: from }),
        primaryKeys: this.primaryKeys,
        progress: this.progress,
        apply: (changes) => this.store(changes),
        checkpoint: (lsn) => writePullCheckpoint(this.opts.checkpoints, this.opts.source, { slot: this.ctx.slot, snapshotDone: true, lsn: formatLsn(lsn), tables: this.tables }),
        previousValues: this.opts.clickhouse ? (change, columns) => this.previousValues(change, columns) : undefined,
        batchSize: this.opts.batchSize ?? 5000,
        lingerMs: this.opts.lingerMs ?? 200,
        statusIntervalMs: this.opts.statusIntervalMs ?? 10_000,
        target,
      });
      if (this.stopping) this.streamer.stop();
      return await this.streamer.run();
    } finally {
      this.streamer = undefined;
      await replication.close().catch(() => {});
      await sql.end({ timeout: 5 }).catch(() => {});
    }
  }

  /** Creates the slot, copies the tables as of its consistent point, checkpoints that point. */
  private async snapshot(sql: Sql, replication: ReplicationConnection): Promise<PullCheckpoint> {
    this.phase = 'snapshot';
    const { source, log } = this.opts;
    const slot = await replication.createSlot();
    await writePullCheckpoint(this.opts.checkpoints, source, { slot: this.ctx.slot, snapshotDone: false });
    if (this.opts.clickhouse) await clearStateTables(this.opts.clickhouse, source, this.opts.config.tables);
    log.info({ source, slot: this.ctx.slot, consistentPoint: formatLsn(slot.consistentPoint) }, 'initial snapshot');
    const counts = await copySnapshot(sql, {
      source,
      tables: this.tables,
      snapshotName: slot.snapshotName,
      pageSize: this.opts.snapshotPageSize ?? 5000,
      onPage: async (changes) => {
        if (this.stopping) throw new SnapshotInterrupted();
        await this.store(changes);
        this.snapshotRows += changes.length;
      },
    }).catch((err: unknown) => {
      throw err instanceof SnapshotInterrupted ? err : sourceError(err, this.ctx, 'copying the initial snapshot');
    });
    const checkpoint: PullCheckpoint = { slot: this.ctx.slot, snapshotDone: true, lsn: formatLsn(slot.consistentPoint), tables: this.tables };
    await writePullCheckpoint(this.opts.checkpoints, source, checkpoint);
    log.info({ source, rows: counts }, 'initial snapshot done');
    return checkpoint;
  }

  private async store(changes: CdcChange[]): Promise<void> {
    const result = await this.opts.sink.apply(changes);
    this.rejected += result.rejected.length;
  }

  private previousValues(change: CdcChange, columns: string[]): Promise<Record<string, unknown>> {
    const table = this.opts.config.tables[change.table];
    if (!table || !change.after) return Promise.resolve({});
    return previousValues(this.opts.clickhouse!, this.opts.source, change.table, table, change.after, change.position, columns);
  }
}
