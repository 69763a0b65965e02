-- Russia–China energy coverage by month.
-- Relevant articles that are about the Russia–China relation and the energy topic, per
-- calendar month (UTC), with the month's share of all Russia–China coverage.
WITH energy AS (
    SELECT date_trunc('month', day)::DATE AS month, sum(articles) AS energy
    FROM topic_dyad_daily
    WHERE dyad = 'russia_china' AND topic = 'energy'
    GROUP BY 1
),
dyad AS (
    SELECT date_trunc('month', day)::DATE AS month, sum(articles) AS all_russia_china
    FROM dyad_daily
    WHERE dyad = 'russia_china'
    GROUP BY 1
)
SELECT month, coalesce(energy, 0) AS energy, all_russia_china,
       round(100.0 * coalesce(energy, 0) / all_russia_china, 1) AS energy_pct
FROM dyad
LEFT JOIN energy USING (month)
ORDER BY month;
