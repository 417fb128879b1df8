import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/env.ts';
import { errorMessage } from '../common/errors.ts';
import { CliError } from './cli-error.ts';
import { startCommand } from './commands/start.ts';
import { migrateCommand } from './commands/migrate.ts';
import { importCommand } from './commands/import.ts';
import { keysCommand } from './commands/keys.ts';
import { demoCommand } from './commands/demo.ts';
import { identityCommand } from './commands/identity.ts';
import { featuresCommand } from './commands/features.ts';
import { cdcCommand } from './commands/cdc.ts';

const program = new Command('tessera')
  .description('Identity resolution and customer profile feature store')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

startCommand(program);
migrateCommand(program);
importCommand(program);
keysCommand(program);
identityCommand(program);
featuresCommand(program);
cdcCommand(program);
demoCommand(program);

try {
  await program.parseAsync(process.argv);
  process.exit(0);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n${err.hint ? `${err.hint}\n` : ''}`);
  } else if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\nFix the environment variables above (see README: Configuration).\n`);
  } else {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
  }
  process.exit(1);
}
