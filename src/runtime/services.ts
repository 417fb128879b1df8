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
import { FeatureService } from '../../features/feature-service.ts';
import { DEFAULT_FEATURES_DIR } from '../../features/load-definitions.ts';

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
  features: FeatureService;
}

type ServiceConfig = Pick<
  Config,
  'INGEST_MAX_BATCH_ROWS' | 'INGEST_LINGER_MS' | 'INGEST_PARALLEL_INSERTS' | 'TESSERA_IDENTITY_CONFIG' | 'IDENTITY_SETTLE_MS' | 'TESSERA_SOURCES_CONFIG' | 'TESSERA_FEATURES_DIR' | 'FEATURES_DRIFT_STDDEVS'
>;

/** `sources` replaces the file named by TESSERA_SOURCES_CONFIG (tests, the demo). */
export function createServices(stores: Stores, config: ServiceConfig, opts: { sources?: SourcesConfig } = {}): Services {
  const apiKeys = new ApiKeyRepository(stores.pg.db);
  const sources = opts.sources ?? loadSourcesConfig(config.TESSERA_SOURCES_CONFIG);
  const groupCommit = { maxRows: config.INGEST_MAX_BATCH_ROWS, lingerMs: config.INGEST_LINGER_MS, concurrency: config.INGEST_PARALLEL_INSERTS };
  const identityConfig = loadIdentityConfig(config.TESSERA_IDENTITY_CONFIG);
  return {
    stores,
    apiKeys,
    keys: new ApiKeyVerifier(apiKeys),
    ingestor: new EventIngestor(stores.ch, groupCommit),
    identity: new IdentityService(stores.pg, stores.ch, identityConfig, { settleMs: config.IDENTITY_SETTLE_MS }),
    sources,
    cdc: new CdcWriter(stores.ch, stores.pg, sources, groupCommit),
    cdcStatus: new CdcStatusReader(stores.ch, stores.pg, sources),
    crm: new CrmWriter(stores.ch, groupCommit),
    features: new FeatureService(stores.ch, stores.pg, {
      dir: config.TESSERA_FEATURES_DIR ?? DEFAULT_FEATURES_DIR,
      sources,
      identity: identityConfig,
      // Rows ingested this recently may still have inserts in flight, as for identity runs.
      settleMs: config.IDENTITY_SETTLE_MS,
      driftStddevs: config.FEATURES_DRIFT_STDDEVS,
    }),
  };
}
