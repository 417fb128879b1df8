-- CRM records (POST /v1/crm/{source}/records, `tessera import crm`). Every version of a record is
-- kept (identity resolution links an old email to a new one, and a rebuild must see what the
-- incremental run saw); the same version delivered twice is stored once after merges. Features and
-- queries read crm_records_current: the latest updated_at per (source, record_id).
CREATE TABLE IF NOT EXISTS {db}.crm_records (
  source LowCardinality(String),
  record_id String,
  updated_at DateTime64(3, 'UTC'),
  traits String,
  identifiers String,
  record String,
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  INDEX crm_records_ingested_idx ingested_at TYPE minmax GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (source, record_id, updated_at);

CREATE VIEW IF NOT EXISTS {db}.crm_records_current AS
SELECT source, record_id, updated_at, traits, identifiers, record, ingested_at
FROM {db}.crm_records FINAL
ORDER BY source, record_id, updated_at DESC
LIMIT 1 BY source, record_id;
