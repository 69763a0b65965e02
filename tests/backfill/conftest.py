"""Archive fixtures written by the tests themselves: a feed's hourly snapshots (each holding
the newest ten of forty articles, so neighbours overlap by nine), some gzip-compressed, a JSON
Feed archive, and bad files (an HTML page, a broken gzip, an empty file)."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

#: Article j of the generated RSS feed was published at BASE + j hours (UTC).
BASE = datetime(2025, 3, 1, 6, 0, 0)
ARTICLES = 40
WINDOW = 10


def rss_snapshot(newest: int, window: int = WINDOW) -> bytes:
    """The feed as it looked when article ``newest`` was its latest entry."""
    items = []
    for j in range(max(0, newest - window + 1), newest + 1)[::-1]:
        when = BASE + timedelta(hours=j)
        items.append(
            f"<item><title>Moscow and Tokyo talks, round {j}</title>"
            f"<link>https://news.example.org/a/{j}?utm_source=rss</link>"
            f"<guid isPermaLink=\"false\">story-{j:04d}</guid>"
            f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} GMT</pubDate>"
            f"<description>&lt;p&gt;Report number {j} on Russia and Japan.&lt;/p&gt;"
            f"</description></item>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
            "<title>Example News</title><link>https://news.example.org/</link>"
            + "".join(items) + "</channel></rss>").encode()


def json_feed(newest: int) -> bytes:
    items = [{"id": f"https://blog.example.net/p/{j}", "url": f"https://blog.example.net/p/{j}",
              "title": f"Beijing notes {j}", "content_text": f"Russia and China, part {j}.",
              "date_published": (BASE + timedelta(days=j)).strftime("%Y-%m-%dT%H:%M:%SZ")}
             for j in range(max(0, newest - 2), newest + 1)]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1",
                       "title": "Example Blog", "items": items}).encode()


def write_archive(root: Path) -> dict[str, int]:
    """The archive of the module docstring; returns what a full load must produce."""
    news = root / "example-news"
    news.mkdir(parents=True)
    for i in range(WINDOW - 1, ARTICLES):  # 31 snapshots, the first already holds ten
        stamp = (BASE + timedelta(hours=i, minutes=5)).strftime("%Y-%m-%dT%H%MZ")
        body = rss_snapshot(i)
        if i % 4 == 0:
            (news / f"{stamp}.xml.gz").write_bytes(gzip.compress(body))
        else:
            (news / f"{stamp}.xml").write_bytes(body)
    for newest in (2, 3, 4):
        (root / f"example-blog_2025-03-0{newest}.json").write_bytes(json_feed(newest))
    (root / "broken_2025-03-02.xml").write_bytes(b"<!DOCTYPE html><html><body>502</body></html>")
    (root / "cut_2025-03-02.xml.gz").write_bytes(gzip.compress(rss_snapshot(5))[:60])
    (root / "empty_2025-03-03.xml").write_bytes(b"")
    (root / "README.md").write_text("not a feed, not read\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.xml").write_text("ignored: hidden folder\n")
    return {"files": 31 + 3 + 3, "bad": 3, "articles": ARTICLES + 5}


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    root = tmp_path / "archive"
    return root, write_archive(root)
