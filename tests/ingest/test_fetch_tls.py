"""Feeds over HTTPS, against a real TLS server on 127.0.0.1 with a certificate from a CA of
the test's own (trustme): fetched when the CA is trusted, refused (and recorded, not
retried) when it is not: certificate checks are on, whatever the client."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from monitor.ingest.fetch import FeedState, FetchResult, fetch_all
from monitor.settings import Settings
from monitor.sources import Source
from tests.support.httpserver import LocalHTTPServer

FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>One</title><link>https://example.org/1</link></item></channel></rss>")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[LocalHTTPServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    with LocalHTTPServer(tls=context) as server:
        yield server


def _fetch(settings: Settings, url: str) -> FetchResult:
    (result,) = fetch_all([Source(id="s", url=url, outlet="S")], {"s": FeedState()}, settings)
    return result


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_feed_from_a_trusted_server_is_fetched(settings: Settings, https_server: LocalHTTPServer,
                                                 ca: trustme.CA, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 host: str) -> None:
    import certifi

    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))  # the bundle the client trusts
    url = https_server.route("/feed.xml", FEED).replace("127.0.0.1", host)
    assert url.startswith("https://")
    result = _fetch(settings, url)
    assert (result.outcome, result.status, result.body) == ("ok", 200, FEED)


def test_a_certificate_nobody_vouches_for_is_refused_and_not_retried(
        settings: Settings, https_server: LocalHTTPServer) -> None:
    result = _fetch(settings.with_(retries=2), https_server.route("/feed.xml", FEED))
    assert result.outcome == "error" and result.body == b""
    assert "certificate" in (result.error or "").lower(), result.error
    assert result.attempts == 1  # a certificate does not mend itself within a run
    assert https_server.requests == []  # nothing was sent over the unverified connection
