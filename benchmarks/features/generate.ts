/**
 * Shop-like data for the features benchmark, generated inside ClickHouse (INSERT ... SELECT from
 * numbers()): an identity map of `people` profiles and `events` events spread over 90 days.
 *
 * Person p: 60% signed up (user_id `u-p`, an email), 1–3 devices with anonymous ids `a-p-k`.
 * Events pick a person and a device at random; 70% of a signed-up person's events carry the
 * user_id. Mix: 15% Session Started, 45% Product Viewed, 10% Product Added, 5% Order Completed,
 * 20% page, 5% identify, with Segment-like properties and context.
 */
import type { Clickhouse } from '../../src/clients/clickhouse.ts';

const CATEGORIES = "['shoes','apparel','accessories','electronics','home','beauty','sports','toys']";
const DEVICES = "['desktop','mobile','tablet','ios','android']";
const PLANS = "['free','plus','pro']";
const DAY_MS = 86_400_000;

/** Profile id of person `p` (an expression). */
const profileOf = (p: string) => `concat('p_', lower(hex(cityHash64(${p}, 7))))`;

export async function generateIdentityMap(ch: Clickhouse, people: number): Promise<void> {
  await ch.command(`
    INSERT INTO ${ch.table('identity_map')} (id_type, id_value, profile_id, version, deleted)
    SELECT id.1, id.2, ${profileOf('p')}, 1, 0 FROM (
      SELECT number AS p, arrayJoin(arrayConcat(
        if(cityHash64(p, 1) % 10 < 6, [('user_id', concat('u-', toString(p))), ('email', concat('user', toString(p), '@example.com'))], []),
        arrayMap(k -> ('anonymous_id', concat('a-', toString(p), '-', toString(k))), range(1 + cityHash64(p, 2) % 3))
      )) AS id
      FROM numbers(${people})
    )`);
}

/**
 * `count` events numbered from `first` (message ids `m-<n>`), of `people` people — or only of every
 * `stride`-th person when given (an incremental batch touching 1/stride of the profiles) — timed
 * in the 90 days before `endMs`.
 */
export async function generateEvents(ch: Clickhouse, opts: { people: number; count: number; first?: number; endMs: number; stride?: number; ingestedAt?: number }): Promise<void> {
  const stride = opts.stride ?? 1;
  const ingested = opts.ingestedAt === undefined ? 'now64(3)' : `fromUnixTimestamp64Milli(toInt64(${opts.ingestedAt}), 'UTC')`;
  await ch.command(`
    INSERT INTO ${ch.table('events')} (message_id, type, event, name, user_id, anonymous_id, timestamp, received_at, traits, properties, context, source, write_key_id, ingested_at)
    SELECT
      concat('m-', toString(n)),
      multiIf(r < 75, 'track', r < 95, 'page', 'identify') AS type,
      multiIf(r < 15, 'Session Started', r < 60, 'Product Viewed', r < 70, 'Product Added', r < 75, 'Order Completed', '') AS event,
      if(type = 'page', 'Product', ''),
      if(cityHash64(p, 1) % 10 < 6 AND cityHash64(n, 5) % 10 < 7, concat('u-', toString(p)), ''),
      concat('a-', toString(p), '-', toString(cityHash64(n, 4) % (1 + cityHash64(p, 2) % 3))),
      ts, ts,
      if(type = 'identify', concat('{"plan":"', ${PLANS}[1 + cityHash64(p, 8) % 3], '","email":"user', toString(p), '@example.com"}'), '{}'),
      multiIf(
        event = 'Session Started', concat('{"session_id":"s-', toString(n), '"}'),
        type = 'track', concat('{"product_id":"prod-', toString(product), '","category":"', category, '","price":', toString(price),
                               if(event = 'Order Completed', concat(',"revenue":', toString(round(price * (1 + cityHash64(n, 9) % 3), 2))), ''), '}'),
        type = 'page', concat('{"path":"/p/prod-', toString(product), '","url":"https://shop.example.com/p/prod-', toString(product), '","category":"', category, '"}'),
        '{}'),
      concat('{"library":{"name":"analytics.js","version":"2.11.1"},"device":{"id":"dev-', toString(p), '","type":"', ${DEVICES}[1 + cityHash64(p, 10) % 5], '"}}'),
      'bench', 'bench', ${ingested}
    FROM (
      SELECT number + ${opts.first ?? 0} AS n,
        (cityHash64(n, 3) % ${Math.floor(opts.people / stride)}) * ${stride} AS p,
        cityHash64(n, 6) % 100 AS r,
        cityHash64(n, 11) % 500 AS product,
        ${CATEGORIES}[1 + (cityHash64(p, 12) + cityHash64(n, 13) % 3) % 8] AS category,
        4.99 + (product * 7919) % 400 AS price,
        fromUnixTimestamp64Milli(toInt64(${opts.endMs} - cityHash64(n, 14) % ${90 * DAY_MS}), 'UTC') AS ts
      FROM numbers(${opts.count})
    )`);
}
