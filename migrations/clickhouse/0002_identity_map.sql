-- Copy of the identity map (PostgreSQL is the source of truth) for joining sources to profiles.
-- Each change carries the PostgreSQL version; the newest row per identifier wins and deleted rows
-- disappear under FINAL.
CREATE TABLE IF NOT EXISTS {db}.identity_map (
  id_type LowCardinality(String),
  id_value String,
  profile_id String,
  version UInt64,
  deleted UInt8
) ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (id_type, id_value);

CREATE VIEW IF NOT EXISTS {db}.identity_map_current AS
SELECT id_type, id_value, profile_id FROM {db}.identity_map FINAL WHERE deleted = 0;
