-- 0091: stories per day beside articles per day. trend_daily.stories is the number of
-- distinct stories (trend_articles.story_key: the article's cluster_id, else its own id) with
-- a relevant article on the day in the series: one event reprinted by 40 outlets is 40
-- articles and 1 story. A story whose articles fall on two days counts on both days.
-- Spikes are measured on stories (warehouse/views/12_trend_spikes.sql, monitor.trends).
ALTER TABLE trend_daily ADD COLUMN stories INTEGER DEFAULT 0;
-- Existing rows have no story counts yet: forget the refresh watermark, so the next
-- refresh_trends (after the next ingest or digest) rebuilds the trend tables in full.
DELETE FROM trend_state WHERE name = 'trends';
