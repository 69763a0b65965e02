"""Page kinds: feed items that are not articles are tagged, never relevant, never clustered.

Unit cases for the rules (monitor/enrich/pagekind.py) and one real ingest of a feed that
mixes articles with a headline list, an index page, a video and a "most read" box.
"""

from __future__ import annotations

import json

import pytest

from monitor.enrich.pagekind import page_kind
from monitor.ingest.run import run_ingest
from tests.ingest.conftest import FeedEnv

HEADLINE_LIST = "\n".join([
    "PD Voice",
    "Russia and Japan discuss fishing quotas", "2026-08-18 18:51:30",
    "China and Russia sign energy memorandum", "2026-08-17 20:42:30",
    "Japan's envoy meets Chinese counterpart", "2026-08-17 12:19:30",
])


@pytest.mark.parametrize(("title", "summary", "url", "kind"), [
    ("PD Voice", HEADLINE_LIST, "http://news.example.cn/102780/index.html", "headline_list"),
    ("World", "World", "https://news.example.com/world/index.html", "index"),
    ("Topics", "", "https://news.example.com/topics/russia", "index"),
    ("Ukraine war: live updates", "Follow our coverage.", "https://e.example/live/123",
     "liveblog"),
    ("Video: Putin arrives in Beijing", "", "https://e.example/news/putin-beijing", "video"),
    ("Putin arrives in Beijing", "Short clip.", "https://e.example/videos/putin-beijing",
     "video"),
    ("In pictures: Vladivostok forum", "", "https://e.example/news/forum", "gallery"),
    ("Most read", "a; b; c", "https://e.example/mostread", "most_read"),
    # Articles stored as .../slug/index.html (CNN does this) stay articles.
    ("China sanctions Lockheed Martin", "Beijing said on Tuesday...",
     "https://cnn.example/2020/07/14/business/china-sanctions-lockheed-martin/index.html",
     "article"),
    ("Japan and Russia resume talks", "Tokyo and Moscow held a first round of talks.",
     "https://wire.example.org/news/1001", "article"),
    # A long text with a video URL is an article with a video in it.
    ("Putin in Beijing", "Long text. " * 60, "https://e.example/video/putin", "article"),
], ids=["headline-list", "index-html", "topic-page", "liveblog", "video-title", "video-url",
        "gallery", "most-read", "cnn-index-article", "article", "long-video-page"])
def test_page_kind_rules(title: str, summary: str, url: str, kind: str) -> None:
    got, reason = page_kind(title, summary, url, None)
    assert got == kind
    assert bool(reason) == (kind != "article")


def test_non_articles_are_tagged_not_relevant_and_not_clustered(feeds: FeedEnv, query) -> None:
    feeds.serve_fixture("eastern", "page_kinds.xml")
    result = run_ingest(feeds.settings)
    assert result.articles_new == 6
    rows = {r[0]: r[1:] for r in query(
        "SELECT a.title, a.page_kind, a.page_kind_reason, c.relevant, c.dyads, c.evidence,"
        " a.cluster_id FROM articles a JOIN current_classifications c USING (article_id)")}
    assert {t: r[0] for t, r in rows.items()} == {
        "In depth": "headline_list",
        "Analysis": "index",
        "Watch: Russian and Chinese bombers fly over the Sea of Japan": "video",
        "Most read": "most_read",
        "Japan protests Russian military drills on the disputed Kuril Islands": "article",
        "City council approves new tram line": "article",
    }
    for title, (kind, reason, relevant, dyads, evidence, cluster_id) in rows.items():
        if kind == "article":
            # An article is a story when it may concern Russia with Japan or China; the
            # tram line is stored and classified, but no story (test_story_candidates.py).
            assert reason is None and (cluster_id is not None) == ("Kuril" in title), title
            continue
        assert reason and not relevant and dyads == [], title
        assert json.loads(evidence)["page_kind"][0].startswith(kind), title
        assert cluster_id is None, title  # never a story
    assert rows["Japan protests Russian military drills on the disputed Kuril Islands"][2]
    assert "timestamp" in rows["In depth"][1]


def test_pages_of_non_articles_are_not_fetched(feeds: FeedEnv, query) -> None:
    """With full-text extraction on, the article's page is fetched and the headline list's
    is not: its text is other stories' headlines."""
    server = feeds.server
    page = ("<html><body><article><h1>Japan protests Russian drills on Etorofu</h1>"
            + "<p>Japan's foreign ministry lodged a protest with Moscow after Russian forces "
              "held drills on Etorofu in the southern Kurils.</p>" * 5
            + "</article></body></html>")
    article_url = server.route("/news/2026/11/10/etorofu-drills.html", page,
                               headers={"Content-Type": "text/html; charset=utf-8"})
    index_url = server.route("/indepth/index.htm", page,
                             headers={"Content-Type": "text/html; charset=utf-8"})
    stamps = "\n".join(f"Russia and Japan discuss item {i}\n2026-11-0{i} 10:00:00"
                       for i in range(1, 6))
    feed = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>Local</title><link>http://127.0.0.1/</link>"
            f"<item><title>In depth</title><link>{index_url}</link><guid>ix</guid>"
            f"<description>{stamps}</description></item>"
            "<item><title>Japan protests Russian drills on Etorofu</title>"
            f"<link>{article_url}</link><guid>art</guid><description>Japan protested to "
            "Moscow over Russian drills on the Kurils.</description></item>"
            "</channel></rss>")
    feeds.serve("local", feed, headers={"Content-Type": "application/rss+xml"})
    settings = feeds.settings.with_(extract_enabled=True, extract_only_candidates=False,
                                    allow_hosts=("127.0.0.1",))
    run_ingest(settings)
    assert len(server.hits("/news/2026/11/10/etorofu-drills.html")) == 1
    assert server.hits("/indepth/index.htm") == []
    assert dict(query("SELECT title, page_kind FROM articles")) == {
        "In depth": "headline_list", "Japan protests Russian drills on Etorofu": "article"}
