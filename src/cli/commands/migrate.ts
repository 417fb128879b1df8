import type { Command } from 'commander';
import { withServices } from '../context.ts';
import { print } from '../output.ts';
import { migrateAll } from '../../runtime/stores.ts';

export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply PostgreSQL and ClickHouse migrations and create the tables of declared CDC sources (safe to run again)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const result = await withServices(
        async ({ services }) => {
          const applied = await migrateAll(services.stores.pg, services.stores.ch);
          await services.cdc.ensureTables();
          return applied;
        },
        { migrate: false },
      );
      print(opts.json ?? false, result, () =>
        [
          `PostgreSQL: ${result.postgres ? `applied ${result.postgres} migration(s)` : 'up to date'}`,
          `ClickHouse: ${result.clickhouse.length ? `applied ${result.clickhouse.join(', ')}` : 'up to date'}`,
        ].join('\n'),
      );
    });
}
