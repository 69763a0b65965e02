"""Backfill from the GDELT DOC 2.0 API (``monitor backfill --gdelt``, DAG ``monitor_backfill_gdelt``).

GDELT's DOC API answers "articles matching a query between two times", at most 250 per
request (``maxrecords``), and asks for at most one request every 5 seconds. Per day and per
query (:data:`QUERIES`: the monitor's two relations and its most specific topics):

    slices       start with the whole day, or with the width that earlier days of this query
                 needed (halvings of the day, so boundaries repeat across runs)
    request      ``mode=artlist&format=json`` for the slice; one request at a time per host,
                 ``min_interval`` apart, across processes (a file lock in the data directory)
    split        a slice that comes back full (250) may have lost articles: split it in half
                 and query both halves, down to ``min_slice`` (GDELT's 15-minute resolution);
                 a minimal slice that is still full is kept and marked ``truncated``
    429          honour ``Retry-After`` (else back off), up to ``max_attempts`` tries
    bad answers  malformed JSON or GDELT's plain-text error messages: recorded on the slice
                 (status ``error``) and skipped; the next run tries that slice again
    stage        entries (title, URL, ``seendate`` as the publication time, the domain as the
                 outlet, GDELT's language) go through ``ingest.stage_entries`` with
                 ``via='backfill_gdelt'``, exactly as live ingestion would stage them
    store        ``ingest.store_staged``, then the finished slices into ``backfill_slices``

Staging (network, slow) and storing (the DuckDB writer, quick) are separate functions so the
DAG can run the writer part in the one-slot ``duckdb_writer`` pool; :func:`backfill_gdelt_day`
does both. The API itself (queries, the polite client, the answer parser) is in
:mod:`monitor.backfill.gdelt_api`. A slice recorded ``done`` or ``truncated`` is never asked again, so re-running a day
(or Airflow's backfill of a date range, days in parallel) is idempotent.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from monitor import warehouse
from monitor.backfill.gdelt_api import (
    GDELT_REASON,
    QUERIES,
    Api,
    GdeltConfig,
    GdeltQuery,
    known_query_ids,
    parse_articles,
)
from monitor.ingest.batch import stage_entries
from monitor.ingest.health import RunRecord, judge, record_run
from monitor.ingest.parse import Entry
from monitor.ingest.plan import new_run_id
from monitor.ingest.store import store_staged
from monitor.settings import Settings
from monitor.sources import Source

__all__ = ["GdeltConfig", "GdeltQuery", "QUERIES", "known_query_ids", "backfill_gdelt",
           "backfill_gdelt_day", "stage_gdelt_day", "store_gdelt_day", "GdeltSummary",
           "parse_articles", "days_for_interval", "days_to_retry", "VIA", "GDELT_REASON",
           "record_gdelt_run", "gdelt_blind_message"]

log = logging.getLogger(__name__)

VIA = "backfill_gdelt"
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _source(query: GdeltQuery, config: GdeltConfig) -> Source:
    url = f"{config.api_url}?{urlencode({'query': query.query, 'mode': 'artlist'})}"
    return Source(id=f"gdelt-backfill-{query.id.replace('_', '-')}", url=url, outlet="GDELT",
                  kind="search", enabled=False)


# --------------------------------------------------------------------------- one day


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day)
    return start, start + timedelta(days=1)


def _finished(settings: Settings, day: date) -> tuple[dict[str, list[tuple[datetime, datetime]]],
                                                      dict[str, float]]:
    """Slices finished before (per query, within the day) and each query's usual width in
    seconds over the previous fortnight (where to start splitting)."""
    start, end = _day_bounds(day)
    with warehouse.reader(settings) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables"
                           " WHERE table_name = 'backfill_slices'"
                           " AND table_catalog = current_database()").fetchone()[0]:
            return {}, {}
        rows = con.execute(
            "SELECT query_id, slice_start, slice_end FROM backfill_slices"
            " WHERE status IN ('done', 'truncated') AND slice_start >= ? AND slice_end <= ?",
            [start, end]).fetchall()
        widths = con.execute(
            "SELECT query_id, median(epoch(slice_end) - epoch(slice_start)) FROM backfill_slices"
            " WHERE status IN ('done', 'truncated') AND slice_start >= ? AND slice_start < ?"
            " GROUP BY query_id", [start - timedelta(days=14), end + timedelta(days=14)],
        ).fetchall()
    done: dict[str, list[tuple[datetime, datetime]]] = {}
    for query_id, s, e in rows:
        done.setdefault(query_id, []).append((s, e))
    return done, {q: float(w) for q, w in widths if w}


def _covered(spans: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> str:
    """'all', 'some' or 'none' of [start, end) lies in the finished spans."""
    at, some = start, False
    for s, e in sorted(spans):
        if e <= start or s >= end:
            continue
        some = True
        if s <= at:
            at = max(at, e)
    if at >= end:
        return "all"
    return "some" if some else "none"


def _initial(start: datetime, end: datetime, width: float | None,
             min_slice: timedelta) -> list[tuple[datetime, datetime]]:
    """The day in halvings no wider than ``width`` seconds (whole day without a hint)."""
    pieces = 1
    if width:
        while (end - start) / pieces > timedelta(seconds=width) * 1.5 \
                and (end - start) / (pieces * 2) >= min_slice:
            pieces *= 2
    step = (end - start) / pieces
    return [(start + step * i, start + step * (i + 1)) for i in range(pieces)]


def stage_gdelt_day(settings: Settings, day: date, run_id: str, *,
                    config: GdeltConfig | None = None, queries: list[str] | None = None,
                    classify: bool = True, hints: dict[str, float] | None = None,
                    on_slice: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Query GDELT for one UTC day and stage what it returns. Does not write the warehouse.

    Returns the staged batch's path (None when nothing was new), the path of a small JSON
    file with the slices to record, and counts. ``hints`` (query id → slice width in
    seconds) carries what earlier days learned within one process.
    """
    config = config or GdeltConfig.from_settings(settings)
    chosen = [q for q in QUERIES if not queries or q.id in queries]
    done, widths = _finished(settings, day)
    widths.update(hints or {})
    day_start, day_end = _day_bounds(day)
    settled_before = _now() - config.settle
    api = Api(settings, config)
    groups: list[tuple[Source, list[Entry]]] = []
    group_queries: list[str] = []  # each group's query id
    slices: list[dict[str, Any]] = []
    totals = {"requests": 0, "articles": 0, "split": 0, "errors": 0, "skipped": 0,
              "unreached": 0}
    try:
        for query in chosen:
            source = _source(query, config)
            spans = done.get(query.id, [])
            stack = _initial(day_start, day_end, widths.get(query.id), config.min_slice)[::-1]
            found: list[Entry] = []
            while stack:
                start, end = stack.pop()
                coverage = _covered(spans, start, end)
                if coverage == "all":
                    totals["skipped"] += 1
                    continue
                if coverage == "some" and (end - start) / 2 >= config.min_slice:
                    # Partly finished (an earlier run failed on some slices): ask only for the
                    # parts not finished; finished slices are halvings, so this ends quickly.
                    mid = start + (end - start) / 2
                    stack.extend([(mid, end), (start, mid)])
                    continue
                answer = api.articles(query, start, end)
                totals["requests"] += answer.requests
                full = len(answer.entries) >= config.max_records
                if answer.error is None and full and (end - start) / 2 >= config.min_slice:
                    mid = start + (end - start) / 2
                    stack.extend([(mid, end), (start, mid)])
                    totals["split"] += 1
                    log.info("gdelt slice full, split query=%s start=%s end=%s", query.id,
                             start, end)
                    if on_slice:
                        on_slice({"day": day, "requests": answer.requests, "articles": 0})
                    continue
                if answer.error is not None:
                    status = "error"
                    totals["errors"] += 1
                    totals["unreached"] += not answer.reached
                    log.warning("gdelt slice failed query=%s start=%s end=%s error=%s",
                                query.id, start, end, answer.error)
                elif end > settled_before:
                    status = "partial"
                elif full:
                    status = "truncated"
                    log.warning("gdelt slice still full at %s, some articles missed query=%s"
                                " start=%s", config.min_slice, query.id, start)
                else:
                    status = "done"
                found.extend(answer.entries)
                totals["articles"] += len(answer.entries)
                slices.append({"query_id": query.id, "slice_start": start.isoformat(),
                               "slice_end": end.isoformat(), "status": status,
                               "articles": len(answer.entries), "requests": answer.requests,
                               "error": answer.error})
                if on_slice:
                    on_slice({"day": day, "requests": answer.requests,
                              "articles": len(answer.entries)})
            if found:
                groups.append((source, found))
                group_queries.append(query.id)
            widths_done = [(datetime.fromisoformat(s["slice_end"])
                            - datetime.fromisoformat(s["slice_start"])).total_seconds()
                           for s in slices if s["query_id"] == query.id and s["status"] != "error"]
            if widths_done and hints is not None:
                hints[query.id] = statistics.median(widths_done)
    finally:
        api.close()

    staged = (stage_entries(settings, groups, run_id, via=VIA, classify=classify) if groups
              else {"path": None, "entries": 0, "new": 0, "failed_groups": []})
    for group, error in staged["failed_groups"]:
        # A bug of ours on one query's articles: its slices count as failed, so the next
        # run asks for them again.
        for s in slices:
            if s["query_id"] == group_queries[group] and s["status"] != "error":
                s.update(status="error", error=error)
                totals["errors"] += 1
    slices_path = _write_slices(settings, run_id, day, slices, [q.id for q in chosen], config)
    failed = [f"{s['query_id']} {s['slice_start'][:16]}..{s['slice_end'][11:16]}: {s['error']}"
              for s in slices if s["status"] == "error"]
    return {"day": day.isoformat(), "path": staged["path"], "slices_path": str(slices_path),
            "entries": staged["entries"], "new": staged["new"], "asked": len(slices),
            "failed": failed[:20], **totals}


def _write_slices(settings: Settings, run_id: str, day: date, slices: list[dict[str, Any]],
                  query_ids: list[str], config: GdeltConfig) -> Path:
    """The slices to record, next to the staged batch (``store_gdelt_day`` reads them)."""
    folder = settings.staging_dir / "".join(c if c.isalnum() or c in "-_." else "_"
                                            for c in run_id)[:120]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gdelt-slices-{day.isoformat()}-{uuid.uuid4().hex[:8]}.json"
    tmp = path.with_suffix(".part")
    sources = [dataclasses.asdict(_source(q, config)) for q in QUERIES if q.id in query_ids]
    tmp.write_text(json.dumps({"day": day.isoformat(), "slices": slices, "sources": sources}),
                   encoding="utf-8")
    os.replace(tmp, path)
    return path


def store_gdelt_day(settings: Settings, staged: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Store a staged day and record its slices (the warehouse writer; idempotent)."""
    paths = [staged["path"]] if staged.get("path") else []
    stored = store_staged(settings, paths, run_id)
    slices_path = Path(staged["slices_path"])
    recorded = 0
    if slices_path.exists():
        data = json.loads(slices_path.read_text(encoding="utf-8"))
        now = _now()
        with warehouse.writer(settings) as con, warehouse.transaction(con):
            for s in data["sources"]:
                con.execute(
                    "INSERT INTO sources (source_id, url, outlet, language, country, kind,"
                    " enabled, disabled_reason, configured_url, updated_at)"
                    " VALUES (?, ?, ?, NULL, NULL, 'search', false, ?, ?, ?)"
                    " ON CONFLICT (source_id) DO NOTHING",
                    [s["id"], s["url"], s["outlet"], GDELT_REASON, s["url"], now])
            if data["slices"]:  # nothing asked (every slice finished before): no rows
                con.executemany(
                    "INSERT OR REPLACE INTO backfill_slices (query_id, slice_start,"
                    " slice_end, status, articles, requests, error, run_id, finished_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[s["query_id"], s["slice_start"], s["slice_end"], s["status"],
                      s["articles"], s["requests"], s["error"], run_id, now]
                     for s in data["slices"]])
        recorded = len(data["slices"])
        os.replace(slices_path, slices_path.with_suffix(".done"))
    elif not slices_path.with_suffix(".done").exists():
        log.warning("gdelt slices file missing path=%s", slices_path)
    return {"day": staged.get("day"), "articles_new": stored["articles_new"],
            "slices_recorded": recorded}


def backfill_gdelt_day(settings: Settings, day: date, *, run_id: str | None = None,
                       config: GdeltConfig | None = None, queries: list[str] | None = None,
                       classify: bool = True, hints: dict[str, float] | None = None,
                       on_slice: Callable[[dict[str, Any]], None] | None = None
                       ) -> dict[str, Any]:
    """Stage and store one UTC day of every query: what the DAG's tasks do, in one call."""
    run_id = run_id or new_run_id("gdelt")
    staged = stage_gdelt_day(settings, day, run_id, config=config, queries=queries,
                             classify=classify, hints=hints, on_slice=on_slice)
    stored = store_gdelt_day(settings, staged, run_id)
    return {**staged, **stored}


def days_to_retry(settings: Settings, before: date, lookback_days: int = 7) -> list[date]:
    """Days in the ``lookback_days`` before ``before`` with slices that failed or were not
    settled: the daily DAG run asks for them again (GDELT down, the network out), so a bad day
    heals by itself; only the unfinished slices are asked."""
    start = datetime(before.year, before.month, before.day) - timedelta(days=lookback_days)
    with warehouse.reader(settings) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables"
                           " WHERE table_name = 'backfill_slices'"
                           " AND table_catalog = current_database()").fetchone()[0]:
            return []
        rows = con.execute(
            "SELECT DISTINCT slice_start::DATE FROM backfill_slices s"
            " WHERE status IN ('error', 'partial') AND slice_start >= ? AND slice_start < ?"
            # … unless a later run finished the same slice or its halves
            " AND NOT EXISTS (SELECT 1 FROM backfill_slices d WHERE d.query_id = s.query_id"
            "   AND d.status IN ('done', 'truncated') AND d.slice_start >= s.slice_start"
            "   AND d.slice_end <= s.slice_end)"
            " ORDER BY 1", [start, datetime(before.year, before.month, before.day)]).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- a date range


def days_for_interval(start: datetime | None, end: datetime | None,
                      run_after: datetime | None = None) -> list[date]:
    """The UTC days an Airflow run loads: every day that *ends* inside its data interval.

    The DAG runs daily at 03:00 UTC, so the interval [d 03:00, d+1 03:00) holds the end of day
    d (midnight), two settled hours after it. A backfill over a date range gets one run, hence
    one day, per interval. A run without a usable interval (zero-length: a manual trigger on
    some timetables) loads the day before it ran.
    """
    def utc(value: datetime) -> datetime:
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    if start is not None and end is not None and utc(end) > utc(start):
        s, e = utc(start), utc(end)
        day = s.date()
        out = []
        while datetime(day.year, day.month, day.day) + timedelta(days=1) <= e:
            if datetime(day.year, day.month, day.day) + timedelta(days=1) > s:
                out.append(day)
            day += timedelta(days=1)
        return out
    when = utc(run_after or end or start or datetime.now(UTC))
    return [when.date() - timedelta(days=1)]



@dataclass
class GdeltSummary:
    run_id: str
    days: int = 0
    requests: int = 0
    articles: int = 0
    articles_new: int = 0
    slices_split: int = 0
    slices_skipped: int = 0
    errors: int = 0
    #: Failed slices GDELT never answered (network, proxy, HTTP errors).
    unreached: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    #: Slices asked (not finished before), and "query start..end: error" of failed ones.
    asked: int = 0
    failed: list[str] = field(default_factory=list)
    #: The run as recorded in ingest_runs (health blind: every slice asked failed).
    record: RunRecord | None = None

    def describe(self) -> str:
        text = (f"gdelt backfill {self.run_id}: {self.days} days in {self.seconds:.0f}s — "
                f"{self.requests} requests ({self.slices_split} full slices split, "
                f"{self.slices_skipped} finished before), {self.articles} articles returned, "
                f"{self.articles_new} new; {self.errors} slices failed")
        if self.errors:
            text += " (recorded in backfill_slices; the next run asks again)"
        if self.interrupted:
            text += "\n  interrupted: run the same command again to resume"
        if self.record is not None and self.record.health != "ok":
            text += f"\n  run health: {self.record.health}"
        return text


def backfill_gdelt(settings: Settings, first: date, last: date, *,
                   queries: list[str] | None = None, config: GdeltConfig | None = None,
                   classify: bool = True, run_id: str | None = None,
                   on_slice: Callable[[dict[str, Any]], None] | None = None,
                   on_day: Callable[[date], None] | None = None) -> GdeltSummary:
    """Every day from ``first`` to ``last`` (inclusive, UTC), one stored day at a time, so an
    interruption loses at most the day in hand; trend tables are refreshed at the end."""
    started = time.monotonic()
    started_at = _now()
    summary = GdeltSummary(run_id=run_id or new_run_id("gdelt"))
    with warehouse.writer(settings):  # migrations (backfill_slices) before the first read
        pass
    hints: dict[str, float] = {}
    day = first
    try:
        while day <= last:
            out = backfill_gdelt_day(settings, day, run_id=summary.run_id, config=config,
                                     queries=queries, classify=classify, hints=hints,
                                     on_slice=on_slice)
            summary.days += 1
            summary.requests += out["requests"]
            summary.articles += out["articles"]
            summary.articles_new += out["articles_new"]
            summary.slices_split += out["split"]
            summary.slices_skipped += out["skipped"]
            summary.errors += out["errors"]
            summary.asked += out["asked"]
            summary.unreached += out["unreached"]
            summary.failed += out["failed"]
            if on_day:
                on_day(day)
            day += timedelta(days=1)
    except KeyboardInterrupt:
        summary.interrupted = True
        log.warning("gdelt backfill interrupted at day=%s run_id=%s", day, summary.run_id)
    if summary.articles_new:
        from monitor.maintenance import refresh_trend_tables

        refresh_trend_tables(settings)
    summary.seconds = time.monotonic() - started
    summary.record = record_gdelt_run(settings, summary.run_id, summary.asked, summary.errors,
                                      summary.unreached, summary.failed, summary.articles_new,
                                      started_at=started_at, seconds=summary.seconds)
    return summary


def record_gdelt_run(settings: Settings, run_id: str, asked: int, errors: int,
                     unreached: int, failed: list[str], articles_new: int, *,
                     started_at: datetime | None, seconds: float | None = None) -> RunRecord:
    """Record a GDELT backfill run in ``ingest_runs`` (via ``backfill_gdelt``; the counts
    are GDELT time slices, not sources).

    Blind when every slice asked failed, unless GDELT answered every one of them (a
    malformed or plain-text answer to a query, which a re-run that asks only for the
    slices that failed before can meet again): that is degraded, the API is reachable.
    """
    record = RunRecord(run_id=run_id, via=VIA, started_at=started_at or _now(),
                       sources_planned=asked, sources_ok=asked - errors,
                       sources_failed=errors, articles_new=articles_new,
                       failures=[tuple(f.split(": ", 1)) if ": " in f else (f, "error")
                                 for f in failed])
    record.seconds = seconds if seconds is not None else (
        _now() - record.started_at).total_seconds()
    record.health = judge(settings, asked, asked - errors, errors)
    if record.health == "blind" and not unreached:
        record.health = "degraded"
    with warehouse.writer(settings) as con:
        record_run(con, record)
    return record


def gdelt_blind_message(record: RunRecord) -> str:
    """Every GDELT slice failed: say which, and what to check."""
    lines = [f"GDELT backfill {record.run_id} failed: all {record.sources_planned} time "
             "slices asked failed."]
    lines += [f"  {where}: {error}" for where, error in record.failures[:10]]
    if record.sources_failed > 10:
        lines.append(f"  … and {record.sources_failed - 10} more (see backfill_slices)")
    lines.append("Check the network and any proxy (HTTPS_PROXY), and the GDELT API URL "
                 "(gdelt_api_url, --api-url); failed slices are asked again by the next run.")
    return "\n".join(lines)
