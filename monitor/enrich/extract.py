"""Main text and metadata of an article page: HTML in, plain data out, no network.

Extraction takes content, not a URL (trafilatura ``core.extract`` habit): the fetcher in
:mod:`monitor.enrich.pages` downloads, this module only reads. Two public functions:

``extract_text(html, url=None) -> str``
    trafilatura first (the strongest open extractor on our benchmark), tuned for news pages:
    no comments, tables kept, ``favor_recall`` (which on the benchmark's dev split scored
    higher precision *and* recall than the default, because its candidate selection keeps
    the article container rather than a fragment of it). Its output is then cleaned of the
    boilerplate lines news sites put inside the article container (copyright notices, "Order
    reprints", a repeated headline, bare URLs). When trafilatura returns nothing or clearly
    too little, a BeautifulSoup fallback takes over: the densest block of ``<p>`` text, and
    failing that the visible text of ``<article>``/``<main>``/``<body>``. The function
    therefore never returns empty for a page that has readable text.

``extract_metadata(html, url=None) -> dict``
    what the page says about itself when the feed did not: ``published_at`` (aware UTC
    ``datetime``), ``author``, ``language``, ``canonical_url``, ``title``. Explicit markup
    (JSON-LD, OpenGraph/article meta, ``<time>``, ``<html lang>``) wins over guessing.

Both functions never raise on bad input: a broken document gives ``""`` and ``{}``-like
values, so one odd page never stops a batch (feedparser's contract).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

__all__ = ["extract_text", "extract_metadata", "detect_language", "looks_like_js_shell",
           "text_size"]

log = logging.getLogger(__name__)

#: trafilatura options, chosen on the benchmark's dev split (see docs/extraction.md).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "favor_recall": True,
    "deduplicate": False,
}

#: trafilatura's "too short, try the baseline" threshold in characters for pages written
#: in Chinese or Japanese (its default, 250, stays for the others: lowering it everywhere
#: cost recall on the benchmark's dev split, as trafilatura then settles for fragments).
MIN_EXTRACTED_SIZE_CJK = 80
#: A page with at least this many CJK characters counts as written in Chinese/Japanese.
CJK_PAGE_CHARS = 60

#: If trafilatura keeps less than this share of the page's ``<p>`` text, the fallback's
#: answer is compared and the longer plausible text wins (trafilatura sometimes picks a
#: teaser box or one paragraph of a long article).
MIN_SHARE_OF_PARAGRAPH_TEXT = 0.25

#: Paragraphs shorter than this (characters) are link-ish chrome, not prose, in the fallback.
MIN_PARAGRAPH_CHARS = 40

#: Pages bigger than this are cut before parsing: no article needs more and the parsers'
#: time grows with size (a guard against pathological slowness, not a quality setting).
MAX_HTML_CHARS = 3_000_000

#: Whole lines that are boilerplate inside article containers, in several languages.
#: Matched against a stripped line; only whole-line matches are dropped.
_BOILERPLATE_LINES = re.compile(
    r"""^(?:
        (?:copyright\s*)?(?:©|\(c\)|copyright)\s*(?:\d{4}|[\w.,&\- ]{0,60}).{0,160}
          (?:all\s+rights\s+reserved|reserved|inc\.?|ltd\.?|llc)\.?
      | all\s+rights\s+reserved\.?
      | (?:order\s+reprints|print\s+article|text\s+size|share\s+this(?:\s+article)?
          |advertisement|advertising|skip\s+advertisement|tags|related(?:\s+articles)?
          |read\s+more|share|tweet|email|print|comments?|listen\s+to\s+(?:this\s+)?article
          |thank\s+you|loading\.*)\s*:?
      | this\s+copy\s+is\s+for\s+your\s+personal,?\s+non-commercial\s+use\s+only.*
      | an\s+error\s+has\s+occurred,?\s+please\s+try\s+again(?:\s+later)?\.?
      | this\s+article\s+has\s+been\s+sent\s+to.*
      | https?://\S+
      | (?:read\s+also|see\s+also|read\s+more|related)\s*:.{0,120}
      | реклама | поделиться | все\s+права\s+защищены\.?
      | (?:читайте|смотрите)\s+также:?.{0,120}
      | 広告 | 関連記事.{0,80} | 相关阅读.{0,80} | 延伸阅读.{0,80} | 广告 | 责任编辑[:：].{0,20}
      | (?:[\d\s年月日時时分:./-]+\s*)?(?:来源|來源|出典)[:：].{0,30}
      | [\d\s年月日時时分:./-]{8,}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

_WS = re.compile(r"[ \t\u00a0\u3000]+")
_TOKEN = re.compile(r"\w+")

#: Elements whose text is never article prose (used by the fallback).
_NON_CONTENT_TAGS = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "form", "button",
    "select", "nav", "header", "footer", "aside", "figure",
)
_CHROME_HINT = re.compile(
    r"(?:^|[\s_-])(?:nav|menu|footer|header|sidebar|share|social|related|comment|promo|"
    r"advert|ad|ads|cookie|newsletter|breadcrumb|subscribe|popup|modal)(?:$|[\s_-])",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------ text


def extract_text(html: str, url: str | None = None) -> str:
    """The article's main text as plain paragraphs separated by newlines; ``""`` if none.

    Pure: no network, no global state. ``url`` only helps trafilatura resolve relative
    things and is never fetched.
    """
    if not html or not html.strip():
        return ""
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
    primary = _trafilatura_text(html, url)
    cleaned = _clean_lines(primary, title=_page_title(html)) if primary else ""
    fallback = ""
    if not cleaned or _too_short(cleaned, html):
        fallback = _fallback_text(html)
        if len(_TOKEN.findall(fallback)) > len(_TOKEN.findall(cleaned)):
            log.debug("extract fallback used url=%s primary_tokens=%d", url,
                      len(_TOKEN.findall(cleaned)))
            return fallback
    return cleaned or primary or fallback


@functools.lru_cache(maxsize=2)
def _trafilatura_config(cjk: bool) -> Any:
    """trafilatura's config, with a lower minimum text size for CJK pages.

    Its default (250 characters) sends short pages to its crude baseline, which flattens the
    article into one line with the headline and date. A Japanese or Chinese news item of
    three paragraphs is often under 250 characters, each character carrying about a word.
    """
    from trafilatura.settings import use_config

    config = use_config()
    if cjk:
        config.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(MIN_EXTRACTED_SIZE_CJK))
    return config


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _is_cjk_page(html: str) -> bool:
    for count, _match in enumerate(_CJK_CHAR.finditer(html, 0, 400_000), start=1):
        if count >= CJK_PAGE_CHARS:
            return True
    return False


def _trafilatura_text(html: str, url: str | None) -> str:
    import trafilatura

    try:
        text = trafilatura.extract(html, url=url, config=_trafilatura_config(_is_cjk_page(html)),
                                   **TRAFILATURA_OPTIONS)
    except Exception as exc:  # trafilatura has raised on odd markup before; never let it stop us
        log.warning("trafilatura failed url=%s error=%s", url, exc)
        return ""
    return text or ""


def _clean_lines(text: str, title: str | None) -> str:
    """Drop boilerplate lines and a leading repeat of the headline; normalise whitespace."""
    lines = [_WS.sub(" ", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    norm_title = _norm(title) if title else ""
    out: list[str] = []
    for i, line in enumerate(lines):
        if _BOILERPLATE_LINES.match(line):
            continue
        if i < 2 and norm_title and _norm(line) == norm_title:
            continue  # the headline repeated as the first line: we store the title apart
        out.append(line)
    # Keep the original if cleaning would leave nothing: better chrome than no text.
    return "\n".join(out) if out else "\n".join(lines)


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _too_short(text: str, html: str) -> bool:
    """True when trafilatura kept much less than the page's obvious paragraph text."""
    got = len(text)
    if got >= 2000:
        return False
    paragraphs = _paragraph_text_length(html)
    return paragraphs > 0 and got < MIN_SHARE_OF_PARAGRAPH_TEXT * paragraphs


def _parse(html: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        try:  # lxml refuses str with an XML encoding declaration; bytes parse
            return lxml.html.document_fromstring(html.encode("utf-8", "replace"))
        except (etree.ParserError, ValueError):
            return None


def _paragraph_text_length(html: str) -> int:
    tree = _parse(html)
    if tree is None:
        return 0
    return sum(len(t) for t in (_text_of(p) for p in tree.iter("p")) if len(t) >= MIN_PARAGRAPH_CHARS)


def _text_of(el: Any) -> str:
    return _WS.sub(" ", el.text_content()).strip()


def _fallback_text(html: str) -> str:
    """BeautifulSoup fallback: the container with most paragraph text, else visible text."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(html, "lxml")
    except Exception as exc:
        log.warning("bs4 failed error=%s", exc)
        return ""
    for tag in soup(list(_NON_CONTENT_TAGS)):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.attrs is None:
            continue
        hint = " ".join(tag.get("class") or []) + " " + str(tag.get("id") or "")
        if hint.strip() and _CHROME_HINT.search(hint) and tag.name not in ("body", "html", "main", "article"):
            tag.decompose()

    # Score each paragraph's parent by the prose it holds; take the best container's paragraphs.
    scores: dict[int, tuple[Any, int]] = {}
    for p in soup.find_all(["p", "pre", "blockquote", "li"]):
        text = _WS.sub(" ", p.get_text(" ")).strip()
        if len(text) < MIN_PARAGRAPH_CHARS and p.name != "p":
            continue
        parent = p.parent
        if parent is None:
            continue
        key = id(parent)
        scores[key] = (parent, scores.get(key, (parent, 0))[1] + len(text))
    if scores:
        best, best_len = max(scores.values(), key=lambda item: item[1])
        # Climb while the grandparent holds much more prose (articles split in several divs).
        container = best
        while container.parent is not None and container.parent.name not in ("[document]", "html"):
            parent_len = sum(len(p.get_text(" ").strip()) for p in container.parent.find_all("p"))
            if parent_len > 1.5 * best_len and container.parent.name != "body":
                container, best_len = container.parent, parent_len
            else:
                break
        paras = [_WS.sub(" ", p.get_text(" ")).strip() for p in container.find_all(["p", "pre", "li", "h2", "h3"])]
        paras = [p for p in paras if p and not _BOILERPLATE_LINES.match(p)]
        text = "\n".join(paras)
        if _TOKEN.search(text):
            return text
    root = soup.find("article") or soup.find("main") or soup.body or soup
    lines = [_WS.sub(" ", line).strip() for line in root.get_text("\n").splitlines()]
    return "\n".join(line for line in lines if line)


_CJK_TEXT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def text_size(text: str) -> int:
    """Length of a text in word equivalents: words, plus one per two CJK characters.

    ``\\w+`` sees a Japanese sentence as one or two "words", so a count of tokens would
    call every Japanese or Chinese article short; two CJK characters carry about a word.
    """
    if not text:
        return 0
    cjk = len(_CJK_TEXT.findall(text))
    others = len(_TOKEN.findall(_CJK_TEXT.sub(" ", text))) if cjk else len(_TOKEN.findall(text))
    return others + cjk // 2


def looks_like_js_shell(html: str, text: str) -> bool:
    """True for a page that needs JavaScript to show anything: scripts, no readable text.

    Single-page-app shells ship an empty ``<div id="root">`` and megabytes of script; what
    we extract from them is a "please enable JavaScript" line at best. Ordinary pages carry
    a "enable JavaScript for comments" notice too, so the notice alone counts only when
    almost no text came out.
    """
    size = text_size(text)
    if size >= 30:
        return False
    lowered = html.lower()
    scripts = lowered.count("<script")
    needs_js = any(s in lowered for s in (
        "enable javascript", "javascript is required", "javascript is disabled",
        "requires javascript", "please enable js", "turn on javascript",
        "id=\"root\"></div>", "id=\"app\"></div>", "id=\"__next\"></div>",
    ))
    return (needs_js and size < 30) or (scripts >= 3 and size < 10)


# -------------------------------------------------------------------------- metadata


def extract_metadata(html: str, url: str | None = None) -> dict[str, Any]:
    """The page's own metadata: published_at (UTC), author, language, canonical_url, title.

    Missing values are ``None``. The language comes from markup when the page declares it,
    else from the text (``detect_language``).
    """
    meta: dict[str, Any] = {"published_at": None, "author": None, "language": None,
                            "canonical_url": None, "title": None}
    if not html or not html.strip():
        return meta
    tree = _parse(html[:MAX_HTML_CHARS])
    if tree is None:
        return meta
    metas = _meta_tags(tree)
    ld = _json_ld(tree)

    meta["title"] = (metas.get("og:title") or metas.get("twitter:title")
                     or _first_text(tree, "//title") or ld.get("headline"))
    meta["canonical_url"] = _canonical(tree, metas, url)
    meta["author"] = _author(tree, metas, ld)
    meta["published_at"] = _published(tree, metas, ld)
    meta["language"] = _declared_language(tree, metas)
    if meta["published_at"] is None:  # its date search is thorough but slow to start
        _trafilatura_metadata(html, url, meta)
    if meta["language"] is None:
        text = extract_text(html, url)
        meta["language"] = detect_language(f"{meta['title'] or ''}\n{text}")
    return meta


def _meta_tags(tree: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop")
               or el.get("http-equiv") or "").strip().lower()
        value = (el.get("content") or "").strip()
        if key and value and key not in found:
            found[key] = value
    return found


def _json_ld(tree: Any) -> dict[str, Any]:
    """The first JSON-LD object that describes an article (NewsArticle, Article, …)."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (ValueError, TypeError):
            continue
        for item in _walk_ld(data):
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and ("Article" in k or k in ("BlogPosting", "Report"))
                   for k in kinds):
                return item
    return {}


def _walk_ld(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [x for item in data for x in _walk_ld(item)]
    if isinstance(data, dict):
        return [data, *_walk_ld(data.get("@graph", []))]
    return []


def _first_text(tree: Any, xpath: str) -> str | None:
    for el in tree.xpath(xpath):
        text = _text_of(el)
        if text:
            return text
    return None


def _page_title(html: str) -> str | None:
    """og:title, else <h1>, else <title>: what a repeated headline line would equal."""
    match = re.search(r'<meta[^>]+property=["\']og:title["\'][^>]*content=["\']([^"\']+)', html[:200_000], re.I)
    if match:
        return match.group(1)
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.I | re.S)
    if match:
        return re.sub(r"<[^>]+>", "", match.group(1))
    return None


def _canonical(tree: Any, metas: dict[str, str], url: str | None) -> str | None:
    for el in tree.xpath('//link[@href]'):
        rels = (el.get("rel") or "").lower().split()
        if "canonical" in rels:
            return _absolute(el.get("href"), url)
    if metas.get("og:url"):
        return _absolute(metas["og:url"], url)
    return None


def _absolute(href: str | None, base: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    try:
        full = urljoin(base, href) if base else href
        return full if urlsplit(full).scheme in ("http", "https") else None
    except ValueError:  # a page's link urllib cannot split: no canonical URL from it
        return None


def _author(tree: Any, metas: dict[str, str], ld: dict[str, Any]) -> str | None:
    value = ld.get("author")
    names: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(item["name"].strip())
        elif isinstance(item, str):
            names.append(item.strip())
    names = [n for n in names if n]
    if names:
        return ", ".join(dict.fromkeys(names))
    for key in ("author", "article:author", "byl", "dc.creator", "parsely-author", "sailthru.author"):
        candidate = metas.get(key)
        if candidate and not candidate.startswith("http"):
            return re.sub(r"^by\s+", "", candidate, flags=re.I).strip()
    rel = _first_text(tree, '//*[@rel="author"]')
    return rel[:200] if rel else None


_DATE_KEYS = (
    "article:published_time", "og:article:published_time", "datepublished",
    "published_time", "pubdate", "publishdate", "dc.date.issued", "dc.date",
    "sailthru.date", "parsely-pub-date", "date", "article.published", "publication_date",
)


def _published(tree: Any, metas: dict[str, str], ld: dict[str, Any]) -> datetime | None:
    candidates = [ld.get("datePublished"), ld.get("dateCreated")]
    candidates += [metas.get(key) for key in _DATE_KEYS]
    candidates += [el.get("datetime") for el in tree.xpath("//time[@datetime]")[:3]]
    for value in candidates:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None:
            return parsed
    return None


def parse_datetime(value: str) -> datetime | None:
    """An ISO-8601-ish timestamp as aware UTC; naive values are taken as UTC; junk is None."""
    text = value.strip()
    if not text:
        return None
    text = re.sub(r"Z$", "+00:00", text)
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0300 -> +03:00
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime

            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if not 1990 <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    return parsed


def _declared_language(tree: Any, metas: dict[str, str]) -> str | None:
    for value in (tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                  metas.get("content-language"), metas.get("og:locale"),
                  metas.get("language"), metas.get("dc.language")):
        if value:
            code = re.split(r"[-_,; ]", value.strip().lower())[0]
            if re.fullmatch(r"[a-z]{2,3}", code):
                return code
    return None


def _trafilatura_metadata(html: str, url: str | None, meta: dict[str, Any]) -> None:
    import trafilatura

    try:
        doc = trafilatura.extract_metadata(html, default_url=url)
    except Exception as exc:
        log.debug("trafilatura metadata failed url=%s error=%s", url, exc)
        return
    if doc is None:
        return
    if meta["author"] is None and doc.author:
        meta["author"] = doc.author
    if meta["published_at"] is None and doc.date:
        meta["published_at"] = parse_datetime(doc.date)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, ``None`` for too little text.

    One detector for the whole monitor (``monitor.enrich.language``: scripts first, py3langid for
    the rest), so the extractor and the classifier never disagree about an article.
    """
    from monitor.enrich.language import detect_language as detect

    return detect(text)
