-- 0001: the core tables of the warehouse. All timestamps are UTC (TIMESTAMP without zone).
-- Column meanings are documented in warehouse/README.md.

CREATE TABLE sources (
    source_id        VARCHAR PRIMARY KEY,
    url              VARCHAR NOT NULL,
    outlet           VARCHAR NOT NULL,
    language         VARCHAR,
    country          VARCHAR,
    kind             VARCHAR NOT NULL DEFAULT 'feed',
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason  VARCHAR,
    configured_url   VARCHAR,
    updated_at       TIMESTAMP
);

CREATE TABLE feed_state (
    source_id             VARCHAR PRIMARY KEY,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    content_hash          VARCHAR,
    last_attempt_at       TIMESTAMP,
    last_ok_at            TIMESTAMP,
    last_status           INTEGER,
    last_outcome          VARCHAR,
    last_error            VARCHAR,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    failing_since         TIMESTAMP,
    next_poll_at          TIMESTAMP
);

CREATE TABLE fetches (
    fetch_id      VARCHAR PRIMARY KEY,
    source_id     VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    url           VARCHAR,
    started_at    TIMESTAMP NOT NULL,
    outcome       VARCHAR NOT NULL,          -- ok | not_modified | unchanged | error | skipped
    http_status   INTEGER,
    bytes         BIGINT,
    entries_seen  INTEGER,
    entries_new   INTEGER,
    parser        VARCHAR,
    bozo          VARCHAR,
    error         VARCHAR,
    duration_ms   INTEGER
);

CREATE TABLE articles (
    article_id      VARCHAR PRIMARY KEY,
    entry_key       VARCHAR NOT NULL UNIQUE,
    guid            VARCHAR,
    url             VARCHAR,
    canonical_url   VARCHAR,
    title           VARCHAR,
    summary         VARCHAR,
    body            VARCHAR,
    text_source     VARCHAR NOT NULL DEFAULT 'summary',   -- summary | fulltext | title
    author          VARCHAR,
    outlet          VARCHAR,
    source_id       VARCHAR,
    language        VARCHAR,
    published_at    TIMESTAMP,
    date_flag       VARCHAR,                               -- NULL | missing | absurd
    first_seen_at   TIMESTAMP NOT NULL,
    content_hash    VARCHAR,
    ingested_via    VARCHAR NOT NULL DEFAULT 'live',      -- live | backfill_dir | backfill_gdelt
    cluster_id      VARCHAR,
    extract_status  VARCHAR,                               -- NULL | ok | skipped | failed
    extract_error   VARCHAR
);

CREATE TABLE article_sources (
    article_id     VARCHAR NOT NULL,
    source_id      VARCHAR NOT NULL,
    first_seen_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (article_id, source_id)
);

CREATE TABLE classifications (
    article_id     VARCHAR NOT NULL,
    model_version  VARCHAR NOT NULL,
    relevant       BOOLEAN NOT NULL,
    dyads          VARCHAR[] NOT NULL,
    topics         VARCHAR[] NOT NULL,
    scores         JSON,
    evidence       JSON,
    classified_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (article_id, model_version)
);

CREATE TABLE labels (
    label_id    VARCHAR PRIMARY KEY,
    article_id  VARCHAR NOT NULL,
    relevant    BOOLEAN NOT NULL,
    dyads       VARCHAR[] NOT NULL,
    topics      VARCHAR[] NOT NULL,
    who         VARCHAR NOT NULL,
    labelled_at TIMESTAMP NOT NULL,
    note        VARCHAR
);

CREATE TABLE models (
    version      VARCHAR PRIMARY KEY,
    trained_at   TIMESTAMP NOT NULL,
    path         VARCHAR,
    metrics      JSON,
    promoted     BOOLEAN NOT NULL DEFAULT FALSE,
    promoted_at  TIMESTAMP,
    note         VARCHAR
);

CREATE TABLE digests (
    digest_date  DATE NOT NULL,
    recipient    VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,        -- pending | sent | failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    subject      VARCHAR,
    message_id   VARCHAR,
    transport    VARCHAR,                  -- outbox | smtp | airflow
    path         VARCHAR,
    error        VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    sent_at      TIMESTAMP,
    PRIMARY KEY (digest_date, recipient)
);

CREATE TABLE ingest_runs (
    run_id         VARCHAR PRIMARY KEY,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    via            VARCHAR,
    sources_ok     INTEGER,
    sources_not_modified INTEGER,
    sources_failed INTEGER,
    entries_seen   INTEGER,
    articles_new   INTEGER
);
