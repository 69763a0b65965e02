-- 0092: the modality of the sketched title and lead (monitor.stories.modality: 1.0 when the
-- article looks ahead / reacts to an earlier event), kept with the sketch. Clustering read
-- every window article's title and lead through the modality regexes again on every run
-- (a sixth of its time); now it reads the two numbers. NULL in sketches made before this
-- migration: those are computed from the title and lead as before.
ALTER TABLE article_sketches ADD COLUMN anticipates DOUBLE;
ALTER TABLE article_sketches ADD COLUMN reacts DOUBLE;
