-- story_ids: resolves any story id ever assigned to the story it belongs to now. A story id
-- never changes, except when a later article ties two stories together: the younger is
-- merged into the older (recorded in story_merges, migration 0080) and its articles take
-- the surviving id. Saved references to the old id resolve through this view:
--   SELECT current_story_id FROM story_ids WHERE story_id = ?;
--   SELECT s.* FROM story_ids i JOIN stories s ON s.cluster_id = i.current_story_id
--   WHERE i.story_id = ?;
CREATE OR REPLACE VIEW story_ids AS
SELECT from_story AS story_id, into_story AS current_story_id, merged_at, reason
FROM story_merges
UNION ALL
SELECT c.cluster_id, c.cluster_id, NULL::TIMESTAMP, NULL::VARCHAR
FROM clusters c
WHERE c.cluster_id NOT IN (SELECT from_story FROM story_merges);
