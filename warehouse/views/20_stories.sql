-- stories: one row per story cluster. Who reported first, who followed, how many outlets and
-- from which countries (sources.country) and languages carried it.
--   SELECT * FROM stories WHERE size > 1 ORDER BY first_seen_at DESC LIMIT 20;
CREATE OR REPLACE VIEW stories AS
WITH members AS (
    SELECT a.cluster_id, a.article_id, a.title, a.outlet, a.language, s.country,
           coalesce(a.published_at, a.first_seen_at) AS seen_at
    FROM articles a
    LEFT JOIN sources s ON s.source_id = a.source_id
    WHERE a.cluster_id IS NOT NULL
)
SELECT cluster_id,
       min(seen_at)                                                  AS first_seen_at,
       arg_min(outlet, seen_at)                                      AS first_outlet,
       arg_min(article_id, seen_at)                                  AS first_article_id,
       arg_min(title, seen_at)                                       AS title,
       max(seen_at)                                                  AS last_seen_at,
       count(*)                                                      AS size,
       count(DISTINCT outlet)                                        AS n_outlets,
       list(DISTINCT outlet ORDER BY outlet) FILTER (WHERE outlet IS NOT NULL)     AS outlets,
       list(DISTINCT country ORDER BY country) FILTER (WHERE country IS NOT NULL)  AS countries,
       list(DISTINCT language ORDER BY language) FILTER (WHERE language IS NOT NULL) AS languages
FROM members
GROUP BY cluster_id;
