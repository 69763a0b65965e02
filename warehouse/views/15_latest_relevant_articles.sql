-- latest_relevant_articles: relevant articles, newest first, with their dyads and topics
-- (current classification). Filter on `day` to stay within a window, e.g.
--   SELECT * FROM latest_relevant_articles WHERE day >= current_date - 7 LIMIT 20;
-- story_key groups one story carried by several outlets (cluster id, else the article id).
CREATE OR REPLACE VIEW latest_relevant_articles AS
SELECT ts AS published_at, day, outlet, country, title, url, dyads, topics,
       article_id, story_key, source_id, model_version
FROM trend_articles
WHERE relevant
ORDER BY ts DESC;
