-- 0030: materialised trend tables, so that asking for the last 30 days costs the same at 1M
-- or 10M articles (the cost follows the window, not the size of history).
--
-- They are derived data: monitor.trends.refresh_trends(con) keeps them up to date
-- incrementally (articles classified since the last refresh, with a look-back for batches
-- stored late) and refresh_trends(con, full=True) rebuilds them from scratch.
-- Never edit them by hand; the views in warehouse/views/1*.sql read them.

-- One row per classified article: its current classification (newest model version), the day
-- it counts for (publication date in UTC, first-seen time when the feed gave no usable date)
-- and the few article fields the trend views and the digest show.
CREATE TABLE trend_articles (
    article_id     VARCHAR NOT NULL,
    day            DATE NOT NULL,          -- coalesce(published_at, first_seen_at)::DATE (UTC)
    ts             TIMESTAMP NOT NULL,     -- coalesce(published_at, first_seen_at), UTC
    source_id      VARCHAR,
    outlet         VARCHAR,
    country        VARCHAR,                -- sources.country of the article's source
    relevant       BOOLEAN NOT NULL,
    dyads          VARCHAR[] NOT NULL,
    topics         VARCHAR[] NOT NULL,
    model_version  VARCHAR NOT NULL,
    classified_at  TIMESTAMP NOT NULL,
    story_key      VARCHAR NOT NULL,       -- coalesce(cluster_id, article_id)
    title          VARCHAR,                -- copies for the digest and latest_relevant_articles
    url            VARCHAR,
    lead           VARCHAR                 -- summary, cut to 400 characters
);

-- Relevant articles per UTC day, per dyad and topic. '*' stands for "any": the row
-- ('*', '*') is the day's number of relevant articles, (dyad, '*') the dyad's, ('*', topic)
-- the topic's, (dyad, topic) the topic within the dyad.
CREATE TABLE trend_daily (
    day       DATE NOT NULL,
    dyad      VARCHAR NOT NULL,
    topic     VARCHAR NOT NULL,
    articles  INTEGER NOT NULL,
    PRIMARY KEY (day, dyad, topic)
);

-- Classified articles per UTC day and outlet (all of them and the relevant ones).
CREATE TABLE trend_outlet_daily (
    day       DATE NOT NULL,
    outlet    VARCHAR NOT NULL,
    country   VARCHAR NOT NULL,               -- '' when the source has no country
    articles  INTEGER NOT NULL,
    relevant  INTEGER NOT NULL,
    PRIMARY KEY (day, outlet, country)
);

-- Book-keeping of refresh_trends: the newest classified_at seen and when it ran.
CREATE TABLE trend_state (
    name          VARCHAR PRIMARY KEY,        -- 'trends'
    watermark     TIMESTAMP,                  -- max(classifications.classified_at) processed
    refreshed_at  TIMESTAMP NOT NULL,
    articles      BIGINT,                     -- rows in trend_articles after the refresh
    full_rebuild  BOOLEAN NOT NULL
);
