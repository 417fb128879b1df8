import type { Command } from 'commander';
import type { IdentityView, RunSummary } from '../../../identity/identity-service.ts';
import type { PathStep } from '../../../identity/explain.ts';
import { withServices } from '../context.ts';
import { formatNumber, print, table } from '../output.ts';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function runSummary(title: string, s: RunSummary): string {
  return [
    title,
    `  read        ${formatNumber(s.read.events)} events, ${formatNumber(s.read.cdc)} CDC changes, ${formatNumber(s.read.crm)} CRM records in ${s.batches} batch(es), ${s.seconds.toFixed(1)} s`,
    `  records     ${formatNumber(s.records)} applied, ${formatNumber(s.empty)} without a valid identifier`,
    `  identifiers ${formatNumber(s.newIdentifiers)} new, ${formatNumber(s.merges)} merge(s)`,
    `  refused     ${formatNumber(s.rejectedLinks)} link(s) (see \`tessera identity stats\`)`,
    `  copied      ${formatNumber(s.mapRowsCopied)} identity map row(s) to ClickHouse`,
    ...(s.notes ?? []).map((n) => `  note        ${n}`),
  ].join('\n');
}

function viewText(v: IdentityView): string {
  return [
    `Profile ${v.profileId}`,
    '',
    table(
      v.identifiers.map((i) => ({ type: i.type, value: i.value, 'first seen': i.firstSeen === undefined ? '' : when(i.firstSeen), links: i.degree })),
      ['type', 'value', 'first seen', 'links'],
    ),
    '',
    'Edges (identifiers seen together):',
    table(
      v.edges.map((e) => ({ a: e.a, b: e.b, source: e.source, 'first seen': when(e.firstSeen), records: e.count })),
      ['a', 'b', 'source', 'first seen', 'records'],
    ),
    '',
    'Refused links:',
    table(
      v.refusedLinks.map((r) => ({ kept: r.a, refused: r.b, rule: r.rule, 'first time': when(r.timestamp), records: r.count })),
      ['kept', 'refused', 'rule', 'first time', 'records'],
    ),
  ].join('\n');
}

function pathText(path: PathStep[]): string {
  return path.map((s, i) => `${i + 1}. ${s.from} — ${s.to}  (${s.source}, first together ${when(s.firstSeen)} in ${s.firstRecordId}, ${s.count} record(s))`).join('\n');
}

export function identityCommand(program: Command): void {
  const identity = program.command('identity').description('the identity graph: resolve, rebuild, inspect, correct');
  identity
    .command('resolve')
    .description('resolve events, CDC changes and CRM records ingested since the last run (incremental)')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { json?: boolean }) => {
      const summary = await withServices(({ services }) =>
        services.identity.resolve((s) => {
          if (!opts.json) process.stderr.write(`resolved ${formatNumber(s.read.events + s.read.cdc + s.read.crm)} records...\n`);
        }),
      );
      print(opts.json ?? false, summary, () => runSummary('Incremental resolution', summary));
    });
  identity
    .command('rebuild')
    .description('resolve every event from scratch, in (timestamp, message id) order, and replace the graph')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { json?: boolean }) => {
      const summary = await withServices(({ services }) =>
        services.identity.rebuild((n) => {
          if (!opts.json) process.stderr.write(`read ${formatNumber(n)} records...\n`);
        }),
      );
      print(opts.json ?? false, summary, () => runSummary('Rebuild', summary));
    });
  identity
    .command('stats')
    .description('profiles, identifiers per type, largest profiles, refused links by rule')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const s = await withServices(({ services }) => services.identity.stats());
      print(opts.json ?? false, s, () =>
        [
          `${formatNumber(s.profiles)} profiles, ${formatNumber(s.identifiers)} identifiers, ${formatNumber(s.edges)} edges, ${formatNumber(s.redirects)} merged-away ids`,
          '',
          table(s.byType, ['type', 'identifiers']),
          '',
          'Largest profiles:',
          table(s.largest, ['profileId', 'identifiers']),
          '',
          'Refused links by rule:',
          table(s.refusedByRule, ['rule', 'links', 'records']),
          '',
          'Values not accepted as identifiers:',
          table(s.rejectedIdentifiers, ['type', 'reason', 'values', 'records']),
        ].join('\n'),
      );
    });
  identity
    .command('show')
    .description('the profile of an identifier: identifiers, edges, refused links')
    .argument('<identifier>', 'type:value, e.g. email:alice@example.com')
    .option('--json', 'print as JSON')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const view = await withServices(({ services }) => services.identity.lookup(services.identity.keyOfRef(ref)));
      print(opts.json ?? false, view, () => viewText(view));
    });
  identity
    .command('explain')
    .description('why two identifiers belong to one profile: the shortest chain of edges')
    .argument('<from>', 'type:value')
    .argument('<to>', 'type:value')
    .option('--json', 'print as JSON')
    .action(async (from: string, to: string, opts: { json?: boolean }) => {
      const result = await withServices(({ services }) => services.identity.explain(services.identity.keyOfRef(from), services.identity.keyOfRef(to)));
      print(opts.json ?? false, result, () =>
        result.linked
          ? `${from} and ${to} are both in profile ${result.profileId}:\n${pathText(result.path)}`
          : `${from} (profile ${result.fromProfile}) and ${to} (profile ${result.toProfile}) are not linked.`,
      );
    });
  for (const [name, description] of [
    ['link', 'always link two identifiers (merges their profiles)'],
    ['unlink', 'never link two identifiers (their profile is recomputed without that link)'],
  ] as const) {
    identity
      .command(name)
      .description(description)
      .argument('<a>', 'type:value')
      .argument('<b>', 'type:value')
      .option('--json', 'print as JSON')
      .action(async (a: string, b: string, opts: { json?: boolean }) => {
        const diff = await withServices(({ services }) => {
          const [ka, kb] = [services.identity.keyOfRef(a), services.identity.keyOfRef(b)];
          return name === 'link' ? services.identity.link(ka, kb) : services.identity.unlink(ka, kb);
        });
        const changed = { identifiers: diff.identifiers.length, merges: diff.merges.length };
        print(opts.json ?? false, changed, () => `${name === 'link' ? 'Linked' : 'Unlinked'} ${a} and ${b}: ${changed.identifiers} identifier(s) moved, ${changed.merges} merge(s).`);
      });
  }
  identity
    .command('delete')
    .description('delete an identifier everywhere and tombstone it so replays do not bring it back')
    .argument('<identifier>', 'type:value')
    .option('--json', 'print as JSON')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const diff = await withServices(({ services }) => services.identity.deleteIdentifier(services.identity.keyOfRef(ref)));
      const changed = { removed: diff.removed.identifiers.length, moved: diff.identifiers.length };
      print(opts.json ?? false, changed, () => `Deleted ${ref} (${changed.moved} other identifier(s) moved to split profiles).`);
    });
}
