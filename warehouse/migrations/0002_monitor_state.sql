-- 0002: small key/value state of the monitor itself (e.g. the hash of the sources file last
-- synced, so a run whose sources did not change needs no write session to plan).
CREATE TABLE monitor_state (
    key         VARCHAR PRIMARY KEY,
    value       VARCHAR,
    updated_at  TIMESTAMP NOT NULL
);
