"""Trend queries over the warehouse: plain functions returning plain data.

Used by ``monitor trends``, the daily digest and the Airflow "Trends" page. Each function takes
an open DuckDB connection (``warehouse.reader(settings)`` for reading, the writer's connection
for :func:`refresh_trends`) and returns lists of dicts, dates and numbers — no DataFrames, no
formatting.

Why a refresh step: counting relevant articles per topic per day straight from ``articles``
and ``classifications`` means resolving every article's current classification (a window
over the whole table) on each query, which costs seconds at 10M articles. Migration 0030 adds
small derived tables (``trend_articles``, ``trend_daily``, ``trend_outlet_daily``) that
:func:`refresh_trends` keeps up to date incrementally, so a query for the last 30 days reads
30 days of aggregates whatever the size of history. The views in ``warehouse/views/1*.sql``
read the same tables. Call :func:`refresh_trends` in the writer after storing a batch; the
digest and ``monitor trends`` call it themselves when the tables are stale.

Days are UTC calendar days of the publication time (first-seen time when the feed had no
usable date). The digest, which speaks of "yesterday" in the configured timezone, counts local
days from ``trend_articles.ts`` instead (see :func:`local_day_counts`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

__all__ = [
    "TOPICS",
    "DYADS",
    "ANY",
    "SPIKE_MIN_COUNT",
    "SPIKE_RATIO",
    "BASELINE_DAYS",
    "refresh_trends",
    "is_stale",
    "latest_day",
    "topic_series",
    "dyad_series",
    "bucket_days",
    "bucket_counts",
    "bucket_name",
    "spikes",
    "is_spike",
    "spike_ratio",
    "coverage_share",
    "feed_health",
    "latest_articles",
    "local_day_counts",
    "topicless",
    "label",
]

log = logging.getLogger(__name__)

#: The fixed topic ids (issue 3) and how people read them.
TOPICS: dict[str, str] = {
    "kurils": "Kuril Islands",
    "eaeu_bri": "EAEU and Belt & Road",
    "sanctions": "Sanctions",
    "energy": "Energy",
    "military": "Military",
    "maritime": "Maritime disputes",
    "korea": "Korean peninsula",
    "investment": "Trade and investment",
}
#: The relations an article can be about.
DYADS: dict[str, str] = {"russia_japan": "Russia–Japan", "russia_china": "Russia–China"}
#: In ``trend_daily`` this stands for "any dyad" / "any topic".
ANY = "*"

#: A spike: at least this many stories on the day (one story is never a spike, however many
#: outlets reprint it) ...
SPIKE_MIN_COUNT = 5
#: ... and at least this many times the smoothed trailing average, (n + 1) / (avg + 1) ...
SPIKE_RATIO = 3.0
#: ... over this many days before the day. Same rule as warehouse/views/12_trend_spikes.sql.
BASELINE_DAYS = 28

#: Classifications at most this much older than the newest one already processed are looked
#: at again by an incremental refresh: batches classified in one task and stored later (a
#: busy writer, parallel Airflow tasks) arrive out of order.
REFRESH_LOOKBACK = timedelta(days=3)
LEAD_CHARS = 400


def label(key: str) -> str:
    """A topic's or dyad's display name; unknown ids are shown as they are."""
    if key == ANY:
        return "All relevant"
    return TOPICS.get(key) or DYADS.get(key) or key


# --- keeping the derived tables up to date ------------------------------------------------

# Candidates: article ids whose trend row may be missing or stale. A constant fragment per mode
# is interpolated below; values are always bound parameters.
_CHANGED_INCREMENTAL = """
    CREATE TEMP TABLE _trend_changed AS
    SELECT article_id FROM classifications WHERE classified_at > ?
    UNION
    SELECT article_id FROM articles WHERE first_seen_at > ?
"""
_CHANGED_FULL = "CREATE TEMP TABLE _trend_changed AS SELECT DISTINCT article_id FROM classifications"

_INSERT_TREND_ARTICLES = f"""
    INSERT INTO trend_articles
    WITH cur AS (
        SELECT c.article_id, c.model_version, c.relevant, c.dyads, c.topics, c.classified_at
        FROM classifications c
        WHERE c.article_id IN (SELECT article_id FROM _trend_changed)
        QUALIFY row_number() OVER (PARTITION BY c.article_id
                                   ORDER BY c.classified_at DESC, c.model_version DESC) = 1
    )
    SELECT a.article_id,
           coalesce(a.published_at, a.first_seen_at)::DATE AS day,
           coalesce(a.published_at, a.first_seen_at) AS ts,
           a.source_id,
           coalesce(a.outlet, s.outlet, a.source_id, '?'),
           s.country,
           cur.relevant, cur.dyads, cur.topics, cur.model_version, cur.classified_at,
           coalesce(a.cluster_id, a.article_id),
           a.title, a.url, left(a.summary, {LEAD_CHARS})
    FROM cur
    JOIN articles a USING (article_id)
    LEFT JOIN sources s ON s.source_id = a.source_id
    ORDER BY day, ts
"""

_INSERT_DAILY = """
    INSERT INTO trend_daily (day, dyad, topic, articles, stories)
    SELECT day, dyad, topic, count(*)::INTEGER, count(DISTINCT story_key)::INTEGER
    FROM (
        SELECT day, dyad, story_key, unnest(list_append(list_distinct(topics), '*')) AS topic
        FROM (
            SELECT day, topics, story_key, unnest(list_append(list_distinct(dyads), '*')) AS dyad
            FROM trend_articles
            WHERE relevant AND day IN (SELECT day FROM _trend_days)
        )
    )
    GROUP BY ALL
"""

_INSERT_OUTLET_DAILY = """
    INSERT INTO trend_outlet_daily
    SELECT day, outlet, coalesce(country, ''), count(*)::INTEGER,
           count(*) FILTER (WHERE relevant)::INTEGER
    FROM trend_articles
    WHERE day IN (SELECT day FROM _trend_days)
    GROUP BY ALL
"""


def refresh_trends(
    con: duckdb.DuckDBPyConnection, *, full: bool = False,
    lookback: timedelta = REFRESH_LOOKBACK, in_transaction: bool = False,
) -> dict[str, Any]:
    """Bring ``trend_articles`` and the daily aggregates up to date, in one transaction.

    Call it from the writer after storing a batch: after its COMMIT, or inside its open
    transaction with ``in_transaction=True`` (then the caller commits or rolls back).
    Incremental by default: articles classified (or first seen) since the last refresh minus
    ``lookback`` are re-derived, and only the days they left or joined are re-aggregated, so
    the cost follows the amount of new data. ``full=True`` rebuilds everything (after a
    re-clustering, or if a batch was stored more than ``lookback`` after it was classified).
    Returns what it did: mode, articles re-derived, days re-aggregated, seconds.
    """
    started = time.perf_counter()
    state = con.execute(
        "SELECT watermark FROM trend_state WHERE name = 'trends'"
    ).fetchone()
    watermark = state[0] if state else None
    full = full or watermark is None
    # Own transaction, unless the caller holds one open (the ingest store step may call this
    # inside its batch transaction, so trends and articles commit or roll back together).
    # DuckDB cannot say whether a transaction is open, and a failed BEGIN aborts the caller's.
    own = not in_transaction
    if own:
        con.execute("BEGIN")
    try:
        if full:
            con.execute(_CHANGED_FULL)
            con.execute("DELETE FROM trend_articles")
            con.execute("DELETE FROM trend_daily")
            con.execute("DELETE FROM trend_outlet_daily")
            con.execute("CREATE TEMP TABLE _trend_days (day DATE)")
        else:
            since = watermark - lookback
            con.execute(_CHANGED_INCREMENTAL, [since, since])
            con.execute(
                "CREATE TEMP TABLE _trend_days AS SELECT DISTINCT day FROM trend_articles"
                " WHERE article_id IN (SELECT article_id FROM _trend_changed)"
            )
            con.execute(
                "DELETE FROM trend_articles"
                " WHERE article_id IN (SELECT article_id FROM _trend_changed)"
            )
        changed = con.execute("SELECT count(*) FROM _trend_changed").fetchone()[0]
        con.execute(_INSERT_TREND_ARTICLES)
        con.execute(
            "INSERT INTO _trend_days SELECT DISTINCT day FROM trend_articles"
            " WHERE article_id IN (SELECT article_id FROM _trend_changed)"
            if not full else
            "INSERT INTO _trend_days SELECT DISTINCT day FROM trend_articles"
        )
        con.execute("DELETE FROM trend_daily WHERE day IN (SELECT day FROM _trend_days)")
        con.execute("DELETE FROM trend_outlet_daily WHERE day IN (SELECT day FROM _trend_days)")
        con.execute(_INSERT_DAILY)
        con.execute(_INSERT_OUTLET_DAILY)
        days = con.execute("SELECT count(DISTINCT day) FROM _trend_days").fetchone()[0]
        newest = con.execute("SELECT max(classified_at) FROM classifications").fetchone()[0]
        total = con.execute("SELECT count(*) FROM trend_articles").fetchone()[0]
        con.execute(
            "INSERT OR REPLACE INTO trend_state VALUES ('trends', ?, ?, ?, ?)",
            [newest or watermark, _utcnow(), total, full],
        )
        con.execute("DROP TABLE _trend_changed")
        con.execute("DROP TABLE _trend_days")
        if own:
            con.execute("COMMIT")
    except Exception:
        if own:
            con.execute("ROLLBACK")
        raise
    result = {
        "mode": "full" if full else "incremental",
        "articles_rederived": int(changed),
        "days_reaggregated": int(days),
        "trend_articles": int(total),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("trends refreshed mode=%s articles=%s days=%s seconds=%s", result["mode"],
             changed, days, result["seconds"])
    return result


def is_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """True when classifications exist that the trend tables have not seen yet."""
    row = con.execute(
        "SELECT (SELECT watermark FROM trend_state WHERE name = 'trends'),"
        " (SELECT max(classified_at) FROM classifications),"
        " (SELECT max(first_seen_at) FROM articles),"
        " (SELECT refreshed_at FROM trend_state WHERE name = 'trends')"
    ).fetchone()
    watermark, newest, newest_article, refreshed_at = row
    if newest is None:
        return False
    if watermark is None or newest > watermark:
        return True
    # A re-clustered or newly stored article without a new classification.
    return newest_article is not None and refreshed_at is not None and newest_article > refreshed_at


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def latest_day(con: duckdb.DuckDBPyConnection) -> date:
    """Today in UTC: the default end of a window (today's partial count included)."""
    return _utcnow().date()


# --- series ---------------------------------------------------------------------------------

_DENSE_WINDOW = """
    WITH cal AS (
        SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY))::DATE AS day
    ),
    series AS (
        SELECT DISTINCT dyad, topic FROM trend_daily
        WHERE day BETWEEN ? AND ? AND dyad = ANY(?) AND topic = ANY(?)
    )
    SELECT s.dyad, s.topic, list(coalesce(t.articles, 0) ORDER BY cal.day) AS counts,
           list(coalesce(t.stories, 0) ORDER BY cal.day) AS stories
    FROM cal
    CROSS JOIN series s
    LEFT JOIN trend_daily t ON t.day = cal.day AND t.dyad = s.dyad AND t.topic = s.topic
    GROUP BY s.dyad, s.topic
"""


def _dense(con: duckdb.DuckDBPyConnection, start: date, end: date, dyads: Sequence[str],
           topics: Sequence[str], *, stories: bool = False
           ) -> dict[tuple[str, str], list[int]]:
    """Daily counts of relevant articles (``stories``: of stories) of the given series from
    start to end inclusive, zeros filled in."""
    rows = con.execute(
        _DENSE_WINDOW, [start, end, start, end, list(dyads), list(topics)]
    ).fetchall()
    return {(dyad, topic): list(by_story if stories else counts)
            for dyad, topic, counts, by_story in rows}


def _series_rows(counts: dict[tuple[str, str], list[int]], days: int, key_of: Any,
                 end: date, story_counts: dict[tuple[str, str], list[int]] | None = None,
                 ) -> list[dict[str, Any]]:
    out = []
    for ident, values in counts.items():
        current, previous = values[-days:], values[:-days]
        stories = (story_counts or {}).get(ident, [0] * len(values))
        total, prev_total = sum(current), sum(previous)
        change = None if prev_total == 0 else (total - prev_total) / prev_total
        key = key_of(ident)
        out.append({
            "key": key,
            "label": label(key),
            "dyad": ident[0],
            "topic": ident[1],
            "start": end - timedelta(days=days - 1),
            "end": end,
            "counts": current,
            # Stories per day beside articles per day (one event reprinted 40 times is 1).
            "stories": stories[-days:],
            "story_total": sum(stories[-days:]),  # a story on two days counts on both
            "total": total,
            "previous_total": prev_total,
            "change": change,
        })
    out.sort(key=lambda r: (-r["total"], r["key"]))
    return out


def topic_series(con: duckdb.DuckDBPyConnection, days: int = 30, *, dyad: str | None = None,
                 topic: str | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Per topic: daily counts of relevant articles over ``days`` days ending ``end``.

    Each row: key/label, counts (oldest first), total, previous_total (the ``days`` before)
    and change (relative, None when the previous period had none). ``dyad`` narrows to one
    relation; ``topic`` to one topic. Topics without any article in either period are left out.
    """
    end = end or latest_day(con)
    start = end - timedelta(days=2 * days - 1)
    topics = [topic] if topic else list(_known_topics(con, start, end))
    counts = _dense(con, start, end, [dyad or ANY], topics)
    stories = _dense(con, start, end, [dyad or ANY], topics, stories=True)
    return _series_rows(counts, days, lambda ident: ident[1], end, stories)


def dyad_series(con: duckdb.DuckDBPyConnection, days: int = 30, *, topic: str | None = None,
                end: date | None = None) -> list[dict[str, Any]]:
    """Per relation (and '*' for all relevant): like :func:`topic_series`."""
    end = end or latest_day(con)
    start = end - timedelta(days=2 * days - 1)
    counts = _dense(con, start, end, [*DYADS, ANY], [topic or ANY])
    stories = _dense(con, start, end, [*DYADS, ANY], [topic or ANY], stories=True)
    return _series_rows(counts, days, lambda ident: ident[0], end, stories)


def _known_topics(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Iterable[str]:
    rows = con.execute(
        "SELECT DISTINCT topic FROM trend_daily WHERE day BETWEEN ? AND ? AND topic <> '*'",
        [start, end],
    ).fetchall()
    return sorted({r[0] for r in rows} | set(TOPICS))


# --- spikes ---------------------------------------------------------------------------------

def spike_ratio(count: int, baseline_avg: float) -> float:
    """The smoothed ratio of a day's count to its trailing average: (n + 1) / (avg + 1)."""
    return (count + 1) / (baseline_avg + 1)


def is_spike(count: int, baseline_avg: float) -> bool:
    """The spike rule (warehouse/views/12_trend_spikes.sql says the same in SQL)."""
    return count >= SPIKE_MIN_COUNT and spike_ratio(count, baseline_avg) >= SPIKE_RATIO


def spikes(con: duckdb.DuckDBPyConnection, day: date, *,
           dyads: Sequence[str] = (ANY, *DYADS)) -> list[dict[str, Any]]:
    """The series (topic within a dyad, '*' = any) that spiked on ``day`` (a UTC day).

    Measured on stories, not articles: one event reprinted 40 times is one story and no
    spike. Reads only the 29 days it needs. Rows: dyad, topic, stories, articles,
    baseline_avg (stories per day), ratio; the biggest ratio first.
    """
    start = day - timedelta(days=BASELINE_DAYS)
    topics = [ANY, *_known_topics(con, start, day)]
    stories = _dense(con, start, day, list(dyads), topics, stories=True)
    articles = _dense(con, start, day, list(dyads), topics)
    out = []
    for (dyad, topic), values in stories.items():
        n, baseline = values[-1], values[:-1]
        avg = sum(baseline) / len(baseline) if baseline else 0.0
        if is_spike(n, avg):
            out.append({"day": day, "dyad": dyad, "topic": topic, "stories": n,
                        "articles": articles[(dyad, topic)][-1],
                        "baseline_avg": round(avg, 2), "ratio": round(spike_ratio(n, avg), 2)})
    out.sort(key=lambda r: (-r["ratio"], r["dyad"], r["topic"]))
    return out


# --- coverage share -------------------------------------------------------------------------

_SHARE_SQL = {
    "outlet": """
        SELECT outlet AS key, any_value(country) AS country, sum(articles)::BIGINT,
               sum(relevant)::BIGINT
        FROM trend_outlet_daily WHERE day BETWEEN ? AND ?
        GROUP BY outlet
    """,
    "country": """
        SELECT country AS key, country, sum(articles)::BIGINT, sum(relevant)::BIGINT
        FROM trend_outlet_daily WHERE day BETWEEN ? AND ?
        GROUP BY country
    """,
}


def coverage_share(con: duckdb.DuckDBPyConnection, days: int = 30, *, by: str = "outlet",
                   end: date | None = None) -> list[dict[str, Any]]:
    """Who carried the relevant coverage over the window: per outlet or per outlet country."""
    if by not in _SHARE_SQL:
        raise ValueError(f"by must be one of {sorted(_SHARE_SQL)}, not {by!r}")
    end = end or latest_day(con)
    start = end - timedelta(days=days - 1)
    rows = con.execute(_SHARE_SQL[by], [start, end]).fetchall()
    total = sum(r[3] for r in rows) or 0
    out = [{"key": key, "country": country or "", "articles": int(n), "relevant": int(rel),
            "share": (rel / total) if total else 0.0} for key, country, n, rel in rows]
    out.sort(key=lambda r: (-r["relevant"], -r["articles"], r["key"]))
    return out


# --- feed health ----------------------------------------------------------------------------

def feed_health(con: duckdb.DuckDBPyConnection, now: datetime | None = None, *,
                problems_only: bool = False) -> list[dict[str, Any]]:
    """Every source's health as of ``now`` (UTC); ``problems_only`` keeps failing/disabled ones.

    ``status`` is one of disabled, never_fetched, ok, failing, failing_24h.
    """
    now = now or _utcnow()
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    result = con.execute(
        "SELECT * FROM feed_health_at(?::TIMESTAMP)"
        " ORDER BY status = 'ok', consecutive_failures DESC, source_id",
        [now],
    )
    columns = [d[0] for d in result.description]
    rows = [dict(zip(columns, r, strict=True)) for r in result.fetchall()]
    if problems_only:
        rows = [r for r in rows if r["status"] != "ok"]
    return rows


# --- articles -------------------------------------------------------------------------------

def topicless(con: duckdb.DuckDBPyConnection, days: int = 30, *, dyad: str | None = None,
              end: date | None = None) -> dict[str, int]:
    """Relevant articles without a topic ("other relations news") in the window: how many
    articles and stories. They count in every relation total but in no topic's."""
    end = end or latest_day(con)
    row = con.execute(
        "SELECT count(*), count(DISTINCT story_key) FROM trend_articles"
        " WHERE relevant AND day BETWEEN ? AND ? AND len(topics) = 0"
        "   AND (?::VARCHAR IS NULL OR list_contains(dyads, ?::VARCHAR))",
        [end - timedelta(days=days - 1), end, dyad, dyad],
    ).fetchone()
    return {"articles": int(row[0]), "stories": int(row[1])}


def latest_articles(con: duckdb.DuckDBPyConnection, *, topic: str | None = None,
                    dyad: str | None = None, limit: int = 20, days: int = 30,
                    end: date | None = None, without_topic: bool = False,
                    ) -> list[dict[str, Any]]:
    """The newest relevant articles within ``days`` days ending ``end``, with their topics
    (``without_topic``: only those with none, the "other relations news").

    Looks at the last day first and widens (3, 7, … ``days`` days) only while fewer than
    ``limit`` articles were found, so the cost follows ``limit`` rather than the window.
    """
    end = end or latest_day(con)
    widths = sorted({w for w in (1, 3, 7, days) if w <= days})
    rows: list[tuple] = []
    result = None
    for width in widths:
        result = con.execute(
            "SELECT article_id, ts AS published_at, outlet, country, title, url, dyads, topics,"
            " story_key, lead"
            " FROM trend_articles"
            " WHERE relevant AND day BETWEEN ? AND ?"
            "   AND (?::VARCHAR IS NULL OR list_contains(topics, ?::VARCHAR))"
            "   AND (?::VARCHAR IS NULL OR list_contains(dyads, ?::VARCHAR))"
            "   AND (NOT ? OR len(topics) = 0)"
            " ORDER BY ts DESC, article_id LIMIT ?",
            [end - timedelta(days=width - 1), end, topic, topic, dyad, dyad, without_topic,
             limit],
        )
        rows = result.fetchall()
        if len(rows) >= limit:
            break
    if result is None:
        return []
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, r, strict=True)) for r in rows]


def local_day_counts(con: duckdb.DuckDBPyConnection, start: date, end: date,
                     tz: str, *, stories: bool = False) -> list[tuple[date, str, str, int]]:
    """Relevant articles (``stories``: distinct stories) per (local day, dyad, topic) in
    timezone ``tz``, start..end inclusive.

    The digest's "yesterday" is a day in the configured timezone, not a UTC day; this reads
    ``trend_articles`` for the UTC days that overlap the local ones (one either side) and
    buckets by local date. '*' rows are the totals, as in ``trend_daily``.
    """
    measure = "count(DISTINCT story_key)" if stories else "count(*)"  # a constant
    rows = con.execute(
        f"""
        WITH local AS (
            SELECT timezone(?, ts AT TIME ZONE 'UTC')::DATE AS lday, dyads, topics, story_key
            FROM trend_articles
            WHERE relevant AND day BETWEEN ? AND ?
        )
        SELECT lday, dyad, topic, {measure}::INTEGER
        FROM (
            SELECT lday, dyad, story_key, unnest(list_append(list_distinct(topics), '*')) AS topic
            FROM (SELECT lday, topics, story_key,
                         unnest(list_append(list_distinct(dyads), '*')) AS dyad
                  FROM local WHERE lday BETWEEN ? AND ?)
        )
        GROUP BY lday, dyad, topic
        """,
        [tz, start - timedelta(days=1), end + timedelta(days=1), start, end],
    ).fetchall()
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]


# --- long windows ---------------------------------------------------------------------------

#: Bucket lengths (days) that long windows are summed into for charts and sparklines.
BUCKETS: tuple[int, ...] = (1, 7, 14, 30, 91, 365)
_BUCKET_NAMES = {1: "day", 7: "week", 14: "2 weeks", 30: "30 days", 91: "91 days",
                 365: "365 days"}


def bucket_days(days: int, max_points: int) -> int:
    """The shortest bucket that shows all ``days`` days in at most ``max_points`` points.

    A sparkline or chart narrower than its data would otherwise drop the oldest days.
    """
    for size in BUCKETS:
        if -(-days // size) <= max_points:
            return size
    return BUCKETS[-1]


def bucket_name(size: int) -> str:
    """How people read a bucket length: "day", "week", "30 days"."""
    return _BUCKET_NAMES.get(size, f"{size} days")


def bucket_counts(counts: Sequence[int], size: int) -> list[int]:
    """Sums of ``size`` consecutive daily counts, aligned on the newest day (so the latest
    bucket is always whole); the oldest bucket is shorter when ``size`` does not divide."""
    if size <= 1:
        return list(counts)
    head = len(counts) % size
    out = [sum(counts[:head])] if head else []
    out += [sum(counts[i:i + size]) for i in range(head, len(counts), size)]
    return out
