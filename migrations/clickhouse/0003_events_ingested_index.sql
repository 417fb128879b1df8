-- Jobs read new events by ingestion time; parts are written in that order, so a minmax index on
-- ingested_at lets them skip everything older than their cursor.
ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS events_ingested_idx ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.events MATERIALIZE INDEX events_ingested_idx;
