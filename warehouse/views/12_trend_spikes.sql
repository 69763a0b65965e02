-- trend_baseline: each day's count of stories against the trailing 28 days before it (not
-- including it). Spikes are measured on stories, not articles: one event reprinted 40 times
-- is one story. ratio is smoothed, (stories + 1) / (baseline_avg + 1), so a quiet series does
-- not divide by zero. The same rule is in monitor/trends.py (SPIKE_* constants); keep them
-- together.
CREATE OR REPLACE VIEW trend_baseline AS
SELECT day, dyad, topic, articles, stories,
       coalesce(avg(stories) OVER w, 0) AS baseline_avg,
       coalesce(stddev_pop(stories) OVER w, 0) AS baseline_sd,
       count(stories) OVER w AS baseline_days,
       (stories + 1) / (coalesce(avg(stories) OVER w, 0) + 1) AS ratio
FROM trend_dense
WINDOW w AS (PARTITION BY dyad, topic ORDER BY day ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING);

-- trend_spikes: days where a series jumped: at least 5 stories (so one story is never a
-- spike, however many outlets carry it) and at least 3 times its smoothed trailing 28-day
-- average of stories. `articles` says how many articles those stories hold.
CREATE OR REPLACE VIEW trend_spikes AS
SELECT day, dyad, topic, stories, articles, round(baseline_avg, 2) AS baseline_avg,
       round(baseline_sd, 2) AS baseline_sd, round(ratio, 2) AS ratio
FROM trend_baseline
WHERE stories >= 5 AND ratio >= 3.0;
