-- Raw events as received through the Segment-compatible API or `tessera import events`.
-- ReplacingMergeTree on message_id: a message delivered twice is stored once after merges, and
-- events_unique (FINAL) makes every query see it once before merges too. The first copy received
-- wins (dedup_version falls as ingested_at grows), so a late duplicate never looks like new data
-- to jobs that read by ingestion time.
CREATE TABLE IF NOT EXISTS {db}.events (
  message_id String,
  type LowCardinality(String),
  event String,
  name String,
  user_id String,
  anonymous_id String,
  previous_id String,
  group_id String,
  timestamp DateTime64(3, 'UTC'),
  original_timestamp Nullable(DateTime64(3, 'UTC')),
  sent_at Nullable(DateTime64(3, 'UTC')),
  received_at DateTime64(3, 'UTC'),
  traits String,
  properties String,
  context String,
  integrations String,
  source LowCardinality(String),
  write_key_id String,
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  dedup_version UInt64 DEFAULT 9999999999999 - toUInt64(toUnixTimestamp64Milli(ingested_at))
) ENGINE = ReplacingMergeTree(dedup_version)
ORDER BY message_id;

CREATE VIEW IF NOT EXISTS {db}.events_unique AS SELECT * FROM {db}.events FINAL;

-- Dead letters: every event that could not be accepted, with the reason and the raw payload.
CREATE TABLE IF NOT EXISTS {db}.rejected_events (
  rejected_at DateTime64(3, 'UTC') DEFAULT now64(3),
  source LowCardinality(String),
  origin String,
  position UInt32,
  code LowCardinality(String),
  message String,
  payload String
) ENGINE = MergeTree
ORDER BY rejected_at;
