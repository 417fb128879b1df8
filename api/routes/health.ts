import type { FastifyInstance } from 'fastify';
import type { Stores } from '../../src/runtime/stores.ts';
import { errorMessage } from '../../src/common/errors.ts';

async function check(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return errorMessage(err);
  }
}

/** GET /healthz: 200 when PostgreSQL, ClickHouse and Redis all answer, 503 naming the one that does not. */
export function healthRoutes(app: FastifyInstance, stores: Stores): void {
  app.get('/healthz', async (_req, reply) => {
    const checks = {
      postgres: await check(() => stores.pg.sql`SELECT 1`),
      clickhouse: await check(() => stores.ch.query('SELECT 1')),
      redis: await check(() => stores.redis.ping()),
    };
    const ok = Object.values(checks).every((c) => c === 'ok');
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks });
  });
}
