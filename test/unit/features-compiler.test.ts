import { describe, expect, it } from 'vitest';
import { allProfilesSql, compileRun, compileTrainingSet, featureSetSignature, foldedRowsSql, type CompileContext } from '../../features/compiler/compile.ts';
import { exprSql } from '../../features/compiler/expression-sql.ts';
import { touchedMapSql, touchedRowsSql } from '../../features/compiler/group-sql.ts';
import { clockUpdateSql, createProfilesTableSql } from '../../features/compiler/profile-sql.ts';
import { validateDefinitions } from '../../features/validate-definitions.ts';
import type { FeatureSet } from '../../features/feature-model.ts';
import { typeExpr } from '../../features/expression-types.ts';
import { allEvents, cdc, count, daysSince, defineEvents, defineFeatures, div, events, feature, field, gte, lit, max, mostFrequent, sum } from '../../features/dsl.ts';
import { parseIdentityConfig, ruleForType } from '../../identity/identity-config.ts';
import { SHOP_SOURCES } from '../helpers/shop-data.ts';

const identity = parseIdentityConfig({});
const ctx: CompileContext = { table: (n) => `db.${n}`, identifierRule: (t) => ruleForType(identity, t), identityMap: 'db.feature_identity' };
const T = Date.parse('2026-03-01T00:00:00Z');
const orders = events('Order Completed');

function set(features: Record<string, unknown>): FeatureSet {
  const r = validateDefinitions(
    [
      { file: 'e.ts', exportName: 'default', value: defineEvents({ track: { 'Order Completed': { revenue: 'float', category: 'string' }, 'Session Started': {} } }) },
      { file: 'f.ts', exportName: 'default', value: { ...defineFeatures({ owner: 'o', features: {} }), features } },
    ],
    { sources: SHOP_SOURCES },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.set;
}

const shop = set({
  orders_30d: { description: 'd', type: 'int', from: orders, aggregate: count(), window: '30d' },
  revenue: { description: 'd', type: 'float', from: orders, aggregate: sum('properties.revenue'), default: 0 },
  last_seen: { description: 'd', type: 'timestamp', from: allEvents(), aggregate: max('timestamp') },
  favourite: { description: 'd', type: 'string', from: orders, aggregate: mostFrequent('properties.category') },
  subscriber: { description: 'd', type: 'bool', from: cdc('shop', 'public.customers'), aggregate: { fn: 'latest', of: field('subscribed') }, default: false },
  aov: { description: 'd', type: 'float', derive: div(feature('revenue'), feature('orders_30d')) },
  idle_days: { description: 'd', type: 'int', derive: daysSince(feature('last_seen')) },
});

describe('the feature compiler', () => {
  it('compiles one query per source group, events in one scan', () => {
    const run = compileRun(shop, ctx, T, { kind: 'all' }, allProfilesSql(ctx), (what) => `db.${what}`);
    expect(run.queries.map((q) => [q.group.key, q.features.map((f) => f.name), q.table])).toEqual([
      ['events', ['orders_30d', 'revenue', 'last_seen', 'favourite'], 'db.group0'],
      ['cdc:shop:public.customers', ['subscriber'], 'db.group1'],
    ]);
    const events = run.queries[0]!.sql;
    // The other features of a source share one scan, rows looked up in the identity map and aggregated once.
    expect(events.match(/FROM db\.events FINAL/g)).toHaveLength(1);
    expect(events).toContain('GROUP BY _pid');
    expect(events).toMatch(/countIf\(\(type = 'track' AND event IN \('Order Completed'\)\) AND `timestamp` > .*\) AS `orders_30d`/);
    // One lookup per identifier type (shared by the groups); the user_id is tried before the anonymous id, which is looked up only when needed.
    expect(run.lookups.map((l) => [l.type, l.table])).toEqual([
      ['user_id', 'db.lookup0'],
      ['anonymous_id', 'db.lookup1'],
      ['email', 'db.lookup2'],
    ]);
    expect(run.lookups[0]!.sql).toBe(
      "CREATE TABLE db.lookup0 ENGINE = Join(ANY, LEFT, id_value) SETTINGS persistent = 0 AS SELECT id_value, profile_id FROM db.feature_identity WHERE id_type = 'user_id'",
    );
    const user = "if(trimBoth(_r._k0) = '', NULL, joinGetOrNull(db.lookup0, 'profile_id', trimBoth(_r._k0)))";
    expect(events).toContain(`if(isNotNull(${user}), ${user}, if(trimBoth(_r._k1) = '', NULL, joinGetOrNull(db.lookup1, 'profile_id', trimBoth(_r._k1)))) AS _pid`);
    // JSON fields are extracted once per row in the scan, on the rows that need them: top-level
    // keys of one column with one parse (as a named tuple; rows that are not objects path by path).
    const tuple = 'Tuple(revenue Nullable(Float64), category Nullable(String))';
    expect(events).toContain(
      `if((type = 'track' AND event IN ('Order Completed')) AND startsWith(\`properties\`, '{'), JSONExtract(\`properties\`, '${tuple}'), CAST(tuple(NULL, NULL), '${tuple}')) AS _j0`,
    );
    expect(events).toContain(
      "if(startsWith(`properties`, '{'), tupleElement(_j0, 1), if((type = 'track' AND event IN ('Order Completed')), JSONExtract(`properties`, 'revenue', 'Nullable(Float64)'), NULL)) AS _f0",
    );
    expect(events).toContain("sumIf(if((type = 'track' AND event IN ('Order Completed')), _f0, NULL), (type = 'track' AND event IN ('Order Completed'))) AS `revenue`");
    // Most frequent is exact, counted per value in the same pass, never topK.
    expect(events).not.toContain('topK');
    expect(events).toMatch(/arrayEnumerateUniq\(arraySort\(groupArrayIf\(.*AS `_state_favourite_c`/);
    // Nothing after the run's time; windows relative to it.
    expect(events).toContain("`timestamp` <= fromUnixTimestamp64Milli(toInt64(1772323200000), 'UTC')");
    expect(events).toContain("`timestamp` > fromUnixTimestamp64Milli(toInt64(1772323200000), 'UTC') - toIntervalMillisecond(2592000000)");
    // CDC rows join by every identifier column, in identity priority order, normalised as identity does.
    expect(run.queries[1]!.sql).toContain("if(lower(trimBoth(_r._k1)) = '', NULL, joinGetOrNull(db.lookup2, 'profile_id', lower(trimBoth(_r._k1))))");
    // Several groups: each fills its table, then they are assembled.
    expect(run.direct).toBeUndefined();
  });

  it('writes the rows of a single source group straight into the table, then the profiles without rows', () => {
    const one: FeatureSet = { features: shop.features.filter((f) => f.name !== 'subscriber') };
    const run = compileRun(one, ctx, T, { kind: 'all' }, allProfilesSql(ctx), (what) => `db.${what}`);
    expect(run.direct!.rows).toContain('CAST(coalesce(_g.`revenue`, 0.0) AS Float64) AS `revenue`');
    expect(run.direct!.rows).toContain(run.queries[0]!.sql.split('\n')[0]);
    const missing = run.direct!.missing('db.p');
    expect(missing).toContain('WHERE profile_id NOT IN (SELECT profile_id FROM db.p)');
    expect(missing).toContain('CAST(coalesce(NULL, 0.0) AS Float64) AS `revenue`');
    expect(missing).toContain('[] AS `_state_favourite_c`');
  });

  it('applies defaults, types columns, and computes derived features over the others', () => {
    const run = compileRun(shop, ctx, T, { kind: 'all' }, allProfilesSql(ctx), (what) => `db.${what}`);
    expect(run.select).toContain('LEFT JOIN db.group1 AS _g1 ON _g1.`profile_id` = _base.`profile_id`');
    expect(run.select).toContain('CAST(if(empty(_g0.`_state_favourite_c`), NULL, arrayMax(arrayMap(x -> (x.2, x.3, x.1), _g0.`_state_favourite_c`)).3) AS Nullable(String)) AS `favourite`');
    expect(run.select).toContain('CAST(coalesce(_g0.`revenue`, 0.0) AS Float64) AS `revenue`');
    expect(run.select).toContain('CAST(coalesce(_g0.`orders_30d`, 0) AS Int64) AS `orders_30d`');
    expect(run.select).toContain('/ nullIf(CAST(coalesce(_g0.`orders_30d`, 0) AS Int64), 0)) AS Nullable(Float64)) AS `aov`');
    expect(createProfilesTableSql('db.p', shop, run.states)).toContain('`last_seen` Nullable(DateTime64(3, \'UTC\'))');
    expect(createProfilesTableSql('db.p', shop, run.states)).toContain('`subscriber` Bool');
  });

  it('restricts an incremental run to the rows and identifiers of the touched profiles', () => {
    const groups = { events: { rows: 'db.rows0', map: 'db.map0' }, 'cdc:shop:public.customers': { rows: 'db.rows1', map: 'db.map1' } };
    const run = compileRun(shop, ctx, T, { kind: 'touched', profiles: 'db.touched', groups }, 'SELECT profile_id FROM db.existing', (what) => `db.${what}`);
    const events = run.queries[0]!.sql;
    expect(events).toContain('FROM db.rows0');
    expect(run.lookups.find((l) => l.type === 'anonymous_id' && l.identityMap === 'db.map0')).toBeDefined();
    expect(run.lookups.find((l) => l.type === 'email' && l.identityMap === 'db.map1')).toBeDefined();
    expect(events).toContain('_pid IN (SELECT profile_id FROM db.touched)');
    const group = run.queries[0]!.group;
    expect(touchedRowsSql(group, ctx, 'T', 'db.ids')).toContain(
      "FROM db.events FINAL PREWHERE (trimBoth(user_id) IN (SELECT id_value FROM db.ids WHERE id_type = 'user_id') OR trimBoth(anonymous_id) IN (SELECT id_value FROM db.ids WHERE id_type = 'anonymous_id'))",
    );
    expect(touchedMapSql(group, ctx, 'db.rows0')).toBe(
      "SELECT id_type, id_value, profile_id FROM db.feature_identity WHERE (id_type = 'user_id' AND id_value IN (SELECT trimBoth(user_id) FROM db.rows0)) OR (id_type = 'anonymous_id' AND id_value IN (SELECT trimBoth(anonymous_id) FROM db.rows0))",
    );
  });

  it('updates only the features that read the clock', () => {
    expect(clockUpdateSql('db.p', shop, 'now64()')).toBe(
      "ALTER TABLE db.p UPDATE `idle_days` = CAST(intDiv(toUnixTimestamp64Milli(now64()) - toUnixTimestamp64Milli(`last_seen`), 86400000) AS Nullable(Int64)) WHERE true",
    );
  });

  it('compiles training sets relative to each row time', () => {
    const sql = compileTrainingSet(shop, ctx, 'db.entities', ['identifier']);
    expect(sql).toContain('`timestamp` <= _e._as_of');
    expect(sql).toContain('`timestamp` > _as_of - toIntervalMillisecond(2592000000)');
    expect(sql).toContain('_changed_at <= _e._as_of');
    expect(sql).toContain('toUnixTimestamp64Milli(_base._as_of)');
  });

  it('gives no value, not the epoch, for a min or max of a column with no row in its window', () => {
    const windowed = set({ last_week: { description: 'd', type: 'timestamp', from: allEvents(), aggregate: max('timestamp'), window: '7d' } });
    const run = compileRun(windowed, ctx, T, { kind: 'all' }, allProfilesSql(ctx), (what) => `db.${what}`);
    // maxIf of a non-nullable column over no rows is 1970-01-01; maxOrNullIf is NULL.
    expect(run.queries[0]!.sql).toMatch(/maxOrNullIf\(`timestamp`, `timestamp` > .*\) AS `last_week`/);
  });

  it('stores a state column beside a feature only where its value is not its state', () => {
    const run = compileRun(shop, ctx, T, { kind: 'all' }, allProfilesSql(ctx), (what) => `db.${what}`);
    const table = createProfilesTableSql('db.p', shop, run.states);
    // A count, a sum defaulting to 0 and a max are their own state; a most frequent value keeps
    // every value's count and latest time; a latest value with a default keeps the value and its time.
    expect(table.match(/`_state_[a-z_]+`/g)).toEqual(['`_state_favourite_c`', '`_state_subscriber_v`', '`_state_subscriber_t`']);
    expect(table).toContain('`_state_favourite_c` Array(Tuple(String, Int64, Int64))');
    expect(table).toContain('`_state_subscriber_v` Nullable(Bool)');
  });

  it('folds a delta into the stored states: rows added, and rows a window left subtracted', () => {
    const scope = { kind: 'touched' as const, profiles: 'db.folded', groups: { events: { rows: 'db.delta', map: 'db.delta_map' } } };
    const delta = { previousAsOfMs: T - 3_600_000, asOfMs: T };
    const run = compileRun(shop, ctx, T, scope, 'SELECT profile_id FROM db.folded', (what) => `db.${what}`, delta);
    // Only the groups with a delta are read.
    expect(run.queries.map((q) => q.group.key)).toEqual(['events']);
    const events = run.queries[0]!.sql;
    expect(events).toContain('FROM db.delta');
    expect(events).toMatch(/countIf\(_delta = 1 AND .* AS `_plus_orders_30d`/);
    // The window left the rows of the hour 30 days before the previous run.
    const left = `\`timestamp\` > fromUnixTimestamp64Milli(toInt64(${T - 3_600_000 - 2_592_000_000}), 'UTC') AND \`timestamp\` <= fromUnixTimestamp64Milli(toInt64(${T - 2_592_000_000}), 'UTC')`;
    expect(events).toContain(`countIf(_delta = -1 AND (type = 'track' AND event IN ('Order Completed')) AND ${left})) AS \`_minus_orders_30d\``);
    expect(events).not.toContain('_minus_last_seen');
    const folded = foldedRowsSql(shop, ctx, T, 'db.prev', 'db.folded', [{ features: run.queries[0]!.features, table: 'db.fold_group0' }]);
    expect(folded).toContain('coalesce(_o.`orders_30d`, 0) + coalesce(_d0.`_plus_orders_30d`, 0) - coalesce(_d0.`_minus_orders_30d`, 0) AS `orders_30d`');
    expect(folded).toContain('if(isNull(_o.`last_seen`), _d0.`_plus_last_seen`, if(isNull(_d0.`_plus_last_seen`), _o.`last_seen`, greatest(_o.`last_seen`, _d0.`_plus_last_seen`))) AS `last_seen`');
    // A group without a delta keeps its stored state.
    expect(folded).toContain('_o.`_state_subscriber_t` AS `_state_subscriber_t`');
    expect(folded).toContain('FROM (SELECT * FROM db.prev WHERE profile_id IN (SELECT profile_id FROM db.folded)) AS _o');
  });

  it('is deterministic; the signature ignores descriptions and follows types', () => {
    const sql = () => {
      const { states: _, ...run } = compileRun(shop, ctx, T, { kind: 'all' }, allProfilesSql(ctx), (what) => `db.${what}`);
      return run;
    };
    expect(sql()).toEqual(sql());
    const renamed: FeatureSet = { features: shop.features.map((f) => ({ ...f, description: 'other' })) };
    expect(featureSetSignature(renamed)).toBe(featureSetSignature(shop));
    const retyped: FeatureSet = { features: shop.features.map((f) => (f.name === 'revenue' ? { ...f, default: null } : f)) };
    expect(featureSetSignature(retyped)).not.toBe(featureSetSignature(shop));
  });

  it('compiles expressions null-safely, with time literals', () => {
    const typed = (e: Parameters<typeof typeExpr>[0]) => {
      const r = typeExpr(e, { where: 'x', feature: () => ({ type: 'timestamp' }) });
      if (!r.ok) throw new Error(r.errors.join());
      return exprSql(r.value, { feature: (n) => n, asOf: 'T' });
    };
    expect(typed(gte(feature('a'), lit('2026-01-01')))).toBe("(a >= parseDateTime64BestEffort('2026-01-01', 3, 'UTC'))");
    expect(typed(daysSince(feature('a')))).toBe('intDiv(toUnixTimestamp64Milli(T) - toUnixTimestamp64Milli(a), 86400000)');
  });
});
