"""The GDELT DOC 2.0 API: what the backfill asks (queries, limits) and how it asks.

    queries      the monitor's relations and its most specific topics (:data:`QUERIES`)
    client       one request at a time per host, ``min_interval`` apart across processes
                 (a file lock in the data directory); 429/5xx retried with Retry-After or
                 back-off; the API client configuration (aiohttp, monitor.ingest.client)
    parse        the JSON ``articles`` list as feed entries; GDELT's plain-text errors and
                 malformed JSON raise :class:`GdeltAnswerError`

Slicing days, staging and storing are in :mod:`monitor.backfill.gdelt`.
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
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.ingest.client import build_async_client, read_body
from monitor.ingest.fetch import parse_retry_after
from monitor.ingest.parse import Entry, clean_text
from monitor.ingest.response import BodyTooLarge
from monitor.ingest.tls import aiohttp
from monitor.settings import Settings

__all__ = ["Api", "Answer", "DEFAULT_API_URL", "GDELT_REASON", "GdeltAnswerError", "GdeltConfig",
           "GdeltQuery", "LANGUAGES", "MAX_ATTEMPTS", "MAX_RECORDS", "MIN_INTERVAL", "MIN_SLICE",
           "QUERIES", "SETTLE", "known_query_ids", "parse_articles"]

log = logging.getLogger(__name__)

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
            # (Controls out first: clean_text then folds the spaces they stood between.)
            title=clean_text(_CONTROL.sub("", str(item.get("title") or "")), 1000),
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
class Answer:
    entries: list[Entry] = field(default_factory=list)
    error: str | None = None
    requests: int = 0
    #: GDELT answered (status 200), even if with an error text or malformed JSON.
    reached: bool = False


class Api:
    """Sequential DOC API requests through the API client configuration
    (:mod:`monitor.ingest.client`: an aiohttp session, opened in the runner's loop that
    uses it)."""

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

    def articles(self, query: GdeltQuery, start: datetime, end: datetime) -> Answer:
        params = {
            "query": query.query, "mode": "artlist", "format": "json",
            "maxrecords": str(self.config.max_records), "sort": "dateasc",
            "startdatetime": f"{start:%Y%m%d%H%M%S}",
            "enddatetime": f"{end - timedelta(seconds=1):%Y%m%d%H%M%S}",
        }
        answer = Answer()
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
