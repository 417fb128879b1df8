import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../common/logger.ts';
import type { Services } from '../runtime/services.ts';
import { FeatureValidationError } from '../../features/validate-definitions.ts';

export const FEATURES_QUEUE = 'features';
export const FEATURES_JOB = 'features.run';

/** A run over 1M profiles takes seconds to minutes; the lock must outlast it. */
const LOCK_MS = 15 * 60_000;

export interface FeaturesJob {
  queue: Queue;
  close(): Promise<void>;
}

/**
 * `features.run` on BullMQ: an incremental feature run (full when it must be) every `everyMs`,
 * one at a time. Invalid definitions fail the job without retries (`UnrecoverableError`): the
 * broken set never runs, and the next scheduled run tries again with the files as they are then.
 * Other processes can add a `features.run` job (data `{ full: true }` for a full run) to run now.
 */
export async function startFeaturesJob(services: Services, opts: { connection: Redis; prefix: string; everyMs: number }, log: Logger): Promise<FeaturesJob> {
  const { connection, prefix } = opts;
  const queue = new Queue(FEATURES_QUEUE, { connection, prefix });
  const worker = new Worker(
    FEATURES_QUEUE,
    async (job) => {
      if (job.name !== FEATURES_JOB) throw new Error(`unknown job ${job.name}`);
      try {
        const { statistics, ...summary } = await services.features.run({ full: (job.data as { full?: boolean } | undefined)?.full === true });
        const drift = statistics.filter((s) => s.drift.length > 0).map((s) => s.feature);
        log.info({ job: job.name, ...summary, drift }, 'features computed');
        return { ...summary, drift };
      } catch (err) {
        if (err instanceof FeatureValidationError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    { connection, prefix, concurrency: 1, lockDuration: LOCK_MS },
  );
  worker.on('failed', (job, err) => log.error({ job: job?.name, err }, 'feature run failed'));
  if (opts.everyMs > 0) {
    await queue.upsertJobScheduler(FEATURES_JOB, { every: opts.everyMs }, { name: FEATURES_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } });
  } else {
    await queue.removeJobScheduler(FEATURES_JOB);
  }
  return {
    queue,
    close: async () => {
      await worker.close();
      await queue.close();
    },
  };
}
