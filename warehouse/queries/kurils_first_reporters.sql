-- Who reported the Kurils first?
-- Every story (a cluster of articles, or a single article) with a Kuril Islands article in
-- the last 90 days, and the outlet that had it first; then outlets ranked by how often they
-- were first, and how many other outlets followed them on average.
WITH kuril_stories AS (
    SELECT DISTINCT story_key
    FROM latest_relevant_articles
    WHERE list_contains(topics, 'kurils') AND day >= current_date - 90
),
firsts AS (
    SELECT a.story_key,
           arg_min(a.outlet, a.published_at)  AS first_outlet,
           min(a.published_at)                AS first_at,
           count(DISTINCT a.outlet)           AS outlets
    FROM latest_relevant_articles a
    JOIN kuril_stories USING (story_key)
    WHERE a.day >= current_date - 97            -- a story's articles lie within days
    GROUP BY a.story_key
)
SELECT first_outlet,
       count(*)                         AS stories_first,
       count(*) FILTER (WHERE outlets > 1) AS stories_others_followed,
       round(avg(outlets - 1), 1)       AS avg_followers,
       max(first_at)                    AS latest_first
FROM firsts
GROUP BY first_outlet
ORDER BY stories_first DESC, first_outlet;
