/**
 * A logical replication connection to the source (the `postgres` package with
 * `replication: 'database'`): creates the slot (exporting its snapshot) and runs START_REPLICATION,
 * whose CopyBoth stream carries XLogData and keepalives one way and standby status updates the
 * other. The package's own `sql.subscribe` is not used: it makes a temporary slot and confirms
 * positions before they are stored, so it cannot resume.
 */
import type { Duplex } from 'node:stream';
import postgres, { type Sql } from 'postgres';
import { decodeReplicationMessage, encodeStandbyStatus, type ReplicationMessage } from './pgoutput-decoder.ts';
import { formatLsn, parseLsn } from './lsn.ts';
import { quoteIdent } from './source-database.ts';
import { sourceError, type SourceContext } from './replication-errors.ts';

/** Received messages held before the socket is paused (each is one CopyData message). */
const HIGH_WATER = 512;
const LOW_WATER = 64;

export interface CreatedSlot {
  /** The first position the slot streams from; the exported snapshot sees everything before it. */
  consistentPoint: bigint;
  /** Valid until the next command on this connection: import it with SET TRANSACTION SNAPSHOT. */
  snapshotName: string;
}

export class ReplicationConnection {
  private readonly sql: Sql;

  constructor(
    url: string,
    private readonly ctx: SourceContext,
  ) {
    this.sql = postgres(url, {
      max: 1,
      connection: { replication: 'database', application_name: `tessera ${ctx.source}` },
      // A walsender speaks the simple query protocol only: no type lookup at connect.
      fetch_types: false,
      idle_timeout: undefined,
      max_lifetime: null,
      onnotice: () => {},
    });
  }

  /** Creates the permanent pgoutput slot and exports a snapshot consistent with its start. */
  async createSlot(): Promise<CreatedSlot> {
    try {
      const [row] = await this.sql.unsafe<{ consistent_point: string; snapshot_name: string }[]>(`CREATE_REPLICATION_SLOT ${quoteIdent(this.ctx.slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`);
      return { consistentPoint: parseLsn(row!.consistent_point), snapshotName: row!.snapshot_name };
    } catch (err) {
      throw sourceError(err, this.ctx, `creating replication slot ${this.ctx.slot}`);
    }
  }

  /** Streams the slot's changes of committed transactions from `from` (pgoutput protocol 1). */
  async start(from: bigint): Promise<ReplicationStream> {
    try {
      const publication = this.ctx.publication.replaceAll("'", "''");
      const stream = (await this.sql
        .unsafe(`START_REPLICATION SLOT ${quoteIdent(this.ctx.slot)} LOGICAL ${formatLsn(from)} (proto_version '1', publication_names '${publication}')`)
        .writable()) as unknown as Duplex;
      return new ReplicationStream(stream);
    } catch (err) {
      throw sourceError(err, this.ctx, `starting replication from slot ${this.ctx.slot}`);
    }
  }

  /** Closes the connection; one that does not end cleanly within a second is cut (nothing is stored here). */
  close(): Promise<void> {
    return this.sql.end({ timeout: 1 });
  }
}

/** The CopyBoth stream of START_REPLICATION, as decoded messages with backpressure. */
export class ReplicationStream {
  private ended: Promise<void>;

  constructor(private readonly stream: Duplex) {
    this.ended = new Promise((resolve) => stream.once('close', resolve));
  }

  /**
   * The messages in order. The package pushes one CopyData message per chunk; they are taken from
   * 'data' events (reading in paused mode would glue them together) and the socket is paused while
   * the consumer is behind. Ends when the server ends the stream; throws its error.
   */
  async *messages(): AsyncGenerator<ReplicationMessage> {
    const queue: Buffer[] = [];
    let finished = false;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const { stream } = this;
    stream.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      if (queue.length >= HIGH_WATER) stream.pause();
      notify();
    });
    stream.once('end', () => {
      finished = true;
      notify();
    });
    stream.once('close', () => {
      finished = true;
      notify();
    });
    stream.once('error', (err) => {
      failure = err;
      notify();
    });
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        if (queue.length <= LOW_WATER && stream.isPaused()) stream.resume();
        yield decodeReplicationMessage(chunk);
        continue;
      }
      if (failure) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }

  /** Confirms `lsn` as written, flushed and applied: the server may recycle WAL before it. */
  sendStatus(lsn: bigint, replyRequested = false): void {
    if (this.stream.writableEnded || this.stream.destroyed) return;
    this.stream.write(encodeStandbyStatus({ written: lsn, flushed: lsn, applied: lsn, now: Date.now(), replyRequested }));
  }

  /** Ends streaming (CopyDone); messages already sent still arrive, then `messages()` ends. */
  end(): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
  }

  /** Stops at once with `err` (messages() throws it). */
  abort(err: Error): void {
    this.stream.destroy(err);
  }

  /** Resolves once the stream is closed. */
  closed(): Promise<void> {
    return this.ended;
  }
}
