import { ApiKeyRepository, ApiKeyVerifier } from '../auth/api-keys.ts';
import { EventIngestor } from '../ingest/event-ingestor.ts';
import type { Config } from '../config/env.ts';
import type { Stores } from './stores.ts';
import { IdentityService } from '../../identity/identity-service.ts';
import { loadIdentityConfig } from '../../identity/load-identity-config.ts';

/** The services built on the stores; one place wires them so the API, CLI and tests agree. */
export interface Services {
  stores: Stores;
  apiKeys: ApiKeyRepository;
  keys: ApiKeyVerifier;
  ingestor: EventIngestor;
  identity: IdentityService;
}

type ServiceConfig = Pick<Config, 'INGEST_MAX_BATCH_ROWS' | 'INGEST_LINGER_MS' | 'TESSERA_IDENTITY_CONFIG' | 'IDENTITY_SETTLE_MS'>;

export function createServices(stores: Stores, config: ServiceConfig): Services {
  const apiKeys = new ApiKeyRepository(stores.pg.db);
  return {
    stores,
    apiKeys,
    keys: new ApiKeyVerifier(apiKeys),
    ingestor: new EventIngestor(stores.ch, { maxRows: config.INGEST_MAX_BATCH_ROWS, lingerMs: config.INGEST_LINGER_MS }),
    identity: new IdentityService(stores.pg, stores.ch, loadIdentityConfig(config.TESSERA_IDENTITY_CONFIG), { settleMs: config.IDENTITY_SETTLE_MS }),
  };
}
