/**
 * Loads the demo shop (events, its database as CDC changes, the CRM export) straight into the
 * stores, without the HTTP API, and resolves identities: data for feature tests.
 */
import { fileURLToPath } from 'node:url';
import { generateShop, type SegmentMessage } from '../../benchmarks/generator/shop.ts';
import { prepareEvents } from '../../src/ingest/prepare-events.ts';
import { parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import { shopDatabase } from '../../src/demo/shop-database.ts';
import { crmSource, loadSourcesConfig } from '../../src/sources/sources-config.ts';
import type { Services } from '../../src/runtime/services.ts';

export const SHOP_SOURCES = loadSourcesConfig(fileURLToPath(new URL('../../src/demo/shop-sources.json', import.meta.url)));

export async function insertEvents(services: Services, messages: readonly SegmentMessage[]): Promise<void> {
  const { rows, rejections } = prepareEvents(messages, { receivedAt: Date.now(), source: 'test', writeKeyId: 'test' });
  if (rejections.length) throw new Error(`rejected events: ${JSON.stringify(rejections[0])}`);
  await services.stores.ch.insert('events', rows);
}

/** People [firstPerson, firstPerson + people) of the shop: their events, database rows and CRM contacts. */
export async function loadShop(services: Services, opts: { people: number; firstPerson?: number; seed?: number }): Promise<void> {
  const seed = opts.seed ?? 7;
  const people = [...generateShop({ people: opts.people, firstPerson: opts.firstPerson ?? 0, seed })];
  await insertEvents(
    services,
    people.flatMap((p) => p.messages),
  );
  await services.cdc.ensureTables();
  const db = shopDatabase(people, seed);
  const parsed = parseDebeziumBody(db.changes, { source: 'shop', origin: 'test', receivedAt: Date.now() });
  await services.cdc.apply(parsed.changes);
  await services.crm.write('hubspot', crmSource(services.sources, 'hubspot'), db.contacts, (i) => `test#${i}`);
  await services.identity.resolve();
}
