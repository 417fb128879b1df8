/**
 * The baseline of the features benchmark: the same 20 features written by hand as one query, the
 * way one would without Tessera: every event joined to its profile (user_id if mapped, else the
 * anonymous id), one GROUP BY profile_id with `-If` aggregates, and the most viewed category from
 * a (profile, category) count in the same statement. Same semantics as the compiled features: rows
 * up to the as-of time, windows before it, the same tie-break in `last`.
 *
 * It joins the same clean identity table the runs use (`feature_identity`, no FINAL), so the
 * comparison is of the computation, not of reading the identity map. `read`: the JSON fields
 * parsed from the JSON columns, as a query over the raw table would, or read from the columns of
 * `events` that a feature run materializes (compiler/materialized-sql.ts).
 */
import type { Clickhouse } from '../../src/clients/clickhouse.ts';
import { materializedField } from '../../features/compiler/materialized-sql.ts';
import type { FieldRef } from '../../features/feature-model.ts';

const FIELDS: Record<string, FieldRef> = {
  revenue: { column: 'properties', jsonKeys: ['revenue'], type: 'float' },
  product_id: { column: 'properties', jsonKeys: ['product_id'], type: 'string' },
  category: { column: 'properties', jsonKeys: ['category'], type: 'string' },
  plan: { column: 'traits', jsonKeys: ['plan'], type: 'string' },
  device_type: { column: 'context', jsonKeys: ['device', 'type'], type: 'string' },
};

export function baselineSql(ch: Clickhouse, table: string, asOfMs: number, read: 'json' | 'columns' = 'json'): string {
  const asOf = `fromUnixTimestamp64Milli(toInt64(${asOfMs}), 'UTC')`;
  const days = (n: number) => `ts > ${asOf} - toIntervalDay(${n})`;
  const names = Object.keys(FIELDS);
  const fields = Object.entries(FIELDS).map(([name, f]) => {
    const type = f.type === 'float' ? 'Float64' : 'String';
    const sql = read === 'json' ? `JSONExtract(${f.column}, ${f.jsonKeys!.map((k) => `'${k}'`).join(', ')}, 'Nullable(${type})')` : `\`${materializedField(f).column}\``;
    return `${sql} AS ${name}`;
  });
  const order = "event = 'Order Completed'";
  // Latest by time, ties to the greater value hash (the compiled features break ties the same way).
  const latest = (v: string, cond?: string) => {
    const key = `bitOr(bitShiftLeft(toUInt128(toUnixTimestamp64Milli(ts) + 4611686018427387904), 64), cityHash64(${v}))`;
    return cond ? `argMaxIf(${v}, ${key}, ${cond})` : `argMax(${v}, ${key})`;
  };
  return `
CREATE TABLE ${ch.table(table)} ENGINE = MergeTree ORDER BY profile_id AS
WITH e AS (
  SELECT ifNull(coalesce(u.profile_id, a.profile_id), '') AS profile_id, ev.type AS type, ev.event AS event, ev.timestamp AS ts, ${names.map((n) => `ev.${n} AS ${n}`).join(', ')}
  FROM (SELECT type, event, timestamp, ${fields.join(', ')}, user_id, anonymous_id FROM ${ch.table('events')} FINAL WHERE timestamp <= ${asOf}) AS ev
  LEFT JOIN (SELECT id_value, profile_id FROM ${ch.table('feature_identity')} WHERE id_type = 'user_id') AS u ON trimBoth(ev.user_id) = u.id_value
  LEFT JOIN (SELECT id_value, profile_id FROM ${ch.table('feature_identity')} WHERE id_type = 'anonymous_id') AS a ON trimBoth(ev.anonymous_id) = a.id_value
  WHERE profile_id != ''
)
SELECT agg.*, fav.favourite_category AS favourite_category
FROM (
  SELECT profile_id,
    countIf(${order} AND ${days(30)}) AS orders_30d,
    countIf(${order}) AS orders_lifetime,
    sumIf(revenue, ${order} AND ${days(30)}) AS revenue_30d,
    sumIf(revenue, ${order}) AS revenue_lifetime,
    avgIf(revenue, ${order}) AS average_order_value,
    maxIf(revenue, ${order}) AS largest_order,
    minIf(ts, ${order}) AS first_order_at,
    maxIf(ts, ${order}) AS last_order_at,
    max(ts) AS last_seen_at,
    min(ts) AS first_seen_at,
    countIf(event = 'Session Started' AND ${days(7)}) AS sessions_7d,
    countIf(event = 'Session Started' AND ${days(30)}) AS sessions_30d,
    countIf(event = 'Product Viewed' AND ${days(30)}) AS product_views_30d,
    uniqExactIf(product_id, event = 'Product Viewed') AS distinct_products_viewed,
    countIf(event = 'Product Added') AS cart_adds,
    countIf(${order}) > 0 AS has_ordered,
    ${latest('category', order)} AS last_order_category,
    ${latest('plan', "type = 'identify'")} AS plan,
    ${latest('device_type')} AS last_device_type
  FROM e
  GROUP BY profile_id
) AS agg
LEFT JOIN (
  SELECT profile_id, argMax(category, (n, t, category)) AS favourite_category
  FROM (
    SELECT profile_id, category, count() AS n, max(ts) AS t
    FROM e WHERE event = 'Product Viewed' AND category IS NOT NULL
    GROUP BY profile_id, category
  )
  GROUP BY profile_id
) AS fav ON fav.profile_id = agg.profile_id
SETTINGS join_use_nulls = 1`;
}
