import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../common/logger.ts';
import type { Services } from '../runtime/services.ts';
import { startFeaturesJob, type FeaturesJob } from './features-job.ts';

export const IDENTITY_QUEUE = 'identity';

export interface Scheduler {
  queue: Queue;
  /** `features.run` (see features-job.ts). */
  features: FeaturesJob;
  close(): Promise<void>;
}

/**
 * The background jobs of `tessera start`, on BullMQ: `identity.resolve` repeats every
 * `resolveEveryMs` (one at a time; a run that is still busy is not started twice). Other
 * processes can add the same job to the queue to run it now.
 */
export async function startScheduler(
  services: Services,
  opts: { redisUrl: string; prefix: string; resolveEveryMs: number; featuresEveryMs?: number },
  log: Logger,
): Promise<Scheduler> {
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  const prefix = `${opts.prefix}bull`;
  const queue = new Queue(IDENTITY_QUEUE, { connection, prefix });
  const worker = new Worker(
    IDENTITY_QUEUE,
    async (job) => {
      if (job.name !== 'identity.resolve') throw new Error(`unknown job ${job.name}`);
      const summary = await services.identity.resolve();
      if (summary.batches > 0) log.info({ job: job.name, ...summary }, 'identity resolved');
      return summary;
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on('failed', (job, err) => log.error({ job: job?.name, err }, 'job failed; it will be retried'));
  if (opts.resolveEveryMs > 0) {
    await queue.upsertJobScheduler('identity.resolve', { every: opts.resolveEveryMs }, { name: 'identity.resolve', opts: { removeOnComplete: 100, removeOnFail: 100 } });
  } else {
    await queue.removeJobScheduler('identity.resolve');
  }
  const features = await startFeaturesJob(services, { connection, prefix, everyMs: opts.featuresEveryMs ?? 0 }, log);
  return {
    queue,
    features,
    close: async () => {
      await features.close();
      await worker.close();
      await queue.close();
      await connection.quit();
    },
  };
}
