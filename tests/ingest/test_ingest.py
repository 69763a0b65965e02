"""Ingest end to end: feeds served by a real HTTP server → warehouse, good and bad input."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta

import pytest

from monitor.ingest.run import run_ingest
from tests.ingest.conftest import FEEDS, FeedEnv


def articles_of(query, source_id: str) -> list[str]:
    return [r[0] for r in query(
        "SELECT a.title FROM articles a JOIN article_sources s USING (article_id)"
        " WHERE s.source_id = ? ORDER BY a.title", [source_id])]


def last_fetch(query, source_id: str) -> dict:
    row = query(
        "SELECT outcome, http_status, error, entries_seen, entries_new, bozo, parser"
        " FROM fetches WHERE source_id = ? ORDER BY started_at DESC LIMIT 1", [source_id])[0]
    return dict(zip(["outcome", "status", "error", "seen", "new", "bozo", "parser"], row,
                    strict=True))


def test_ingest_twice_stores_once_and_uses_conditional_get(feeds: FeedEnv, query) -> None:
    feeds.serve_fixture("wire", "rss_basic.xml", headers={
        "Content-Type": "application/rss+xml", "ETag": '"v1"'})
    feeds.serve_fixture("eastern", "atom_basic.xml", headers={
        "Content-Type": "application/atom+xml",
        "Last-Modified": "Wed, 11 Nov 2026 08:00:00 GMT"})
    feeds.serve_fixture("json", "jsonfeed.json", headers={"Content-Type": "application/feed+json"})

    first = run_ingest(feeds.settings)
    assert (first.sources_ok, first.sources_failed, first.articles_new) == (3, 0, 7)
    assert query("SELECT count(*) FROM articles")[0][0] == 7

    second = run_ingest(feeds.settings)
    assert second.sources_not_modified == 3 and second.articles_new == 0
    assert query("SELECT count(*) FROM articles")[0][0] == 7
    assert query("SELECT count(*) FROM fetches")[0][0] == 6

    wire_hits = feeds.server.hits("/wire.xml")
    assert wire_hits[1].headers.get("if-none-match") == '"v1"'
    assert feeds.server.hits("/eastern.xml")[1].headers.get("if-modified-since") == \
        "Wed, 11 Nov 2026 08:00:00 GMT"
    ua = wire_hits[0].headers["user-agent"]
    assert "RussiaAsiaMonitor" in ua and feeds.settings.contact_url in ua


def test_entries_are_normalised(feeds: FeedEnv, query) -> None:
    feeds.serve_fixture("wire", "rss_basic.xml")
    feeds.serve_fixture("eastern", "atom_basic.xml")
    run_ingest(feeds.settings)
    rows = {r[0]: r[1:] for r in query(
        "SELECT title, url, canonical_url, summary, published_at, author FROM articles")}
    kurils = rows["Japan and Russia resume talks on the Kuril Islands peace treaty"]
    assert kurils[1] == "https://wire.example.org/news/1001"  # utm_* removed
    assert kurils[2].startswith("Tokyo and Moscow held") and "<" not in kurils[2]
    assert kurils[3] == datetime(2026, 11, 10, 0, 30)  # +0900 → UTC
    assert kurils[4] == "Staff reporter"
    drill = rows["Russian and Chinese warships hold joint drill in the Sea of Japan"]
    assert drill[0] == "https://eastern.example.net/2026/11/joint-drill"  # alternate link
    assert drill[3] == datetime(2026, 11, 11, 3, 0)


def test_unchanged_body_skipped_by_content_hash(feeds: FeedEnv, query) -> None:
    # A server that ignores conditional GET entirely (no ETag, no Last-Modified).
    feeds.serve_fixture("plain", "rss_basic.xml", conditional=False,
                        headers={"Content-Type": "text/xml"})
    run_ingest(feeds.settings)
    run_ingest(feeds.settings)
    fetch = last_fetch(query, "plain")
    assert fetch["outcome"] == "not_modified" and fetch["parser"] == "content-hash"
    assert query("SELECT count(*) FROM articles")[0][0] == 3


def test_same_article_in_two_feeds_is_stored_once(feeds: FeedEnv, query) -> None:
    body = (FEEDS / "rss_basic.xml").read_bytes()
    feeds.serve("wire-a", body)
    feeds.serve("wire-b", body)
    run_ingest(feeds.settings)
    assert query("SELECT count(*) FROM articles")[0][0] == 3
    carried = query("SELECT count(DISTINCT source_id) FROM article_sources")[0][0]
    assert carried == 2


def _encoded_feed(title: str, encoding: str, declare: bool) -> bytes:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else "<?xml version=\"1.0\"?>"
    text = (f"{decl}<rss version=\"2.0\"><channel><title>enc</title><item><title>{title}</title>"
            f"<link>https://enc.example.com/{abs(hash(title)) % 10000}</link>"
            f"<description>{title} - {title}</description></item></channel></rss>")
    return text.encode(encoding)


RUSSIAN = 'Лавров и Ван И обсудили газопровод "Сила Сибири 2" и санкции против России'
JAPANESE = "北方領土問題で日露外相が会談、国後島と択捉島の共同経済活動を協議"
CHINESE = "中俄两国签署西伯利亚力量2号天然气管道协议，扩大能源合作"

ENCODING_CASES = [
    pytest.param(_encoded_feed(RUSSIAN, "windows-1251", True), {}, RUSSIAN, id="windows-1251"),
    pytest.param(_encoded_feed(RUSSIAN, "koi8-r", False), {"Content-Type": "text/xml"}, RUSSIAN,
                 id="koi8-r-undeclared"),
    pytest.param(_encoded_feed(JAPANESE, "shift_jis", True), {}, JAPANESE, id="shift_jis"),
    pytest.param(_encoded_feed(CHINESE, "gb2312", False),
                 {"Content-Type": "application/rss+xml; charset=gb2312"}, CHINESE,
                 id="gb2312-http-header"),
    pytest.param(b"\xff\xfe" + _encoded_feed(JAPANESE, "utf-16-le", True), {}, JAPANESE,
                 id="utf-16-bom"),
    pytest.param(_encoded_feed("Café crème: résumé of Moscow–Tokyo talks", "windows-1252", False)
                 .replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="utf-8"?>'),
                 {"Content-Type": "text/xml; charset=utf-8"},
                 "Café crème: résumé of Moscow–Tokyo talks", id="utf-8-declared-really-cp1252"),
]


@pytest.mark.parametrize(("body", "headers", "expected"), ENCODING_CASES)
def test_encodings_arrive_as_the_right_characters(feeds: FeedEnv, query, body, headers,
                                                  expected) -> None:
    feeds.serve("enc", body, headers=headers or {"Content-Type": "application/xml"})
    summary = run_ingest(feeds.settings)
    assert summary.sources_failed == 0
    assert articles_of(query, "enc") == [expected]


def _gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"<rss>" + b" " * size, compresslevel=9)


BAD_CASES = [
    # id, route kwargs, expected outcome, error substring, articles kept from this source
    pytest.param({"body": (FEEDS / "malformed.xml").read_bytes()}, "ok", None, 2, id="malformed"),
    pytest.param({"body": (FEEDS / "truncated.xml").read_bytes()}, "ok", None, 1, id="truncated"),
    pytest.param({"body": b""}, "error", "empty body", 0, id="empty-body"),
    pytest.param({"body": (FEEDS / "not_a_feed.html").read_bytes(),
                  "headers": {"Content-Type": "text/html"}}, "error", "not a feed", 0,
                 id="html-page"),
    pytest.param({"body": (FEEDS / "jsonfeed.json").read_bytes(),
                  "headers": {"Content-Type": "application/feed+json"}}, "ok", None, 2,
                 id="json-feed"),
    pytest.param({"body": b"<rss>" + b"x" * (3 * 1024 * 1024)}, "error", "exceeds the cap", 0,
                 id="too-large"),
    pytest.param({"body": _gzip_bomb(200 * 1024 * 1024),
                  "headers": {"Content-Encoding": "gzip", "Content-Type": "text/xml"}},
                 "error", "after decompression", 0, id="gzip-bomb"),
    pytest.param({"body": (FEEDS / "entity_bomb.xml").read_bytes()}, "ok", None, None,
                 id="entity-bomb"),
    pytest.param({"hang": True}, "error", "time", 0, id="never-answers"),
    pytest.param({"status": 404}, "error", "HTTP 404", 0, id="404"),
    pytest.param({"status": 500}, "error", "HTTP 500", 0, id="500"),
    pytest.param({"status": 429, "headers": {"Retry-After": "3600"}}, "error", "Retry-After", 0,
                 id="429-retry-after"),
    pytest.param({"body": (FEEDS / "duplicates.xml").read_bytes()}, "ok", None, 3,
                 id="duplicate-guids"),
    pytest.param({"body": (FEEDS / "sparse.xml").read_bytes()}, "ok", None, 5,
                 id="missing-link-title-date"),
]


@pytest.mark.parametrize(("route", "outcome", "error", "kept"), BAD_CASES)
def test_bad_input_is_recorded_and_isolated(feeds: FeedEnv, query, route, outcome, error,
                                            kept) -> None:
    settings = feeds.settings.with_(max_body_bytes=2 * 1024 * 1024, total_timeout=3.0)
    feeds.settings = settings
    feeds.serve_fixture("good", "rss_basic.xml")
    feeds.serve("bad", **route)
    summary = run_ingest(settings)

    assert articles_of(query, "good"), "a bad source must not affect the others"
    fetch = last_fetch(query, "bad")
    assert fetch["outcome"] == outcome, fetch
    if error:
        assert error in (fetch["error"] or ""), fetch
        assert summary.sources_failed == 1
        health = query("SELECT consecutive_failures, last_error FROM feed_state"
                       " WHERE source_id = 'bad'")[0]
        assert health[0] == 1 and error in health[1]
    if kept is not None:
        assert len(articles_of(query, "bad")) == kept
    # Nothing duplicated, whatever happened.
    assert query("SELECT count(*) - count(DISTINCT entry_key) FROM articles")[0][0] == 0


def test_bad_feed_failure_shows_in_sources_command(feeds: FeedEnv) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    feeds.serve("dead", status=500)
    feeds.serve_fixture("good", "rss_basic.xml")
    env = {"MONITOR_HOME": str(feeds.settings.home),
           "MONITOR_SOURCES_FILE": str(feeds.settings.sources_file),
           "MONITOR_EXTRACT_ENABLED": "false", "MONITOR_RETRIES": "0"}
    result = CliRunner().invoke(cli, ["ingest", "--quiet"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 failed" in result.output and "dead: HTTP 500" in result.output
    result = CliRunner().invoke(cli, ["sources", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    dead = next(line for line in result.output.splitlines() if line.startswith("dead,"))
    assert "HTTP 500" in dead and ",1," in dead


def test_html_and_script_in_titles_become_plain_text(feeds: FeedEnv, query) -> None:
    feeds.serve_fixture("sparse", "sparse.xml")
    run_ingest(feeds.settings)
    titles = [r[0] for r in query("SELECT title FROM articles")]
    assert "Putin visits Beijing & Harbin" in titles
    assert not any("<" in t or "alert" in t for t in titles)
    flags = dict(query("SELECT url, date_flag FROM articles WHERE date_flag IS NOT NULL"))
    assert flags["https://sparse.example.com/no-date"] == "missing"
    assert flags["https://sparse.example.com/epoch"] == "absurd"
    assert flags["https://sparse.example.com/html-title"] == "absurd"  # year 2039


def test_links_urllib_cannot_split_cost_neither_the_entry_nor_the_batch(
        feeds: FeedEnv, query) -> None:
    # urllib raises on these (a port that is no number when it is read, an unclosed IPv6
    # bracket): each once failed the whole batch, or lost every entry of its feed.
    def feed(*links: str) -> str:
        items = "".join(f"<item><title>{title}</title><link>{link}</link></item>"
                        for title, link in links)
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Odd</title>{items}</channel></rss>")

    feeds.serve("odd", feed(("Bad port", "https://odd.example.org:80x/a"),
                            ("Open bracket", "https://[odd/b"),
                            ("Relative open bracket", "//[odd/c"),
                            ("Good", "https://odd.example.org/d")))
    feeds.serve("finder", feed(("Found", "https://[found/e")), kind="search",
                outlet="Finder")
    feeds.serve_fixture("wire", "rss_basic.xml")
    result = run_ingest(feeds.settings)
    assert (result.sources_ok, result.sources_failed) == (3, 0)
    rows = {r[0]: r[1:] for r in query("SELECT title, url, canonical_url, outlet FROM articles")}
    assert rows["Bad port"][:2] == ("https://odd.example.org:80x/a", None)
    assert rows["Open bracket"][:2] == ("https://[odd/b", None)
    assert rows["Relative open bracket"][:2] == (None, None)  # never made absolute
    assert rows["Good"][1] == "https://odd.example.org/d"
    assert rows["Found"] == ("https://[found/e", None, "Finder")  # no site in the link
    assert len(articles_of(query, "wire")) == 3


def test_a_bug_reading_one_feed_is_that_sources_error_and_the_others_are_stored(
        feeds: FeedEnv, query, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a bug would: making one source's records raises."""
    from tests.support.bugs import bug_in_records

    bug_in_records(monkeypatch, "eastern")
    feeds.serve_fixture("wire", "rss_basic.xml")
    feeds.serve_fixture("eastern", "atom_basic.xml")
    result = run_ingest(feeds.settings)
    assert (result.sources_ok, result.sources_failed) == (1, 1)
    assert len(articles_of(query, "wire")) == 3 and articles_of(query, "eastern") == []
    fetch = last_fetch(query, "eastern")
    assert fetch["outcome"] == "error"
    assert fetch["error"] == "internal error reading the feed: RuntimeError: a bug"
    # No content hash kept: the same body is read again once the bug is gone.
    assert query("SELECT content_hash FROM feed_state WHERE source_id = 'eastern'") in (
        [], [(None,)])


def test_an_emoji_written_as_surrogate_references_is_stored(feeds: FeedEnv, query) -> None:
    # feedparser raises on "&#55357;&#56832;", lxml refuses it: the feed's every entry was
    # lost at every poll ("parser crashed").
    feeds.serve("emoji", (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>E</title>'
        "<item><title>Talks end &#55357;&#56832;</title><link>https://e.example.org/1</link>"
        "</item><item><title>Plain</title><link>https://e.example.org/2</link></item>"
        "</channel></rss>"))
    result = run_ingest(feeds.settings)
    assert (result.sources_ok, result.sources_failed) == (1, 0)
    assert articles_of(query, "emoji") == ["Plain", "Talks end \U0001F600"]
    fetch = last_fetch(query, "emoji")
    assert fetch["outcome"] == "ok" and "character references" in fetch["bozo"]


def test_failing_source_backs_off_and_recovers(feeds: FeedEnv, query) -> None:
    feeds.serve("flaky", status=503)
    run_ingest(feeds.settings)
    next_poll = query("SELECT next_poll_at FROM feed_state WHERE source_id = 'flaky'")[0][0]
    assert next_poll > datetime.utcnow() + timedelta(minutes=20)
    # Still backing off: not polled again unless asked.
    hits = len(feeds.server.hits("/flaky.xml"))
    assert run_ingest(feeds.settings).sources_total == 0
    assert len(feeds.server.hits("/flaky.xml")) == hits
    feeds.serve_fixture("flaky", "rss_basic.xml")
    assert run_ingest(feeds.settings, poll_all=True).sources_ok == 1
    state = query("SELECT consecutive_failures, next_poll_at, last_error FROM feed_state"
                  " WHERE source_id = 'flaky'")[0]
    assert state == (0, None, None)


def test_retry_after_short_is_honoured_then_succeeds(feeds: FeedEnv, query) -> None:
    body = (FEEDS / "rss_basic.xml").read_bytes()
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return 429, {"Retry-After": "1"}, b"slow down"
        return 200, {"Content-Type": "application/rss+xml"}, body

    feeds.serve("busy", handler=handler)
    assert run_ingest(feeds.settings).sources_ok == 1
    assert len(calls) == 2
    assert len(articles_of(query, "busy")) == 3


def test_permanent_redirect_updates_url_and_410_disables(feeds: FeedEnv, query) -> None:
    new_url = feeds.server.route("/new-home.xml", (FEEDS / "rss_basic.xml").read_bytes())
    feeds.serve("moved", status=301, headers={"Location": "/new-home.xml"})
    feeds.serve("gone", status=410)
    feeds.serve("loop", status=302, headers={"Location": "/loop.xml"})
    run_ingest(feeds.settings)
    urls = dict(query("SELECT source_id, url FROM sources"))
    assert urls["moved"] == new_url
    assert len(articles_of(query, "moved")) == 3
    enabled, reason = query("SELECT enabled, disabled_reason FROM sources"
                            " WHERE source_id = 'gone'")[0]
    assert enabled is False and "410" in reason
    assert "redirect loop" in last_fetch(query, "loop")["error"]
    # The next run polls the new URL and leaves the gone source alone.
    run_ingest(feeds.settings, poll_all=True)
    assert feeds.server.hits("/new-home.xml")[-1].headers.get("if-none-match") is None
    assert len(feeds.server.hits("/gone.xml")) == 1


def test_search_feeds_keep_the_real_publisher(feeds: FeedEnv, query) -> None:
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>"Russia" "Japan" - Search'
        "</title><item><title>Tokyo protests Russian drills on Etorofu - Daily Example</title>"
        "<link>https://news.example.com/articles/xyz</link><guid isPermaLink='false'>xyz</guid>"
        "<source url='https://daily.example.jp'>Daily Example</source></item>"
        "<item><title>No source element here</title>"
        "<link>https://www.other-paper.example/story/1</link></item></channel></rss>")
    feeds.serve("search", feed, kind="search", outlet="Search Engine")
    run_ingest(feeds.settings)
    rows = dict(query("SELECT title, outlet FROM articles"))
    assert rows == {"Tokyo protests Russian drills on Etorofu": "Daily Example",
                    "No source element here": "other-paper.example"}


ARTICLE_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Talks resume</title>
<link rel="canonical" href="{canonical}">
<meta property="article:published_time" content="2026-11-10T08:00:00+09:00">
<meta name="author" content="Hanako Sato"></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Japan and Russia resume peace treaty talks</h1>
<p>Japanese and Russian diplomats met in Moscow on Tuesday for the first round of talks on a
peace treaty in six years, the foreign ministry in Tokyo said.</p>
<p>The talks covered the status of the southern Kuril Islands, which Japan calls the Northern
Territories, and visa-free visits by former Japanese residents to the islands.</p>
<p>Russia's deputy foreign minister said Moscow was ready to discuss joint economic activity
on the islands but would not put sovereignty on the table.</p>
</article><footer>Copyright Example Wire. All rights reserved.</footer></body></html>"""


def test_full_text_is_fetched_for_candidates_and_failures_keep_the_summary(
        feeds: FeedEnv, query) -> None:
    settings = feeds.settings.with_(extract_enabled=True)
    feeds.settings = settings
    page_url = feeds.server.route("/news/kurils.html", ARTICLE_PAGE.format(
        canonical=feeds.server.url("/news/kurils.html")),
        headers={"Content-Type": "text/html; charset=utf-8"})
    blocked_url = feeds.server.route("/news/blocked.html", "Forbidden", status=403,
                                     headers={"Content-Type": "text/html"})
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<item><title>Japan and Russia resume peace treaty talks</title><link>{page_url}"
        "</link><description>Talks on the Kurils resumed.</description>"
        "<pubDate>Tue, 10 Nov 2026 00:00:00 GMT</pubDate></item>"
        f"<item><title>Russia and China sign gas deal</title><link>{blocked_url}</link>"
        "<description>Gazprom and CNPC agreed on Power of Siberia 2.</description></item>"
        "<item><title>Local football results</title><link>https://sport.example.org/1</link>"
        "<description>Scores from the weekend.</description></item></channel></rss>")
    feeds.serve("wire", feed)
    run_ingest(settings)
    rows = {r[0]: r[1:] for r in query(
        "SELECT title, text_source, extract_status, extract_error, body, author FROM articles")}
    kurils = rows["Japan and Russia resume peace treaty talks"]
    assert kurils[0] == "fulltext" and kurils[1] == "ok"
    assert "visa-free visits" in kurils[3] and "Copyright" not in kurils[3]
    gas = rows["Russia and China sign gas deal"]
    assert gas[0] == "summary" and gas[1] == "failed" and "403" in (gas[2] or "")
    # Not a candidate (nothing about Russia): its page is never requested.
    football = rows["Local football results"]
    assert football[1] is None and football[0] == "summary"
    assert query("SELECT count(*) FROM classifications")[0][0] == 3
