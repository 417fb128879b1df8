import { ApiKeyRepository, ApiKeyVerifier } from '../auth/api-keys.ts';
import { EventIngestor } from '../ingest/event-ingestor.ts';
import type { Config } from '../config/env.ts';
import type { Stores } from './stores.ts';
import { IdentityService } from '../../identity/identity-service.ts';
import { loadIdentityConfig } from '../../identity/load-identity-config.ts';
import { loadSourcesConfig, type SourcesConfig } from '../sources/sources-config.ts';
import { CdcWriter } from '../cdc/cdc-writer.ts';
import { CdcStatusReader } from '../cdc/cdc-status.ts';
import { CrmWriter } from '../crm/crm-writer.ts';

/** The services built on the stores; one place wires them so the API, CLI and tests agree. */
export interface Services {
  stores: Stores;
  apiKeys: ApiKeyRepository;
  keys: ApiKeyVerifier;
  ingestor: EventIngestor;
  identity: IdentityService;
  /** The declared CDC tables and CRM sources. */
  sources: SourcesConfig;
  cdc: CdcWriter;
  cdcStatus: CdcStatusReader;
  crm: CrmWriter;
}

type ServiceConfig = Pick<Config, 'INGEST_MAX_BATCH_ROWS' | 'INGEST_LINGER_MS' | 'TESSERA_IDENTITY_CONFIG' | 'IDENTITY_SETTLE_MS' | 'TESSERA_SOURCES_CONFIG'>;

/** `sources` replaces the file named by TESSERA_SOURCES_CONFIG (tests, the demo). */
export function createServices(stores: Stores, config: ServiceConfig, opts: { sources?: SourcesConfig } = {}): Services {
  const apiKeys = new ApiKeyRepository(stores.pg.db);
  const sources = opts.sources ?? loadSourcesConfig(config.TESSERA_SOURCES_CONFIG);
  const groupCommit = { maxRows: config.INGEST_MAX_BATCH_ROWS, lingerMs: config.INGEST_LINGER_MS };
  return {
    stores,
    apiKeys,
    keys: new ApiKeyVerifier(apiKeys),
    ingestor: new EventIngestor(stores.ch, groupCommit),
    identity: new IdentityService(stores.pg, stores.ch, loadIdentityConfig(config.TESSERA_IDENTITY_CONFIG), { settleMs: config.IDENTITY_SETTLE_MS }),
    sources,
    cdc: new CdcWriter(stores.ch, stores.pg, sources, groupCommit),
    cdcStatus: new CdcStatusReader(stores.ch, stores.pg, sources),
    crm: new CrmWriter(stores.ch, groupCommit),
  };
}
