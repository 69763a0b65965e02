-- The 20 newest relevant articles on one topic (here energy) in the last week, with
-- their relations and all their topics. Drop the topic condition for everything.
SELECT published_at, outlet, title, url, dyads, topics
FROM latest_relevant_articles
WHERE day >= current_date - 7
  AND list_contains(topics, 'energy')
ORDER BY published_at DESC
LIMIT 20;
