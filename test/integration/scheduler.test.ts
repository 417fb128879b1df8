import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { createServices } from '../../src/runtime/services.ts';
import { startScheduler, type Scheduler } from '../../src/jobs/scheduler.ts';
import { createLogger } from '../../src/common/logger.ts';

describe('scheduled jobs (BullMQ)', () => {
  let stores: TestStores;
  let scheduler: Scheduler;
  beforeAll(async () => {
    stores = await openTestStores();
  });
  afterAll(async () => {
    await scheduler?.close();
    await stores.close();
  });

  it('resolve new events into the identity graph on their own', async () => {
    const services = createServices(stores, stores.config);
    scheduler = await startScheduler(services, { redisUrl: stores.redisUrl, prefix: stores.config.REDIS_KEY_PREFIX, resolveEveryMs: 200 }, createLogger('silent'));
    await services.ingestor.ingest([{ type: 'identify', userId: 'sched-1', anonymousId: 'sched-a' }], { receivedAt: Date.now(), source: 'test', writeKeyId: 'k' }, String);
    let profile: string | undefined;
    for (let i = 0; i < 100 && !profile; i++) {
      await new Promise((r) => setTimeout(r, 100));
      profile = await services.identity.repo.profileOf('anonymous_id:sched-a');
    }
    expect(profile).toBeDefined();
    expect(profile).toBe(await services.identity.repo.profileOf('user_id:sched-1'));
    const schedulers = await scheduler.queue.getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toContain('identity.resolve');
  });
});
