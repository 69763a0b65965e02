-- 0080: story merges (monitor/stories/assign.py). A story id never changes once assigned,
-- except when a later article ties two stories together: the younger story is merged into
-- the older, its articles take the surviving id (articles.cluster_id stays the current
-- story id of every article), and the merge is recorded here so old ids still resolve:
-- from_story -> into_story is always one step (earlier merges are re-pointed on a new one).
CREATE TABLE story_merges (
    from_story  VARCHAR PRIMARY KEY,
    into_story  VARCHAR NOT NULL,
    merged_at   TIMESTAMP NOT NULL,
    reason      VARCHAR NOT NULL
);
