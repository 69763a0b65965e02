-- 0093: whether an article may concern Russia with Japan or China (the classifier's
-- recall-oriented gate, monitor.classify.rules.possibly_relevant, or relevant), decided by
-- the fetch step. Only such articles are sketched and clustered into stories: a general news
-- feed's sport and weather (98% of the benchmark's articles) are stored and classified, never
-- clustered. NULL: stored before this migration, or stored without classification; read as
-- true (clustered as before). `monitor reclassify` sets it for articles that become relevant.
ALTER TABLE articles ADD COLUMN candidate BOOLEAN;
