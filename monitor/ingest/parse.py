"""Feed bytes → plain :class:`Entry` records. Never touches the network, never raises.

Two parsers, one contract (feedparser's: always the same shape back, with a bozo flag):

* lxml parses well-formed RSS 2.0 / RSS 1.0 / Atom 1.0 directly, many times faster than
  feedparser (we tried ``feedparser_rs`` first: fast, but on real feeds it decoded some
  UTF-8 text as Latin-1 and lost links and dates that feedparser found — see bench/README);
* ``feedparser`` is the reference for robustness. We fall back to it whenever the fast path
  might differ: bytes in an encoding we do not decode as feedparser does (see Encodings
  below), a document lxml cannot parse, more item/entry elements
  than the items we read (RSS 0.90), or an item the fast path cannot answer for.

The contract: for every field we store (title, link, GUID, date, text, author) and for the
entry count, the fast path gives what feedparser would, or declines the whole document.
:mod:`monitor.ingest.items` reads one item and decides (feedparser's element precedence,
and a safety net: an item with a field missing and a child we did not read is declined).
``tests/ingest/test_parser_agreement.py`` checks it on a fixture per element class and on
seeded generated items; bench/README.md ("Parse") has the run over feedparser's own tests.

Encodings (:mod:`monitor.ingest.encoding`): feedparser knows the HTTP charset and the XML
declaration; for undeclared non-UTF-8 bytes (windows-1251, KOI8-R, Shift_JIS, GB2312 served
without a charset) we detect the encoding with charset-normalizer and re-encode to UTF-8
before parsing, so Russian,
Japanese and Chinese text arrives as the right characters. Bytes that are not UTF-8 while
nothing declares another encoding (or the declaration says UTF-8), and that are not in such
a script (a Portuguese feed in windows-1252), are decoded as feedparser decodes them
(windows-1252, else ISO-8859-2) and read on the fast path; the fetch row's ``bozo`` says so.

Dates (:mod:`monitor.ingest.dates`): both paths read them the same way, and flag the absurd.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree

from monitor.ingest.dates import dated, from_struct, json_date
from monitor.ingest.encoding import (
    XML_DECL,
    as_feedparser_decodes,
    canonical_codec,
    declared_charset,
    is_clean_utf8,
    repair_char_refs,
    transcode_undeclared,
)
from monitor.ingest.items import NS_ATOM, NS_DC, NS_RDF, NS_RSS1, Decline, read_item
from monitor.ingest.text import clean_text

__all__ = ["Entry", "ParsedFeed", "parse_feed", "clean_text"]

log = logging.getLogger(__name__)

_MAX_TITLE = 1_000

_FEED_ROOT = re.compile(rb"<(?:[A-Za-z0-9_]+:)?(rss|feed|RDF|channel)[\s>/]", re.I)
_HTML_ROOT = re.compile(rb"<(!doctype\s+html|html[\s>]|body[\s>]|head[\s>])", re.I)


@dataclass
class Entry:
    """One feed entry as plain, clean data (no markup, UTC times)."""

    title: str
    link: str | None
    guid: str | None
    summary: str
    published_at: datetime | None  # naive UTC
    date_flag: str | None  # None | missing | absurd
    author: str | None = None
    language: str | None = None
    #: The original publisher named by an aggregator (RSS ``<source>``, Google News).
    source_name: str | None = None


@dataclass
class ParsedFeed:
    entries: list[Entry] = field(default_factory=list)
    #: The document is a feed (possibly a broken one); False for HTML pages, empty bodies.
    is_feed: bool = True
    bozo: str | None = None
    parser: str = "lxml"
    title: str | None = None
    language: str | None = None
    error: str | None = None


def _sniff(body: bytes) -> tuple[bool, bool]:
    """(looks like a feed, looks like HTML) from the first bytes."""
    head = body[:4096].lstrip()
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        try:
            head = body[:8192].decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return True, False
    is_feed = bool(_FEED_ROOT.search(head))
    is_html = bool(_HTML_ROOT.search(head)) and not is_feed
    return is_feed, is_html


def parse_feed(body: bytes, base_url: str = "", headers: dict[str, str] | None = None,
               source_language: str | None = None, now: datetime | None = None) -> ParsedFeed:
    """Parse feed bytes into entries. Never raises; problems are reported on the result."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    now = now or datetime.now(UTC).replace(tzinfo=None)
    try:
        parsed = _parse(body, base_url, headers, source_language, now)
        # An entry with no title, text or link (the stub of a cut-off item) carries nothing.
        parsed.entries = [e for e in parsed.entries if e.title or e.summary or e.link]
        return parsed
    except Exception as exc:  # the contract: never raise on bad input
        log.exception("parser crashed url=%s", base_url)
        return ParsedFeed(is_feed=False, error=f"parser crashed: {type(exc).__name__}: {exc}",
                          parser="none")


def _parse(body: bytes, base_url: str, headers: dict[str, str], source_language: str | None,
           now: datetime) -> ParsedFeed:
    if not body or not body.strip():
        return ParsedFeed(is_feed=False, error="empty body: no feed document", parser="none")
    stripped = body.lstrip()
    ctype = headers.get("content-type", "").lower()
    if stripped[:1] in (b"{", b"[") and ("json" in ctype or b'"version"' in stripped[:500]
                                         or b"jsonfeed" in stripped[:500]):
        return _parse_json_feed(body, base_url, source_language, now)
    looks_feed, looks_html = _sniff(body)
    if looks_html:
        return ParsedFeed(is_feed=False, parser="none",
                          error="an HTML page, not a feed (wrong URL or an error page served "
                                "with 200)")

    declared_xml = XML_DECL.search(body[:500])
    declared = canonical_codec(declared_xml.group(1).decode("ascii") if declared_xml else None)
    http_charset = canonical_codec(declared_charset(headers))
    utf8_names = (None, "utf-8")
    if headers.get("content-location"):
        # feedparser resolves relative links against Content-Location; so do we.
        base_url = urljoin(base_url, headers["content-location"].strip())
    read_as_utf8 = declared in utf8_names and http_charset in (None, "utf-8", "ascii") \
        and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if read_as_utf8:
        # libxml2 checks the UTF-8 as it parses and refuses every byte sequence Python's
        # decoder refuses (tests/ingest/test_parser_agreement.py): the document is checked
        # apart (a decode of the whole body, 5% of parsing) only when lxml refuses it.
        fast = _parse_fast_utf8(body, base_url, source_language, now)
        if fast is not None and (fast.bozo is None or is_clean_utf8(body)):
            return fast  # (junk after the feed is cut before lxml reads it: check that)

    clean_utf8 = is_clean_utf8(body)
    data = body
    override = None  # how undeclared, non-UTF-8 bytes were read (the fetch row's bozo)
    if not clean_utf8 and declared is None and http_charset is None:
        data = transcode_undeclared(body) or body
    if not clean_utf8 and data is body and declared in utf8_names \
            and http_charset in utf8_names:
        # Not UTF-8, though nothing says otherwise (or it says UTF-8, wrongly).
        data, override = as_feedparser_decodes(body)
    if data is not body:
        clean_utf8 = True  # text we decoded, encoded as UTF-8 (not checked again)

    if clean_utf8 and read_as_utf8:
        if data is not body:  # (the body as it came was tried above)
            fast = _parse_fast_utf8(data, base_url, source_language, now)
            if fast is not None:
                fast.bozo = fast.bozo or override
                return fast
    elif declared not in utf8_names and http_charset in (None, declared):
        # A declared non-UTF-8 encoding (windows-1251, Shift_JIS, UTF-16 …) that the HTTP
        # header does not contradict: libxml2 decodes it; a wrong declaration fails to parse
        # and falls through to feedparser.
        fast = _parse_fast(data, base_url, source_language, now)
        if fast is not None and not any("\ufffd" in e.title for e in fast.entries):
            return fast

    if override is not None:
        data = body  # feedparser decodes it the same way itself, and says so in its bozo
    return _parse_reference(data, base_url, headers if data is body else {}, source_language,
                            now, looks_feed)


def _parse_fast_utf8(data: bytes, base_url: str, source_language: str | None,
                     now: datetime) -> ParsedFeed | None:
    """:func:`_parse_fast` on UTF-8 bytes, blank lines before the XML declaration ignored.

    XML forbids anything before its declaration, so lxml refuses such a document (a
    template's or a plugin's blank lines) and feedparser reads it with its loose parser.
    The same feed without them is what both would read; the bozo says they were there.
    """
    if data[:1].isspace() and data.lstrip()[:5] == b"<?xml":
        fast = _parse_fast(data.lstrip(), base_url, source_language, now)
        if fast is not None:
            fast.bozo = fast.bozo or "whitespace before the XML declaration (ignored)"
        return fast
    return _parse_fast(data, base_url, source_language, now)


_NS_ATOM = NS_ATOM
_NS_RSS1 = NS_RSS1
_NS_DC = NS_DC
_NS_RDF = NS_RDF
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _xml_parser(recover: bool = False) -> etree.XMLParser:
    # No DTD loading, no entity resolution, no network, no huge trees: an entity-expansion
    # bomb or an external entity makes lxml fail fast, and we fall back to feedparser
    # (whose expat has its own amplification limits).
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, recover=recover, remove_comments=True,
                           remove_pis=True)


def _parse_fast(data: bytes, base_url: str, source_language: str | None,
                now: datetime, recover: bool = False) -> ParsedFeed | None:
    """lxml on well-formed RSS 2.0, RSS 1.0 and Atom 1.0.

    Returns None ("use the reference parser") on anything unusual: a parse error, a DOCTYPE,
    an unknown root, an item :func:`monitor.ingest.items.read_item` declines, more
    item/entry elements in the tree than items read. Field choices are feedparser's.

    ``recover``: the last resort when feedparser itself raised on the document (it keeps
    nothing then): lxml's recovering parser, and the items it can read (those it declines
    are left out and counted in the bozo).
    """
    # find() with an end: the same test as "in data[:n]", without copying the first 64 kB.
    if data.find(b"<!DOCTYPE", 0, 2048) != -1 or data.find(b"<!ENTITY", 0, 65536) != -1:
        return None
    tree = _tree(data, recover=recover)
    if tree is None:
        return None
    root, bozo = tree
    tag = etree.QName(root)
    if tag.localname == "rss" and tag.namespace is None:
        channel = root.find("channel")
        if channel is None:
            return None
        items = channel.findall("item")
        meta = channel
        kind = "rss"
    elif tag.localname == "RDF" and tag.namespace == _NS_RDF:
        channel = root.find(f"{{{_NS_RSS1}}}channel")
        meta = channel if channel is not None else root
        items = root.findall(f"{{{_NS_RSS1}}}item")
        kind = "rss"
    elif tag.localname == "feed" and tag.namespace == _NS_ATOM:
        meta = root
        items = root.findall(f"{{{_NS_ATOM}}}entry")
        kind = "atom"
    else:
        return None
    language = _lang(_child_text(meta, "language", (None, _NS_RSS1, _NS_DC))) \
        or _lang(root.get("{http://www.w3.org/XML/1998/namespace}lang")) or source_language
    out = ParsedFeed(parser="lxml", language=language, bozo=bozo,
                     title=clean_text(_child_text(meta, "title", (None, _NS_RSS1, _NS_ATOM)),
                                      _MAX_TITLE))
    atom = kind == "atom"
    # Whether the document says "xml:base" matters only for a relative link: search the
    # whole document (a few ms over a corpus) only when one turns up, and then only once.
    xml_base = functools.cache(lambda: b"xml:base" in data)
    dtd = root.getroottree().docinfo.internalDTD is not None
    if recover:
        skipped = 0
        for item in items:
            try:
                out.entries.append(_entry(item, atom, base_url, language, now, xml_base, dtd))
            except Decline:
                skipped += 1
        out.bozo = f"{skipped} of {len(items)} items unreadable" if skipped else None
        return out
    try:
        out.entries = [_entry(item, atom, base_url, language, now, xml_base, dtd)
                       for item in items]
    except Decline as exc:
        log.debug("fast path declined url=%s: %s", base_url, exc)
        return None
    if _more_item_elements(root, len(items)):
        # More item/entry elements in the document than items we read (RSS 0.90's
        # namespace, items outside the channel ...): feedparser may find entries we would lose.
        return None
    return out


def _tree(data: bytes, repaired: bool = False,
          recover: bool = False) -> tuple[etree._Element, str | None] | None:
    """The document's tree and what was mended to read it, or None (not well-formed).

    Two defects are mended, each leaving the feed itself as it was: junk after a complete
    feed (a CDN appends a <script> to every response), cut at the feed's closing tag; and
    numeric character references no parser takes (:func:`repair_char_refs`).
    """
    if recover:
        root = _recovered_root(data)
        return (root, None) if root is not None else None
    try:
        return etree.fromstring(data, _xml_parser()), None
    except etree.XMLSyntaxError as exc:
        if "xmlParseCharRef" in str(exc) and not repaired:
            mended = repair_char_refs(data)
            tree = _tree(mended, repaired=True) if mended is not None else None
            if tree is not None:
                return tree[0], tree[1] or REPAIRED_REFS
            return None
        trimmed = _without_trailing_junk(data, exc)
        if trimmed is None:
            return None
        try:
            return etree.fromstring(trimmed, _xml_parser()), \
                "junk after the feed's closing tag (ignored)"
        except (etree.XMLSyntaxError, ValueError):
            return None
    except ValueError:
        return None


def _recovered_root(data: bytes) -> etree._Element | None:
    """What lxml's recovering parser makes of the document; with a garbled encoding name in
    the declaration (feedparser raises on it too), of the rest read as UTF-8."""
    declaration = _XML_DECLARATION.match(data)
    for candidate in (data, data[declaration.end():] if declaration else b""):
        try:
            root = etree.fromstring(candidate, _xml_parser(recover=True)) if candidate else None
        except (etree.XMLSyntaxError, ValueError):
            root = None
        if root is not None:
            return root
    return None


#: The bozo of a feed whose broken character references were repaired.
REPAIRED_REFS = ("character references no parser accepts (UTF-16 surrogates, numbers beyond "
                 "U+10FFFF) read as the characters they encode, else U+FFFD")


def _more_item_elements(root: etree._Element, count: int) -> bool:
    """Whether the tree has more than ``count`` item and entry elements, anywhere, in any
    namespace (lxml walks in C, islice skips the first ``count`` in C)."""
    found = root.iter("{*}item", "{*}entry", "{*}Item", "{*}ITEM")
    return next(itertools.islice(found, count, None), None) is not None


_XML_DECLARATION = re.compile(rb"\s*<\?xml[^>]*>")
_ROOT_END = re.compile(rb"</(?:rss|feed|(?:[\w-]+:)?RDF)\s*>")


def _without_trailing_junk(data: bytes, exc: etree.XMLSyntaxError) -> bytes | None:
    """The document up to its root's closing tag, if the error is only what follows it."""
    if "Extra content at the end of the document" not in str(exc):
        return None
    ends = list(_ROOT_END.finditer(data, max(0, len(data) - 65536)))
    if not ends:
        return None
    return data[:ends[-1].end()]


def _child_text(node: etree._Element, name: str, namespaces: tuple[str | None, ...]) -> str | None:
    for ns in namespaces:
        # The first child with that tag, as node.find() gives it, without ElementPath.
        child = next(node.iterchildren(name if ns is None else f"{{{ns}}}{name}"), None)
        if child is not None:
            return "".join(child.itertext())
    return None


def _entry(item: etree._Element, atom: bool, base_url: str, language: str | None,
           now: datetime, xml_base: Callable[[], bool], dtd: bool = True) -> Entry:
    """One item → an Entry; ``xml_base()`` tells whether the document says "xml:base",
    ``dtd`` whether it has a DOCTYPE (see :func:`monitor.ingest.items.read_item`)."""
    title, link, guid, text, dates, author, source, guid_is_link = read_item(item, dtd)
    if link and not link.startswith(("http://", "https://")) and xml_base():
        # A relative link under xml:base: feedparser resolves it there; we do not.
        raise Decline("relative link under xml:base")
    lang = _lang(item.get(_XML_LANG)) or language if atom else language
    published, flag = dated(dates, now)
    # Most items have no author and no source: skip the calls for them.
    entry = Entry(clean_text(title, _MAX_TITLE), _absolute(link, base_url), guid or None,
                  clean_text(text), published, flag, author and clean_text(author, 300) or None,
                  lang, source and clean_text(source, 200) or None)
    if guid_is_link and not (entry.title or entry.summary or entry.link):
        # Nothing but a non-URL GUID: feedparser keeps the entry (with the GUID as a
        # relative link), parse_feed would drop ours. Never fewer entries: decline.
        raise Decline("an item with nothing but a GUID")
    return entry


def _parse_reference(data: bytes, base_url: str, headers: dict[str, str],
                     source_language: str | None, now: datetime, looks_feed: bool) -> ParsedFeed:
    # feedparser raises on a character reference to a surrogate or beyond U+10FFFF (its
    # loose parser reads the first and encodes it): they are mended, and the bozo says so.
    # On anything else (its state after broken nesting, a garbled encoding name), or if it
    # raises again, feedparser keeps nothing: lxml's recovering parser keeps what it can.
    repaired = None
    try:
        d = _feedparser(data, headers)
    except Exception as exc:
        repaired = repair_char_refs(data) if isinstance(exc, UnicodeError | ValueError) \
            else None
        try:
            if repaired is None:
                raise
            d = _feedparser(repaired, headers)
        except Exception as failure:
            recovered = _parse_fast(repaired or data, base_url, source_language, now,
                                    recover=True)
            if recovered is None or not recovered.entries:
                raise
            recovered.bozo = "; ".join(filter(None, (
                f"feedparser failed ({type(failure).__name__}: {failure}); read by lxml's"
                " recovering parser", REPAIRED_REFS if repaired else None, recovered.bozo)))
            return recovered
    bozo = REPAIRED_REFS if repaired is not None else None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        bozo = "; ".join(filter(None, (bozo, f"{type(exc).__name__}: {exc}" if exc else "bozo")))
    version = d.get("version") or ""
    if not d.entries and not version and not looks_feed:
        return ParsedFeed(is_feed=False, parser="feedparser", bozo=bozo,
                          error=f"not a feed: {bozo or 'no feed elements found'}")
    feed = d.get("feed", {})
    language = _lang(feed.get("language")) or source_language
    out = ParsedFeed(parser="feedparser", bozo=bozo, title=clean_text(feed.get("title")),
                     language=language)
    for e in d.entries:
        out.entries.append(_entry_from(e, base_url, language, now))
    return out


def _feedparser(data: bytes, headers: dict[str, str]) -> Any:
    return feedparser.parse(data, response_headers=headers or None,
                            resolve_relative_uris=False, sanitize_html=False)


def _get(e: Any, name: str) -> Any:
    try:
        value = e.get(name) if hasattr(e, "get") else getattr(e, name, None)
    except Exception:
        value = None
    return value


def _entry_from(e: Any, base_url: str, language: str | None, now: datetime) -> Entry:
    title = clean_text(_get(e, "title"), _MAX_TITLE)
    summary_raw = _get(e, "summary")
    if not summary_raw:
        content = _get(e, "content")
        if content:
            first = content[0]
            summary_raw = first.get("value") if hasattr(first, "get") else getattr(first, "value",
                                                                                   None)
    summary = clean_text(summary_raw)
    link = _absolute(_get(e, "link"), base_url)
    guid = (_get(e, "id") or "").strip() or None
    published, flag = _date(e, now)
    author = clean_text(_get(e, "author"), 300) or None
    lang = _lang(_get(e, "language")) or language
    source = _get(e, "source")
    source_name = None
    if source:
        name = source.get("title") if hasattr(source, "get") else getattr(source, "title", None)
        source_name = clean_text(name, 200) or None if isinstance(name, str) else None
    return Entry(title=title, link=link, guid=guid, summary=summary, published_at=published,
                 date_flag=flag, author=author, language=lang, source_name=source_name)


def _absolute(link: str | None, base_url: str) -> str | None:
    if not link:
        return None
    link = link.strip()
    if link.startswith(("https://", "http://")):
        return link
    try:
        absolute = urljoin(base_url, link) if base_url else link
        if urlsplit(absolute).scheme not in ("http", "https"):
            return None
    except ValueError:  # "//[oops/x": urllib cannot split it; the entry stays, without it
        return None
    return absolute


def _date(e: Any, now: datetime) -> tuple[datetime | None, str | None]:
    for name in ("published_parsed", "updated_parsed", "created_parsed", "dc_date_parsed"):
        parsed = _get(e, name)
        if parsed:
            return from_struct(parsed, now)
    return None, "missing"


def _lang(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def _parse_json_feed(body: bytes, base_url: str, source_language: str | None,
                     now: datetime) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (feedparser does not read it)."""
    try:
        doc = json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        return ParsedFeed(is_feed=False, parser="jsonfeed", error=f"invalid JSON Feed: {exc}")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return ParsedFeed(is_feed=False, parser="jsonfeed",
                          error="JSON document without an 'items' list: not a JSON Feed")
    language = _lang(doc.get("language")) or source_language
    out = ParsedFeed(parser="jsonfeed", title=clean_text(str(doc.get("title") or "")),
                     language=language)
    for item in doc["items"]:
        if not isinstance(item, dict):
            out.bozo = "JSON Feed item that is not an object skipped"
            continue
        stamp = item.get("date_published") or item.get("date_modified")
        published, flag = json_date(stamp, now)
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = None
        if authors and isinstance(authors[0], dict):
            author = clean_text(str(authors[0].get("name") or ""), 300) or None
        summary = item.get("summary") or item.get("content_text") or item.get("content_html")
        out.entries.append(Entry(
            title=clean_text(str(item.get("title") or ""), _MAX_TITLE),
            link=_absolute(item.get("url") or item.get("external_url"), base_url),
            guid=str(item["id"]).strip() if item.get("id") is not None else None,
            summary=clean_text(str(summary or "")),
            published_at=published, date_flag=flag, author=author,
            language=_lang(item.get("language")) or language,
        ))
    return out
