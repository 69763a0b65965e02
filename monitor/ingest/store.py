"""Store: the warehouse's only writer.

Loads staged batches, one transaction each, with upserts on natural keys (storing the same
file twice adds nothing); records each fetch attempt and the source's health; then story
clusters and trend tables for what was new. A batch that could not be stored (warehouse busy,
crash) stays in ``staging/`` and the next store picks it up: no fetched article is lost.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from monitor import warehouse
from monitor.ingest.stage import (
    ALL_COLUMNS,
    ARTICLE_COLUMNS,
    CLASS_COLUMNS,
    FETCH_COLUMNS,
    SKETCH_COLUMNS,
    pending_batches,
    read_json_sql,
)
from monitor.settings import Settings

__all__ = ["cluster_recent", "derive", "new_totals", "refresh_trend_tables", "store_files",
           "store_path", "store_staged"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _store_one(con: Any, path: Path, settings: Settings) -> dict[str, int]:
    """Load one staged batch in one transaction. Upserts on natural keys: idempotent."""
    counts = {"fetches": 0, "articles_new": 0, "links": 0}
    warehouse.single_threaded(con)  # (why: its docstring)
    _store_batch(con, path, settings, counts)
    return counts


def _store_batch(con: Any, path: Path, settings: Settings, counts: dict[str, int]) -> None:
    with warehouse.transaction(con):
        # One read of the file; the record types are split from it.
        con.execute("CREATE OR REPLACE TEMP TABLE stage_all AS " + read_json_sql(ALL_COLUMNS),
                    [str(path)])
        # What the batch holds decides which statements run: an unchanged poll (fetch rows
        # of 304s) skips the article, failure, move and removal statements (each costs
        # 1–8 ms of CPU however few rows it touches).
        kinds: dict[str, int] = {}
        for kind, count, failed, moved, gone in con.execute(
                "SELECT type, count(*), count(*) FILTER (WHERE outcome NOT IN"
                " ('ok', 'not_modified')), count(moved_to), count(*) FILTER (WHERE gone)"
                " FROM stage_all GROUP BY type").fetchall():
            kinds[kind] = count
            if kind == "fetch":
                kinds.update(failed=failed, moved=moved, gone=gone)
        _load_batch(con, settings, counts, kinds)


def _load_batch(con: Any, settings: Settings, counts: dict[str, int],
                kinds: dict[str, int]) -> None:
    """The batch's statements, inside the caller's transaction (``stage_all`` loaded)."""
    # Each kind's records as a view of the batch, with its row ids (``row_id``): a copy of
    # the articles cost 3 ms of a 3,000-article batch. (The kinds are this module's.)
    for table, columns, kind in (("stage_article", ARTICLE_COLUMNS, "article"),
                                 ("stage_class", CLASS_COLUMNS, "classification"),
                                 ("stage_sketch", SKETCH_COLUMNS, "sketch")):
        if kinds.get(kind):
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT rowid AS row_id, "
                        f"{', '.join(columns)} FROM stage_all WHERE type = '{kind}'")
    has_articles = bool(kinds.get("article"))
    # Fetch attempts not stored before (a re-run of the same file skips them): NOT IN the
    # batch's own ids that are stored (a plain NOT IN over the table builds a hash table
    # of every fetch ever made: 0.2 s at 3M rows, every session).
    if kinds.get("fetch"):  # (a backfill stages articles without fetch rows)
        stored = _stored(con, "fetches", "fetch_id",
                         "SELECT fetch_id FROM stage_all WHERE type = 'fetch'")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE new_fetch AS SELECT {', '.join(FETCH_COLUMNS)}"
            " FROM stage_all WHERE type = 'fetch'"
            " AND fetch_id NOT IN (SELECT unnest(?::VARCHAR[]))", [stored]
        )
    # A poll of unchanged feeds stages fetch rows only: nothing else to do.
    if has_articles:
        # Same article under two keys in this batch (two feeds, opaque GUIDs): one id.
        con.execute(
            "UPDATE stage_all SET article_id = f.first_id FROM ("
            "  SELECT canonical_url, arg_min(article_id, first_seen_at) AS first_id"
            "  FROM stage_article WHERE canonical_url IS NOT NULL GROUP BY canonical_url) f"
            " WHERE stage_all.type = 'article' AND stage_all.canonical_url = f.canonical_url"
        )
        # Same article under another key (same canonical URL): link to the existing article.
        con.execute(
            "UPDATE stage_all SET article_id = a.article_id FROM articles a"
            " WHERE stage_all.type = 'article' AND stage_all.canonical_url IS NOT NULL"
            " AND a.canonical_url = stage_all.canonical_url"
            " AND a.entry_key <> stage_all.entry_key"
        )
        stored = _stored(con, "articles", "article_id",
                         "SELECT DISTINCT article_id FROM stage_article")
        counts["articles_new"] = con.execute(
            "INSERT INTO articles (article_id, entry_key, guid, url, canonical_url, title,"
            " summary, body, text_source, author, outlet, source_id, language, published_at,"
            " date_flag, first_seen_at, content_hash, ingested_via, extract_status, extract_error,"
            " page_kind, page_kind_reason, candidate)"
            " SELECT article_id, entry_key, guid, url, canonical_url, title, summary, body,"
            " coalesce(text_source, 'summary'), author, outlet, source_id, language, published_at,"
            " date_flag, first_seen_at, content_hash, coalesce(ingested_via, 'live'),"
            " extract_status, extract_error, page_kind, page_kind_reason, candidate"
            " FROM stage_article s"
            # article_id is derived from entry_key (or remapped to an existing article
            # above), so matching on it alone also catches a known entry_key. (NOT IN the
            # batch's ids that are stored, as for fetches above.)
            " WHERE s.article_id NOT IN (SELECT unnest(?::VARCHAR[]))"
            # One article under two keys (or twice) in the batch: the earliest copy, which
            # is the one that was classified (the others were dropped as seen before it, and
            # have no candidate flag): first among equal times too. Chosen by row id, on
            # the few columns that decide: a window over the whole rows (their texts) cost
            # 12 ms of a 3,000-article batch's 20.
            " AND s.row_id IN (SELECT arg_min(row_id, (first_seen_at, candidate IS NULL))"
            "  FROM stage_article GROUP BY article_id)",
            [stored],
        ).fetchone()[0]  # an INSERT answers with the number of rows it inserted
        # Which source carried which article (an article seen in two feeds is stored once).
        # Every staged id is an article now: one stored before (the NOT IN above, or
        # remapped to it) or one the insert above stored (one row per id), so no check
        # against the whole table.
        con.execute(
            "INSERT INTO article_sources (article_id, source_id, first_seen_at)"
            " SELECT s.article_id, s.source_id, min(s.first_seen_at) FROM stage_article s"
            " GROUP BY ALL ON CONFLICT DO NOTHING"
        )
        # Classifications and sketches of articles not stored (an id merged into another
        # article above has no row of its own): dropped; a dropped sketch is recomputed if
        # needed. (Usually none: the list is what the batch has and the table has not.)
        derived = " UNION ".join(f"SELECT article_id FROM {table}" for table, kind in (
            ("stage_class", "classification"), ("stage_sketch", "sketch")) if kinds.get(kind))
        absent: list[str] = []
        if derived:
            keys = _column(con, derived)
            absent = sorted(set(keys) - set(_stored(con, "articles", "article_id", derived,
                                                    keys)))
        if kinds.get("classification"):
            con.execute(
                "INSERT INTO classifications (article_id, model_version, relevant, dyads,"
                " topics, scores, evidence, classified_at)"
                " SELECT article_id, model_version, relevant, coalesce(dyads, []),"
                " coalesce(topics, []), scores::JSON, evidence::JSON, now()::TIMESTAMP"
                " FROM stage_class WHERE article_id NOT IN (SELECT unnest(?::VARCHAR[]))"
                " ON CONFLICT DO NOTHING", [absent]
            )
        if kinds.get("sketch"):
            # Cluster sketches made by the fetch step.
            con.execute(
                "INSERT INTO article_sketches (article_id, version, text_hash, minhash,"
                " terms, anchors, countries, anticipates, reacts)"
                " SELECT article_id, version, text_hash, minhash, terms::JSON, anchors,"
                " countries, anticipates, reacts FROM stage_sketch"
                " WHERE article_id NOT IN (SELECT unnest(?::VARCHAR[]))"
                # One per article, by row id: a window would carry the whole rows along
                # (their MinHash arrays and terms), as for articles above.
                " AND row_id IN (SELECT min(row_id) FROM stage_sketch GROUP BY article_id)"
                " ON CONFLICT DO NOTHING", [absent]
            )
    if kinds.get("fetch"):
        counts["fetches"] = _store_fetches(con, settings, kinds)


#: A scan of a key column costs about 33 ns a row, a key looked up in its index about
#: 15 µs (DuckDB 2.0.1; bench/README.md): a batch's keys are looked up when the table
#: holds at least this many rows per key (the two cost the same at about 450).
_ROWS_PER_KEY_FOR_INDEX = 1000
#: Keys looked up per statement.
_LOOKUP_CHUNK = 1000


def _column(con: Any, sql: str, params: list[Any] | None = None) -> list[Any]:
    return [row[0] for row in con.execute(sql, params or []).fetchall()]


def _stored(con: Any, table: str, key: str, batch_sql: str,
            keys: list[Any] | None = None) -> list[Any]:
    """The batch's keys (``batch_sql`` selects them, as ``key``; ``keys``: what it selects,
    when the caller has read it) that ``table`` holds in ``key``, its primary key: a short
    list the batch's statements take as a parameter.

    A small table is joined with the batch. In a large one the keys are looked up in the
    key's index, as an IN list of parameters: for a subquery, a join or a list parameter
    DuckDB 2.0.1 reads the whole column, however few keys a batch has (33-50 ms a
    statement at 1M articles, four statements a batch). ``table``, ``key`` and
    ``batch_sql`` come from this module, never from input.
    """
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if rows >= _ROWS_PER_KEY_FOR_INDEX:
        keys = keys if keys is not None else _column(con, batch_sql)
        if rows >= _ROWS_PER_KEY_FOR_INDEX * len(keys):
            found: list[Any] = []
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[start:start + _LOOKUP_CHUNK]
                found += _column(con, f"SELECT {key} FROM {table} WHERE {key} IN"
                                      f" ({', '.join(['?'] * len(chunk))})", chunk)
            return found
    return _column(con, f"SELECT t.{key} FROM {table} t JOIN ({batch_sql}) b USING ({key})")


def _store_fetches(con: Any, settings: Settings, kinds: dict[str, int]) -> int:
    """Fetch rows, their count of new articles, and each source's health and next poll.
    ``kinds``: the batch's counts of record kinds and of failed, moved and gone fetches
    (statements with nothing to do are not run). Returns the number of fetch rows stored."""
    # An article is new for the fetch whose staged row is the one stored (same key, same
    # first-seen time); a batch without articles has none.
    entries_new = (
        "(SELECT count(*) FROM stage_article s JOIN articles a USING (article_id)"
        "  WHERE s.fetch_id = f.fetch_id AND a.entry_key = s.entry_key"
        "  AND a.first_seen_at = s.first_seen_at)" if kinds.get("article") else "0")
    stored = con.execute(
        "INSERT INTO fetches (fetch_id, source_id, run_id, url, started_at, outcome, http_status,"
        " bytes, entries_seen, entries_new, parser, bozo, error, duration_ms)"
        " SELECT f.fetch_id, f.source_id, f.run_id, f.url, f.started_at, f.outcome,"
        f" f.http_status, f.bytes, f.entries_seen, {entries_new},"
        " f.parser, f.bozo, f.error, f.duration_ms FROM new_fetch f"
    ).fetchone()[0]
    now = _now()
    # (The counts are the staged batch's; the rows not stored before are a subset of it.)
    if kinds.get("fetch", 0) > kinds.get("failed", 0):
        # Healthy sources: new validators, failures reset.
        _upsert_healthy(con)
    if kinds.get("failed"):
        _back_off_failing(con, settings, now)
    # A permanent redirect moves the source; 410 Gone switches it off with a reason.
    if kinds.get("moved"):
        con.execute(
            "UPDATE sources SET url = f.moved_to, updated_at = ? FROM new_fetch f"
            " WHERE f.source_id = sources.source_id AND f.moved_to IS NOT NULL", [now])
    if kinds.get("gone"):
        con.execute(
            "UPDATE sources SET enabled = false, updated_at = ?, disabled_reason ="
            " '410 Gone at ' || strftime(f.started_at, '%Y-%m-%d %H:%M') || ' UTC: feed"
            " removed; change its URL in the sources file to re-enable'"
            " FROM new_fetch f WHERE f.source_id = sources.source_id AND f.gone", [now])
    return stored


def _upsert_healthy(con: Any) -> None:
    """Sources that answered: new validators, failures reset."""
    con.execute(
        "INSERT INTO feed_state (source_id, etag, last_modified, content_hash, last_attempt_at,"
        " last_ok_at, last_status, last_outcome, last_error, consecutive_failures,"
        " failing_since, next_poll_at)"
        " SELECT source_id, etag, last_modified, content_hash, started_at, started_at,"
        " http_status, outcome, NULL, 0, NULL, NULL FROM new_fetch"
        " WHERE outcome IN ('ok', 'not_modified')"
        " QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY started_at DESC) = 1"
        " ON CONFLICT (source_id) DO UPDATE SET etag = excluded.etag,"
        " last_modified = excluded.last_modified,"
        " content_hash = coalesce(excluded.content_hash, feed_state.content_hash),"
        " last_attempt_at = excluded.last_attempt_at, last_ok_at = excluded.last_ok_at,"
        " last_status = excluded.last_status, last_outcome = excluded.last_outcome,"
        " last_error = NULL, consecutive_failures = 0, failing_since = NULL,"
        " next_poll_at = NULL"
    )


def _back_off_failing(con: Any, settings: Settings, now: datetime) -> None:
    """Failing sources back off: base × 2^(failures − 1) minutes, capped; a longer
    Retry-After from the server wins."""
    con.execute(
        "INSERT INTO feed_state (source_id, last_attempt_at, last_status, last_outcome,"
        " last_error, consecutive_failures, failing_since, next_poll_at)"
        " SELECT f.source_id, f.started_at, f.http_status, f.outcome, f.error,"
        " coalesce(s.consecutive_failures, 0) + 1, coalesce(s.failing_since, f.started_at),"
        " ?::TIMESTAMP + to_seconds(greatest(least("
        "   ? * 60 * pow(2, coalesce(s.consecutive_failures, 0)), ? * 3600),"
        "   coalesce(f.retry_after, 0)))"
        " FROM new_fetch f LEFT JOIN feed_state s USING (source_id)"
        " WHERE f.outcome NOT IN ('ok', 'not_modified')"
        " QUALIFY row_number() OVER (PARTITION BY f.source_id ORDER BY f.started_at DESC) = 1"
        " ON CONFLICT (source_id) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,"
        " last_status = excluded.last_status, last_outcome = excluded.last_outcome,"
        " last_error = excluded.last_error,"
        " consecutive_failures = excluded.consecutive_failures,"
        " failing_since = excluded.failing_since, next_poll_at = excluded.next_poll_at",
        [now, settings.failure_backoff_minutes, settings.failure_backoff_max_hours],
    )


def cluster_recent(con: Any) -> None:
    """Story clusters for articles that have none yet, in their own transaction after the
    batch committed: a clustering problem never costs a stored article, and articles it
    missed are picked up by the next batch. Only possibly relevant articles become stories
    (``articles.candidate``, decided by the fetch step; NULL counts as yes)."""
    from monitor.stories.clusters import assign_clusters

    ids = [r[0] for r in con.execute(
        "SELECT article_id FROM articles WHERE cluster_id IS NULL"
        " AND coalesce(page_kind, 'article') = 'article'"  # index pages etc. are no stories
        " AND candidate IS NOT FALSE"  # nor what cannot concern Russia with Japan or China
        " AND first_seen_at > now()::TIMESTAMP - INTERVAL 3 DAY ORDER BY first_seen_at"
    ).fetchall()]
    if not ids:
        return
    con.execute("BEGIN")
    try:
        assign_clusters(con, ids)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        log.exception("story clustering failed for %d articles; retried next batch", len(ids))


def store_staged(settings: Settings, paths: list[str] | None, run_id: str, *,
                 record_via: str | None = None, planned: list[str] | None = None,
                 started_at: datetime | None = None) -> dict[str, Any]:
    """Store staged batches (``None``: every pending one). The warehouse's only writer.

    Each batch is one transaction; a stored batch's file is renamed ``.done`` (kept for
    ``staging_retention_days`` for audit, then removed by maintenance). Batches an earlier,
    failed run left behind are stored too. ``record_via`` (``airflow``): also record the run
    and its health in ``ingest_runs`` from this run's ``fetches`` rows (``planned``: the
    source ids it meant to poll; one without a row counts as failed), in the same session;
    the totals then carry ``health`` (see :mod:`monitor.ingest.health`).
    """
    with warehouse.writer(settings) as con:
        totals = store_files(con, settings, paths, run_id)
        if record_via is not None:
            from monitor.ingest.health import blind_message, record_from_fetches

            record = record_from_fetches(con, settings, run_id, record_via, planned or [],
                                         started_at=started_at)
            totals["health"] = {
                "health": record.health, "planned": record.sources_planned,
                "ok": record.sources_ok, "not_modified": record.sources_not_modified,
                "failed": record.sources_failed,
                "failing": [f"{s}: {e}"[:200] for s, e in record.failures[:20]],
                "message": blind_message(record) if record.health == "blind"
                else record.describe()}
        return totals


def store_files(con: Any, settings: Settings, paths: list[str] | None,
                 run_id: str) -> dict[str, Any]:
    files = [Path(p) for p in paths] if paths is not None else []
    for leftover in pending_batches(settings):
        if leftover not in files:
            files.append(leftover)
    totals = new_totals(run_id)
    for path in files:
        store_path(con, settings, path, totals)
    derive(con, totals)
    return totals


def new_totals(run_id: str) -> dict[str, Any]:
    return {"batches": 0, "fetches": 0, "articles_new": 0, "run_id": run_id}


def store_path(con: Any, settings: Settings, path: Path, totals: dict[str, Any]) -> None:
    """Store one staged batch and rename it ``.done``; add its counts to ``totals``."""
    if not path.exists():
        if not path.with_suffix(".done").exists():
            log.warning("staged batch missing path=%s", path)
        return  # else: stored by an earlier attempt of this task
    try:
        counts = _store_one(con, path, settings)
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # A batch that cannot be read (damaged on disk) must not block every later
        # batch: set it aside, loudly, for a person to look at.
        bad = path.with_suffix(".bad")
        os.replace(path, bad)
        log.error("staged batch unreadable, set aside path=%s error=%s", bad, exc)
        totals.setdefault("unreadable", []).append(str(bad))
        return
    os.replace(path, path.with_suffix(".done"))
    totals["batches"] += 1
    totals["fetches"] += counts["fetches"]
    totals["articles_new"] += counts["articles_new"]


def derive(con: Any, totals: dict[str, Any]) -> None:
    """Story clusters and trend tables for what the stored batches added."""
    if totals["articles_new"]:
        # Nothing new, nothing to derive: an unchanged poll costs its fetch rows only. (A
        # refresh that failed earlier is retried by the next store with new articles, or by
        # the digest, which refreshes before it reads.)
        cluster_recent(con)
        refresh_trend_tables(con)


def refresh_trend_tables(con: Any) -> None:
    """Bring the trend tables up to date (own transaction, after the batches committed).

    A failure here costs no stored article: the next store, ``monitor trends`` or the
    digest refresh again from the watermark.
    """
    from monitor.trends import refresh_trends

    try:
        refresh_trends(con)
    except Exception:
        log.exception("trend refresh failed; retried at the next store")


# --------------------------------------------------------------------------- one process


