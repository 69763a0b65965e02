-- Who carries the coverage? Relevant articles in the last 30 days by the country of the
-- outlet (sources.country), with the share of the total. For outlets use outlet_share.
SELECT country,
       sum(relevant) AS relevant,
       sum(articles) AS classified,
       round(100.0 * sum(relevant) / sum(sum(relevant)) OVER (), 1) AS share_pct
FROM country_share
WHERE day >= current_date - 30
GROUP BY country
ORDER BY relevant DESC;
