-- outlet_share: per day and outlet, classified and relevant articles and the outlet's share
-- of the day's relevant coverage (0..1). For a period, sum `relevant` and divide by the total.
CREATE OR REPLACE VIEW outlet_share AS
SELECT day, outlet, country, articles, relevant,
       relevant / nullif(sum(relevant) OVER (PARTITION BY day), 0) AS share
FROM trend_outlet_daily;

-- country_share: the same by the country of the outlet (sources.country; '' when unknown).
CREATE OR REPLACE VIEW country_share AS
SELECT day, country, articles, relevant,
       relevant / nullif(sum(relevant) OVER (PARTITION BY day), 0) AS share
FROM (
    SELECT day, country, sum(articles)::BIGINT AS articles, sum(relevant)::BIGINT AS relevant
    FROM trend_outlet_daily
    GROUP BY day, country
);
