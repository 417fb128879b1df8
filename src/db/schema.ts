import { pgTable, text, timestamp, uuid, jsonb, index } from 'drizzle-orm/pg-core';

/** API keys, stored as SHA-256 hashes; the key itself is shown once at creation. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    scope: text('scope', { enum: ['write', 'read', 'admin'] }).notNull(),
    keyHash: text('key_hash').notNull().unique(),
    /** First characters of the key, to recognise it in listings. */
    keyPrefix: text('key_prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [index('api_keys_scope_idx').on(t.scope)],
);

/** Where each job left off; written in the same transaction as the job's results. */
export const jobCheckpoints = pgTable('job_checkpoints', {
  job: text('job').primaryKey(),
  position: jsonb('position').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
