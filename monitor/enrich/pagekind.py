"""What a feed item is: an article, or a page that only looks like one in a feed.

Feeds carry more than articles: section and index pages ("In-depth", "PD Voice" whose text is
a list of headlines with timestamps), live blogs' shells, video-only and photo-gallery items,
"most read" boxes. Classified as articles they are wrongly relevant (a list of headlines names
Russia, Japan and China in one text) and they would join stories. So each new item gets a
kind and the reason for it, before classification; only ``article`` is classified and
clustered.

The rules are few and cheap, and lean to ``article``: a real article wrongly set aside is
lost to readers, a shell wrongly kept is one more row. Each rule needs two signals or one
unmistakable one (a URL path segment like ``/video/`` plus little text, a title that *is* a
box name, several headline-and-timestamp lines).

:func:`page_kind` ``(title, summary, url, body) -> (kind, reason)``; reason is ``""`` for
an article.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["KINDS", "ARTICLE", "page_kind"]

ARTICLE = "article"
KINDS = (ARTICLE, "index", "liveblog", "video", "gallery", "most_read", "headline_list")

#: Text shorter than this (characters) is "little text": a caption, not an article.
SHORT_TEXT = 400
#: Lines that are a timestamp (or end with one) needed for a headline list, and their share
#: of the text's lines.
MIN_STAMPED_LINES = 3
STAMPED_SHARE = 0.25

_STAMP = re.compile(
    r"(?:^|\s|\()(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?"
    r"|\d{4}年\d{1,2}月\d{1,2}日(?:\s?\d{1,2}:\d{2})?)\)?\s*$")
_BOX_TITLE = re.compile(
    r"^\s*(?:most[ -](?:read|popular|viewed|shared|emailed)|popular (?:now|stories)"
    r"|trending(?: now| stories)?|top stories|editor'?s? picks|must reads?"
    r"|самое (?:читаемое|популярное)|популярное|人気記事|アクセスランキング|热门|热点排行)\s*[:.!]?\s*$",
    re.I)
_LIVE_TITLE = re.compile(
    r"^\s*(?:live(?: updates?| blog)?\s*[:|\-–—]|as it happened\b)|\b(?:live updates?|live blog)\b"
    r"|\bas it happened\s*$|^\s*онлайн\s*[:|\-–—]|^\s*(?:速報中|直播)\s*[:：|]", re.I)
_VIDEO_TITLE = re.compile(r"^\s*(?:video|watch|видео)\s*[:|\-–—]|\[video\]|\(video\)|^\s*【動画】|^\s*视频\s*[:：|]",
                          re.I)
_GALLERY_TITLE = re.compile(
    r"^\s*(?:in pictures|photos?|gallery|photo gallery|in photos|фото(?:галерея)?|写真特集"
    r"|组图|图集)\s*[:|\-–—：]|\bin pictures\s*$|\bphoto gallery\b", re.I)
_LIVE_PATH = re.compile(r"/(?:live|live-news|live-updates|liveblog|live-blog)(?:/|$|-)", re.I)
_VIDEO_PATH = re.compile(r"/(?:video|videos|watch|tv|clip|clips)(?:/|$)|youtube\.com/watch|youtu\.be/",
                         re.I)
_GALLERY_PATH = re.compile(r"/(?:gallery|galleries|photos?|pictures|in-pictures|slideshow|photo-gallery)"
                           r"(?:/|$)", re.I)
_INDEX_PATH = re.compile(r"/(?:index|default)\.(?:s?html?|php|aspx?)$"
                         r"|/(?:section|sections|category|categories|tag|tags|topic|topics)/[^/]+/?$",
                         re.I)
#: What makes an ``index.html`` path an article's own page: a date in the path or a slug
#: (many sites, CNN among them, store each article as ``/2020/07/14/.../slug/index.html``).
_ARTICLE_PATH = re.compile(r"/(?:19|20)\d\d/\d{1,2}/|/[^/]*-[^/]*-[^/]*-[^/]*/|/article/", re.I)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


#: A full date-and-time stamp anywhere in a text (feed summaries often lose their line breaks).
_INLINE_STAMP = re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?\b"
                           r"|\d{4}年\d{1,2}月\d{1,2}日\s?\d{1,2}:\d{2}")
#: At most this many characters per stamp on average for a flattened text to be a list.
CHARS_PER_STAMP = 200


def _headline_list(text: str) -> str:
    """The reason a text is a list of headlines with timestamps, or ``""``."""
    stamps = len(_INLINE_STAMP.findall(text))
    if stamps >= MIN_STAMPED_LINES and len(text) / stamps <= CHARS_PER_STAMP:
        return f"{stamps} headline timestamps in {len(text)} characters"
    lines = _lines(text)
    if len(lines) < MIN_STAMPED_LINES * 2 - 1:
        return ""
    stamped = sum(1 for ln in lines if _STAMP.search(ln) and len(ln) <= 200)
    if stamped >= MIN_STAMPED_LINES and stamped / len(lines) >= STAMPED_SHARE:
        return f"{stamped} of {len(lines)} lines are timestamps after headlines"
    return ""


def page_kind(title: str | None, summary: str | None, url: str | None,
              body: str | None = None) -> tuple[str, str]:
    """``(kind, reason)`` of one feed item; ``("article", "")`` unless a rule says otherwise."""
    title = (title or "").strip()
    text = body if body and len(body) > len(summary or "") else (summary or "")
    path = ""
    if url:
        try:
            parts = urlsplit(url)
            path = parts.path or "/"
            host_path = f"{parts.netloc}{parts.path}"
            if parts.query:  # "/?p=1609": an article behind a query, not the front page
                path = path + "?"
        except ValueError:
            host_path = url
    else:
        host_path = ""
    short = len(" ".join(text.split())) < SHORT_TEXT

    reason = _headline_list(text)
    if reason:
        return "headline_list", reason
    if _BOX_TITLE.match(title):
        return "most_read", f"title is a box name: {title[:40]!r}"
    if _LIVE_TITLE.search(title) and (short or _LIVE_PATH.search(path)):
        return "liveblog", "live-blog title with little text of its own"
    if _LIVE_PATH.search(path) and short:
        return "liveblog", f"live-blog URL {path[:60]!r} with little text"
    if _VIDEO_PATH.search(host_path) and short:
        return "video", f"video URL {host_path[:60]!r} with little text"
    if _VIDEO_TITLE.search(title) and short:
        return "video", "title marks a video, little text"
    if _GALLERY_PATH.search(path) and short:
        return "gallery", f"gallery URL {path[:60]!r} with little text"
    if _GALLERY_TITLE.search(title) and short:
        return "gallery", "title marks a photo gallery, little text"
    if path and _INDEX_PATH.search(path) and not _ARTICLE_PATH.search(path):
        return "index", f"section or index URL {path[:60]!r}"
    if url and path in ("", "/") and short:
        return "index", "the site's front page"
    return ARTICLE, ""
