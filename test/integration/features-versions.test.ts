import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { createServices, type Services } from '../../src/runtime/services.ts';
import { waitForMutations } from '../../features/profile-versions.ts';

const MINIMAL = path.resolve('test/fixtures/features-minimal');
const CHANGED = path.resolve('test/fixtures/features-changed');

describe('feature set changes and drift', () => {
  let stores: TestStores;
  let services: (dir: string) => Services;

  const track = (userId: string, revenue: number, i: number) => ({ type: 'track', userId, event: 'Order Completed', properties: { revenue }, messageId: `${userId}-${i}` });
  const ingest = async (messages: object[]) => {
    const s = services(MINIMAL);
    await s.ingestor.ingest(messages, { receivedAt: Date.now(), source: 'test', writeKeyId: 'k' }, String);
    await s.identity.resolve();
  };
  const columns = async () =>
    (await stores.ch.query<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'profiles' ORDER BY position`, { db: stores.ch.database })).map(
      (c) => `${c.name} ${c.type}`,
    );

  beforeAll(async () => {
    stores = await openTestStores();
    services = (dir) => createServices(stores, { ...stores.config, TESSERA_FEATURES_DIR: dir });
    await ingest(Array.from({ length: 20 }, (_, i) => track(`u${i}`, 10 + (i % 3), i)));
  });
  afterAll(async () => {
    await stores?.close();
  });

  it('adding, removing and retyping features needs no DDL: the next run is full and writes the new columns', async () => {
    const first = await services(MINIMAL).features.run();
    expect(first.mode).toBe('full');
    expect(await columns()).toEqual(['profile_id String', 'calls Int64', 'revenue Float64', "last_seen_at Nullable(DateTime64(3, 'UTC'))"]);
    const changed = await services(CHANGED).features.run();
    expect(changed).toMatchObject({ mode: 'full', fullReason: 'the feature set changed' });
    expect(await columns()).toEqual(['profile_id String', 'calls Float64', 'revenue Float64', 'orders Int64']);
    const [row] = await stores.ch.query<{ calls: number; orders: number }>(`SELECT calls, orders FROM ${stores.ch.table('profiles')} WHERE revenue > 0 LIMIT 1`);
    expect(row).toEqual({ calls: 1, orders: 1 });
    // Back to the first set: full again, incremental after that.
    expect((await services(MINIMAL).features.run()).mode).toBe('full');
    expect((await services(MINIMAL).features.run()).mode).toBe('incremental');
  });

  it('flags a statistic that moves more than the configured standard deviations from recent runs', async () => {
    const features = services(MINIMAL).features;
    for (let i = 0; i < 3; i++) expect((await features.run()).statistics.every((s) => s.drift.length === 0)).toBe(true);
    // A burst of huge orders: mean revenue jumps.
    await ingest(Array.from({ length: 20 }, (_, i) => track(`big${i}`, 100_000, i)));
    const run = await features.run();
    const revenue = run.statistics.find((s) => s.feature === 'revenue')!;
    expect(revenue.drift.map((d) => d.metric)).toContain('mean');
    const catalog = await features.catalog();
    expect(catalog.find((e) => e.name === 'revenue')!.drift.map((d) => d.metric)).toContain('mean');
  });

  it("waits for a version's background mutations, and names the reason of one that fails", async () => {
    const ch = stores.ch;
    const t = ch.table('mutated');
    await ch.command(`CREATE TABLE ${t} (k UInt64, v UInt64) ENGINE = MergeTree ORDER BY k`);
    await ch.command(`INSERT INTO ${t} SELECT number, number FROM numbers(1000)`);
    await ch.command(`DELETE FROM ${t} WHERE k < 10 SETTINGS lightweight_deletes_sync = 0`);
    await waitForMutations(ch, 'mutated');
    const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${t}`);
    expect(Number(row!.n)).toBe(990);
    await ch.command(`ALTER TABLE ${t} UPDATE v = throwIf(k = 500, 'no five hundred') WHERE 1 SETTINGS mutations_sync = 0`);
    await expect(waitForMutations(ch, 'mutated')).rejects.toThrow(/a mutation of mutated failed: .*no five hundred/);
    await ch.command(`DROP TABLE ${t}`);
  });
});
