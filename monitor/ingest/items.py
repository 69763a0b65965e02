"""One feed item (an lxml element) → the raw fields feedparser would give it, or a refusal.

The fast path in :mod:`monitor.ingest.parse` may only answer where it is sure to answer as
feedparser would; everywhere else it declines the document to feedparser. This module holds
that judgement for one ``<item>``/``<entry>``:

* every child element is *classified*: it feeds one of our fields (title, link, guid, text,
  date, author, source) with feedparser's precedence, or it is known to feed none of them
  (categories, enclosures, comment counts, media thumbnails …), or it is *unread*;
* titles and text follow feedparser's own order-and-depth rules (:func:`_title_of`,
  :func:`_text_of`); where its answer depends on details we do not copy (two dates of the
  same kind, two different links, GUIDs or authors, several titles around a ``<source>``,
  base64 that does not decode) we decline;
* the safety net: an item that leaves title, link, text or date empty while it has a child
  we did not read is declined, and so is an unread child whose name feedparser would map to
  one of our fields (an unexpected namespace URI behind the usual ``dc:``/``media:`` prefix,
  a capitalised ``<PubDate>``).

Values are returned raw (markup and all); cleaning and date parsing stay in ``parse``, so
both paths share them. No import from ``parse``: it imports us.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import NamedTuple

from lxml import etree

__all__ = ["RawItem", "read_item"]

NS_ATOM = "http://www.w3.org/2005/Atom"
NS_RSS1 = "http://purl.org/rss/1.0/"
NS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_DCTERMS = "http://purl.org/dc/terms/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_MEDIA = "http://search.yahoo.com/mrss/"
NS_ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
NS_XHTML = "http://www.w3.org/1999/xhtml"

_RDF_ABOUT = f"{{{NS_RDF}}}about"
_MEDIA_TITLE = f"{{{NS_MEDIA}}}title"
_MEDIA_DESCRIPTION = f"{{{NS_MEDIA}}}description"
#: Date ranks: feedparser's published, else updated, else created.
_DATE_KINDS = ("published", "updated", "created")


def _q(ns: str | None, name: str) -> str:
    return name if ns is None else f"{{{ns}}}{name}"


#: Child tag → (field, rank). For links, GUIDs, dates and authors the lowest rank present
#: wins and two *different* values of the winning rank make us decline (feedparser's choice
#: then depends on order). For titles and text the rank is the kind of element, which
#: :func:`_title_of` and :func:`_text_of` play through feedparser's rules.
_FIELDS: dict[str, tuple[str, int]] = {}


def _map(field: str, rank: int, *tags: str) -> None:
    for tag in tags:
        _FIELDS[tag] = (field, rank)


# Titles: rank 0 sets the title for good, rank 1 (media:title) only fills a gap.
_map("title", 0, "title", _q(NS_RSS1, "title"), _q(NS_ATOM, "title"), _q(NS_DC, "title"))
_map("title", 1, _q(NS_MEDIA, "title"))
_map("link", 0, "link", _q(NS_RSS1, "link"))
_map("link", 1, _q(NS_ATOM, "link"))  # href and rel, read apart
_map("guid", 0, "guid", "id", _q(NS_ATOM, "id"))
# Text: the "rank" is the kind of element in feedparser's handlers (see _text_of).
_DESCRIPTION, _SUMMARY, _ABSTRACT, _CONTENT, _BODY = range(5)
_map("text", _DESCRIPTION, "description", _q(NS_RSS1, "description"),
     _q(NS_DC, "description"), _q(NS_MEDIA, "description"))
_map("text", _SUMMARY, "summary", _q(NS_ATOM, "summary"), _q(NS_ITUNES, "summary"))
_map("text", _ABSTRACT, "abstract")
_map("text", _CONTENT, _q(NS_CONTENT, "encoded"), "fullitem", "content",
     _q(NS_ATOM, "content"))
_map("text", _BODY, "body", _q(NS_XHTML, "body"))
_map("date", 0, "pubDate", "pubdate", "published", "issued", _q(NS_ATOM, "published"),
     _q(NS_DCTERMS, "issued"))
_map("date", 1, "updated", "modified", _q(NS_ATOM, "updated"), _q(NS_DC, "date"),
     _q(NS_DCTERMS, "modified"))
_map("date", 2, "created", _q(NS_DCTERMS, "created"))
_map("author", 0, "author", _q(NS_ATOM, "author"), _q(NS_DC, "creator"), _q(NS_DC, "author"),
     _q(NS_ITUNES, "author"))
_map("source", 0, "source")

#: Children known to feed none of our fields in feedparser (checked against its handlers).
_IGNORED = frozenset([
    "category", "comments", "enclosure", "image", "language", "expirationDate",
    _q(NS_ATOM, "category"), _q(NS_ATOM, "contributor"), _q(NS_ATOM, "rights"),
    _q(NS_DC, "subject"), _q(NS_DC, "language"), _q(NS_DC, "rights"), _q(NS_DC, "publisher"),
    _q(NS_DC, "identifier"), _q(NS_DC, "format"), _q(NS_DC, "type"), _q(NS_DC, "source"),
    _q(NS_DC, "contributor"), _q(NS_DC, "coverage"), _q(NS_DC, "relation"),
    _q(NS_RSS1, "category"),
    "{http://wellformedweb.org/CommentAPI/}commentRss",
    "{http://wellformedweb.org/CommentAPI/}comment",
    "{http://purl.org/rss/1.0/modules/slash/}comments",
    "{http://purl.org/rss/1.0/modules/slash/}section",
    "{http://purl.org/rss/1.0/modules/slash/}department",
    "{http://purl.org/rss/1.0/modules/slash/}hit_parade",
    "{http://rssnamespace.org/feedburner/ext/1.0}origLink",
    "{http://rssnamespace.org/feedburner/ext/1.0}origEnclosureLink",
    "{com-wordpress:feed-additions:1}post-id",
    "{http://purl.org/syndication/thread/1.0}total",
    *(_q(NS_MEDIA, n) for n in ("content", "thumbnail", "credit", "keywords", "group",
                                "category", "rating", "player", "restriction", "license",
                                "hash", "text", "copyright", "community", "embed", "status",
                                "price", "peerLink", "location", "rights", "scene")),
    *(_q(NS_ITUNES, n) for n in ("duration", "explicit", "image", "episode", "season",
                                 "episodeType", "keywords", "block", "subtitle", "order",
                                 "isClosedCaptioned", "title")),
])


#: Local names feedparser maps to our fields, under no prefix or a prefix it knows. An
#: unread child with such a name may change feedparser's answer: we decline.
_FIELD_NAMES = frozenset([
    "title", "link", "guid", "id", "description", "summary", "abstract", "content",
    "encoded", "fullitem", "body", "pubdate", "published", "issued", "updated", "modified",
    "created", "date", "author", "creator", "source",
])
_KNOWN_PREFIXES = frozenset([None, "", "dc", "dcterms", "media", "itunes", "content", "atom",
                             "xhtml", "rss", "rdf", "feedburner", "admin", "cc", "psc"])

#: Namespaces we match by URI; for any other URI feedparser (and we) go by the prefix.
_KNOWN_NS = tuple("{" + ns + "}" for ns in (
    NS_ATOM, NS_RSS1, NS_CONTENT, NS_DC, NS_DCTERMS, NS_MEDIA, NS_ITUNES, NS_XHTML))
_PREFIX_NS = {"dc": NS_DC, "dcterms": NS_DCTERMS, "media": NS_MEDIA, "itunes": NS_ITUNES,
              "content": NS_CONTENT, "atom": NS_ATOM, "xhtml": NS_XHTML}


#: Every tag read_item knows, in one lookup: our fields, and the ignored ones as
#: ``_IGNORED_SPEC`` (a field tag is never ignored).
_IGNORED_SPEC = ("ignored", 0)
_SPECS: dict[str, tuple[str, int]] = {**dict.fromkeys(_IGNORED, _IGNORED_SPEC), **_FIELDS}
#: The tags a child's own tag is looked up in before anything else: an ignored tag in a
#: namespace feedparser does not know (wfw:, slash:, wp:) is only ignored once its prefix
#: says so (``<post-id xmlns="com-wordpress:feed-additions:1">`` is a "post-id" to
#: feedparser, a child we do not read).
_DIRECT: dict[str, tuple[str, int]] = {
    tag: spec for tag, spec in _SPECS.items() if tag[0] != "{" or tag.startswith(_KNOWN_NS)}


#: What :func:`_unlisted` makes of a child: one we do not read, or one whose name feedparser
#: may map to one of our fields (we decline).
_UNREAD = ("unread", 0)
_UNSAFE = ("unsafe", 0)


@functools.lru_cache(maxsize=1024)
def _unlisted(tag: str, prefix: str | None) -> tuple[str, tuple[str, int]]:
    """(the tag feedparser reads, its spec) for a child tag not in ``_DIRECT``.

    A pure function of the tag and its prefix, and feeds repeat the same few unlisted
    children (``wfw:commentRss``, ``dwsyn:contentID``) on every item: memoised.
    """
    if tag[0] == "{" and not tag.startswith(_KNOWN_NS):
        # A namespace URI feedparser does not know either: it goes by the prefix
        # ("media:" bound to a misspelt URI is still Media RSS to feedparser).
        tag = _by_prefix(prefix, tag)
        spec = _SPECS.get(tag)
        if spec is not None:
            return tag, spec
    if prefix in _KNOWN_PREFIXES and _local(tag).lower() in _FIELD_NAMES:
        return tag, _UNSAFE
    return tag, _UNREAD


def _by_prefix(prefix: str | None, tag: str) -> str:
    """The tag feedparser reads for an element (``tag``, ``prefix``) in a namespace it does
    not know.

    The local name is cut from the tag string: ``etree.QName`` costs more than the rest of
    the classification of a child.
    """
    ns = _PREFIX_NS.get(prefix) if prefix else None
    if ns is not None:
        return f"{{{ns}}}{_local(tag)}"
    return _local(tag) if prefix is None else tag


def _local(tag: str) -> str:
    """The local name of a ``{namespace}local`` or plain tag (as ``etree.QName`` gives it)."""
    return tag.rpartition("}")[2]


#: Content types whose content feedparser copies into an empty summary (``None``: default).
_COPIED_TYPES = frozenset(["", "text", "plain", "html", "xhtml", "text/plain", "text/html",
                           "application/xhtml+xml"])

#: Atom content types whose text feedparser keeps as is (everything else is base64).
_TEXT_TYPES = ("text", "plain", "html", "xhtml")
_HTML_LINK_TYPES = (None, "", "text/html", "application/xhtml+xml", "html", "xhtml")


class RawItem(NamedTuple):
    """Raw field values (markup kept) and the date candidates in feedparser's order."""

    title: str | None
    link: str | None
    guid: str | None
    text: str | None
    dates: list[str]  # one stamp per rank present: published, then updated, then created
    author: str | None
    source: str | None
    #: feedparser turns the GUID into a link (a relative one for "1234"; we do not).
    guid_is_link: bool = False


#: RawItem from a tuple of its fields in one C call (its generated ``__new__`` is Python).
_raw_item = functools.partial(tuple.__new__, RawItem)


class Decline(Exception):
    """The fast path cannot promise feedparser's answer for this item."""


def _value(el: etree._Element) -> str:
    """An element's content as feedparser keeps it: its text, or its inner markup."""
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    parts.extend(etree.tostring(child, encoding="unicode", with_tail=True) for child in el)
    return "".join(parts)


def _content(el: etree._Element) -> str:
    """A text construct with attributes: base64 unless its type is textual, as feedparser
    decides (for titles and descriptions too, in RSS as in Atom)."""
    ctype = (el.get("type") or "").strip().lower()
    mode = (el.get("mode") or "").strip().lower()
    is_base64 = mode == "base64" or not (
        ctype in _TEXT_TYPES or ctype == "" or ctype.startswith("text/")
        or ctype.endswith(("/xml", "+xml")))
    if not is_base64:
        return _value(el)
    try:
        return base64.decodebytes((el.text or "").encode("utf-8")).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Decline("undecodable base64 content") from exc


def _author(el: etree._Element) -> str:
    """Atom person construct → "name (email)" as feedparser writes it; RSS author: its text."""
    if len(el) == 0:
        return el.text or ""
    name = email = ""
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = _local(tag)
        if local == "name":
            name = (child.text or "").strip()
        elif local == "email":
            email = (child.text or "").strip()
        elif local != "uri":
            raise Decline("unexpected element in an author")
    if name and email:
        return f"{name} ({email})"
    return name or email


def _depth(el: etree._Element, top: etree._Element) -> int:
    depth = 0
    while el is not top and el is not None:
        el = el.getparent()
        depth += 1
    return depth


def _nested(child: etree._Element, titles: list, texts: list) -> None:
    """Fields nested in a child we otherwise skip: feedparser reads them at their depth.

    Media RSS titles and descriptions inside media:group / media:content are the usual
    case; anything else of ours nested elsewhere (a title in an <image> in a <category>)
    makes us decline.
    """
    for el in child.iterdescendants():
        tag = el.tag  # read once: lxml builds a new string on every access
        spec = _SPECS.get(tag)
        if spec is None:
            if isinstance(tag, str) and _local(tag).lower() in _FIELD_NAMES:
                raise Decline(f"{tag} nested in {child.tag}")
            continue  # not ours (or a comment)
        if spec is _IGNORED_SPEC:
            continue
        if tag in (_MEDIA_TITLE, _MEDIA_DESCRIPTION):
            ctype = el.get("type")
            value = _value(el) if ctype is None and el.get("mode") is None else _content(el)
            if tag == _MEDIA_TITLE:
                titles.append((1, _depth(el, child), value))
            else:
                texts.append((_DESCRIPTION, _depth(el, child), value, ctype))
        else:
            raise Decline(f"{tag} nested in {child.tag}")


def _title_of(titles: list[tuple[int, int, str]]) -> str | None:
    """feedparser's entry title: the first non-empty title at the shallowest depth wins;
    media:title only fills in (it never locks the title)."""
    if len(titles) == 1:
        return titles[0][2]  # the usual item: what the loop below gives for one title
    title: str | None = None
    stored_depth: int | None = None
    lock = -1
    for kind, depth, value in titles:
        if -1 < lock <= depth:
            continue
        if stored_depth is None or depth <= stored_depth:
            title, stored_depth = value, depth
        if kind == 0 and value.strip():
            lock = depth
    return title


def _text_of(texts: list[tuple[int, int, str, str | None]]) -> str | None:
    """feedparser's summary, else its first content, from the text elements in order.

    A description or summary arriving when there is a summary and no content yet is
    taken as content; one arriving after content replaces the summary (if not deeper);
    content fills the summary only when there is none (and only for textual types).
    """
    if len(texts) == 1:
        return texts[0][2]
    summary: str | None = None
    summary_depth: int | None = None
    has_content = False
    contents: list[str] = []
    for kind, depth, value, ctype in texts:
        if kind in (_DESCRIPTION, _SUMMARY) and summary is not None and not has_content:
            contents.append(value)
            has_content = True
            continue
        if kind in (_DESCRIPTION, _SUMMARY, _ABSTRACT):
            if summary_depth is None or depth <= summary_depth:
                summary, summary_depth = value, depth
            continue
        if kind == _CONTENT:
            has_content = True
        contents.append(value)
        textual = (ctype or "").strip().lower() in _COPIED_TYPES
        if summary is None and textual:
            summary = value  # setdefault: no depth recorded
    if summary and summary.strip():
        return summary
    return contents[0] if contents else summary


def read_item(item: etree._Element, dtd: bool = True) -> RawItem:
    """Classify an item's children and choose each field as feedparser would.

    Raises :class:`Decline` where that choice is not certain. This runs for every item of
    every feed, so each child's tag is read once (lxml builds the string on every access)
    and classified by one dict lookup; the rare shapes go to helpers.

    ``dtd``: whether the document has a DOCTYPE. Its ATTLIST defaults count as attributes
    (lxml's ``get()`` returns them, ``items()`` does not), so only without one does an
    element with no attributes of its own have no ``type`` or ``mode``.
    """
    # GUIDs, dates, authors and sources: every tag of one of them has the same rank (one
    # date kind per rank), so the first value stays and another, different one declines.
    found: dict[str, str] = {}
    clash = False
    links: list[str] = []
    titles: list[tuple[int, int, str]] = []
    texts: list[tuple[int, int, str, str | None]] = []
    unread = False
    is_permalink = False  # any GUID without isPermaLink="false" makes feedparser a link
    for child in item:
        tag = child.tag
        spec = _DIRECT.get(tag)
        if spec is None:
            if not isinstance(tag, str):
                continue  # a comment or processing instruction
            tag, spec = _unlisted(tag, child.prefix)
            if spec is _UNREAD:
                unread = True
                continue
            if spec is _UNSAFE:
                raise Decline(f"unread element {tag} feedparser may read")
        if spec is _IGNORED_SPEC:  # the most common child: categories, media, enclosures
            if len(child):
                _nested(child, titles, texts)
            continue
        field, rank = spec
        if field == "link":
            if rank == 1:  # atom:link
                href = child.get("href")
                if href is None:
                    links.append((child.text or "").strip())
                elif child.get("rel", "alternate") == "alternate" and \
                        child.get("type") in _HTML_LINK_TYPES:
                    links.append(href.strip())
            elif len(child):
                links.append(_value(child))
            else:
                links.append((child.text or "").strip())
            continue
        if field == "title" or field == "text":
            if not dtd and not child.items():  # the usual title or description
                ctype = mode = None
            else:
                ctype, mode = child.get("type"), child.get("mode")
            if ctype is None and mode is None:
                value = _value(child) if len(child) else child.text or ""
            else:
                value = _content(child)
            if field == "title":
                titles.append((rank, 0, value))
            else:
                texts.append((rank, 0, value, ctype))
            continue
        if field == "guid":
            value = child.text or ""
            if tag != "guid" or child.get("isPermaLink", "true").lower() == "true":
                is_permalink = True
        elif field == "date":
            # An empty date is kept: after a full one it erases it in feedparser (a clash).
            value = _value(child).strip() if len(child) else (child.text or "").strip()
            field = _DATE_KINDS[rank]
        elif field == "author":
            value = _author(child)
        else:
            value = _value(child) if len(child) else child.text or ""
        first = found.get(field)
        if first is None:
            found[field] = value
        elif value != first and value.strip() != first.strip():
            clash = True

    if clash:
        raise Decline("two different values for a field")
    if len(titles) > 1 and "source" in found:
        # <source> resets feedparser's title lock: the winner then depends on the order.
        raise Decline("several titles around a <source>")
    title = _title_of(titles)
    guid = found.get("guid")
    if guid is not None:
        guid = guid.strip()
        guid_found = True
    else:
        guid_found = False
        about = item.get(_RDF_ABOUT)
        if about:
            guid = about.strip()
    link: str | None = None
    if len(links) == 1:
        link = links[0] or None  # the usual item; the set below gives the same
    elif links:
        distinct = {v for v in links if v}
        if len(distinct) > 1:
            raise Decline("two different links")
        link = distinct.pop() if distinct else None
    elif guid_found and guid and is_permalink and "://" in guid:
        link = guid
    text = _text_of(texts)
    dates = []
    if found:
        date = found.get("published")
        if date:
            dates.append(date)
        date = found.get("updated")
        if date:
            dates.append(date)
        date = found.get("created")
        if date:
            dates.append(date)
    if unread and not (title and title.strip() and link and text and text.strip() and dates):
        raise Decline("an item with a field missing and children we did not read")
    return _raw_item((title, link, guid, text, dates, found.get("author"), found.get("source"),
                      bool(not links and guid_found and guid and is_permalink)))

