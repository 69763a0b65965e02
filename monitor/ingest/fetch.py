"""Polite, bounded fetching of feeds: one libcurl multi handle, many sources at once.

The client is libcurl (pycurl), driven by one loop in the calling thread: an unchanged poll
of 100 feeds (100 conditional GETs answered 304, each on a new connection to its own host)
costs 22-32 ms of CPU with it against 68-82 ms with aiohttp (bench/http_clients.py,
bench/README.md "Fetch"), and on such a poll the client is most of the work there is.
Article pages (:mod:`monitor.enrich.pages`) and the GDELT API (:mod:`monitor.ingest.client`)
stay on aiohttp: few requests, where its asyncio fits their callers.

Rules (miniflux ``response_handler.go``, httpx ``_config.py``):

* conditional GET from the stored ETag / Last-Modified; a 304 ends the work for the source;
* every fetch is bounded: a connect timeout, a read timeout (no byte for ``read_timeout``
  seconds), a wall-clock total per source per run (``total_timeout``: retries and
  Retry-After waits fit inside it, and a source that hits it is not retried until the next
  run), a deadline for the whole run (``run_deadline_seconds``: what is still running then
  is recorded as failed), a cap on the body *after* decompression (we decompress ourselves
  with ``max_length`` so a gzip bomb stops at the cap instead of filling memory), a cap on
  redirects (followed by hand so loops and permanent moves are seen);
* at most ``concurrency`` sources at a time, at most ``per_host_concurrency`` requests to
  one host;
* 429/503 honour ``Retry-After`` (short waits are slept, long ones, or ones that would pass
  the source's deadline, become the next poll time); other 5xx, connect/read timeouts and
  connection errors get ``settings.retries`` retries with exponential backoff and jitter,
  while time is left;
* host names are looked up by threads of ours and handed to libcurl
  (:mod:`monitor.ingest.resolve`), so :func:`end_resolver_threads` can leave the process
  with no other thread (the ingest forks its workers from the fetch's callback); HTTP/1.1,
  no proxy from the environment, certifi's CA bundle;
* an honest User-Agent with a contact URL.

``fetch_all`` never raises for a single source: every outcome is a :class:`FetchResult`.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import itertools
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import pycurl

from monitor.ingest.resolve import Resolver, end_resolver_threads, host_of, is_address, running
from monitor.ingest.response import BodyTooLarge, Response
from monitor.settings import Settings
from monitor.sources import Source

__all__ = ["FetchResult", "FeedState", "fetch_all", "parse_retry_after",
           "run_deadline_error", "end_resolver_threads"]

log = logging.getLogger(__name__)

#: Statuses that mean "try again shortly".
_RETRYABLE = {500, 502, 503, 504, 429}
_PERMANENT_REDIRECTS = {301, 308}
_REDIRECTS = {301, 302, 303, 307, 308}
#: libcurl's read buffer: a 1 MB feed arrives in a few calls of our write function.
_BUFFER = 256 * 1024
#: libcurl errors that asking again within the run will not mend: a URL libcurl cannot use,
#: a certificate that does not verify (the next run asks again, after the back-off).
_PERMANENT_ERRORS = {pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_URL_MALFORMAT,
                     pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_ISSUER_ERROR,
                     pycurl.E_SSL_INVALIDCERTSTATUS, pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
                     pycurl.E_SSL_CACERT_BADFILE}


@dataclass(frozen=True)
class FeedState:
    """What we remember about a source between fetches (the ``feed_state`` row)."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


@dataclass
class FetchResult:
    source_id: str
    url: str
    started_at: datetime
    outcome: str = "error"  # ok | not_modified | error
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None
    #: Set when the source moved permanently (301/308): the URL to store from now on.
    moved_to: str | None = None
    #: 410 Gone: the source should be disabled with this reason.
    gone: bool = False
    error: str | None = None
    #: Seconds the server asked us to wait (Retry-After) beyond what we waited in this run.
    retry_after: float | None = None
    duration_ms: int = 0
    attempts: int = 0
    etag: str | None = None
    last_modified: str | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None


@dataclass(eq=False)
class _Job:
    """One source's fetch: its attempts, the redirect chain of the current attempt, and
    the response of the request in flight (filled by libcurl's callbacks)."""

    source: Source
    state: FeedState
    result: FetchResult
    index: int
    t0: float = 0.0
    attempt: int = 0
    #: The source's own cap (``total_timeout``), from its first request on.
    own_deadline: float = math.inf
    finished: bool = False
    current: str = ""
    #: The host of ``current``, lower-cased.
    current_host: str = ""
    seen: list[str] = field(default_factory=list)
    permanent: bool = True
    #: The host whose slot this job holds ("" when it holds none).
    host: str = ""
    #: The response of the request in flight.
    response: Response | None = None


class _Fetcher:
    """The loop of :func:`fetch_all`: admits sources (``concurrency`` at a time), starts
    their requests within the per-host limit, waits on libcurl's sockets, and handles each
    finished transfer, retry timer and deadline."""

    def __init__(self, sources: list[Source], states: dict[str, FeedState],
                 settings: Settings, on_done: Callable[[FetchResult], None] | None,
                 run_deadline: float) -> None:
        import certifi

        self.settings = settings
        self.on_done = on_done
        self.run_deadline = run_deadline
        self.cafile = certifi.where()
        self.low_speed_time = max(1, math.ceil(settings.read_timeout))
        self.accept = [
            "Accept: application/rss+xml, application/atom+xml, application/feed+json, "
            "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5",
            # We decompress ourselves (bounded); brotli/zstd are not offered.
            "Accept-Encoding: gzip, deflate",
        ]
        self.results: list[FetchResult | None] = [None] * len(sources)
        self.remaining = len(sources)
        self.queue = deque(
            _Job(source=s, state=states.get(s.id, FeedState()), index=i,
                 result=FetchResult(source_id=s.id, url=s.url, started_at=_utcnow()))
            for i, s in enumerate(sources))
        self.live: set[_Job] = set()  # admitted, not finished
        self.ready: deque[_Job] = deque()  # waiting for a slot of their host
        self.per_host: dict[str, int] = {}
        self.timers: list[tuple[float, int, _Job]] = []  # retries' start times
        self.order = itertools.count()
        self.resolving: list[tuple[_Job, int, Future[list[str]]]] = []
        self.resolver = Resolver()
        self.active: dict[pycurl.Curl, _Job] = {}
        self.multi = pycurl.CurlMulti()
        self.next_check = run_deadline  # the earliest deadline of a live job
        #: Set when a step freed a slot or queued a request: the loop goes round again
        #: before it waits on the sockets (which might not wake it).
        self.kick = False
        #: An exception of ``on_done``'s, raised from the loop once the step that called it
        #: is over.
        self.callback_error: BaseException | None = None

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> list[FetchResult]:
        try:
            while self.remaining:
                self.kick = False
                now = time.monotonic()
                if now >= self.run_deadline:
                    self._end_run()
                    break
                self._admit()
                while self.timers and self.timers[0][0] <= now:
                    self._attempt(heapq.heappop(self.timers)[2])
                if now >= self.next_check:
                    self._expire(now)
                self._start_ready()
                if self.resolving:
                    self._check_resolving()
                self._perform()
                if self.callback_error is not None:
                    raise self.callback_error
                if self.remaining and not self.kick:
                    self._wait(now)
            if self.callback_error is not None:  # (from the run's deadline)
                raise self.callback_error
        finally:
            for handle in list(self.active):
                self.multi.remove_handle(handle)
                handle.close()
            self.multi.close()
        return [r for r in self.results if r is not None]

    def _wait(self, now: float) -> None:
        until = min(self.run_deadline, self.next_check)
        if self.timers:
            until = min(until, self.timers[0][0])
        wait = max(0.0, until - now)
        if self.resolving:
            wait = min(wait, 0.005)  # look-ups finish in our threads, not on curl's sockets
        curl_wants = self.multi.timeout()  # ms until libcurl has work of its own; -1: none
        if curl_wants >= 0:
            wait = min(wait, curl_wants / 1000)
        if self.active:
            self.multi.select(wait)
        elif wait > 0:
            time.sleep(wait)

    def _perform(self) -> None:
        while self.multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, failed = self.multi.info_read()
            for handle in ok:
                self._safely(self.active[handle], self._transferred, handle, 0, "")
            for handle, errno, message in failed:
                self._safely(self.active[handle], self._transferred, handle, errno, message)
            if not queued:
                break

    # -- sources and attempts -------------------------------------------------------------

    def _admit(self) -> None:
        while self.queue and len(self.live) < self.settings.concurrency:
            job = self.queue.popleft()
            job.t0 = time.monotonic()
            job.result.started_at = _utcnow()
            self.live.add(job)
            self._attempt(job)

    def _attempt(self, job: _Job) -> None:
        """Start the job's next attempt (from its source's URL)."""
        if job.finished:
            return
        job.attempt += 1
        job.result.attempts = job.attempt
        job.result.error = None
        job.current = job.source.url
        job.current_host = host_of(job.current)
        job.seen = [job.current]
        job.permanent = True
        self.ready.append(job)
        self.kick = True

    def _start_ready(self) -> None:
        limit = max(1, self.settings.per_host_concurrency)
        for _ in range(len(self.ready)):
            job = self.ready.popleft()
            if job.finished:
                continue
            host = job.current_host
            if self.per_host.get(host, 0) >= limit:
                self.ready.append(job)  # its host is busy: it keeps its place
                continue
            self.per_host[host] = self.per_host.get(host, 0) + 1
            job.host = host
            if job.own_deadline == math.inf:  # the source's cap starts with its first request
                job.own_deadline = time.monotonic() + self.settings.total_timeout
                self.next_check = min(self.next_check, job.own_deadline)
            self._safely(job, self._resolve_and_send, job)

    def _resolve_and_send(self, job: _Job) -> None:
        try:
            parts = urlsplit(job.current)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            self._fail(job, f"invalid URL {job.current}: {exc}")
            return
        if not job.host or is_address(job.host):
            self._send(job, None)  # (no host: libcurl says what is wrong with the URL)
            return
        found = self.resolver.lookup(job.host, port)
        if found.done():
            self._resolved(job, port, found)
        else:
            self.resolving.append((job, port, found))

    def _check_resolving(self) -> None:
        waiting, self.resolving = self.resolving, []
        for job, port, found in waiting:
            if job.finished:
                continue
            if found.done():
                self._safely(job, self._resolved, job, port, found)
            else:
                self.resolving.append((job, port, found))

    def _resolved(self, job: _Job, port: int, found: Future[list[str]]) -> None:
        exc = found.exception()
        if exc is not None:
            self.resolver.forget(job.host, port)  # asked again by the next attempt
            job.result.error = f"cannot resolve host {job.host}: {exc}"
            self._release(job)
            self._retry(job, _backoff(self.settings, job.attempt))
            return
        self._send(job, f"{job.host}:{port}:{','.join(found.result())}")

    def _send(self, job: _Job, resolve: str | None) -> None:
        headers = list(self.accept)
        state = job.state
        # A validator with a line break would split the request: never sent.
        if state.etag and "\n" not in state.etag and "\r" not in state.etag:
            headers.append(f"If-None-Match: {state.etag}")
        if state.last_modified and "\n" not in state.last_modified \
                and "\r" not in state.last_modified:
            headers.append(f"If-Modified-Since: {state.last_modified}")
        response = job.response = Response(self.settings.max_body_bytes)
        handle = pycurl.Curl()
        setopt = handle.setopt
        setopt(pycurl.URL, job.current)
        setopt(pycurl.HTTPHEADER, headers)
        setopt(pycurl.USERAGENT, self.settings.http_user_agent)
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.PROXY, "")  # never a proxy from the environment
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        setopt(pycurl.CAINFO, self.cafile)
        setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(self.settings.connect_timeout * 1000)))
        # The read timeout: less than a byte a second for that long (whole seconds).
        setopt(pycurl.LOW_SPEED_LIMIT, 1)
        setopt(pycurl.LOW_SPEED_TIME, self.low_speed_time)
        setopt(pycurl.BUFFERSIZE, _BUFFER)
        setopt(pycurl.HEADERFUNCTION, response.on_header)
        setopt(pycurl.WRITEFUNCTION, response.on_body)
        if resolve is not None:
            setopt(pycurl.RESOLVE, [resolve])
        self.multi.add_handle(handle)
        self.active[handle] = job

    def _transferred(self, handle: pycurl.Curl, errno: int, message: str) -> None:
        """A transfer ended: a response (complete, or cut by our callbacks) or an error."""
        job = self.active.pop(handle)
        self.multi.remove_handle(handle)
        handle.close()
        self._release(job)
        result, response = job.result, job.response
        assert response is not None
        if response.status:
            result.status = response.status
        if response.stop is not None and response.stop != "status":
            self._fail(job, response.stop)  # the cap, a body that does not decompress
            return
        if errno and response.stop is None:
            if errno in _PERMANENT_ERRORS:
                self._fail(job, message or f"libcurl error {errno}")
                return
            timeout = errno == pycurl.E_OPERATION_TIMEDOUT
            result.error = f"timeout: {message}" if timeout else message or f"libcurl error {errno}"
            self._retry(job, _backoff(self.settings, job.attempt))
            return
        status = response.status
        if status in _REDIRECTS:
            self._redirect(job, response)
            return
        result.final_url = job.current
        if job.permanent and job.current != job.source.url:
            result.moved_to = job.current
        result.headers = response.headers
        if status == 200:
            try:
                result.body = response.body.finish() if response.body is not None else b""
            except BodyTooLarge as exc:
                self._fail(job, str(exc))
                return
            result.outcome = "ok"
            self._finish(job)
            return
        if status == 304:
            result.outcome = "not_modified"
            self._finish(job)
            return
        result.error = f"HTTP {status}"
        if status == 410:
            result.gone = True
            self._fail(job, "HTTP 410 Gone: the feed was removed; source disabled")
            return
        retry_in = None
        if status in _RETRYABLE:
            wait = parse_retry_after(result.headers.get("retry-after"))
            if wait is not None:
                if wait > self.settings.max_retry_after or \
                        time.monotonic() + wait >= self._deadline(job):
                    # Not worth waiting for in this run: it becomes the next poll time.
                    result.retry_after = wait
                    self._fail(job, f"HTTP {status}, Retry-After {wait:.0f}s")
                    return
                retry_in = wait
            else:
                retry_in = _backoff(self.settings, job.attempt)
        self._retry(job, retry_in)

    def _redirect(self, job: _Job, response: Response) -> None:
        location = response.headers.get("location")
        if not location:
            self._fail(job, f"redirects: redirect {response.status} without Location")
            return
        try:
            target = urljoin(job.current, location)
            scheme = urlsplit(target).scheme
        except ValueError:  # e.g. an unclosed IPv6 bracket
            self._fail(job, f"redirects: a Location that is no URL: {location[:200]}")
            return
        if scheme not in ("http", "https"):
            self._fail(job, f"redirects: redirect to a non-http URL refused: {target}")
            return
        if target in job.seen:
            self._fail(job, f"redirects: redirect loop: {' -> '.join(job.seen + [target])}")
            return
        job.permanent = job.permanent and response.status in _PERMANENT_REDIRECTS
        job.seen.append(target)
        if len(job.seen) > self.settings.max_redirects + 1:
            self._fail(job, f"redirects: more than {self.settings.max_redirects} redirects: "
                            f"{' -> '.join(job.seen)}")
            return
        job.current = target
        job.current_host = host_of(target)
        self.ready.append(job)
        self.kick = True

    def _retry(self, job: _Job, retry_in: float | None) -> None:
        """Another attempt after ``retry_in`` seconds, if allowed and if time is left."""
        if retry_in is None or job.attempt > self.settings.retries:
            self._finish(job)
            return
        now = time.monotonic()
        if now + retry_in >= self._deadline(job):
            # No time left for another attempt: keep this attempt's error, say why it ended.
            why = _deadline_error(self.settings, job.own_deadline, self.run_deadline,
                                  within=True)
            self._fail(job, f"{job.result.error}; no retry: {why}")
            return
        log.info("retrying source=%s url=%s in=%.2fs error=%s", job.source.id, job.source.url,
                 retry_in, job.result.error)
        heapq.heappush(self.timers, (now + retry_in, next(self.order), job))

    # -- deadlines and endings ------------------------------------------------------------

    def _deadline(self, job: _Job) -> float:
        return min(job.own_deadline, self.run_deadline)

    def _expire(self, now: float) -> None:
        """End the live jobs whose deadline (their own cap or the run's) has passed."""
        self.next_check = self.run_deadline
        for job in list(self.live):
            deadline = self._deadline(job)
            if deadline <= now:
                self._cancel(job)
                self._fail(job, _deadline_error(self.settings, job.own_deadline,
                                                 self.run_deadline))
            else:
                self.next_check = min(self.next_check, deadline)

    def _end_run(self) -> None:
        """The run's deadline: whatever is running or waiting ends, saying so."""
        error = run_deadline_error(self.settings)
        for job in list(self.live):
            self._cancel(job)
            self._fail(job, error)
        while self.queue:
            job = self.queue.popleft()
            job.result.started_at = _utcnow()
            self._fail(job, error)

    def _cancel(self, job: _Job) -> None:
        """Stop the job's transfer, if one is in flight."""
        for handle, owner in list(self.active.items()):
            if owner is job:
                del self.active[handle]
                self.multi.remove_handle(handle)
                handle.close()
        self._release(job)

    def _release(self, job: _Job) -> None:
        if job.host:
            self.per_host[job.host] -= 1
            job.host = ""
            self.kick = True

    def _fail(self, job: _Job, error: str) -> None:
        job.result.error = error
        self._finish(job)

    def _finish(self, job: _Job) -> None:
        if job.finished:
            return
        job.finished = True
        self.kick = True  # a source may be admitted in its place
        self._release(job)
        self.live.discard(job)
        result = job.result
        if result.outcome != "ok":
            result.body = b""
            if result.outcome != "not_modified":
                result.outcome = "error"
        state = job.state
        result.etag = result.headers.get("etag") or (state.etag if result.status == 304
                                                     else None)
        result.last_modified = result.headers.get("last-modified") or (
            state.last_modified if result.status == 304 else None)
        result.duration_ms = int((time.monotonic() - job.t0) * 1000) if job.t0 else 0
        self.results[job.index] = result
        self.remaining -= 1
        if self.on_done is not None:
            try:
                self.on_done(result)
            except BaseException as exc:  # the caller's: raised from the loop, not recorded
                self.callback_error = self.callback_error or exc

    def _safely(self, job: _Job, step: Callable[..., None], *args: object) -> None:
        """One source's step; an exception in it (a bug) ends that source with an internal
        error and leaves the other sources running."""
        try:
            step(*args)
        except Exception as exc:
            log.exception("fetch crashed source=%s", job.source.id)
            self._cancel(job)
            self._fail(job, f"internal error: {type(exc).__name__}: {exc}")
        if self.callback_error is not None:
            raise self.callback_error


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def fetch_all(sources: Iterable[Source], states: dict[str, FeedState], settings: Settings,
              on_done: Callable[[FetchResult], None] | None = None,
              deadline: float | None = None) -> list[FetchResult]:
    """Fetch every source concurrently; one :class:`FetchResult` each, in input order.

    ``deadline`` (``time.monotonic()`` seconds; default ``settings.run_deadline_seconds``
    from now) ends the whole fetch: a source still running then, or still waiting for a
    slot, comes back as an error saying so, and everything fetched before it stands.
    ``on_done`` is called in this thread as each source ends.
    """
    sources = list(sources)
    if not sources:
        return []
    run_deadline = time.monotonic() + settings.run_deadline_seconds if deadline is None \
        else deadline
    fetcher = _Fetcher(sources, states, settings, on_done, run_deadline)
    with running(fetcher.resolver):
        return fetcher.run()


def _deadline_error(settings: Settings, own_deadline: float, run_deadline: float,
                    within: bool = False) -> str:
    """Which deadline ended a source: the run's (when it comes first) or its own cap."""
    if run_deadline <= own_deadline:
        return run_deadline_error(settings)
    if within:
        return f"the total time cap of {settings.total_timeout:.0f}s would pass"
    return f"timed out after {settings.total_timeout:.0f}s (total time cap, retries included)"


def run_deadline_error(settings: Settings) -> str:
    """The error recorded for a source still running when the run's deadline passed."""
    return f"run deadline of {settings.run_deadline_seconds:.0f}s reached"


def _backoff(settings: Settings, attempt: int) -> float:
    base = settings.backoff_base * (2 ** (attempt - 1))
    return base + random.uniform(0, base / 2)


