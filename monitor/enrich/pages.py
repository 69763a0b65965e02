"""Fetch article pages politely and safely, then extract their text (``enrich_articles``).

The flow for one page, top to bottom (:meth:`PageFetcher.fetch`):

    netsafe.resolve_safe   scheme and every resolved address checked (again on each hop)
    robots.txt             fetched once per host, cached for the fetcher's life (RFC 9309)
    GET (pinned)           to the checked address, Host/SNI kept; per-host concurrency;
                           connect/read timeouts plus a wall-clock cap; redirects followed by
                           hand, at most ``max_redirects``, each hop re-checked
    body                   HTML content types only; decompressed size capped while streaming
                           (a gzip bomb stops at the cap, not at the end of the bomb)
    extract                monitor.enrich.extract on the decoded text; paywall stubs and JavaScript
                           shells recognised

Failures are data: every outcome is a :class:`PageResult` with ``status`` ok / skipped /
failed and a ``reason`` code (``robots``, ``unsafe_url`` — a refusal: scheme, private or
loopback address —, ``dns_error`` — the host does not resolve, not a refusal —,
``not_html``, ``too_large``,
``bot_wall``, ``paywall``, ``js_shell``, ``http_error``, ``timeout``, ``network``,
``too_many_redirects``, ``no_text``), plus a human message. Nothing here raises for a bad page.

``enrich_articles(settings, articles)`` runs that over a batch with bounded concurrency and
returns the article dicts with ``body``, ``text_source``, ``extract_status``,
``extract_error`` and missing metadata filled in. The article always keeps its best text: the
page's when it was read, else the feed summary, else the title.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import threading
import time
import zlib
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from monitor.enrich.extract import (
    detect_language,
    extract_metadata,
    extract_text,
    looks_like_js_shell,
    text_size,
)
from monitor.enrich.netsafe import HostNotFound, Resolver, resolve_safe
from monitor.errors import FetchError, UnsafeURL
from monitor.ingest.tls import aiohttp
from monitor.settings import Settings

__all__ = ["PageClient", "PageResult", "PageFetcher", "enrich_articles", "make_client"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
#: robots.txt is small; a bigger one is cut here (RFC 9309 asks parsers to read >= 500 KiB).
MAX_ROBOTS_BYTES = 512 * 1024
#: Longest Crawl-delay we honour between two requests to one host inside a run.
MAX_CRAWL_DELAY = 10.0
#: Workers for one batch; per-host limits apply on top.
MAX_WORKERS = 8
#: An extracted text shorter than this (word equivalents, ``text_size``) next to paywall
#: markers is a teaser.
PAYWALL_MAX_WORDS = 120
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w:.-]+)""", re.I)

#: Phrases and markup of a gated article. Kept specific: "Already a subscriber? Log in" and
#: 有料会員 also sit in the headers of free articles, so they are not markers.
_PAYWALL_MARKERS = re.compile(
    r"""(?:"isAccessibleForFree"\s*:\s*"?false|class="[^"]*\b(?:paywall|premium-content|
    subscriber-only|meteredContent|piano-paywall)\b|subscribe\s+(?:now\s+)?to\s+(?:continue|read)|
    to\s+continue\s+reading|this\s+(?:article|content|story)\s+is\s+(?:only\s+)?(?:available\s+)?
    (?:for|to)\s+(?:subscribers|members)|
    подпишитесь,?\s+чтобы|доступно\s+только\s+(?:для\s+)?подписчик|
    有料会員限定|会員限定記事|この記事は有料|订阅后阅读|付费阅读)""",
    re.I | re.X,
)
_BOT_WALL_MARKERS = re.compile(
    r"(?:captcha|just a moment|attention required|access denied|are you a robot|"
    r"cf-browser-verification|challenge-platform|bot detection|unusual traffic)",
    re.I,
)


@dataclass
class PageResult:
    """What happened when we tried to read one article page."""

    url: str
    status: str  # ok | skipped | failed
    reason: str | None = None  # machine-readable code, see the module docstring
    message: str | None = None
    final_url: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    bytes: int = 0
    duration_ms: int = 0
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """``reason: message`` as stored in ``articles.extract_error``."""
        if self.reason is None:
            return None
        return f"{self.reason}: {self.message}" if self.message else self.reason


class _Stop(Exception):
    """Internal: end this page with a result (status, reason, message)."""

    def __init__(self, status: str, reason: str, message: str, http_status: int | None = None):
        super().__init__(message)
        self.status, self.reason, self.message, self.http_status = status, reason, message, http_status


class PageClient:
    """The pages' HTTP client (an aiohttp session) for threads: its event loop runs in a
    thread of its own, and :meth:`run` hands it one exchange at a time from any thread.

    Pages are extracted (CPU-bound, tens of ms each) in a thread pool; only the HTTP
    exchange runs on the loop. Close it (or use it as a context manager) when done.
    """

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="pages-http")
        self._thread.start()
        self.session = self.run(self._open(settings))

    @staticmethod
    async def _open(settings: Settings) -> aiohttp.ClientSession:
        from monitor.ingest.tls import tls_context

        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls_context(),
                                           limit=max(settings.concurrency, 4)),
            timeout=aiohttp.ClientTimeout(total=None, connect=settings.connect_timeout,
                                          sock_read=settings.read_timeout),
            headers={"User-Agent": settings.http_user_agent, "Accept": ACCEPT,
                     "Accept-Encoding": "gzip, deflate"},  # decompressed by us, capped
            auto_decompress=False,
            trust_env=False,  # a proxy from the environment would bypass the address checks
        )

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.run(self.session.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> PageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_client(settings: Settings) -> PageClient:
    """The page client with the monitor's timeouts and User-Agent; redirects off (we follow)."""
    return PageClient(settings)


class PageFetcher:
    """Fetches pages for one run: shared robots cache and per-host limits, thread-safe."""

    def __init__(self, settings: Settings, client: PageClient,
                 resolver: Resolver | None = None) -> None:
        self.settings = settings
        self.client = client
        self.resolver = resolver
        self._lock = threading.Lock()
        self._host_slots: dict[str, threading.BoundedSemaphore] = {}
        self._robots: dict[str, RobotFileParser | str] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._next_slot: dict[str, float] = {}
        self._agent = settings.user_agent.split("/", 1)[0]

    # -- one page -------------------------------------------------------------------------

    def fetch(self, url: str) -> PageResult:
        """Download and extract one article page; never raises for a bad page."""
        start = time.monotonic()
        result = PageResult(url=url, status="failed")
        try:
            final_url, status, header, raw = self._get(url, start, self.settings.max_page_bytes,
                                                       check_robots=True)
            result.final_url, result.http_status = final_url, status
            result.content_type = _content_type(header)
            result.bytes = len(raw)
            html = decode_html(raw, declared=_charset_param(header))
            self._judge(result, html, final_url)
        except _Stop as stop:
            result.status, result.reason, result.message = stop.status, stop.reason, stop.message
            result.http_status = stop.http_status or result.http_status
        except UnsafeURL as exc:
            result.status, result.reason, result.message = "skipped", "unsafe_url", str(exc)
        except HostNotFound as exc:
            result.reason, result.message = "dns_error", str(exc)
        except TimeoutError as exc:  # aiohttp's connect/read timeouts are TimeoutErrors
            result.reason, result.message = "timeout", f"{type(exc).__name__}: {exc}"
        except (aiohttp.ClientError, FetchError, OSError) as exc:
            result.reason, result.message = "network", f"{type(exc).__name__}: {exc}"
        result.duration_ms = int(1000 * (time.monotonic() - start))
        log.info("page url=%s status=%s reason=%s http=%s bytes=%d ms=%d", url, result.status,
                 result.reason, result.http_status, result.bytes, result.duration_ms)
        return result

    def _judge(self, result: PageResult, html: str, url: str) -> None:
        """Extract, and tell a real article from a paywall teaser or a JavaScript shell."""
        text = extract_text(html, url)
        tokens = text_size(text)
        result.metadata = extract_metadata(html, url)
        if tokens < PAYWALL_MAX_WORDS and _PAYWALL_MARKERS.search(html):
            raise _Stop("failed", "paywall", f"paywall stub ({tokens} words readable)")
        if looks_like_js_shell(html, text):
            raise _Stop("failed", "js_shell", f"page needs JavaScript ({tokens} words readable)")
        if tokens == 0:
            raise _Stop("failed", "no_text", "no article text found")
        result.status, result.text = "ok", text

    # -- HTTP -----------------------------------------------------------------------------

    def _get(self, url: str, start: float, cap: int, *, check_robots: bool,
             html_only: bool = True) -> tuple[str, int, str | None, bytes]:
        """GET with manual, re-checked redirects. Returns (final url, status, type, body)."""
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            addresses = resolve_safe(current, self.settings.allow_hosts, self.resolver)
            if check_robots and not self._robots_allow(current, start):
                raise _Stop("skipped", "robots", "disallowed by robots.txt")
            with self._host_slot(current):
                location, status, ctype, body = self.client.run(
                    self._exchange(current, addresses, cap, start, html_only))
            if location is not None:
                current = urljoin(current, location)
                continue
            return current, status, ctype, body
        raise _Stop("failed", "too_many_redirects",
                    f"more than {self.settings.max_redirects} redirects")

    async def _exchange(self, url: str, addresses: list[str], cap: int, start: float,
                        html_only: bool) -> tuple[str | None, int, str | None, bytes]:
        """One GET to one of the checked addresses, keeping Host and TLS name; returns
        (redirect location or None, status, Content-Type, body).

        Connecting to the address we checked (rather than letting the client resolve the
        name again) means a DNS answer that changes between check and connect cannot steer
        us to a private address.
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        ordered = sorted(addresses, key=lambda a: ":" in a)  # IPv4 first
        last_exc: Exception | None = None
        for address in ordered[:2]:
            ip_host = f"[{address}]" if ":" in address else address
            netloc = f"{ip_host}:{parts.port}" if parts.port else ip_host
            pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            host_header = parts.netloc.rsplit("@", 1)[-1]
            sni = host if parts.scheme == "https" and not _is_ip(host) else None
            try:
                resp = await self.client.session.get(
                    pinned, headers={"Host": host_header}, server_hostname=sni,
                    allow_redirects=False)
            except aiohttp.ClientConnectorError as exc:
                last_exc = exc
                continue
            async with resp:
                return await self._answer(resp, cap, start, html_only)
        assert last_exc is not None
        raise last_exc

    async def _answer(self, resp: aiohttp.ClientResponse, cap: int, start: float,
                      html_only: bool) -> tuple[str | None, int, str | None, bytes]:
        status = resp.status
        if status in _REDIRECTS:
            location = resp.headers.get("location")
            if not location:
                raise _Stop("failed", "http_error", "redirect without Location", status)
            return location.strip(), status, None, b""
        ctype = _content_type(resp.headers.get("content-type"))
        total = self.settings.total_timeout
        if status >= 400:
            body = await _read_capped(resp, 64 * 1024, start, total, truncate=True)
            raise _http_failure(status, resp.headers, body)
        if html_only and ctype is not None and ctype not in HTML_TYPES:
            raise _Stop("skipped", "not_html", f"content type {ctype}", status)
        length = resp.headers.get("content-length")
        if length and length.isdigit() and int(length) > cap:
            raise _Stop("skipped", "too_large",
                        f"Content-Length {length} over the {cap}-byte cap", status)
        body = await _read_capped(resp, cap, start, total)
        if html_only and ctype is None and not _sniff_html(body):
            raise _Stop("skipped", "not_html", "no content type and not HTML", status)
        return None, status, resp.headers.get("content-type"), body

    @contextlib.contextmanager
    def _host_slot(self, url: str) -> Iterator[None]:
        """At most ``per_host_concurrency`` requests at once per host, Crawl-delay spaced."""
        key = _origin(url)
        with self._lock:
            slot = self._host_slots.setdefault(
                key, threading.BoundedSemaphore(max(1, self.settings.per_host_concurrency)))
        with slot:
            delay = self._crawl_delay(key)
            if delay:
                with self._lock:
                    now = time.monotonic()
                    wait = max(0.0, self._next_slot.get(key, 0.0) - now)
                    self._next_slot[key] = now + wait + delay
                if wait:
                    time.sleep(wait)
            yield

    # -- robots.txt -----------------------------------------------------------------------

    def _robots_allow(self, url: str, start: float) -> bool:
        key = _origin(url)
        with self._lock:
            lock = self._robots_locks.setdefault(key, threading.Lock())
        with lock:  # one download per host even when many pages of it start at once
            if key not in self._robots:
                self._robots[key] = self._load_robots(key, start)
        rules = self._robots[key]
        if isinstance(rules, str):
            return rules == "allow"
        return rules.can_fetch(self._agent, url)

    def _load_robots(self, origin: str, start: float) -> RobotFileParser | str:
        """Parsed rules, or 'allow' (no robots.txt) / 'deny' (unreachable), per RFC 9309."""
        robots_url = f"{origin}/robots.txt"
        try:
            _final, _status, _ctype, body = self._get(robots_url, time.monotonic(),
                                                      MAX_ROBOTS_BYTES, check_robots=False,
                                                      html_only=False)
        except _Stop as stop:
            if stop.reason == "too_large":
                return "deny"
            if stop.http_status is not None and 400 <= stop.http_status < 500:
                return "allow"  # no robots.txt: everything is allowed
            log.info("robots.txt unreachable origin=%s reason=%s", origin, stop.reason)
            return "deny"
        except (aiohttp.ClientError, FetchError, OSError) as exc:
            log.info("robots.txt unreachable origin=%s error=%s", origin, exc)
            return "deny"
        parser = RobotFileParser(robots_url)
        parser.parse(body.decode("utf-8", "replace").splitlines())
        return parser

    def _crawl_delay(self, origin: str) -> float:
        rules = self._robots.get(origin)
        if not isinstance(rules, RobotFileParser):
            return 0.0
        delay = rules.crawl_delay(self._agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay else 0.0


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _content_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def _charset_param(header: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([\w:.-]+)", header or "", re.I)
    return match.group(1) if match else None


def _sniff_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta"))


async def _read_capped(resp: aiohttp.ClientResponse, cap: int, start: float, total: float,
                       truncate: bool = False) -> bytes:
    """The decompressed body, stopping at ``cap`` bytes and at the wall-clock deadline.

    We decompress ourselves with ``max_length``, so a gzip bomb stops at the cap instead of
    filling memory."""
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    decoder = (zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip")
               else zlib.decompressobj() if encoding == "deflate" else None)
    out = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):  # as it arrives
        if decoder is None:
            out += chunk
        else:
            data = chunk
            while data and len(out) <= cap:
                out += decoder.decompress(data, cap + 1 - len(out))
                data = decoder.unconsumed_tail
        if len(out) > cap:
            if truncate:
                return bytes(out[:cap])
            raise _Stop("skipped", "too_large", f"body over the {cap}-byte cap (decompressed)",
                        resp.status)
        if time.monotonic() - start > total:
            raise _Stop("failed", "timeout", f"page took longer than {total:g}s", resp.status)
    if decoder is not None:
        with contextlib.suppress(zlib.error):
            out += decoder.flush()
    if len(out) > cap:
        if truncate:
            return bytes(out[:cap])
        raise _Stop("skipped", "too_large", f"body over the {cap}-byte cap (decompressed)",
                    resp.status)
    return bytes(out)


def _http_failure(status: int, headers: Any, body: bytes) -> _Stop:
    text = body.decode("utf-8", "replace")
    if status in (401, 402):
        return _Stop("failed", "paywall", f"HTTP {status}", status)
    if status == 403 or (status in (429, 503) and (
            _BOT_WALL_MARKERS.search(text) or "cf-mitigated" in headers)):
        return _Stop("failed", "bot_wall", f"HTTP {status} (bot wall or access denied)", status)
    return _Stop("failed", "http_error", f"HTTP {status}", status)


def decode_html(raw: bytes, declared: str | None = None) -> str:
    """Bytes to text: declared charset, then ``<meta charset>``, then UTF-8, then a guess."""
    candidates: list[str] = []
    if declared:
        candidates.append(declared)
    match = _CHARSET.search(raw[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii", "ignore"))
    for name in candidates:
        try:
            return raw.decode(_charset_alias(name))
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    return str(best) if best is not None else raw.decode("utf-8", "replace")


def _charset_alias(name: str) -> str:
    name = name.strip().lower()
    # Pages declaring these usually use the superset; decoding with it loses nothing.
    return {"gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "sjis": "cp932",
            "x-sjis": "cp932", "iso-8859-1": "cp1252", "latin-1": "cp1252"}.get(name, name)


# ------------------------------------------------------------------------------ batch


def enrich_articles(settings: Settings, articles: list[dict[str, Any]],
                    client: PageClient | None = None,
                    resolver: Resolver | None = None) -> list[dict[str, Any]]:
    """Fetch and extract each article's page; return the dicts with text and metadata.

    Each returned dict (a copy) gains ``body`` (the best text we have), ``text_source``
    (``fulltext`` | ``summary`` | ``title``), ``extract_status`` (ok | skipped | failed) and
    ``extract_error`` (``reason: message``), and gets ``published_at``, ``author``,
    ``language`` and ``canonical_url`` from the page where the feed left them empty.
    Order is kept. Pages are fetched concurrently, bounded overall and per host.
    """
    if not articles:
        return []
    if not settings.extract_enabled:
        return [_merge(dict(a), PageResult(url=a.get("url") or "", status="skipped",
                                           reason="disabled", message="extract_enabled is off"))
                for a in articles]
    own_client = client is None
    client = client or make_client(settings)
    fetcher = PageFetcher(settings, client, resolver=resolver)
    try:
        workers = max(1, min(MAX_WORKERS, settings.concurrency, len(articles)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pages") as pool:
            results = list(pool.map(lambda a: _fetch_one(fetcher, a), articles))
    finally:
        if own_client:
            client.close()
    return [_merge(article, result) for article, result in zip(articles, results, strict=True)]


def _fetch_one(fetcher: PageFetcher, article: dict[str, Any]) -> PageResult | None:
    url = article.get("url")
    if not url:
        return None
    try:
        return fetcher.fetch(url)
    except Exception as exc:  # a bug on one page must not lose the batch
        log.exception("page fetch crashed url=%s article_id=%s", url, article.get("article_id"))
        return PageResult(url=url, status="failed", reason="internal", message=repr(exc))


def _merge(article: dict[str, Any], result: PageResult | None) -> dict[str, Any]:
    out = dict(article)
    summary = (out.get("summary") or "").strip()
    title = (out.get("title") or "").strip()
    if result is None:
        out["extract_status"], out["extract_error"] = "skipped", "no_url: article has no link"
    else:
        out["extract_status"], out["extract_error"] = result.status, result.error
    fulltext = result.text if result is not None and result.status == "ok" else ""
    if fulltext and text_size(fulltext) >= text_size(summary):
        out["body"], out["text_source"] = fulltext, "fulltext"
    elif summary:
        out["body"], out["text_source"] = summary, "summary"
    else:
        out["body"], out["text_source"] = (fulltext or title or None), (
            "fulltext" if fulltext else "title")
    meta = result.metadata if result is not None else {}
    for key in ("published_at", "author", "canonical_url", "language"):
        if not out.get(key) and meta.get(key):
            value = meta[key]
            if key == "published_at":
                value = value.replace(tzinfo=None)  # the warehouse stores naive UTC
            out[key] = value
    if not out.get("language"):
        out["language"] = detect_language(f"{title}\n{out.get('body') or ''}")
    return out
