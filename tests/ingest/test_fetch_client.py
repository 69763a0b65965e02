"""The feed client (libcurl, driven by monitor.ingest.fetch) against a real server on
127.0.0.1: what it must never do (read an error's body, use a proxy from the environment,
send a header a stored validator could split, leave a thread behind at a fork) and a body
that does not decompress, recorded as the source's error."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.ingest.fetch import FeedState, FetchResult, end_resolver_threads, fetch_all
from monitor.settings import Settings
from monitor.sources import Source
from tests.support.httpserver import LocalHTTPServer, served_elsewhere

FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>One</title><link>https://example.org/1</link></item></channel></rss>")


def _fetch(settings: Settings, url: str, state: FeedState | None = None,
           **kwargs: object) -> FetchResult:
    (result,) = fetch_all([Source(id="s", url=url, outlet="S")], {"s": state or FeedState()},
                          settings, **kwargs)  # type: ignore[arg-type]
    return result


def test_sources_queued_behind_their_hosts_limit_start_as_a_slot_frees(
        settings: Settings, http_server: LocalHTTPServer) -> None:
    """Twelve feeds on one host, two at a time: each finished request lets the next start
    at once (a freed slot must not wait for some deadline to wake the loop, which would
    leave most of them to the run's deadline here)."""
    sources = [Source(id=f"f{i}", url=http_server.route(f"/f{i}.xml", FEED), outlet="F")
               for i in range(12)]
    results = fetch_all(sources, {}, settings.with_(per_host_concurrency=2,
                                                     run_deadline_seconds=8.0))
    assert [(r.outcome, r.error) for r in results] == [("ok", None)] * 12


def test_a_body_that_does_not_decompress_is_the_sources_error(
        settings: Settings, http_server: LocalHTTPServer) -> None:
    url = http_server.route("/bad-gzip.xml", b"this is not gzip at all" * 10,
                            headers={"Content-Encoding": "gzip"})
    result = _fetch(settings, url)
    assert result.outcome == "error"
    assert "could not be decompressed" in (result.error or "")
    assert len(http_server.hits("/bad-gzip.xml")) == 1  # asking again would not mend it


def test_an_error_status_body_is_not_read(settings: Settings,
                                          http_server: LocalHTTPServer) -> None:
    """A 500 with a body over the cap is a 500, not a body too large: only a 200's body is
    read."""
    url = http_server.route("/broken.xml", b"x" * (3 * 1024 * 1024), status=500)
    result = _fetch(settings.with_(max_body_bytes=1024 * 1024, retries=0), url)
    assert (result.outcome, result.status, result.error) == ("error", 500, "HTTP 500")
    assert result.body == b""


def test_a_proxy_in_the_environment_is_not_used(settings: Settings, http_server: LocalHTTPServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    result = _fetch(settings, http_server.route("/feed.xml", FEED))
    assert result.outcome == "ok" and result.body == FEED


def test_a_stored_validator_with_a_line_break_is_not_sent(
        settings: Settings, http_server: LocalHTTPServer) -> None:
    url = http_server.route("/feed.xml", FEED, headers={"ETag": '"v1"'})
    state = FeedState(etag='"v0"\r\nX-Injected: yes', last_modified="Tue, 01 Dec 2026 08:00:00 GMT")
    assert _fetch(settings, url, state).outcome == "ok"
    (request,) = http_server.hits("/feed.xml")
    assert "x-injected" not in request.headers and "if-none-match" not in request.headers
    assert request.headers["if-modified-since"] == "Tue, 01 Dec 2026 08:00:00 GMT"


@contextlib.contextmanager
def _feed_server() -> Iterator[str]:
    with LocalHTTPServer() as server:
        yield server.route("/feed.xml", FEED)


@pytest.fixture
def server_elsewhere() -> Iterator[str]:
    """A feed served by another process: this one's threads are then the fetch's alone
    (the in-process server answers each connection in a thread of its own)."""
    with served_elsewhere(_feed_server) as url:
        yield url


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_host_names_are_resolved_in_threads_that_end_before_a_fork(
        settings: Settings, server_elsewhere: str) -> None:
    """The ingest forks its workers from ``on_done``: after ``end_resolver_threads`` no
    thread the fetch started runs any code (libcurl started none: it is handed the
    addresses).

    A joined thread has run its last Python code, but its task can stay in
    ``/proc/self/task`` for a moment while the C library tears it down (CI saw one), so the
    task list is read until the fetch's tasks are gone: a thread that was still running
    would stay there, and the test would fail after the wait."""
    url = server_elsewhere.replace("127.0.0.1", "localhost")
    before = set(os.listdir("/proc/self/task"))
    seen: list[tuple[set[str], list[str]]] = []

    def on_done(result: FetchResult) -> None:
        end_resolver_threads()
        names = [t.name for t in threading.enumerate()]
        left = set(os.listdir("/proc/self/task")) - before
        for _ in range(200):  # up to 10 s; a task being torn down is gone in microseconds
            if not left:
                break
            time.sleep(0.05)
            left &= set(os.listdir("/proc/self/task"))
        seen.append((left, names))

    result = _fetch(settings, url, on_done=on_done)
    assert result.outcome == "ok" and result.body == FEED
    (left, names), = seen
    assert not [n for n in names if n.startswith("monitor-resolve")]
    assert not left, "a thread started by the fetch was still running"


def test_libcurl_is_handed_our_addresses(settings: Settings, http_server: LocalHTTPServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A name only our resolver knows: libcurl connects to what it was handed (a look-up of
    its own would fail), and a name is looked up once per fetch, however many ask."""
    from monitor.ingest import resolve

    asked: list[tuple[str, int]] = []

    def lookup(host: str, port: int) -> list[str]:
        asked.append((host, port))
        if host != "feeds.test":
            raise OSError(f"unknown host {host}")
        return ["127.0.0.1"]

    monkeypatch.setattr(resolve, "_resolve", lookup)
    port = int(http_server.route("/a.xml", FEED).rsplit(":", 1)[1].split("/")[0])
    http_server.route("/b.xml", FEED)
    sources = [Source(id=n, url=f"http://feeds.test:{port}/{n}.xml", outlet=n) for n in "ab"]
    results = fetch_all(sources, {}, settings)
    assert [(r.outcome, r.body) for r in results] == [("ok", FEED), ("ok", FEED)]
    assert asked == [("feeds.test", port)]


def test_urls_python_cannot_split_are_recorded_not_raised(
        settings: Settings, http_server: LocalHTTPServer) -> None:
    """A source URL, or a redirect's Location, with an unclosed IPv6 bracket: that source's
    error, and the others are fetched."""
    good = http_server.route("/feed.xml", FEED)
    moved = http_server.route("/moved.xml", b"", status=301,
                              headers={"Location": "http://[::1/elsewhere.xml"})
    sources = [Source(id="bad", url="http://[::1/feed.xml", outlet="B"),
               Source(id="moved", url=moved, outlet="M"),
               Source(id="good", url=good, outlet="G")]
    bad, redirected, fine = fetch_all(sources, {}, settings)
    assert bad.outcome == "error" and "invalid URL" in (bad.error or ""), bad.error
    assert redirected.outcome == "error" and "no URL" in (redirected.error or "")
    assert fine.outcome == "ok" and fine.body == FEED


def test_a_bug_in_one_sources_handling_is_its_error_and_the_others_go_on(
        settings: Settings, http_server: LocalHTTPServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As a bug would: the Retry-After reading raises for the one source that has one."""
    from monitor.ingest import fetch

    def broken(value: str | None, now: object = None) -> float | None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(fetch, "parse_retry_after", broken)
    busy = http_server.route("/busy.xml", b"", status=503, headers={"Retry-After": "1"})
    sources = [Source(id="busy", url=busy, outlet="B"),
               Source(id="good", url=http_server.route("/feed.xml", FEED), outlet="G")]
    results = fetch_all(sources, {}, settings)
    assert [(r.outcome, r.error) for r in results] == [
        ("error", "internal error: RuntimeError: a bug"), ("ok", None)]


def test_an_exception_of_the_callers_callback_is_raised(settings: Settings,
                                                         http_server: LocalHTTPServer) -> None:
    def on_done(result: FetchResult) -> None:
        raise KeyError("the caller's")

    with pytest.raises(KeyError, match="the caller's"):
        _fetch(settings, http_server.route("/feed.xml", FEED), on_done=on_done)
