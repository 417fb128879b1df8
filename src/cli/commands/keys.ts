import type { Command } from 'commander';
import { SCOPES, type Scope } from '../../auth/api-keys.ts';
import { withServices } from '../context.ts';
import { print, table } from '../output.ts';
import { CliError } from '../cli-error.ts';

function parseScope(value: string): Scope {
  if (!SCOPES.includes(value as Scope)) throw new CliError(`unknown scope '${value}'`, `Use one of: ${SCOPES.join(', ')}.`);
  return value as Scope;
}

export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('manage API keys (stored hashed; a key is shown once)');
  keys
    .command('create')
    .description('create a key: write (ingestion), read (profile and identity reads) or admin')
    .requiredOption('--scope <scope>', `one of ${SCOPES.join(', ')}`, parseScope)
    .option('--name <name>', 'a label to recognise the key by')
    .option('--json', 'print { "key": ... } as JSON')
    .action(async (opts: { scope: Scope; name?: string; json?: boolean }) => {
      const created = await withServices(({ services }) => services.apiKeys.create(opts.scope, opts.name));
      print(opts.json ?? false, created, () =>
        [`${created.key}`, '', `Created ${created.scope} key ${created.id}. Store it now: it is not shown again.`].join('\n'),
      );
    });
  keys
    .command('list')
    .description('list keys (their first characters, never the keys)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withServices(({ services }) => services.apiKeys.list());
      print(opts.json ?? false, rows, () => table(rows, ['id', 'name', 'scope', 'keyPrefix', 'createdAt', 'revokedAt']));
    });
  keys
    .command('revoke')
    .description('revoke a key by id; it stops working within 30 s')
    .argument('<id>', 'key id from `tessera keys list`')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw new CliError(`'${id}' is not a key id`, 'Key ids are UUIDs; see `tessera keys list`.');
      const revoked = await withServices(({ services }) => services.apiKeys.revoke(id));
      if (!revoked) throw new CliError(`no active key with id ${id}`, 'See `tessera keys list`.');
      print(opts.json ?? false, { id, revoked }, () => `Revoked key ${id}.`);
    });
}
