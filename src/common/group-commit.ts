interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit: rows written while a flush is in flight are collected and flushed together as soon
 * as it ends. Every `write` resolves only once its rows are flushed (so an acknowledged write is
 * durable) and rejects if that flush fails. Under load this turns many small writes into few large
 * ones without adding latency when idle.
 */
export class GroupCommit<T> {
  private pending: T[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly flush: (rows: T[]) => Promise<void>,
    /** Largest number of rows handed to one `flush` call. */
    private readonly maxRows = 5000,
  ) {}

  write(rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    for (const row of rows) this.pending.push(row);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.flushing ??= this.drain();
    return done;
  }

  /** Resolves when everything written so far is flushed. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
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
