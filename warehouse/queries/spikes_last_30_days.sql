-- Spikes in the last 30 days: topic-days with at least 5 stories and at least 3 times
-- their trailing 28-day average of stories (smoothed); articles: how many they hold. '*' in dyad means all relevant coverage; a row
-- with a dyad is the topic within that relation.
SELECT day, dyad, topic, stories, articles, baseline_avg, ratio
FROM trend_spikes
WHERE day >= current_date - 30
ORDER BY day DESC, ratio DESC;
