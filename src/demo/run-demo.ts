import type { Config } from '../config/env.ts';
import type { Logger } from '../common/logger.ts';
import type { Clickhouse } from '../clients/clickhouse.ts';
import { startTessera } from '../../api/start.ts';
import { shopMessages } from '../../benchmarks/generator/shop.ts';
import { findRunningInstance } from '../runtime/instance.ts';
import { openStores } from '../runtime/stores.ts';
import { createServices, type Services } from '../runtime/services.ts';
import { startProgress } from '../cli/progress.ts';
import { formatNumber, table } from '../cli/output.ts';
import { sendBatches } from './http-sender.ts';

export interface DemoOptions {
  people: number;
  seed: number;
}

/**
 * The main job end to end on whatever stores are configured (embedded by default): generate an
 * online shop's traffic, send it through the HTTP API as an SDK would, and show what was stored.
 */
export async function runDemo(config: Config, log: Logger, opts: DemoOptions): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`Tessera demo: ${formatNumber(opts.people)} shoppers (seed ${opts.seed}), data in ${config.dataDir}`);

  // Use a running `tessera start` when there is one; otherwise run the API in this process.
  const running = await findRunningInstance(config.dataDir);
  let apiUrl: string;
  let services: Services;
  let stop: () => Promise<void>;
  if (running) {
    const stores = await openStores(config, log, { migrate: true });
    services = createServices(stores, config);
    apiUrl = running.apiUrl;
    stop = () => stores.close();
    out(`Using the running instance at ${apiUrl}`);
  } else {
    out('Starting the embedded stack (PostgreSQL, Redis, in-process ClickHouse) and the API...');
    const tessera = await startTessera(config, log, { port: 0 });
    services = tessera.services;
    apiUrl = tessera.url;
    stop = tessera.stop;
  }
  try {
    const { key } = await services.apiKeys.create('write', 'demo');
    const total = estimateMessages(opts);
    const progress = startProgress('sending', total, 'events');
    const result = await sendBatches(apiUrl, key, shopMessages({ people: opts.people, seed: opts.seed }), {
      batchSize: 100,
      concurrency: 8,
      onProgress: (sent) => progress.update(sent),
    });
    progress.stop();
    out();
    out(
      `Sent ${formatNumber(result.sent)} events in ${result.seconds.toFixed(1)} s ` +
        `(${formatNumber(result.sent / result.seconds)} events/s): ${formatNumber(result.accepted)} accepted, ${formatNumber(result.rejected)} rejected.`,
    );
    await printStored(services.stores.ch, out);
  } finally {
    await stop();
  }
}

/** The generator's average is ~10 messages per person; the bar only needs an estimate. */
function estimateMessages(opts: DemoOptions): number {
  return opts.people * 10;
}

async function printStored(ch: Clickhouse, out: (line?: string) => void): Promise<void> {
  const events = ch.table('events_unique');
  const byType = await ch.query<{ type: string; events: number; users: number; anonymous: number }>(
    `SELECT type, count() AS events, uniqExact(nullIf(user_id, '')) AS users, uniqExact(nullIf(anonymous_id, '')) AS anonymous
     FROM ${events} GROUP BY type ORDER BY events DESC`,
  );
  out();
  out('Stored in ClickHouse (events, one row per message id):');
  out(table(byType, ['type', 'events', 'users', 'anonymous']));
  const topEvents = await ch.query<{ event: string; events: number; revenue: number }>(
    `SELECT event, count() AS events, round(sum(JSONExtractFloat(properties, 'revenue')), 2) AS revenue
     FROM ${events} WHERE type = 'track' GROUP BY event ORDER BY events DESC LIMIT 6`,
  );
  out();
  out('Top tracked events:');
  out(table(topEvents, ['event', 'events', 'revenue']));
  const [rejected] = await ch.query<{ n: number }>(`SELECT count() AS n FROM ${ch.table('rejected_events')}`);
  out();
  out(`Dead-lettered events (rejected_events): ${formatNumber(Number(rejected?.n ?? 0))}`);
}
