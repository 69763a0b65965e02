"""Article identity: the one ``entry_key`` function (miniflux ``reader/rss/adapter.go``).

``entry_key`` returns, in order of preference:

1. ``guid:<canonical URL>`` when the GUID is itself a URL (most feeds), so the same article
   carried by two feeds of one outlet is one article;
2. ``guid:<urn or tag URI>`` for globally unique non-URL GUIDs (``urn:uuid:…``, ``tag:…``);
3. ``guid:<source_id>:<guid>`` for opaque GUIDs ("12345"), which are only unique per feed;
4. ``url:<canonical link>`` when the GUID is missing or not trustworthy (the same GUID used
   for different links inside one feed);
5. ``hash:<sha1 of title + summary>`` when there is neither.

``drop_seen`` is the cheap-before-expensive step: entries the warehouse (or this run) already
has are marked before any extraction or classification.

The store additionally merges an entry into an existing article with the same canonical URL,
so an outlet that changes GUID scheme does not double its articles.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor import warehouse
from monitor.settings import Settings

if TYPE_CHECKING:  # the parser (and feedparser) is loaded only when a feed has changed
    from monitor.ingest.parse import Entry

__all__ = ["canonical_url", "entry_key", "article_id", "keys_for_feed", "content_hash",
           "clean_content_hash", "drop_seen", "known_keys"]

#: Query parameters that only track the reader, never select the article.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "ocid",
    "cmpid", "cmp", "src", "ref", "ref_src", "rss", "rssfeed", "feed", "xtor", "ito", "smid",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    "__twitter_impression", "_ga", "_gl", "spm", "share", "taid", "guccounter",
})
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hmb_")
_GUID_SCHEMES = re.compile(r"^(urn:|tag:)", re.I)
#: Lower-case host, no port, no fragment, no user info, and no query or one of plain
#: ``name=value`` pairs (letters, digits and ``_.-~``, which ``parse_qsl`` and ``urlencode``
#: give back unchanged): nothing to normalise but "www.", the trailing slash and tracking
#: parameters. A third of the URLs in real feeds carry such a query
#: (``?at_medium=RSS&at_campaign=rss``); splitting it on "&" costs a tenth of the full parse.
#: Anything else in the query (escapes, "+", ";", a name without "=") takes the full parse.
_SIMPLE_URL = re.compile(
    r"^https?://(?:www\.)?+([a-z0-9][a-z0-9.-]*)(/[^?#\s]*)?"
    r"(?:\?((?:[\w.~-]+=[\w.~-]*)(?:&[\w.~-]+=[\w.~-]*)*))?$", re.ASCII)


@functools.lru_cache(maxsize=65536)
def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme/host, no default port, no fragment, no tracking parameters.

    Cached: one entry's URL is canonicalised for its key, its record and its feed's GUID
    check, and archives repeat the same URLs thousands of times.
    """
    if not url:
        return None
    simple = _SIMPLE_URL.match(url)
    if simple is None:
        return _canonical_split(url)
    # The common case, without the cost of a full split and re-join.
    host, path, query = simple.group(1), simple.group(2) or "/", simple.group(3)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    kept = query and "&".join(pair for pair in query.split("&")
                              if not _tracking(pair.partition("=")[0]))
    return f"https://{host}{path}?{kept}" if kept else f"https://{host}{path}"


def _tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def _canonical_split(url: str) -> str | None:
    """:func:`canonical_url` by a full split and re-join (any URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # a port that is not a number raises here, as a bad split does
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if host.startswith("www."):
        host = host[4:]
    port = port if port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _tracking(k)]
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    # http and https of one page are the same article.
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


def content_hash(title: str, summary: str) -> str:
    """sha1 of the lower-cased title and summary with whitespace folded to single spaces.

    Parsed text is folded already (``clean_text``): then only the ends need stripping, and
    the split-and-join (a third of this function's cost on long summaries) is skipped.
    """
    text = (title + " " + summary).lower()
    # Printable text has no whitespace but the ASCII space (the rest is Unicode's
    # separators and controls), so without a double space it is folded but for the ends.
    folded = "  " not in text and text.isprintable()
    text = text.strip(" ") if folded else " ".join(text.split())
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def clean_content_hash(title: str, summary: str) -> str:
    """:func:`content_hash` of a title and summary that ``clean_text`` made (every parsed
    ``Entry``'s): the same value, without the two scans of the whole text that check the
    folding (a third of its cost, 1% of a batch's).

    ``clean_text``'s output is stripped, has no whitespace but the space and no two spaces
    in a row; cutting it to a length may leave one space at the end. So the folding is
    only at the join and the ends. ``tests/ingest/test_text_shortcuts.py`` checks the two
    agree on such text.
    """
    if title[-1:] == " ":
        title = title.rstrip(" ")
    if summary[-1:] == " ":
        summary = summary.rstrip(" ")
    text = f"{title} {summary}" if title and summary else title or summary
    return hashlib.sha1(text.lower().encode("utf-8")).hexdigest()


def _guid_trustworthy(guid: str | None, untrusted: set[str]) -> bool:
    return bool(guid) and len(guid) >= 4 and guid not in untrusted


def entry_key(entry: Entry, source_id: str, untrusted_guids: set[str] | None = None) -> str:
    """The identity of an entry across runs and feeds (see the module docstring)."""
    untrusted = untrusted_guids or set()
    guid = entry.guid.strip() if entry.guid else None
    if guid and _guid_trustworthy(guid, untrusted):
        as_url = canonical_url(guid) if "://" in guid else None
        if as_url:
            return f"guid:{as_url}"
        if _GUID_SCHEMES.match(guid):
            return f"guid:{guid}"
        return f"guid:{source_id}:{guid}"
    link = canonical_url(entry.link)
    if link:
        return f"url:{link}"
    return f"hash:{content_hash(entry.title, entry.summary)}"


def keys_for_feed(entries: list[Entry], source_id: str) -> list[str]:
    """Keys for all entries of one feed; GUIDs reused for different links are not trusted."""
    links_by_guid: dict[str, set[str | None]] = {}
    for e in entries:
        if e.guid:
            links_by_guid.setdefault(e.guid.strip(), set()).add(canonical_url(e.link) or
                                                                 e.title)
    untrusted = {g for g, links in links_by_guid.items() if len(links) > 1}
    return [entry_key(e, source_id, untrusted) for e in entries]


def article_id(key: str) -> str:
    """A short, stable id derived from the entry key (what people paste into commands)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- seen before


def known_keys(settings: Settings, keys: list[str], urls: list[str]) -> tuple[set[str], set[str]]:
    if not keys:
        return set(), set()
    (among_keys, key_params), (among_urls, url_params) = _among(keys), _among(urls)
    with warehouse.reader(settings) as con:
        rows = con.execute(  # (one statement: each costs 0.2-0.3 ms to prepare)
            f"SELECT true, entry_key FROM articles WHERE entry_key IN ({among_keys})"
            f" UNION ALL SELECT false, canonical_url FROM articles"
            f" WHERE canonical_url IN ({among_urls})", [*key_params, *url_params]).fetchall()
    return {v for is_key, v in rows if is_key}, {v for is_key, v in rows if not is_key}


#: Joins a list of strings into one parameter, split again by DuckDB: no key or URL from an
#: XML feed holds it (XML forbids it). DuckDB's Python binding converts a list parameter
#: value by value, about 1 µs each: a third of the two lookups of a 3,000-entry batch.
_SEPARATOR = "\x1f"


def _among(values: list[str]) -> tuple[str, list[object]]:
    """A subquery of ``values`` and its parameters: the values joined into one string, or,
    when one of them holds the separator (from a JSON feed), the list as it is."""
    joined = _SEPARATOR.join(values)
    if values and joined.count(_SEPARATOR) == len(values) - 1:
        return "SELECT unnest(string_split(?, chr(31)))", [joined]
    return "SELECT unnest(?::VARCHAR[])", [values]


def drop_seen(settings: Settings, candidates: list[dict[str, Any]],
               earlier: tuple[set[str], set[str]] | None = None) -> list[dict[str, Any]]:
    """Cheap before expensive: mark entries the warehouse (or this batch, or ``earlier``
    keys and URLs) already has, so only new ones are extracted and classified. Seen ones
    are still staged: the store records which sources carried them."""
    keys = list({c["entry_key"] for c in candidates})
    urls = list({c["canonical_url"] for c in candidates if c["canonical_url"]})
    known, known_urls = known_keys(settings, keys, urls)
    if earlier:
        known |= earlier[0]
        known_urls |= earlier[1]
    fresh: dict[str, dict[str, Any]] = {}
    fresh_urls: set[str] = set()
    for c in candidates:
        c["seen"] = c["entry_key"] in known or (c["canonical_url"] in known_urls)
        if c["seen"] or c["entry_key"] in fresh or c["canonical_url"] in fresh_urls:
            continue
        fresh[c["entry_key"]] = c
        if c["canonical_url"]:
            fresh_urls.add(c["canonical_url"])
    return list(fresh.values())

