-- story_articles: each article of a multi-article story in the order outlets carried it,
-- with its delay after the first report and the rule that put it there (cluster_members).
--   SELECT outlet, country, hours_after_first FROM story_articles WHERE cluster_id = ?;
CREATE OR REPLACE VIEW story_articles AS
SELECT a.cluster_id, a.article_id, a.outlet, s.country, a.language, a.title, a.url,
       coalesce(a.published_at, a.first_seen_at) AS seen_at,
       row_number() OVER w                       AS position,
       date_diff('minute', min(coalesce(a.published_at, a.first_seen_at)) OVER (PARTITION BY a.cluster_id),
                 coalesce(a.published_at, a.first_seen_at)) / 60.0 AS hours_after_first,
       m.match_kind, m.matched_article_id, m.score
FROM articles a
LEFT JOIN sources s ON s.source_id = a.source_id
LEFT JOIN cluster_members m ON m.article_id = a.article_id
WHERE a.cluster_id IS NOT NULL
WINDOW w AS (PARTITION BY a.cluster_id ORDER BY coalesce(a.published_at, a.first_seen_at), a.article_id);
