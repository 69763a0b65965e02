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
does both. A slice recorded ``done`` or ``truncated`` is never asked again, so re-running a day
(or Airflow's backfill of a date range, days in parallel) is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import fcntl
import json
import logging
import os
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from monitor import warehouse
from monitor.ingest.batch import stage_entries
from monitor.ingest.fetch import BodyTooLarge, build_async_client, parse_retry_after, read_body
from monitor.ingest.health import RunRecord, judge, record_run
from monitor.ingest.parse import Entry, clean_text
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
DEFAULT_API_URL = "https://api.gdeltproject.org/api/v2/doc/doc"
#: GDELT's cap on results per request.
MAX_RECORDS = 250
#: GDELT asks for no more than one request every 5 seconds.
MIN_INTERVAL = 5.0
#: GDELT indexes in 15-minute steps: narrower slices return the same articles.
MIN_SLICE = timedelta(minutes=15)
#: Tries per slice when GDELT answers 429/5xx or times out.
MAX_ATTEMPTS = 4
#: A slice ending less than this long ago may still grow: stored, but asked again next run.
SETTLE = timedelta(hours=2)
#: ``sources.disabled_reason`` of the per-query GDELT sources (never polled live).
GDELT_REASON = "GDELT backfill query (monitor backfill --gdelt): not polled"


@dataclass(frozen=True)
class GdeltQuery:
    """One DOC API query. GDELT searches the English machine translation of every language it
    monitors, so English terms find Russian, Japanese and Chinese coverage too."""

    id: str
    query: str
    about: str


#: The monitor's relations (dyads) and the topics specific enough to search for on their own.
#: OR-lists must be in parentheses; space is AND (GDELT DOC 2.0 syntax).
QUERIES: tuple[GdeltQuery, ...] = (
    GdeltQuery("russia_japan",
               "(Russia OR Russian OR Moscow OR Kremlin OR Putin) (Japan OR Japanese OR Tokyo)",
               "dyad Russia–Japan"),
    GdeltQuery("russia_china",
               "(Russia OR Russian OR Moscow OR Kremlin OR Putin) (China OR Chinese OR Beijing)",
               "dyad Russia–China"),
    GdeltQuery("kurils",
               '("Kuril Islands" OR "Northern Territories" OR Kunashir OR Iturup OR Shikotan'
               " OR Habomai)",
               "topic kurils"),
    GdeltQuery("eaeu_bri",
               '("Eurasian Economic Union" OR "Belt and Road") (Russia OR Moscow OR Kremlin)',
               "topic eaeu_bri"),
    GdeltQuery("energy_pipelines",
               '("Power of Siberia" OR "Sakhalin-2" OR "Arctic LNG 2" OR "Yamal LNG")',
               "topic energy"),
)

#: GDELT's language names → ISO 639-1 (the monitor's ``articles.language``).
LANGUAGES = {
    "english": "en", "russian": "ru", "japanese": "ja", "chinese": "zh", "korean": "ko",
    "french": "fr", "german": "de", "spanish": "es", "portuguese": "pt", "italian": "it",
    "arabic": "ar", "turkish": "tr", "ukrainian": "uk", "polish": "pl", "dutch": "nl",
    "vietnamese": "vi", "thai": "th", "indonesian": "id", "malay": "ms", "hindi": "hi",
    "persian": "fa", "hebrew": "he", "greek": "el", "czech": "cs", "romanian": "ro",
    "hungarian": "hu", "swedish": "sv", "finnish": "fi", "norwegian": "no", "danish": "da",
    "bulgarian": "bg", "serbian": "sr", "croatian": "hr", "kazakh": "kk", "mongolian": "mn",
}


def known_query_ids() -> list[str]:
    return [q.id for q in QUERIES]


@dataclass(frozen=True)
class GdeltConfig:
    """Tunables of the GDELT backfill; endpoint and pace come from the settings
    (``gdelt_api_url``, ``gdelt_interval``; ``MONITOR_GDELT_API_URL`` and
    ``MONITOR_GDELT_INTERVAL`` in the environment), the rest are the API's own limits."""

    api_url: str = DEFAULT_API_URL
    min_interval: float = MIN_INTERVAL
    max_records: int = MAX_RECORDS
    min_slice: timedelta = MIN_SLICE
    max_attempts: int = MAX_ATTEMPTS
    settle: timedelta = SETTLE

    @classmethod
    def from_settings(cls, settings: Settings) -> GdeltConfig:
        return cls(api_url=settings.gdelt_api_url, min_interval=settings.gdelt_interval)

    def with_(self, **changes: Any) -> GdeltConfig:
        return dataclasses.replace(self, **changes)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _source(query: GdeltQuery, config: GdeltConfig) -> Source:
    url = f"{config.api_url}?{urlencode({'query': query.query, 'mode': 'artlist'})}"
    return Source(id=f"gdelt-backfill-{query.id.replace('_', '-')}", url=url, outlet="GDELT",
                  kind="search", enabled=False)


# --------------------------------------------------------------------------- parse


class GdeltAnswerError(Exception):
    """GDELT answered, but not with a usable article list (the message says what it was)."""


def parse_articles(body: bytes) -> list[Entry]:
    """The ``articles`` of a DOC API JSON answer as entries. Raises GdeltAnswerError for
    anything else (GDELT sends errors as plain text with status 200)."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text.startswith("{"):
        raise GdeltAnswerError(f"not JSON: {text[:200]!r}")
    try:
        doc = json.loads(text, strict=False)  # GDELT titles may hold raw control characters
    except ValueError as exc:
        raise GdeltAnswerError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise GdeltAnswerError("JSON answer is not an object")
    items = doc.get("articles", [])  # no matches: GDELT answers {}
    if not isinstance(items, list):
        raise GdeltAnswerError("'articles' is not a list")
    entries = []
    for item in items:
        if not isinstance(item, dict) or not item.get("url"):
            continue
        seen = _seendate(item.get("seendate"))
        language = str(item.get("language") or "").strip().lower()
        domain = str(item.get("domain") or "").strip().lower().removeprefix("www.") or None
        entries.append(Entry(
            title=_CONTROL.sub("", clean_text(str(item.get("title") or ""), 1000)),
            link=str(item["url"]).strip(),
            guid=None,
            summary="",
            published_at=seen,
            date_flag=None if seen else "missing",
            language=LANGUAGES.get(language, language[:2] or None) if language else None,
            source_name=domain,
        ))
    return entries


#: C0 control characters GDELT leaves in titles (clean_text keeps them).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _seendate(value: Any) -> datetime | None:
    """GDELT's ``20250301T061500Z`` (UTC) → naive UTC datetime."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None


# --------------------------------------------------------------------------- polite client


@contextlib.contextmanager
def _request_slot(settings: Settings, interval: float) -> Iterator[None]:
    """One GDELT request at a time on this host, ``interval`` seconds after the last one.

    A file lock in the data directory holds the time of the last request, so parallel
    Airflow tasks (a backfill over a date range) and a CLI run share GDELT's budget.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.home / "gdelt-api.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                break
            except OSError as exc:  # interrupted by a signal: try again
                if exc.errno != errno.EINTR:
                    raise
        try:
            last = float(os.pread(fd, 32, 0).decode() or 0)
        except ValueError:
            last = 0.0
        wait = last + interval - time.time()
        if wait > 0:
            time.sleep(min(wait, interval))
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{time.time():.3f}".encode(), 0)
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@dataclass
class _Answer:
    entries: list[Entry] = field(default_factory=list)
    error: str | None = None
    requests: int = 0
    #: GDELT answered (status 200), even if with an error text or malformed JSON.
    reached: bool = False


class _Api:
    """Sequential DOC API requests through the fetch layer's one client configuration
    (an aiohttp session, opened in the runner's loop that uses it)."""

    def __init__(self, settings: Settings, config: GdeltConfig) -> None:
        self.settings = settings
        self.config = config
        self._runner = asyncio.Runner()
        self._client = self._runner.run(self._open())

    async def _open(self) -> aiohttp.ClientSession:
        return build_async_client(self.settings)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._runner.run(self._client.close())
        self._runner.close()

    def articles(self, query: GdeltQuery, start: datetime, end: datetime) -> _Answer:
        params = {
            "query": query.query, "mode": "artlist", "format": "json",
            "maxrecords": str(self.config.max_records), "sort": "dateasc",
            "startdatetime": f"{start:%Y%m%d%H%M%S}",
            "enddatetime": f"{end - timedelta(seconds=1):%Y%m%d%H%M%S}",
        }
        answer = _Answer()
        for attempt in range(1, self.config.max_attempts + 1):
            answer.requests += 1
            with _request_slot(self.settings, self.config.min_interval):
                status, headers, body, error = self._runner.run(self._get(params))
            wait = None
            if error is not None:
                answer.error = error
                wait = self._backoff(attempt)
            elif status == 429 or status >= 500:
                answer.error = f"HTTP {status}"
                wait = parse_retry_after(headers.get("retry-after"))
                wait = self._backoff(attempt) if wait is None else wait
            elif status != 200:
                answer.error = f"HTTP {status}: {body[:200]!r}"
                return answer
            else:
                answer.reached = True
                try:
                    answer.entries = parse_articles(body)
                    answer.error = None
                    return answer
                except GdeltAnswerError as exc:
                    answer.error = str(exc)
                    if "limit requests" not in answer.error.lower():
                        return answer  # malformed or a query error: asking again won't help
                    wait = self._backoff(attempt)  # GDELT's text answer to going too fast
            if attempt < self.config.max_attempts:
                log.info("gdelt retry query=%s start=%s error=%s wait=%.1fs", query.id, start,
                         answer.error, wait)
                time.sleep(min(wait, self.settings.max_retry_after))
        return answer

    def _backoff(self, attempt: int) -> float:
        return max(self.config.min_interval, 1.0) * 2 ** (attempt - 1)

    async def _get(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes, str | None]:
        cap = self.settings.max_body_bytes
        try:
            async with self._client.get(self.config.api_url, params=params,
                                        headers={"Accept": "application/json"},
                                        timeout=aiohttp.ClientTimeout(
                                            total=self.settings.total_timeout,
                                            connect=self.settings.connect_timeout,
                                            sock_read=self.settings.read_timeout),
                                        allow_redirects=False) as response:
                # The session leaves decompression to its caller (the feed fetcher bounds
                # it); this answer is JSON under the cap, so read_body does the same here.
                body = await read_body(response, cap)
                headers = {k.lower(): v for k, v in response.headers.items()}
                return response.status, headers, body, None
        except BodyTooLarge:
            return 0, {}, b"", f"answer larger than {cap} bytes"
        except Exception as exc:  # aiohttp errors: timeouts, refused connections
            return 0, {}, b"", f"{type(exc).__name__}: {exc}"


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
                           " WHERE table_name = 'backfill_slices'").fetchone()[0]:
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
    api = _Api(settings, config)
    groups: list[tuple[Source, list[Entry]]] = []
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
            widths_done = [(datetime.fromisoformat(s["slice_end"])
                            - datetime.fromisoformat(s["slice_start"])).total_seconds()
                           for s in slices if s["query_id"] == query.id and s["status"] != "error"]
            if widths_done and hints is not None:
                hints[query.id] = statistics.median(widths_done)
    finally:
        api.close()

    staged = (stage_entries(settings, groups, run_id, via=VIA, classify=classify) if groups
              else {"path": None, "entries": 0, "new": 0})
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
        with warehouse.writer(settings) as con:
            con.execute("BEGIN")
            try:
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
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
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
                           " WHERE table_name = 'backfill_slices'").fetchone()[0]:
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
