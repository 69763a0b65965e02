-- Which topics rose this week against last week?
-- Relevant articles per topic in the 7 days ending today (UTC) against the 7 days before,
-- largest rise first. For one relation, replace dyad = '*' by dyad = 'russia_japan'.
SELECT topic,
       rolling_7d                AS this_week,
       previous_7d               AS last_week,
       rolling_7d - previous_7d  AS change,
       round(100.0 * (rolling_7d - previous_7d) / nullif(previous_7d, 0)) AS change_pct
FROM trend_rolling
WHERE dyad = '*'
  AND topic <> '*'
  AND day = (SELECT max(day) FROM trend_rolling)
ORDER BY change DESC, topic;
