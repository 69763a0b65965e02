-- 0021: the comparable features of each clustered article (monitor/clusters.py), kept so
-- that assign_clusters re-reads the window's sketches instead of recomputing them on every
-- run; cost then follows the new articles. A row is reused only while its version and the
-- hash of the title + lead it was made from still match.

CREATE TABLE article_sketches (
    article_id  VARCHAR PRIMARY KEY,
    version     INTEGER NOT NULL,      -- clusters.FEATURE_VERSION
    text_hash   VARCHAR NOT NULL,      -- of title + lead
    minhash     UBIGINT[] NOT NULL,    -- 64 MinHash values
    terms       JSON NOT NULL,         -- {stemmed term: count}
    anchors     VARCHAR[] NOT NULL,    -- gazetteer names and normalised numbers
    countries   VARCHAR[] NOT NULL
);
