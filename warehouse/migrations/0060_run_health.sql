-- 0060: run health and the source lifecycle (issue 13).
-- Every ingest run (CLI, Airflow, GDELT and archive backfills) is a row in ingest_runs with
-- how many sources it planned, how many answered, and a health verdict, so "was the monitor
-- blind?" is a query, not a guess. Sources removed from the configured sources file are
-- retired (kept with their articles and fetch history, never polled on schedule).

ALTER TABLE ingest_runs ADD COLUMN sources_planned INTEGER;
ALTER TABLE ingest_runs ADD COLUMN seconds DOUBLE;
-- ok | degraded (some sources failed) | blind (none answered, or the failing share passed
-- settings.blind_failure_share)
ALTER TABLE ingest_runs ADD COLUMN health VARCHAR;
-- "source_id: error" lines of the failing sources (at most 50), for the Trends banner and alerts
ALTER TABLE ingest_runs ADD COLUMN failing VARCHAR[];

-- active: in the configured sources file; retired: not (or no longer) in it.
ALTER TABLE sources ADD COLUMN status VARCHAR NOT NULL DEFAULT 'active';
ALTER TABLE sources ADD COLUMN retired_at TIMESTAMP;

-- Sync the configured file again at the next plan, so sources already removed from it are
-- retired now rather than at its next edit.
DELETE FROM monitor_state WHERE key = 'sources_file_sha1';
