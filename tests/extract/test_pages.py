"""Article page fetching against a real HTTP server on 127.0.0.1 (allowed in settings).

Each test serves one situation and checks the recorded outcome: status ok / skipped /
failed with its reason, and for ``enrich_articles`` that the article keeps its best text.
"""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import pytest

from monitor.enrich.pages import PageFetcher, enrich_articles, make_client
from monitor.settings import Settings
from tests.support.httpserver import LocalHTTPServer, Request

PAGES = Path(__file__).parent / "fixtures" / "pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def fetch(settings: Settings, url: str):
    with make_client(settings) as client:
        return PageFetcher(settings, client).fetch(url)


def test_article_page_ok_with_text_and_metadata(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/news/1", page("en_article"), headers=HTML)
    result = fetch(settings, url)
    assert (result.status, result.reason, result.http_status) == ("ok", None, 200)
    assert result.text == (PAGES / "en_article.txt").read_text(encoding="utf-8").strip()
    assert result.metadata["author"] == "Aiko Tanaka"
    ua = server.hits("/news/1")[0].headers["user-agent"]
    assert ua == settings.http_user_agent and "+http" in ua


@pytest.mark.parametrize(
    ("name", "charset", "codec"),
    [("ru_article", "windows-1251", "cp1251"), ("ja_article", "Shift_JIS", "shift_jis"),
     ("zh_article", "GB2312", "gbk")],
    ids=["ru-cp1251", "ja-shift_jis", "zh-gb2312"],
)
def test_legacy_encodings_arrive_as_the_right_characters(
    settings: Settings, server: LocalHTTPServer, name: str, charset: str, codec: str
) -> None:
    body = page(name).replace('charset="utf-8"', f'charset="{charset}"').encode(codec)
    url = server.route(f"/{name}", body, headers={"Content-Type": f"text/html; charset={charset}"})
    result = fetch(settings, url)
    assert result.status == "ok", result
    assert result.text == (PAGES / f"{name}.txt").read_text(encoding="utf-8").strip()


def test_charset_from_meta_when_the_header_has_none(settings: Settings, server: LocalHTTPServer) -> None:
    body = page("ru_article").replace('charset="utf-8"', 'charset="windows-1251"').encode("cp1251")
    url = server.route("/ru", body, headers={"Content-Type": "text/html"})
    assert "Газпром" in fetch(settings, url).text


# ---------------------------------------------------------------------------- robots.txt

ROBOTS = "User-agent: *\nDisallow: /private/\n"
#: A group for our own agent replaces the "*" group for us (RFC 9309 section 2.2.1).
ROBOTS_OURS = ("User-agent: *\nDisallow: /private/\n\n"
               "User-agent: RussiaAsiaMonitor\nDisallow: /nomonitor/\n")


def test_robots_disallow_is_honoured_and_fetched_once(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/robots.txt", ROBOTS, headers={"Content-Type": "text/plain"})
    paths = ("/private/a", "/public/c", "/public/d")
    for path in paths:
        server.route(path, page("en_article"), headers=HTML)
    with make_client(settings) as client:
        fetcher = PageFetcher(settings, client)
        results = {p: fetcher.fetch(server.url(p)) for p in paths}
    assert (results["/private/a"].status, results["/private/a"].reason) == ("skipped", "robots")
    assert results["/public/c"].status == results["/public/d"].status == "ok"
    assert len(server.hits("/robots.txt")) == 1
    assert not server.hits("/private/a")


def test_robots_group_for_our_agent(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/robots.txt", ROBOTS_OURS, headers={"Content-Type": "text/plain"})
    for path in ("/private/a", "/nomonitor/b"):
        server.route(path, page("en_article"), headers=HTML)
    with make_client(settings) as client:
        fetcher = PageFetcher(settings, client)
        assert fetcher.fetch(server.url("/nomonitor/b")).reason == "robots"
        assert fetcher.fetch(server.url("/private/a")).status == "ok"


def test_missing_robots_allows_everything(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/a", page("en_article"), headers=HTML)  # /robots.txt is a 404
    assert fetch(settings, url).status == "ok"


def test_unreachable_robots_means_do_not_crawl(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/robots.txt", "oops", status=500)
    url = server.route("/a", page("en_article"), headers=HTML)
    result = fetch(settings, url)
    assert (result.status, result.reason) == ("skipped", "robots")
    assert not server.hits("/a")


def test_robots_redirect_to_private_address_is_not_followed(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/robots.txt", status=301, headers={"Location": "http://10.0.0.1/robots.txt"})
    url = server.route("/a", page("en_article"), headers=HTML)
    assert fetch(settings, url).reason == "robots"


# ----------------------------------------------------------------- what we refuse to read


def test_non_html_is_skipped_without_reading_it(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/report.pdf", b"%PDF-1.7" + b"\0" * 10_000, headers={"Content-Type": "application/pdf"})
    result = fetch(settings, url)
    assert (result.status, result.reason) == ("skipped", "not_html")
    assert "application/pdf" in result.message


def test_untyped_body_is_sniffed(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/bin", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    assert fetch(settings, server.url("/bin")).reason == "not_html"
    server.route("/page", page("en_article"))
    assert fetch(settings, server.url("/page")).status == "ok"


def test_declared_length_over_the_cap_is_skipped(settings: Settings, server: LocalHTTPServer) -> None:
    small = settings.with_(max_page_bytes=10_000)
    url = server.route("/big", "<html><body>" + "<p>x</p>" * 5_000 + "</body></html>", headers=HTML)
    result = fetch(small, url)
    assert (result.status, result.reason) == ("skipped", "too_large")


def test_gzip_bomb_stops_at_the_decompressed_cap(settings: Settings, server: LocalHTTPServer) -> None:
    """50 MB of zeros compress to ~50 kB; we must stop reading at the 1 MB cap."""
    bomb = gzip.compress(b"<html><body><p>" + b"0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200_000
    url = server.route("/bomb", bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    result = fetch(settings.with_(max_page_bytes=1024 * 1024), url)
    assert (result.status, result.reason) == ("skipped", "too_large")
    assert "decompressed" in result.message


def test_gzip_page_within_the_cap_is_read(settings: Settings, server: LocalHTTPServer) -> None:
    body = gzip.compress(page("en_article").encode())
    url = server.route("/gz", body, headers={**HTML, "Content-Encoding": "gzip"})
    assert fetch(settings, url).status == "ok"


# ----------------------------------------------------------------- pages without article


def test_paywall_stub(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/paid", page("paywall"), headers=HTML)
    result = fetch(settings, url)
    assert (result.status, result.reason) == ("failed", "paywall")


def test_javascript_shell(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/app", page("js_shell"), headers=HTML)
    result = fetch(settings, url)
    assert (result.status, result.reason) == ("failed", "js_shell")


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(403, "<html><title>Just a moment...</title>captcha</html>", "bot_wall"),
     (403, "Forbidden", "bot_wall"),
     (429, "<html>Attention Required! | Cloudflare</html>", "bot_wall"),
     (401, "Unauthorized", "paywall"),
     (404, "Not found", "http_error"),
     (500, "boom", "http_error")],
    ids=["403-challenge", "403-plain", "429-challenge", "401", "404", "500"],
)
def test_http_errors_have_reasons(settings: Settings, server: LocalHTTPServer,
                                  status: int, body: str, reason: str) -> None:
    url = server.route("/x", body, status=status, headers=HTML)
    result = fetch(settings, url)
    assert (result.status, result.reason, result.http_status) == ("failed", reason, status)


# -------------------------------------------------------------------- redirects and time


def test_redirects_are_followed_within_the_limit(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/old", status=301, headers={"Location": "/mid"})
    server.route("/mid", status=302, headers={"Location": server.url("/new")})
    server.route("/new", page("en_article"), headers=HTML)
    result = fetch(settings, server.url("/old"))
    assert result.status == "ok" and result.final_url == server.url("/new")


def test_redirect_loop_ends(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/loop", status=302, headers={"Location": "/loop"})
    result = fetch(settings, url)
    assert (result.status, result.reason) == ("failed", "too_many_redirects")
    assert len(server.hits("/loop")) == settings.max_redirects + 1


def test_server_that_never_answers_times_out(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/hang", hang=True)
    quick = settings.with_(read_timeout=0.5)
    result = fetch(quick, url)
    assert (result.status, result.reason) == ("failed", "timeout")


def test_trickling_server_is_cut_at_the_total_timeout(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/slow", page("en_article"), headers=HTML, trickle=0.05)
    quick = settings.with_(total_timeout=0.5, read_timeout=2.0)
    result = fetch(quick, url)
    # read_timeout never fires (a chunk every 0.05 s), so only the total cap can end it; how
    # fast the cut comes is measured in bench/, not asserted here.
    assert (result.status, result.reason) == ("failed", "timeout")


def test_per_host_concurrency_is_bounded(settings: Settings, server: LocalHTTPServer) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def slow(request: Request) -> tuple[int, dict[str, str], bytes]:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return 200, HTML, page("en_article").encode()

    for i in range(6):
        server.route(f"/p{i}", handler=slow)
    articles = [{"article_id": str(i), "url": server.url(f"/p{i}"), "title": "t", "summary": "s"}
                for i in range(6)]
    out = enrich_articles(settings.with_(per_host_concurrency=2), articles)
    assert [a["extract_status"] for a in out] == ["ok"] * 6
    assert state["max"] == 2


# ------------------------------------------------------------------------ enrich_articles


def test_enrich_articles_keeps_order_and_best_text(settings: Settings, server: LocalHTTPServer) -> None:
    server.route("/ok", page("ru_article"), headers=HTML)
    server.route("/paid", page("paywall"), headers=HTML)
    server.route("/pdf", b"%PDF", headers={"Content-Type": "application/pdf"})
    articles = [
        {"article_id": "a", "url": server.url("/ok"), "title": "Сила Сибири 2",
         "summary": "Контракт подписан.", "published_at": None, "author": None,
         "language": None, "canonical_url": None},
        {"article_id": "b", "url": server.url("/paid"), "title": "Inside the Kremlin's Asia pivot",
         "summary": "Moscow has spent three years trying to replace European buyers.",
         "published_at": None, "author": "Feed Author", "language": None, "canonical_url": None},
        {"article_id": "c", "url": server.url("/pdf"), "title": "Report", "summary": "",
         "published_at": None, "author": None, "language": "en", "canonical_url": None},
        {"article_id": "d", "url": "http://10.0.0.1/x", "title": "Internal link",
         "summary": "A feed pointing inward.", "language": "en"},
        {"article_id": "e", "url": None, "title": "No link at all", "summary": "Only a blurb."},
    ]
    out = enrich_articles(settings, articles)
    assert [a["article_id"] for a in out] == ["a", "b", "c", "d", "e"]
    a, b, c, d, e = out

    assert (a["extract_status"], a["text_source"], a["extract_error"]) == ("ok", "fulltext", None)
    assert a["body"].startswith("Президент России")
    assert a["language"] == "ru" and a["author"] == "Иван Петров"
    assert a["published_at"].isoformat() == "2026-11-26T09:30:00"  # naive UTC for DuckDB
    assert a["canonical_url"].startswith("https://primer-novosti.example.ru/")

    assert (b["extract_status"], b["text_source"]) == ("failed", "summary")
    assert b["extract_error"].startswith("paywall")
    assert b["body"] == articles[1]["summary"] and b["author"] == "Feed Author"

    assert (c["extract_status"], c["text_source"], c["body"]) == ("skipped", "title", "Report")
    assert c["extract_error"].startswith("not_html")

    assert (d["extract_status"], d["text_source"]) == ("skipped", "summary")
    assert d["extract_error"].startswith("unsafe_url")

    assert (e["extract_status"], e["text_source"]) == ("skipped", "summary")
    assert "body" not in articles[0]  # inputs are not mutated


def test_enrich_articles_empty_batch(settings: Settings) -> None:
    assert enrich_articles(settings, []) == []


def test_short_cjk_article_with_scripts_is_not_a_js_shell(settings: Settings, server: LocalHTTPServer) -> None:
    """Japanese text has few \\w+ "words": sizes are counted in word equivalents."""
    html = page("ja_article").replace(
        "</head>", "<script src='/a.js'></script><script src='/b.js'></script>"
        "<script>var x=1;</script><noscript>JavaScriptを有効にしてください</noscript></head>")
    url = server.route("/ja", html, headers=HTML)
    result = fetch(settings, url)
    assert result.status == "ok", result


def test_free_brief_with_a_login_prompt_is_not_a_paywall(settings: Settings, server: LocalHTTPServer) -> None:
    html = ("<html><body><header>Already a subscriber? <a href='/login'>Log in</a> | 有料会員"
            "</header><article><h1>Lavrov to visit Beijing</h1><p>Russian Foreign Minister Sergey"
            " Lavrov will visit Beijing next week for talks with Wang Yi, the Russian Foreign"
            " Ministry said on Wednesday.</p></article></body></html>")
    url = server.route("/brief", html, headers=HTML)
    result = fetch(settings, url)
    assert result.status == "ok", result
    assert "Wang Yi" in result.text


def test_extraction_can_be_switched_off(settings: Settings, server: LocalHTTPServer) -> None:
    url = server.route("/a", page("en_article"), headers=HTML)
    out = enrich_articles(settings.with_(extract_enabled=False),
                          [{"article_id": "a", "url": url, "title": "T", "summary": "S"}])
    assert (out[0]["extract_status"], out[0]["text_source"], out[0]["body"]) == ("skipped", "summary", "S")
    assert out[0]["extract_error"].startswith("disabled")
    assert server.requests == []
