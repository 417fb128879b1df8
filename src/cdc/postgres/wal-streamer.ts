/**
 * One streaming session of the pull connector, from START_REPLICATION until the stream ends:
 *
 * - decodes each message and assembles changes (skipping transactions applied before a restart);
 * - batches them (by count, or after `lingerMs`) and stores a batch in ClickHouse, then writes the
 *   checkpoint = end LSN of the last transaction whose commit was received before the batch was
 *   cut (all of its changes are in that batch or earlier ones), then confirms that LSN to the server
 *   as flushed. One batch is stored while the next one fills; when both are full the socket waits;
 * - answers keepalives, confirms every `statusIntervalMs`, and when nothing is in flight confirms
 *   the keepalive's WAL end so the slot does not hold WAL for changes of other tables;
 * - stops at `target` (caught up) or when asked.
 *
 * Resume semantics: a crash between a ClickHouse write and its checkpoint replays those
 * transactions after the restart; the writer is idempotent (changelog keyed by (source, table, key,
 * position), state versioned by position), so the replay is harmless.
 */
import type { CdcChange } from '../cdc-change.ts';
import { decodePgoutput } from './pgoutput-decoder.ts';
import type { ReplicationStream } from './replication-connection.ts';
import type { PulledChange, WalChangeAssembler } from './wal-change-assembler.ts';

export interface StreamProgress {
  changesApplied: number;
  transactions: number;
  /** Commit time of the last applied transaction (epoch ms). */
  lastCommitTime?: number;
  /** Every transaction committed before this time is applied (epoch ms). */
  appliedThrough?: number;
  /** The position confirmed to the server (checkpoint, or the WAL end of an idle keepalive). */
  confirmed: bigint;
  /** Nothing is pending and the server said it has sent everything. */
  caughtUp: boolean;
}

export interface WalStreamerOptions {
  stream: ReplicationStream;
  assembler: WalChangeAssembler;
  primaryKeys: Readonly<Record<string, readonly string[]>>;
  progress: StreamProgress;
  /** Stores changes in ClickHouse. */
  apply(changes: CdcChange[]): Promise<void>;
  /** Stores the checkpoint (end LSN of the last applied transaction). */
  checkpoint(lsn: bigint): Promise<void>;
  /** Values of unchanged TOAST columns from the stored state (absent: they stay missing). */
  previousValues?(change: CdcChange, columns: string[]): Promise<Record<string, unknown>>;
  batchSize: number;
  lingerMs: number;
  statusIntervalMs: number;
  /** Stop once everything up to this WAL position is applied. */
  target?: bigint;
}

/** Ask for a keepalive after this long without a message (how an idle stream learns it caught up). */
const IDLE_PING_MS = 1000;

export type StreamOutcome = 'caught-up' | 'stopped' | 'ended';

export class WalStreamer {
  private pending: CdcChange[] = [];
  private pendingCommit: { endLsn: bigint; commitTime: number } | undefined;
  private pendingTxns = 0;
  private inflight: Promise<void> = Promise.resolve();
  private queuedWrites = 0;
  private failure: unknown;
  private outcome: StreamOutcome | undefined;
  private lastMessageAt = Date.now();
  private lastStatusAt = 0;

  constructor(private readonly opts: WalStreamerOptions) {}

  async run(): Promise<StreamOutcome> {
    const { assembler, progress } = this.opts;
    const timer = setInterval(() => this.tick(), Math.min(this.opts.lingerMs, 250));
    try {
      this.checkTarget();
      for await (const message of this.opts.stream.messages()) {
        this.lastMessageAt = Date.now();
        if (message.tag === 'keepalive') {
          this.onKeepalive(message.walEnd, message.serverTime, message.replyRequested);
          continue;
        }
        progress.caughtUp = false;
        const event = assembler.push(message.walStart, decodePgoutput(message.payload));
        if (event.kind === 'changes') {
          for (const pulled of event.changes) {
            if (pulled.unchangedColumns) await this.fillUnchanged(pulled);
            this.pending.push(pulled.change);
          }
          // Backpressure: wait for the batch before this one; this one is written meanwhile.
          if (this.pending.length >= this.opts.batchSize) await this.flush();
        } else if (event.kind === 'commit' && !event.skipped) {
          this.pendingCommit = { endLsn: event.endLsn, commitTime: event.commitTime };
          this.pendingTxns++;
        }
        this.throwIfFailed();
      }
      // The stream ended: store what arrived, up to the last commit.
      void this.flush();
      await this.inflight;
      this.throwIfFailed();
      return this.outcome ?? 'ended';
    } finally {
      clearInterval(timer);
    }
  }

  /** Ends streaming; what already arrived is still applied before `run` returns. */
  stop(): void {
    this.end('stopped');
  }

  private end(outcome: StreamOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.sendStatus();
    this.opts.stream.end();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.opts.stream.abort(err instanceof Error ? err : new Error(String(err)));
  }

  /** Hands the pending batch to the writer; resolves when the batch before it is stored. */
  private flush(): Promise<void> {
    if (this.pending.length === 0 && !this.pendingCommit) return this.inflight;
    const batch = this.pending;
    const commit = this.pendingCommit;
    const txns = this.pendingTxns;
    this.pending = [];
    this.pendingCommit = undefined;
    this.pendingTxns = 0;
    const previous = this.inflight;
    this.queuedWrites++;
    this.inflight = previous
      .then(() => this.write(batch, commit, txns))
      .catch((err: unknown) => this.fail(err))
      .finally(() => this.queuedWrites--);
    return previous;
  }

  private async write(batch: CdcChange[], commit: { endLsn: bigint; commitTime: number } | undefined, txns: number): Promise<void> {
    if (this.failure) return;
    const { progress } = this.opts;
    if (batch.length) {
      await this.opts.apply(batch);
      progress.changesApplied += batch.length;
    }
    if (!commit) return;
    await this.opts.checkpoint(commit.endLsn);
    progress.transactions += txns;
    progress.lastCommitTime = commit.commitTime;
    progress.appliedThrough = Math.max(progress.appliedThrough ?? 0, commit.commitTime);
    if (commit.endLsn > progress.confirmed) progress.confirmed = commit.endLsn;
    this.sendStatus();
    this.checkTarget();
  }

  private onKeepalive(walEnd: bigint, serverTime: number, replyRequested: boolean): void {
    const { progress } = this.opts;
    // Messages arrive in order: with nothing received-but-unapplied, everything the server decoded
    // before walEnd that concerns the published tables is applied.
    if (!this.opts.assembler.inTransaction && this.pending.length === 0 && !this.pendingCommit && this.queuedWrites === 0) {
      if (walEnd > progress.confirmed) progress.confirmed = walEnd;
      progress.appliedThrough = Math.max(progress.appliedThrough ?? 0, serverTime);
      progress.caughtUp = true;
    }
    if (replyRequested) this.sendStatus();
    this.checkTarget();
  }

  private checkTarget(): void {
    if (this.opts.target !== undefined && this.opts.progress.confirmed >= this.opts.target) this.end('caught-up');
  }

  private sendStatus(replyRequested = false): void {
    this.lastStatusAt = Date.now();
    this.opts.stream.sendStatus(this.opts.progress.confirmed, replyRequested);
  }

  private tick(): void {
    if (this.failure || this.outcome) return;
    if (this.queuedWrites === 0 && (this.pending.length > 0 || this.pendingCommit)) void this.flush();
    const now = Date.now();
    if (now - this.lastStatusAt >= this.opts.statusIntervalMs) this.sendStatus();
    else if (now - this.lastMessageAt >= IDLE_PING_MS && now - this.lastStatusAt >= IDLE_PING_MS) this.sendStatus(true);
  }

  /**
   * Fills columns an update did not send (unchanged TOAST) from the row's previous version: an
   * earlier change in the pending batch, else the stored state (after storing what is pending).
   */
  private async fillUnchanged(pulled: PulledChange): Promise<void> {
    const { change } = pulled;
    const columns = pulled.unchangedColumns!;
    const after = change.after!;
    const key = this.opts.primaryKeys[change.table] ?? [];
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const earlier = this.pending[i]!;
      if (earlier.table !== change.table) continue;
      if (earlier.op === 't') break;
      const row = earlier.after ?? earlier.before;
      if (row && key.every((k) => row[k] === after[k])) {
        if (earlier.after) for (const c of columns) if (c in earlier.after) after[c] = earlier.after[c];
        return;
      }
    }
    if (!this.opts.previousValues) return;
    void this.flush();
    await this.inflight;
    this.throwIfFailed();
    Object.assign(after, await this.opts.previousValues(change, columns));
  }
}
