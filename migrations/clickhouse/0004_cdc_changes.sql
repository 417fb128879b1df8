-- Raw changelog of every CDC source table: one row per change as received (Debezium HTTP, the
-- PostgreSQL pull connector), the whole row as JSON (undeclared columns included, so schema drift
-- is never lost). A change delivered twice (a connector resuming) has the same (source, table,
-- key, position) and is stored once after merges; readers that must not see it twice use FINAL.
-- The current state of each table lives in its own table (see src/cdc/cdc-tables.ts).
CREATE TABLE IF NOT EXISTS {db}.cdc_changes (
  source LowCardinality(String),
  table_name LowCardinality(String),
  op Enum8('c' = 1, 'u' = 2, 'd' = 3, 'r' = 4, 't' = 5),
  position UInt64,
  key String,
  changed_at DateTime64(3, 'UTC'),
  row String,
  identifiers String,
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  INDEX cdc_changes_ingested_idx ingested_at TYPE minmax GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (source, table_name, key, position);
