import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { IdentityService } from '../../identity/identity-service.ts';
import { generateShop } from '../../benchmarks/generator/shop.ts';
import { contactsCsv, shopDatabase, type ShopDatabase } from './shop-database.ts';
import { importCrmCsv } from '../crm/crm-csv-import.ts';
import { crmSource } from '../sources/sources-config.ts';
import { printFeatures } from './demo-features.ts';

const DEMO_SOURCES = fileURLToPath(new URL('./shop-sources.json', import.meta.url));

export interface DemoOptions {
  people: number;
  seed: number;
}

/**
 * The main job end to end on whatever stores are configured (embedded by default): generate an
 * online shop's traffic, send it through the HTTP API as an SDK would, and show what was stored.
 */
export async function runDemo(userConfig: Config, log: Logger, opts: DemoOptions): Promise<void> {
  // The demo's shop database and CRM are declared in shop-sources.json unless the user has a config.
  const config = { ...userConfig, TESSERA_SOURCES_CONFIG: userConfig.TESSERA_SOURCES_CONFIG ?? DEMO_SOURCES };
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
    // The generator averages ~10 messages per shopper; the bar only needs an estimate.
    const progress = startProgress('sending', opts.people * 10, 'events');
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
    const shop = shopDatabase(generateShop({ people: opts.people, seed: opts.seed }), opts.seed);
    await sendShopDatabase(apiUrl, key, shop, services, out);
    await importCrmExport(config, shop, services, out);
    await printIdentity(services, out);
    await printFeatures(services, out);
  } finally {
    await stop();
  }
}

/**
 * The shop's production database as Debezium Server would stream it (customers, orders) over
 * HTTP, then what the CDC tables hold.
 */
async function sendShopDatabase(apiUrl: string, key: string, db: ShopDatabase, services: Services, out: (line?: string) => void): Promise<void> {
  out();
  out(`Streaming the shop database (${formatNumber(db.changes.length)} Debezium change events: customers, orders) to POST /v1/cdc/debezium...`);
  const sent = await sendBatches(apiUrl, key, db.changes, { path: '/v1/cdc/debezium?source=shop', body: (batch) => batch, batchSize: 500 });
  out(`${formatNumber(sent.accepted)} changes applied, ${formatNumber(sent.rejected)} dead-lettered, in ${sent.seconds.toFixed(1)} s.`);
  const status = await services.cdcStatus.status();
  out(
    table(
      status.map((t) => ({ table: `${t.source}.${t.table}`, 'current rows': t.rows, changes: t.changes, 'last change': t.lastChangeAt?.slice(0, 19) ?? '', 'dead letters': t.deadLetters })),
      ['table', 'current rows', 'changes', 'last change', 'dead letters'],
    ),
  );
}

/** The CRM's contact export, written as a CSV file and loaded as `tessera import crm` would. */
async function importCrmExport(config: Config, db: ShopDatabase, services: Services, out: (line?: string) => void): Promise<void> {
  const file = path.join(config.dataDir, 'demo', 'hubspot-contacts.csv');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, contactsCsv(db.contacts));
  const summary = await importCrmCsv(file, services.crm, 'hubspot', crmSource(services.sources, 'hubspot'));
  out();
  out(`Loaded the CRM export ${file}: ${formatNumber(summary.accepted)} HubSpot contacts, ${formatNumber(summary.rejected)} rejected.`);
}

/** A profile that events, the shop database and the CRM all contributed to, with its edges' sources. */
async function printJoinedProfile(services: Services, identity: IdentityService, out: (line?: string) => void): Promise<void> {
  const ch = services.stores.ch;
  const [joined] = await ch.query<{ profile_id: string }>(
    `SELECT profile_id FROM ${ch.table('identity_map_current')} GROUP BY profile_id
     HAVING countIf(id_type = 'crm_id') = 1 AND countIf(id_type = 'anonymous_id') >= 1 ORDER BY profile_id LIMIT 1`,
  );
  if (!joined) return;
  const crm = (await identity.repo.members(joined.profile_id)).find((m) => m.type === 'crm_id')!;
  const view = await identity.lookup(crm.key);
  out();
  out(`One person from three places (app events, the shop database, the CRM), profile ${view.profileId}:`);
  out(table(view.edges.map((e) => ({ a: e.a, b: e.b, source: e.source, records: e.count })), ['a', 'b', 'source', 'records']));
}

/** Resolves the events into profiles and explains a few: a multi-device shopper, a shared device. */
async function printIdentity(services: Services, out: (line?: string) => void): Promise<void> {
  // Every event sent was acknowledged, so none is still in flight: no need to wait for inserts to settle.
  const identity = new IdentityService(services.stores.pg, services.stores.ch, services.identity.config, { settleMs: 0 });
  out();
  out('Resolving identities (incremental run over the new events, CDC changes and CRM records)...');
  const run = await identity.resolve();
  const stats = await identity.stats();
  out(
    `${formatNumber(run.read.events)} events, ${formatNumber(run.read.cdc)} CDC changes and ${formatNumber(run.read.crm)} CRM records resolved in ${run.seconds.toFixed(1)} s: ${formatNumber(stats.profiles)} profiles, ` +
      `${formatNumber(stats.identifiers)} identifiers, ${formatNumber(run.merges)} merges, ${formatNumber(run.rejectedLinks)} refused links.`,
  );
  out(table(stats.byType, ['type', 'identifiers']));
  out();
  out('Refused links by rule:');
  out(table(stats.refusedByRule, ['rule', 'links', 'records']));

  const ch = services.stores.ch;
  const [shopper] = await ch.query<{ profile_id: string; devices: number }>(
    `SELECT profile_id, countIf(id_type = 'anonymous_id') AS devices FROM ${ch.table('identity_map_current')}
     GROUP BY profile_id HAVING countIf(id_type = 'user_id') = 1 AND countIf(id_type = 'email') >= 1 ORDER BY devices DESC, profile_id LIMIT 1`,
  );
  if (shopper) {
    const members = await identity.repo.members(shopper.profile_id);
    const user = members.find((m) => m.type === 'user_id')!;
    const anons = members.filter((m) => m.type === 'anonymous_id');
    const anon = anons.filter((m) => !m.value.includes('shared')).at(-1) ?? anons.at(-1)!;
    const why = await identity.explain(anon.key, user.key);
    out();
    out(`A shopper on ${shopper.devices} devices, profile ${shopper.profile_id}:`);
    out(table(members.map((m) => ({ type: m.type, value: m.value, 'first seen': new Date(m.firstSeen).toISOString() })), ['type', 'value', 'first seen']));
    out(`Why ${anon.key} is ${user.key}:`);
    for (const step of why.path) out(`  ${step.from} — ${step.to} (${step.source}, first in ${step.firstRecordId}, ${step.count} record(s))`);
  }
  await printJoinedProfile(services, identity, out);
  const refused = stats.refusedByRule[0];
  if (refused) {
    const [shared] = await services.stores.pg.sql<{ a: string; b: string; rule: string }[]>`
      SELECT a, b, rule FROM identity_rejected_links WHERE b LIKE 'anonymous_id:%' ORDER BY ts LIMIT 1`;
    if (shared) {
      out();
      out(`A shared device: ${shared.b} was used by more than one signed-in person; linking it to ${shared.a} was refused (${shared.rule}).`);
      out(`Both people keep their own profile: try \`tessera identity show ${shared.a}\`.`);
    }
  }
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
