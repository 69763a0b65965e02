-- feed_health_at(as_of): every source's health as of the UTC timestamp `as_of` (a table macro so
-- tests and the digest can ask "as of" a time); feed_health is the same as of now.
-- status: disabled | never_fetched | ok | failing | failing_24h (failing for over 24 hours,
-- counted from failing_since, else from the last success). Fetch and error counts cover the
-- 24 hours before `as_of`, new articles the 24 hours and the 7 days before it (a range on
-- fetches.started_at, so the cost follows the window, not the history of fetches).
-- Retired sources (no longer in the configured sources file, migration 0060) are left out:
-- they are not polled, so they need no attention; `monitor sources --all` lists them.
CREATE OR REPLACE MACRO feed_health_at(as_of) AS TABLE
WITH recent AS (
    SELECT source_id,
           count(*) FILTER (WHERE day1) AS fetches_24h,
           count(*) FILTER (WHERE day1 AND outcome = 'error') AS errors_24h,
           coalesce(sum(entries_new) FILTER (WHERE day1), 0) AS new_24h,
           coalesce(sum(entries_new), 0) AS new_7d
    FROM (
        SELECT *, started_at > as_of::TIMESTAMP - INTERVAL 24 HOUR AS day1
        FROM fetches
        WHERE started_at > as_of::TIMESTAMP - INTERVAL 7 DAY AND started_at <= as_of::TIMESTAMP
    )
    GROUP BY source_id
)
SELECT s.source_id, s.outlet, s.country, s.kind, s.enabled, s.disabled_reason,
       f.last_attempt_at, f.last_ok_at,
       coalesce(f.consecutive_failures, 0) AS consecutive_failures,
       coalesce(f.failing_since, f.last_ok_at) AS failing_since,
       CASE WHEN coalesce(f.consecutive_failures, 0) > 0
                 AND coalesce(f.failing_since, f.last_ok_at) IS NOT NULL
            THEN round(date_diff('minute', coalesce(f.failing_since, f.last_ok_at),
                                 as_of::TIMESTAMP) / 60.0, 1) END AS hours_failing,
       f.last_status, f.last_outcome, f.last_error, f.next_poll_at,
       coalesce(r.fetches_24h, 0) AS fetches_24h,
       coalesce(r.errors_24h, 0) AS errors_24h,
       coalesce(r.new_24h, 0) AS new_24h,
       coalesce(r.new_7d, 0) AS new_7d,
       CASE WHEN NOT s.enabled THEN 'disabled'
            WHEN f.last_attempt_at IS NULL THEN 'never_fetched'
            WHEN coalesce(f.consecutive_failures, 0) = 0 THEN 'ok'
            WHEN coalesce(f.failing_since, f.last_ok_at) <= as_of::TIMESTAMP - INTERVAL 24 HOUR
                 THEN 'failing_24h'
            ELSE 'failing' END AS status
FROM sources s
LEFT JOIN feed_state f USING (source_id)
LEFT JOIN recent r USING (source_id)
WHERE s.status = 'active';

CREATE OR REPLACE VIEW feed_health AS
SELECT * FROM feed_health_at(timezone('UTC', now()));
