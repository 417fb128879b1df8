interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions {
  /** Largest number of rows handed to one `flush` call. */
  maxRows?: number;
  /**
   * How long a write waits for company before a flush starts when a flush could start at once (a
   * flush slot is free). Stores with a high fixed cost per write (a ClickHouse insert creates a
   * part) gain far more than they lose.
   */
  lingerMs?: number;
  /**
   * How many flushes may be in flight at once (default 1). More lets a store that runs writes in
   * parallel take the next group while one is being written.
   */
  concurrency?: number;
}

/**
 * Group commit: rows written while a flush is in flight (or while the first write lingers) are
 * collected and flushed together. Every `write` resolves only once its rows are flushed (so an
 * acknowledged write is durable) and rejects if that flush fails.
 */
export class GroupCommit<T> {
  private pending: T[] = [];
  private waiters: Waiter[] = [];
  private inFlight = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly maxRows: number;
  private readonly lingerMs: number;
  private readonly concurrency: number;

  constructor(
    private readonly flush: (rows: T[]) => Promise<void>,
    opts: GroupCommitOptions = {},
  ) {
    this.maxRows = opts.maxRows ?? 5000;
    this.lingerMs = opts.lingerMs ?? 0;
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
  }

  write(rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    for (const row of rows) this.pending.push(row);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.inFlight < this.concurrency) {
      if (this.lingerMs <= 0 || this.pending.length >= this.maxRows) this.start();
      else this.lingerTimer ??= setTimeout(() => this.start(), this.lingerMs);
    }
    return done;
  }

  /** Resolves when everything written so far is flushed. */
  async idle(): Promise<void> {
    if (this.lingerTimer) this.start();
    while (this.inFlight > 0 || this.pending.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes what is pending, if a slot is free; a finished flush starts the next group at once. */
  private start(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.pending.length === 0 || this.inFlight >= this.concurrency) return;
    const rows = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.inFlight++;
    void this.flushGroup(rows, waiters).then(() => {
      this.inFlight--;
      if (this.pending.length > 0) this.start();
      else if (this.inFlight === 0) for (const notify of this.idleWaiters.splice(0)) notify();
    });
  }

  private async flushGroup(rows: T[], waiters: Waiter[]): Promise<void> {
    try {
      for (let i = 0; i < rows.length; i += this.maxRows) await this.flush(rows.slice(i, i + this.maxRows));
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
