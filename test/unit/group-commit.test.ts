import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/common/group-commit.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('GroupCommit', () => {
  it('flushes writes that arrive during a flush together, after it', async () => {
    const flushed: number[][] = [];
    const gc = new GroupCommit<number>(async (rows) => {
      flushed.push(rows);
      await tick();
    });
    const writes = [gc.write([1]), gc.write([2, 3]), gc.write([4])];
    await Promise.all(writes);
    expect(flushed).toEqual([[1], [2, 3, 4]]);
  });

  it('resolves a write only after its rows are flushed', async () => {
    const flushed: number[] = [];
    const gc = new GroupCommit<number>(async (rows) => {
      await tick();
      flushed.push(...rows);
    });
    await gc.write([7]);
    expect(flushed).toEqual([7]);
  });

  it('rejects every write of a failed flush and recovers for the next one', async () => {
    let fail = true;
    const gc = new GroupCommit<number>(async () => {
      await tick();
      if (fail) throw new Error('disk full');
    });
    await expect(gc.write([1])).rejects.toThrow('disk full');
    fail = false;
    await expect(gc.write([2])).resolves.toBeUndefined();
  });

  it('splits large groups into flushes of at most maxRows', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number>(async (rows) => void sizes.push(rows.length), { maxRows: 3 });
    await gc.write([1, 2, 3, 4, 5, 6, 7]);
    expect(sizes).toEqual([3, 3, 1]);
  });

  it('lingers on the first write so that writes close in time share one flush', async () => {
    const flushed: number[][] = [];
    const gc = new GroupCommit<number>(async (rows) => void flushed.push(rows), { lingerMs: 20 });
    const first = gc.write([1]);
    await tick();
    const second = gc.write([2]);
    await Promise.all([first, second]);
    expect(flushed).toEqual([[1, 2]]);
  });

  it('idle() flushes a lingering write at once', async () => {
    const flushed: number[] = [];
    const gc = new GroupCommit<number>(async (rows) => void flushed.push(...rows), { lingerMs: 60_000 });
    const write = gc.write([5]);
    await gc.idle();
    await write;
    expect(flushed).toEqual([5]);
  });

  it('keeps at most `concurrency` flushes in flight; a finished flush takes the next group at once', async () => {
    let inFlight = 0;
    let most = 0;
    const flushed: number[][] = [];
    const gc = new GroupCommit<number>(
      async (rows) => {
        most = Math.max(most, ++inFlight);
        flushed.push(rows);
        await tick();
        inFlight--;
      },
      { concurrency: 2 },
    );
    await Promise.all([gc.write([1]), gc.write([2]), gc.write([3, 4]), gc.write([5])]);
    expect(most).toBe(2);
    // [1] and [2] go at once (two slots); [3, 4] and [5] wait for a slot and go together.
    expect(flushed).toEqual([[1], [2], [3, 4, 5]]);
    await gc.idle();
  });

  it('idle() waits for every flush in flight', async () => {
    const flushed: number[] = [];
    const gc = new GroupCommit<number>(
      async (rows) => {
        await tick();
        flushed.push(...rows);
      },
      { concurrency: 3 },
    );
    void gc.write([1]);
    void gc.write([2]);
    await gc.idle();
    expect(flushed.sort()).toEqual([1, 2]);
  });
});
