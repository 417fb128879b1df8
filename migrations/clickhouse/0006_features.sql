-- Feature store (features/). The wide table itself is versioned and created by each run
-- (profiles_v<run id>, read through the view `profiles`), so adding, removing or retyping a
-- feature needs no migration.

-- The identity map as the last feature run saw it: one row per identifier, no FINAL needed, kept
-- in step with identity_map by version. Its previous state tells which profile an identifier that
-- moved used to belong to.
CREATE TABLE IF NOT EXISTS {db}.feature_identity (
  id_type LowCardinality(String),
  id_value String,
  profile_id String
) ENGINE = MergeTree
ORDER BY (id_type, id_value);

-- The identity_map version feature_identity holds, and whether a sync was interrupted.
CREATE TABLE IF NOT EXISTS {db}.feature_identity_state (
  id UInt8,
  version UInt64,
  clean UInt8,
  updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;

-- One row per feature run.
CREATE TABLE IF NOT EXISTS {db}.feature_runs (
  run_id UInt64,
  mode LowCardinality(String),
  as_of DateTime64(3, 'UTC'),
  started_at DateTime64(3, 'UTC'),
  finished_at DateTime64(3, 'UTC'),
  table_name String,
  signature String,
  profiles UInt64,
  touched UInt64,
  features UInt32,
  seconds Float64
) ENGINE = MergeTree
ORDER BY run_id;

-- Statistics of every feature after every run, and the metrics that drifted from recent runs.
CREATE TABLE IF NOT EXISTS {db}.feature_stats (
  run_id UInt64,
  feature LowCardinality(String),
  type LowCardinality(String),
  as_of DateTime64(3, 'UTC'),
  rows UInt64,
  nulls UInt64,
  null_fraction Float64,
  min Nullable(Float64),
  max Nullable(Float64),
  mean Nullable(Float64),
  distinct_count UInt64,
  freshest Nullable(DateTime64(3, 'UTC')),
  drift Array(String),
  drift_detail String
) ENGINE = MergeTree
ORDER BY (feature, run_id);
