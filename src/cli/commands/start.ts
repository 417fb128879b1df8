import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { createLogger } from '../../common/logger.ts';
import { startTessera } from '../../../api/start.ts';
import { intOption } from '../cli-error.ts';

export function startCommand(program: Command): void {
  program
    .command('start')
    .description('migrate, then run the API (and, with the embedded stores, share them with other CLI commands)')
    .option('--port <port>', 'listen port (default: PORT or 8080)', intOption('--port', 0, 65535))
    .action(async (opts: { port?: number }) => {
      const config = loadConfig();
      const log = createLogger(config.LOG_LEVEL);
      const tessera = await startTessera(config, log, { port: opts.port });
      log.info({ url: tessera.url, dataDir: config.dataDir, clickhouse: tessera.services.stores.clickhouseMode }, 'Tessera is running');
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info({ signal }, 'shutting down: draining writes');
          resolve();
        };
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await tessera.stop();
    });
}
