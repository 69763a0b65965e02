-- Feeds that need a look: failing (for how long, with the last error), disabled (why) or
-- never fetched. The digest warns about status = 'failing_24h'.
SELECT source_id, outlet, status, consecutive_failures, hours_failing,
       last_ok_at, fetches_24h, errors_24h,
       coalesce(disabled_reason, last_error) AS reason
FROM feed_health
WHERE status <> 'ok'
ORDER BY status = 'failing_24h' DESC, hours_failing DESC NULLS LAST, source_id;
