-- trend_baseline: each day's count against the trailing 28 days before it (not including it).
-- ratio is smoothed, (articles + 1) / (baseline_avg + 1), so a quiet series does not divide
-- by zero. The same rule is in monitor/trends.py (SPIKE_* constants); keep them together.
CREATE OR REPLACE VIEW trend_baseline AS
SELECT day, dyad, topic, articles,
       coalesce(avg(articles) OVER w, 0) AS baseline_avg,
       coalesce(stddev_pop(articles) OVER w, 0) AS baseline_sd,
       count(articles) OVER w AS baseline_days,
       (articles + 1) / (coalesce(avg(articles) OVER w, 0) + 1) AS ratio
FROM trend_dense
WINDOW w AS (PARTITION BY dyad, topic ORDER BY day ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING);

-- trend_spikes: days where a series jumped: at least 5 articles (so one article is never a
-- spike) and at least 3 times its smoothed trailing 28-day average.
CREATE OR REPLACE VIEW trend_spikes AS
SELECT day, dyad, topic, articles, round(baseline_avg, 2) AS baseline_avg,
       round(baseline_sd, 2) AS baseline_sd, round(ratio, 2) AS ratio
FROM trend_baseline
WHERE articles >= 5 AND ratio >= 3.0;
