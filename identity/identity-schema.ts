import { bigint, bigserial, customType, index, integer, pgSequence, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The identity graph in PostgreSQL. Identifier keys are `type:value` (normalised); times are epoch
 * milliseconds as the resolver computes them (the record's timestamp), so a rebuild reproduces them.
 */
const ms = (name: string) => bigint(name, { mode: 'number' });

/**
 * Text compared byte by byte (`COLLATE "C"`), for the columns in keys and indexes: identifiers and
 * profile ids are opaque, so only equality matters, and it is the same in every collation. A C
 * collation lets PostgreSQL sort with abbreviated keys and memcmp instead of the locale's rules,
 * which makes the B-tree builds after a rebuild's COPY ~40% faster. (For UTF-8, byte order is code
 * point order, so ORDER BY on these columns gives what the database's C.UTF-8 gave.)
 */
const keyText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

/** Orders every change of the identity map, so copies (ClickHouse) catch up from a version. */
export const identityVersionSeq = pgSequence('identity_version_seq');

/** Each identifier and the profile it belongs to. */
export const identityIdentifiers = pgTable(
  'identity_identifiers',
  {
    key: keyText('key').primaryKey(),
    type: text('type').notNull(),
    value: text('value').notNull(),
    profileId: keyText('profile_id').notNull(),
    firstSeen: ms('first_seen').notNull(),
    /** From identity_version_seq at the last change of profile_id. */
    version: ms('version').notNull(),
  },
  (t) => [index('identity_identifiers_profile_idx').on(t.profileId), index('identity_identifiers_version_idx').on(t.version)],
);

/** Identifiers removed from the map (deleted, split away, cleared by a rebuild), for the copies. */
export const identityRemoved = pgTable(
  'identity_removed',
  {
    key: keyText('key').notNull(),
    version: ms('version').primaryKey(),
  },
  (t) => [index('identity_removed_key_idx').on(t.key)],
);

/** Co-occurrence of two identifiers in records of one source (the why of a merge). */
export const identityEdges = pgTable(
  'identity_edges',
  {
    a: keyText('a').notNull(),
    b: keyText('b').notNull(),
    source: keyText('source').notNull(),
    firstSeen: ms('first_seen').notNull(),
    firstRecordId: text('first_record_id').notNull(),
    lastSeen: ms('last_seen').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.a, t.b, t.source] }), index('identity_edges_b_idx').on(t.b)],
);

/** Profiles merged away: lookups of `from_id` follow to `to_id` (always one hop). */
export const identityRedirects = pgTable(
  'identity_redirects',
  {
    fromId: keyText('from_id').primaryKey(),
    toId: keyText('to_id').notNull(),
    recordId: text('record_id').notNull(),
    ts: ms('ts').notNull(),
  },
  (t) => [index('identity_redirects_to_idx').on(t.toId)],
);

/** Every merge as it happened. */
export const identityMerges = pgTable('identity_merges', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  fromId: text('from_id').notNull(),
  intoId: text('into_id').notNull(),
  recordId: text('record_id').notNull(),
  ts: ms('ts').notNull(),
  reason: text('reason').notNull(),
});

/** Links the rules refused, aggregated per pair (a, b) under the rule that first refused it. */
export const identityRejectedLinks = pgTable(
  'identity_rejected_links',
  {
    a: keyText('a').notNull(),
    b: keyText('b').notNull(),
    rule: keyText('rule').notNull(),
    source: text('source').notNull(),
    recordId: text('record_id').notNull(),
    ts: ms('ts').notNull(),
    lastSeen: ms('last_seen').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.a, t.b] }), index('identity_rejected_links_b_idx').on(t.b)],
);

/** Raw values that were not accepted as identifiers (invalid, blocklisted, tombstoned). */
export const identityRejectedIdentifiers = pgTable(
  'identity_rejected_identifiers',
  {
    type: keyText('type').notNull(),
    raw: keyText('raw').notNull(),
    reason: keyText('reason').notNull(),
    recordId: text('record_id').notNull(),
    ts: ms('ts').notNull(),
    lastSeen: ms('last_seen').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.type, t.raw, t.reason] })],
);

/** Manual decisions: `link` a b, `unlink` a b, `tombstone` a (deleted; never an identifier again). */
export const identityOverrides = pgTable(
  'identity_overrides',
  {
    kind: text('kind', { enum: ['link', 'unlink', 'tombstone'] }).notNull(),
    a: keyText('a').notNull(),
    b: keyText('b').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.a, t.b] }), index('identity_overrides_b_idx').on(t.b)],
);
