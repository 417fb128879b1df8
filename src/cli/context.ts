import { loadConfig, type Config } from '../config/env.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { openStores } from '../runtime/stores.ts';
import { createServices, type Services } from '../runtime/services.ts';

export interface CliContext {
  config: Config;
  log: Logger;
  services: Services;
}

/**
 * Opens the stores (those of a running `tessera start` on the same data directory when there is
 * one), applies migrations, runs `fn`, and closes everything, also on failure.
 */
export async function withServices<T>(fn: (ctx: CliContext) => Promise<T>, opts: { migrate?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, { fd: 2 });
  const stores = await openStores(config, log, { migrate: opts.migrate ?? true });
  try {
    return await fn({ config, log, services: createServices(stores, config) });
  } finally {
    await stores.close();
  }
}
