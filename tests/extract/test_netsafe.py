"""Refusals of unsafe links, each shown against a real server on 127.0.0.1.

With an empty allow-list the fetcher must refuse every address below *before* connecting:
the local server's request log stays empty. Names are resolved by a resolver we pass in
(a name that "resolves" to a private address is how DNS rebinding and internal names look),
so no test depends on real DNS (the one system-resolver test uses ".invalid", which never
resolves).
"""

from __future__ import annotations

import ipaddress

import pytest

from monitor.enrich.netsafe import HostNotFound, check_address, is_allowed_host, resolve_safe
from monitor.enrich.pages import PageFetcher, make_client
from monitor.errors import UnsafeURL
from monitor.settings import Settings
from tests.support.httpserver import LocalHTTPServer

ARTICLE = "<html><body><article>" + "<p>Russia and Japan held talks on fishing near the islands today.</p>" * 5 + "</article></body></html>"

#: name -> addresses, for URLs whose host is a name.
FAKE_DNS = {
    "rebind.example": ["10.0.0.5"],
    "mixed.example": ["93.184.216.34", "192.168.1.20"],  # one public, one private: refused
    "v6local.example": ["::1"],
    "news.example": ["127.0.0.1"],  # allowed by name in one test
}


def fake_resolver(host: str, port: int) -> list[str]:
    try:
        return FAKE_DNS[host]
    except KeyError:
        raise OSError(f"unknown host {host}") from None


UNSAFE = [
    ("http://127.0.0.1:{port}/a", "loopback"),
    ("http://127.1.2.3:{port}/a", "loopback"),
    ("http://[::1]:{port}/a", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/a", "loopback"),
    ("http://10.1.2.3/a", "private"),
    ("http://172.16.5.4/a", "private"),
    ("http://192.168.0.1/a", "private"),
    ("http://[fc00::1]/a", "private"),
    ("http://169.254.10.10/a", "link-local"),
    ("http://[fe80::1]/a", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://100.64.1.1/a", "carrier-grade NAT"),
    ("http://100.100.100.200/latest/meta-data/", "metadata"),
    ("http://224.0.0.1/a", "multicast"),
    ("http://240.0.0.1/a", "reserved"),
    ("http://0.0.0.0:{port}/a", "unspecified"),
    ("http://rebind.example/a", "private"),
    ("http://mixed.example/a", "private"),
    ("http://v6local.example/a", "loopback"),
    ("file:///etc/passwd", "scheme"),
    ("ftp://example.org/file", "scheme"),
    ("gopher://127.0.0.1:70/", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("http://user:secret@example.org/", "credentials"),
    ("http:///nohost", "no host"),
]


@pytest.mark.parametrize(("template", "why"), UNSAFE, ids=[f"{i:02d}-{w}" for i, (_, w) in enumerate(UNSAFE)])
def test_unsafe_urls_are_refused_before_any_request(
    settings: Settings, server: LocalHTTPServer, template: str, why: str
) -> None:
    server.route("/a", ARTICLE, headers={"Content-Type": "text/html"})
    url = template.format(port=server.port)
    strict = settings.with_(allow_hosts=())
    with make_client(strict) as client:
        result = PageFetcher(strict, client, resolver=fake_resolver).fetch(url)
    assert (result.status, result.reason) == ("skipped", "unsafe_url"), result
    assert why.split()[0].lower() in result.message.lower() or why in ("no host",)
    assert server.requests == []  # refused before connecting


def test_decimal_and_hex_encodings_of_loopback_are_refused() -> None:
    # getaddrinfo turns these into 127.0.0.1 (no DNS query: they are numeric forms).
    for host in ("2130706433", "0x7f000001", "017700000001", "127.1"):
        with pytest.raises(UnsafeURL, match="loopback"):
            resolve_safe(f"http://{host}/")


def test_allowed_host_is_fetched(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/a", ARTICLE, headers={"Content-Type": "text/html"})
    with make_client(settings) as client:
        result = PageFetcher(settings, client).fetch(url)
    assert result.status == "ok", result
    assert "fishing" in result.text


def test_allowed_name_is_pinned_to_the_checked_address(
    settings: Settings, server: LocalHTTPServer
) -> None:
    """The request goes to the address we checked and still says which host it wants."""
    server.route("/a", ARTICLE, headers={"Content-Type": "text/html"})
    named = settings.with_(allow_hosts=("news.example",))
    with make_client(named) as client:
        result = PageFetcher(named, client, resolver=fake_resolver).fetch(
            f"http://news.example:{server.port}/a")
    assert result.status == "ok", result
    assert server.hits("/a")[0].headers["host"] == f"news.example:{server.port}"


@pytest.mark.parametrize(
    "target",
    ["http://192.168.1.1/admin", "http://169.254.169.254/latest/meta-data/iam/",
     "http://rebind.example/internal", "file:///etc/passwd"],
    ids=["private", "metadata", "rebinding-name", "file-scheme"],
)
def test_redirect_to_unsafe_address_is_refused(
    settings: Settings, server: LocalHTTPServer, target: str
) -> None:
    """An allowed (public-looking) page that redirects inward is stopped at the hop."""
    url = server.route("/go", status=302, headers={"Location": target})
    with make_client(settings) as client:
        result = PageFetcher(settings, client, resolver=fake_resolver).fetch(url)
    assert (result.status, result.reason) == ("skipped", "unsafe_url"), result
    assert [r.path for r in server.requests if r.path != "/robots.txt"] == ["/go"]


@pytest.mark.parametrize(
    ("address", "reason"),
    [("8.8.8.8", None), ("2001:4860:4860::8888", None), ("127.0.0.1", "loopback"),
     ("10.0.0.1", "private"), ("100.64.0.1", "carrier-grade"), ("169.254.169.254", "metadata"),
     ("2002:7f00:1::", "loopback"), ("::ffff:10.0.0.1", "private"), ("192.0.2.1", "private"),
     ("198.18.0.1", "private"), ("255.255.255.255", "reserved")],
)
def test_check_address(address: str, reason: str | None) -> None:
    found = check_address(ipaddress.ip_address(address))
    assert (found is None) if reason is None else (reason in (found or "")), found


def test_allow_list_by_name_address_and_network() -> None:
    assert is_allowed_host("intranet.example", ["10.1.2.3"], ["intranet.example"])
    assert is_allowed_host("x.example", ["10.1.2.3"], ["10.1.0.0/16"])
    assert not is_allowed_host("x.example", ["10.1.2.3", "10.2.0.1"], ["10.1.0.0/16"])
    assert not is_allowed_host("x.example", ["10.1.2.3"], [])


def test_a_name_that_does_not_resolve_is_a_dns_error_not_a_refusal(settings: Settings) -> None:
    # ".invalid" never resolves (RFC 2606), with or without a network: the system resolver.
    with pytest.raises(HostNotFound, match="cannot resolve host nonexistent.invalid") as info:
        resolve_safe("http://nonexistent.invalid/a")
    assert not isinstance(info.value, UnsafeURL)
    with make_client(settings) as client:
        result = PageFetcher(settings, client).fetch("http://nonexistent.invalid/news/1.html")
    assert (result.status, result.reason) == ("failed", "dns_error"), result
    assert result.error.startswith("dns_error: cannot resolve host nonexistent.invalid")
