import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../api/server.ts';
import { createLogger } from '../../src/common/logger.ts';
import { createServices, type Services } from '../../src/runtime/services.ts';
import type { TestStores } from './stores.ts';
import type { SourcesConfig } from '../../src/sources/sources-config.ts';

export interface TestApi {
  app: FastifyInstance;
  services: Services;
  writeKey: string;
  /** `Authorization` header value for the write key, as Segment SDKs send it. */
  basic: string;
  /** `Authorization` header value for a read key. */
  bearer: string;
}

export async function buildTestApi(stores: TestStores, opts: { sources?: SourcesConfig } = {}): Promise<TestApi> {
  const services = createServices(stores, stores.config, opts);
  const app = await buildServer({ ...services, log: createLogger('silent') });
  const { key } = await services.apiKeys.create('write', 'test');
  const read = await services.apiKeys.create('read', 'test');
  return { app, services, writeKey: key, basic: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, bearer: `Bearer ${read.key}` };
}
