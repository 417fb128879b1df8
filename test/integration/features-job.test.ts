import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { createServices } from '../../src/runtime/services.ts';
import { startScheduler, type Scheduler } from '../../src/jobs/scheduler.ts';
import { createLogger } from '../../src/common/logger.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/tessera.js');
const MINIMAL = path.resolve('test/fixtures/features-minimal');
const BROKEN = path.resolve('test/fixtures/features-broken');

describe('features on a schedule and from the CLI', () => {
  let stores: TestStores;
  let scheduler: Scheduler | undefined;

  beforeAll(async () => {
    stores = await openTestStores();
  });
  afterAll(async () => {
    await scheduler?.close();
    await stores?.close();
  });

  it('the scheduled job computes the features', async () => {
    const services = createServices(stores, { ...stores.config, TESSERA_FEATURES_DIR: MINIMAL });
    await services.ingestor.ingest(
      [{ type: 'track', userId: 'job-1', event: 'Order Completed', properties: { revenue: 12.5 } }],
      { receivedAt: Date.now(), source: 'test', writeKeyId: 'k' },
      String,
    );
    await services.identity.resolve();
    scheduler = await startScheduler(services, { redisUrl: stores.redisUrl, prefix: stores.config.REDIS_KEY_PREFIX, resolveEveryMs: 0, featuresEveryMs: 300 }, createLogger('silent'));
    const ch = stores.ch;
    type Row = { revenue: number; calls: number };
    let rows: Row[] = [];
    for (let i = 0; i < 150 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      // The profiles view exists once the first run has swapped it in.
      rows = await ch.query<Row>(`SELECT revenue, calls FROM ${ch.table('profiles')}`).catch((): Row[] => []);
    }
    expect(rows).toEqual([{ revenue: 12.5, calls: 1 }]);
    expect((await scheduler.features.queue.getJobSchedulers()).map((s) => s.key)).toContain('features.run');
    await scheduler.close();
    scheduler = undefined;
  });

  it('a run never starts with a broken declaration set', async () => {
    const services = createServices(stores, { ...stores.config, TESSERA_FEATURES_DIR: BROKEN });
    const ch = stores.ch;
    const runs = async () => Number((await ch.query<{ n: string }>(`SELECT count() AS n FROM ${ch.table('feature_runs')}`))[0]!.n);
    const before = await runs();
    await expect(services.features.run()).rejects.toMatchObject({ code: 'invalid_features', status: 422 });
    expect(await runs()).toBe(before);
    const report = await services.features.validate();
    expect(report.ok ? [] : report.issues.map((i) => i.feature).sort()).toEqual(['aov', 'rev']);
  });

  it('`tessera features validate` lists every problem with file and feature and exits 1; `plan` prints SQL per group', async () => {
    const env = { ...process.env, TESSERA_FEATURES_DIR: BROKEN, CLICKHOUSE_DATABASE: 'plan_db' };
    const failed = await run('node', [BIN, 'features', 'validate'], { env }).catch((err: { code: number; stderr: string }) => err);
    expect('code' in failed && failed.code).toBe(1);
    const stderr = (failed as { stderr: string }).stderr;
    expect(stderr).toContain('2 problem(s) in the feature definitions');
    expect(stderr).toContain("broken.ts: feature 'aov': derive: feature 'revenue' is not declared");
    expect(stderr).toContain("broken.ts: feature 'rev': sum(properties.revenu): unknown event property path 'properties.revenu' on 'Order Completed' (declared: revenue)");
    const ok = await run('node', [BIN, 'features', 'validate', '--json'], { env: { ...env, TESSERA_FEATURES_DIR: MINIMAL } });
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, features: ['calls', 'revenue', 'last_seen_at'] });
    const plan = await run('node', [BIN, 'features', 'plan'], { env: { ...env, TESSERA_FEATURES_DIR: MINIMAL } });
    expect(plan.stdout).toContain('-- query 1/1: events (3 feature(s): calls, revenue, last_seen_at)');
    expect(plan.stdout).toContain('FROM `plan_db`.`events` FINAL');
    // The JSON field `revenue` reads is kept as a column of events, which the scan reads instead of parsing.
    const [, column] = /ADD COLUMN IF NOT EXISTS `(_mat_[0-9a-f]{16})` Nullable\(Float64\) MATERIALIZED JSONExtract\(`properties`, 'revenue', 'Nullable\(Float64\)'\)/.exec(plan.stdout) ?? [];
    expect(plan.stdout).toContain(`SELECT \`${column}\`, \`event\``);
    expect(plan.stdout).not.toContain('JSONExtract(`properties`, \'revenue\', \'Nullable(Float64)\') AS _f');
  });
});
