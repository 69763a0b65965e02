-- 0050: bookkeeping of history backfills (monitor/backfill/). Articles themselves go through
-- the normal staging → store path with articles.ingested_via = 'backfill_dir' | 'backfill_gdelt';
-- these tables only say which work is finished, so an interrupted backfill resumes where it
-- stopped and a re-run does nothing twice.

-- One row per archive file whose articles are stored. A file is "the same" when both its path
-- and its content hash match: an edited file at the same path is processed again.
CREATE TABLE backfill_files (
    path           VARCHAR NOT NULL,          -- absolute path when it was processed
    content_hash   VARCHAR NOT NULL,          -- sha1 of the raw (possibly gzip) bytes
    source_id      VARCHAR,                   -- the archive source it was filed under
    bytes          BIGINT,
    entries        INTEGER,                   -- entries parsed from the file
    status         VARCHAR NOT NULL,          -- ok | error (bad file: reported, skipped)
    error          VARCHAR,
    run_id         VARCHAR NOT NULL,
    processed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (path, content_hash)
);

-- One row per GDELT DOC API time slice of one query that is finished (or failed last time).
-- A slice that came back full (the 250-result cap) is not stored: its two halves are.
CREATE TABLE backfill_slices (
    query_id       VARCHAR NOT NULL,          -- monitor.backfill.gdelt.QUERIES id
    slice_start    TIMESTAMP NOT NULL,        -- UTC, inclusive
    slice_end      TIMESTAMP NOT NULL,        -- UTC, exclusive
    status         VARCHAR NOT NULL,          -- done | truncated | error
    articles       INTEGER NOT NULL DEFAULT 0,
    requests       INTEGER NOT NULL DEFAULT 0,
    error          VARCHAR,
    run_id         VARCHAR NOT NULL,
    finished_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (query_id, slice_start, slice_end)
);
