import { pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Schema drift of CDC source tables: columns that arrived but are not declared in the sources
 * config. Their values are kept in the raw changelog (cdc_changes.row); `tessera cdc status`
 * reports them so the table's declaration can be extended.
 */
export const cdcSchemaDrift = pgTable(
  'cdc_schema_drift',
  {
    source: text('source').notNull(),
    tableName: text('table_name').notNull(),
    columnName: text('column_name').notNull(),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.source, t.tableName, t.columnName] })],
);
