-- trend_dense: every series (dyad × topic, '*' meaning "any"), articles and stories, on every day from the first day
-- with data to today (UTC), zeros filled in, so windows over rows are windows over days.
CREATE OR REPLACE VIEW trend_dense AS
WITH bounds AS (
    SELECT min(day) AS first_day,
           greatest(max(day), timezone('UTC', now())::DATE) AS last_day
    FROM trend_daily
),
calendar AS (
    SELECT unnest(generate_series(first_day, last_day, INTERVAL 1 DAY))::DATE AS day
    FROM bounds
    WHERE first_day IS NOT NULL
),
series AS (
    SELECT DISTINCT dyad, topic FROM trend_daily
)
SELECT c.day, s.dyad, s.topic, coalesce(t.articles, 0) AS articles,
       coalesce(t.stories, 0) AS stories
FROM calendar c
CROSS JOIN series s
LEFT JOIN trend_daily t ON t.day = c.day AND t.dyad = s.dyad AND t.topic = s.topic;

-- trend_rolling: each day's count with the sum of the 7 days ending that day and of the 7
-- days before those (for "this week vs last week").
CREATE OR REPLACE VIEW trend_rolling AS
SELECT day, dyad, topic, articles, stories,
       sum(stories) OVER (PARTITION BY dyad, topic ORDER BY day
                          ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)::BIGINT AS stories_7d,
       sum(articles) OVER (PARTITION BY dyad, topic ORDER BY day
                           ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)::BIGINT AS rolling_7d,
       coalesce(sum(articles) OVER (PARTITION BY dyad, topic ORDER BY day
                           ROWS BETWEEN 13 PRECEDING AND 7 PRECEDING), 0)::BIGINT AS previous_7d
FROM trend_dense;
