-- 0090: what each feed item is (monitor/enrich/pagekind.py). Feeds carry section and index
-- pages, live blogs' shells, video-only and gallery items, "most read" boxes and lists of
-- headlines with timestamps; they are tagged here with the rule that said so, classified not
-- relevant without running the classifier, and never clustered into stories.
--   article | index | liveblog | video | gallery | most_read | headline_list
-- NULL: stored before 0090 (read as 'article').
ALTER TABLE articles ADD COLUMN page_kind VARCHAR;
ALTER TABLE articles ADD COLUMN page_kind_reason VARCHAR;
