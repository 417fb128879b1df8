interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions {
  /** Largest number of rows handed to one `flush` call. */
  maxRows?: number;
  /**
   * How long the first write into an idle committer waits for company before flushing. Stores with
   * a high fixed cost per write (a ClickHouse insert creates a part) gain far more than they lose.
   */
  lingerMs?: number;
}

/**
 * Group commit: rows written while a flush is in flight (or while the first write lingers) are
 * collected and flushed together. Every `write` resolves only once its rows are flushed (so an
 * acknowledged write is durable) and rejects if that flush fails.
 */
export class GroupCommit<T> {
  private pending: T[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly maxRows: number;
  private readonly lingerMs: number;

  constructor(
    private readonly flush: (rows: T[]) => Promise<void>,
    opts: GroupCommitOptions = {},
  ) {
    this.maxRows = opts.maxRows ?? 5000;
    this.lingerMs = opts.lingerMs ?? 0;
  }

  write(rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    for (const row of rows) this.pending.push(row);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) {
      if (this.lingerMs <= 0 || this.pending.length >= this.maxRows) this.start();
      else this.lingerTimer ??= setTimeout(() => this.start(), this.lingerMs);
    }
    return done;
  }

  /** Resolves when everything written so far is flushed. */
  async idle(): Promise<void> {
    if (this.lingerTimer) this.start();
    while (this.flushing) await this.flushing;
  }

  private start(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.flushing ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const rows = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        for (let i = 0; i < rows.length; i += this.maxRows) await this.flush(rows.slice(i, i + this.maxRows));
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.flushing = undefined;
  }
}
