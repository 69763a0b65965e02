-- 0020: story clusters (monitor/clusters.py). articles.cluster_id (0001) names the cluster;
-- a cluster's id is the article_id of its founder, the first article of the story we saw.
-- Sizes, outlets and first reporters are derived in the `stories` view, never stored, so
-- they cannot drift from the articles.

CREATE TABLE clusters (
    cluster_id          VARCHAR PRIMARY KEY,
    founder_article_id  VARCHAR NOT NULL,
    created_at          TIMESTAMP NOT NULL
);

-- Why each article is in its cluster: which earlier article it matched and by which rule.
CREATE TABLE cluster_members (
    article_id          VARCHAR PRIMARY KEY,
    cluster_id          VARCHAR NOT NULL,
    matched_article_id  VARCHAR,                 -- NULL for the founder
    match_kind          VARCHAR NOT NULL,        -- founder | reprint | rewrite | crosslang
    score               DOUBLE,
    assigned_at         TIMESTAMP NOT NULL
);
