-- Daily trend views. All read the materialised tables of migration 0030 (trend_daily,
-- trend_outlet_daily, trend_state), which monitor.trends.refresh_trends keeps up to date, so
-- a query for the last 30 days costs the same whatever the size of history.
-- A day is the article's publication date in UTC; when the feed gave no usable date the time
-- the monitor first saw the article stands in. Only relevant articles (at least one dyad) count.
-- `stories` beside `articles`: distinct stories (cluster_id, else the article) with an article
-- on the day; one event reprinted by 40 outlets is 40 articles and 1 story (migration 0091).

-- topic_daily: relevant articles and stories per topic per day (days without articles have no row).
CREATE OR REPLACE VIEW topic_daily AS
SELECT day, topic, articles, stories
FROM trend_daily
WHERE dyad = '*' AND topic <> '*';

-- dyad_daily: relevant articles per relation (russia_japan, russia_china) per day.
CREATE OR REPLACE VIEW dyad_daily AS
SELECT day, dyad, articles, stories
FROM trend_daily
WHERE topic = '*' AND dyad <> '*';

-- topic_dyad_daily: a topic within one relation per day (energy in Russia–China coverage).
CREATE OR REPLACE VIEW topic_dyad_daily AS
SELECT day, dyad, topic, articles, stories
FROM trend_daily
WHERE dyad <> '*' AND topic <> '*';

-- stories_daily: relevant articles and the stories they make, per day.
--   SELECT day, articles, stories FROM stories_daily ORDER BY day DESC LIMIT 14;
CREATE OR REPLACE VIEW stories_daily AS
SELECT day, articles, stories
FROM trend_daily
WHERE dyad = '*' AND topic = '*';

-- articles_daily: every classified article per day, and how many of them were relevant.
CREATE OR REPLACE VIEW articles_daily AS
SELECT day, sum(articles)::BIGINT AS articles, sum(relevant)::BIGINT AS relevant
FROM trend_outlet_daily
GROUP BY day;

-- trend_freshness: how far the trend tables lag behind the classifications. A refresh runs
-- after every ingest store and before every digest; lag_seconds > 0 means one is due.
CREATE OR REPLACE VIEW trend_freshness AS
SELECT s.refreshed_at,
       s.watermark,
       (SELECT max(classified_at) FROM classifications) AS newest_classification,
       coalesce(date_diff('second', s.watermark,
                          (SELECT max(classified_at) FROM classifications)), 0) AS lag_seconds,
       s.articles,
       s.full_rebuild
FROM trend_state s
WHERE s.name = 'trends';
