import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openClickhouse, type Clickhouse } from '../../src/clients/clickhouse.ts';

describe('embedded ClickHouse handle', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function open(insertConnections: number): Promise<Clickhouse> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-ch-client-'));
    dirs.push(dir);
    const ch = await openClickhouse({ target: { path: dir }, database: 'client_test', insertConnections });
    await ch.command('CREATE DATABASE IF NOT EXISTS client_test');
    for (const t of ['a', 'b', 'c']) await ch.command(`CREATE TABLE ${ch.table(t)} (id UInt32, v String) ENGINE = MergeTree ORDER BY id`);
    return ch;
  }

  it.each([0, 2])('stores every row of concurrent inserts into several tables (%i insert connections)', async (insertConnections) => {
    const ch = await open(insertConnections);
    try {
      const rows = (n: number, v: string) => Array.from({ length: n }, (_, id) => ({ id, v }));
      await Promise.all(['a', 'b', 'c', 'a', 'b', 'c'].map((t, i) => ch.insert(t, rows(100 + i, `batch ${i}`))));
      const count = async (t: string) => Number((await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table(t)}`))[0]!.n);
      expect([await count('a'), await count('b'), await count('c')]).toEqual([100 + 103, 101 + 104, 102 + 105]);
      // A write on an insert connection is visible to reads on the main one at once.
      await ch.insert('a', [{ id: 9999, v: 'last' }]);
      expect(await ch.query(`SELECT v FROM ${ch.table('a')} WHERE id = 9999`)).toEqual([{ v: 'last' }]);
    } finally {
      await ch.close();
    }
  });

  it("applies an insert's settings inside its statement, string values quoted", async () => {
    const ch = await open(1);
    try {
      await ch.command(`CREATE TABLE ${ch.table('parted')} (id UInt32, v String) ENGINE = MergeTree PARTITION BY id % 2 ORDER BY id`);
      const rows = [
        { id: 0, v: 'even' },
        { id: 1, v: 'odd' },
      ];
      await expect(ch.insert('parted', rows, { max_partitions_per_insert_block: '1' })).rejects.toThrow(/partitions/i);
      await ch.insert('parted', rows, { max_partitions_per_insert_block: '2', insert_deduplication_token: "it's a \\ token" });
      expect(await ch.query(`SELECT v FROM ${ch.table('parted')} ORDER BY id`)).toEqual([{ v: 'even' }, { v: 'odd' }]);
    } finally {
      await ch.close();
    }
  });
});
