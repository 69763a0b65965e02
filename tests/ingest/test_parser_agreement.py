"""Differential test: the fast lxml path and feedparser give the same entries.

Every well-formed feed we can build is parsed both ways; titles, links, GUIDs, dates, text
and authors must agree. Feeds the fast path declines (malformed, DOCTYPE) go to feedparser
by design, which this test also checks.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.ingest import encoding, parse
from tests.ingest.conftest import FEEDS

NOW = datetime(2026, 11, 27, 12, 0)


def _both(body: bytes, headers: dict[str, str] | None = None):
    fast = parse._parse_fast(body, "https://base.example.org/", None, NOW)
    reference = parse._parse_reference(body, "https://base.example.org/", headers or {}, None,
                                       NOW, True)
    return fast, reference


def _generated() -> list:
    """Feeds in the shapes real outlets use, written here."""
    rss_item = (
        "<item><title>{t}</title><link>{link}</link><guid isPermaLink='{perma}'>{guid}</guid>"
        "<pubDate>{date}</pubDate><description><![CDATA[<p>{d} <a href='/x'>more</a></p>]]>"
        "</description><dc:creator>{a}</dc:creator></item>"
    )
    items = "".join(rss_item.format(
        t=f"Headline {i} &amp; more: Moscow &#8211; Tokyo", link=f"https://n.example.com/{i}",
        perma="true" if i % 2 else "false", guid=f"https://n.example.com/{i}" if i % 2 else f"id{i}",
        date=["Mon, 02 Nov 2026 10:00:00 +0300", "2026-11-02T10:00:00Z",
              "Mon, 02 Nov 2026 10:00:00 EST", "Mon, 2 Nov 2026 10:00 GMT"][i % 4],
        d=f"Lead paragraph {i} with <b>bold</b> text", a=f"Writer {i}") for i in range(8))
    rss = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Gen</title>{items}'
           f"</channel></rss>").encode()
    content_only = (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>C</title>'
        b"<item><title>Only content</title><link>https://c.example.com/1</link>"
        b"<content:encoded><![CDATA[<div><p>Full</p><script>bad()</script><p>text</p></div>]]>"
        b"</content:encoded></item></channel></rss>")
    rdf = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="https://r.example.com/"><title>RDF</title></channel>'
        b'<item rdf:about="https://r.example.com/1"><title>RDF item</title>'
        b"<link>https://r.example.com/1</link><description>Desc</description>"
        b"<dc:date>2026-11-03T04:05:06+09:00</dc:date></item></rdf:RDF>")
    relative = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<entry><title type='html'>&lt;i&gt;Atom&lt;/i&gt; title</title>"
        b"<link href='/relative/path'/><id>urn:uuid:1234-5678</id>"
        b"<updated>2026-11-04T01:02:03-05:00</updated><content type='html'>"
        b"&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>")
    cyrillic = (
        '<?xml version="1.0" encoding="windows-1251"?><rss version="2.0"><channel><title>R'
        "</title><item><title>Путин и Си Цзиньпин</title><link>https://ru.example.com/1</link>"
        "<description>Переговоры в Кремле</description></item></channel></rss>"
    ).encode("windows-1251")
    # A CDN that appends its email-decoding <script> after every response, feeds included.
    trailing_junk = rss + b'\n<script data-cfasync="false" src="/cdn/decode.js"></script>'
    return [
        pytest.param(rss, id="rss-dates-cdata-entities"),
        pytest.param(trailing_junk, id="rss-with-script-after-closing-tag"),
        pytest.param(content_only, id="rss-content-encoded"),
        pytest.param(rdf, id="rss1-rdf"),
        pytest.param(relative, id="atom-relative-link"),
        pytest.param(cyrillic, id="declared-windows-1251"),
    ]


FIXTURE_FEEDS = [pytest.param((FEEDS / name).read_bytes(), id=name)
                 for name in ("rss_basic.xml", "atom_basic.xml", "duplicates.xml", "sparse.xml")]


@pytest.mark.parametrize("body", FIXTURE_FEEDS + _generated())
def test_fast_path_agrees_with_feedparser(body: bytes) -> None:
    fast, reference = _both(body)
    assert fast is not None, "the fast path should accept this well-formed feed"
    assert len(fast.entries) == len(reference.entries)
    for ours, theirs in zip(fast.entries, reference.entries, strict=True):
        assert ours.title == theirs.title
        if ours.link is None and theirs.guid and "://" not in theirs.guid:
            # Deliberate difference: feedparser turns a non-URL GUID ("sparse-1") into a
            # link relative to the feed; we do not invent a link that was never given.
            assert theirs.link.endswith(theirs.guid)
        else:
            assert ours.link == theirs.link
        assert ours.guid == theirs.guid
        assert (ours.published_at, ours.date_flag) == (theirs.published_at, theirs.date_flag)
        assert ours.summary == theirs.summary
        assert ours.author == theirs.author


@pytest.mark.parametrize("name", ["malformed.xml", "truncated.xml", "entity_bomb.xml"])
def test_fast_path_declines_what_it_cannot_parse_exactly(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    assert parse._parse_fast(body, "", None, NOW) is None
    assert parse.parse_feed(body).parser == "feedparser"


def test_parse_never_raises_on_junk() -> None:
    for junk in (b"\x00\xff" * 500, b"<rss", b"{not json", b"<?xml?><<<>>>", "ünïcode".encode()):
        result = parse.parse_feed(junk)
        assert isinstance(result, parse.ParsedFeed)


def test_junk_after_the_feed_is_ignored_and_reported_but_junk_inside_is_not() -> None:
    whole = (FEEDS / "rss_basic.xml").read_bytes().rstrip()
    parsed = parse.parse_feed(whole + b"<script src='/x.js'></script>\n")
    assert parsed.parser == "lxml" and parsed.bozo and "junk after" in parsed.bozo
    assert [e.title for e in parsed.entries] == [e.title for e in parse.parse_feed(whole).entries]
    # The same bytes *inside* the channel are a broken feed: the reference parser decides.
    broken = whole.replace(b"</channel>", b"<script>x</script><p></channel>")
    assert parse._parse_fast(broken, "", None, NOW) is None


# --- Fixtures for each class of element the fast path once skipped (issue 14) ---------------

AGREEMENT = FEEDS / "agreement"
FIELDS = ("title", "link", "guid", "summary", "author")


def _kept(entries: list) -> list:
    """What parse_feed keeps: entries with a title, a text or a link."""
    return [e for e in entries if e.title or e.summary or e.link]


def _assert_agree(ours: list, theirs: list, context: str = "") -> None:
    """Same entry count; every field feedparser has, we have with the same value."""
    assert len(ours) == len(theirs), context
    for mine, ref in zip(ours, theirs, strict=True):
        for name in FIELDS:
            value = getattr(ref, name)
            if not value:
                continue
            if name == "link" and mine.link is None and ref.guid and "://" not in ref.guid \
                    and value.endswith(ref.guid):
                continue  # deliberate: a non-URL GUID is not turned into a relative link
            assert getattr(mine, name) == value, f"{context} {name}"
        if ref.published_at is not None or ref.date_flag == "absurd":
            assert (mine.published_at, mine.date_flag) == (ref.published_at, ref.date_flag), \
                f"{context} date"


def _reference(body: bytes) -> list:
    return _kept(parse._parse_reference(body, "https://base.example.org/", {}, None, NOW,
                                        True).entries)


AGREEMENT_FILES = sorted(p.name for p in AGREEMENT.glob("*.xml"))


@pytest.mark.parametrize("name", AGREEMENT_FILES)
def test_fixture_agrees_with_feedparser_on_every_stored_field(name: str) -> None:
    body = (AGREEMENT / name).read_bytes()
    ours = parse.parse_feed(body, "https://base.example.org/", now=NOW)
    reference = _reference(body)
    assert reference, "the fixture should give feedparser entries"
    _assert_agree(ours.entries, reference, name)


#: What the fast path itself must read in each fixture (it may not just decline them).
FAST_EXPECTED = {
    "rss_fullitem.xml": [("title", "Harbour talks"),
                         ("summary", "Harbour talks resumed on Tuesday."),
                         ("summary", "Second text.")],
    "rss_xhtml_body.xml": [("summary",
                            "First paragraph about the port. Second paragraph, with a link.")],
    "rss_body.xml": [("summary", "Rail link opens next spring.")],
    "rss_dc_description.xml": [("title", "Fisheries quota agreed"),
                               ("summary", "Both sides signed the quota."),
                               ("author", "Desk writer")],
    "rss_itunes_summary.xml": [("summary", "An interview on Arctic shipping routes."),
                               ("author", "Studio host")],
    "rss_media_title.xml": [("title", "Summit arrival"), ("title", "Press conference"),
                            ("summary", "The closing press conference.")],
    "atom_id_link.xml": [("link", "https://atom.example.net/posts/1"),
                         ("link", "https://atom.example.net/posts/2"),
                         ("author", "Ann Author (ann@atom.example.net)")],
    "rss_dcterms_dates.xml": [("published_at", datetime(2026, 11, 1, 10)),
                              ("published_at", datetime(2026, 11, 2, 11)),
                              ("published_at", datetime(2026, 11, 3, 12)),
                              ("published_at", datetime(2026, 11, 4, 13))],
    "atom_base64.xml": [("summary", "Decoded body of the entry."),
                        ("title", "Encoded title")],
    "text_c1.xml": [("title", "Don\u2019t panic \u2013 \u201cquoted\u201d"),
                    ("summary", "Prices in \u20ac rose\u2026 again")],
    "text_latin1_mojibake.xml": [("title", "It\u2019s \u00c9cole day"),
                                 ("summary", "Caf\u00e9 \u2019open\u2019")],
}


@pytest.mark.parametrize("name", sorted(FAST_EXPECTED))
def test_fast_path_reads_the_element(name: str) -> None:
    fast = parse._parse_fast((AGREEMENT / name).read_bytes(), "https://base.example.org/",
                             None, NOW)
    assert fast is not None, "the fast path should read this, not decline it"
    for field_name, value in FAST_EXPECTED[name]:
        assert value in [getattr(e, field_name) for e in fast.entries], field_name


def test_blank_lines_before_the_xml_declaration_are_read_on_the_fast_path() -> None:
    """XML forbids anything before its declaration, so lxml refuses such a document and
    feedparser reads it with its loose parser. The fast path reads it without the blank
    lines, which is what feedparser reads too once they are gone, and says so in the bozo."""
    body = (AGREEMENT / "rss_blank_before_declaration.xml").read_bytes()
    ours = parse.parse_feed(body, "https://base.example.org/", now=NOW)
    assert ours.parser == "lxml" and "whitespace before the XML declaration" in ours.bozo
    assert [e.title for e in ours.entries] == ["Ferry line to Sakhalin reopens",
                                               "Grain corridor talks & quotas"]
    _assert_agree(ours.entries, _reference(body.lstrip()), "stripped")
    # Where feedparser's loose parser reads the document otherwise, it is wrong: it keeps
    # an escaped "&amp;" in a GUID as it stands, where XML (and its strict parser) read "&".
    guid = b"https://blank.example.org/news/ferry"
    amp = body.replace(guid + b"</guid>", guid + b"?a=1&amp;b=2</guid>")
    loose = _reference(amp)[0].guid
    assert loose.endswith("?a=1&amp;b=2")
    assert parse.parse_feed(amp, now=NOW).entries[0].guid == loose.replace("&amp;", "&")
    # Not UTF-8 without a declaration of its own: left to feedparser as before.
    assert parse.parse_feed(b"\n" + body.lstrip().replace(b"UTF-8", b"koi8-r"),
                            now=NOW).parser == "feedparser"


#: Byte sequences Python's UTF-8 decoder refuses (overlong forms, surrogates, beyond
#: U+10FFFF, bytes that never occur, cut sequences, stray continuation bytes, Latin-1).
NOT_UTF8 = [b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80",
            b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\x80", b"\xc3",
            b"\xe2\x82", b"\xf8\x88\x80\x80\x80", b"caf\xe9"]


@pytest.mark.parametrize("where", ["text", "cdata", "attribute", "comment", "instruction"])
@pytest.mark.parametrize("declaration", [b'<?xml version="1.0" encoding="UTF-8"?>', b""])
def test_lxml_refuses_every_byte_sequence_that_is_not_utf8(where: str, declaration: bytes) -> None:
    """parse_feed tries lxml on a UTF-8 document before it checks the bytes itself: that
    is safe only while libxml2 refuses, wherever it stands, everything Python's decoder
    refuses (then the document takes the checked way, as before)."""
    for bad in NOT_UTF8:
        assert not encoding.is_clean_utf8(bad)
        inner = {"text": b"<title>a" + bad + b"b</title>",
                 "cdata": b"<title><![CDATA[a" + bad + b"b]]></title>",
                 "attribute": b"<title lang='a" + bad + b"b'>x</title>",
                 "comment": b"<!-- a" + bad + b"b --><title>x</title>",
                 "instruction": b"<?pi a" + bad + b"b?><title>x</title>"}[where]
        body = (declaration + b'<rss version="2.0"><channel>' + inner +
                b"<item><title>t</title><link>https://x.example.org/1</link></item>"
                b"</channel></rss>")
        assert parse._parse_fast(body, "", None, NOW) is None, bad


def test_junk_after_the_feed_that_is_not_utf8_is_read_the_checked_way() -> None:
    """lxml cuts junk after the feed before it reads it, so a body with junk is checked
    (it is read as feedparser decodes it, the same entries in the end)."""
    whole = (FEEDS / "rss_basic.xml").read_bytes().rstrip()
    assert "—" in parse.parse_feed(whole, now=NOW).title  # non-ASCII UTF-8 in the feed
    clean = parse.parse_feed(whole + b"<script>x</script>", now=NOW)
    dirty = parse.parse_feed(whole + b"<script>caf\xe9</script>", now=NOW)
    for parsed in (clean, dirty):
        assert parsed.parser == "lxml" and "junk after" in parsed.bozo
        assert parsed.entries == parse.parse_feed(whole, now=NOW).entries


@pytest.mark.parametrize(("refs", "expected"), [
    (b"&#55357;&#56832;", b"&#x1F600;"),  # an emoji as JavaScript writes it
    (b"&#xD83D;&#xDE00;", b"&#x1F600;"),
    (b"&#xD83D; &#xDE00;", b"&#xFFFD; &#xFFFD;"),  # halves apart: no pair
    (b"&#xDE00;&#xD83D;&#xDE00;", b"&#xFFFD;&#x1F600;"),
    (b"&#xD83D;&#xD83D;&#xDE00;", b"&#xFFFD;&#x1F600;"),
    (b"&#xD83D;", b"&#xFFFD;"),
    (b"&#1114112;", b"&#xFFFD;"),
    (b"&#x110000;&#65;", b"&#xFFFD;&#65;"),
])
def test_character_references_no_parser_takes_are_repaired(refs: bytes, expected: bytes) -> None:
    assert encoding.repair_char_refs(b"a " + refs + b" b") == b"a " + expected + b" b"


def test_references_parsers_take_are_left_alone() -> None:
    for fine in (b"&#8217; &#x2014; &amp;", b"&#1; &#0;", b"no references"):
        assert encoding.repair_char_refs(fine) is None


def _emoji_feed(prefix: bytes = b"") -> bytes:
    return (prefix + b'<rss version="2.0"><channel><title>Emoji</title>'
            b"<item><title>Summit &#55357;&#56832; ends</title>"
            b"<link>https://e.example.org/1</link></item>"
            b"<item><title>Second &#1114112; story</title>"
            b"<link>https://e.example.org/2</link></item></channel></rss>")


@pytest.mark.parametrize("prefix", [b"", b"<!DOCTYPE rss>"], ids=["fast path", "feedparser"])
def test_an_emoji_written_as_surrogate_references_costs_no_entry(prefix: bytes) -> None:
    """lxml refuses such a document and feedparser raises on it (UnicodeEncodeError): one
    emoji once cost a feed all its entries ("parser crashed"), at every poll."""
    body = _emoji_feed(prefix)
    parsed = parse.parse_feed(body, "https://e.example.org/feed", now=NOW)
    assert parsed.parser == ("lxml" if not prefix else "feedparser")
    assert [e.title for e in parsed.entries] == ["Summit \U0001F600 ends", "Second \ufffd story"]
    assert "character references" in parsed.bozo


def test_a_document_feedparser_raises_on_keeps_what_lxml_can_recover() -> None:
    """A stray </item> inside a link makes feedparser raise (KeyError: 'links'), and it
    keeps nothing; the feed once lost every entry ("parser crashed") at every poll."""
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T'
            b"</title><item><title>One</title><link>https://r.example.org/1</link></item>"
            b"<item><title>Two</title><link>https://r.example.org/</item>2</link></item>"
            b"</channel></rss>")
    parsed = parse.parse_feed(body, "https://r.example.org/feed", now=NOW)
    assert parsed.is_feed and parsed.error is None
    assert [e.title for e in parsed.entries] == ["One", "Two"]
    assert parsed.entries[0].link == "https://r.example.org/1"
    assert "feedparser failed (KeyError" in parsed.bozo and "recovering parser" in parsed.bozo


@pytest.mark.parametrize("name,count", [("atom_repeated_updated.xml", 1), ("rss090.xml", 2)])
def test_fast_path_declines_what_it_would_read_differently(name: str, count: int) -> None:
    body = (AGREEMENT / name).read_bytes()
    assert parse._parse_fast(body, "https://base.example.org/", None, NOW) is None
    parsed = parse.parse_feed(body, "https://base.example.org/", now=NOW)
    assert parsed.parser == "feedparser"
    assert len(parsed.entries) == count
    assert all(e.title and e.link and e.date_flag != "missing" or name == "rss090.xml"
               for e in parsed.entries)


#: Not UTF-8, though nothing declares another encoding (or the declaration says UTF-8): the
#: fast path reads them as feedparser does, windows-1252 else ISO-8859-2, instead of handing
#: the document to feedparser (10-15 ms a poll for a small feed).
DECODED_AS_FEEDPARSER = {
    "text_undeclared_windows1252.xml": "windows-1252",
    "text_declared_utf8_is_windows1252.xml": "windows-1252",
    "text_undeclared_iso8859_2.xml": "iso-8859-2",
}


@pytest.mark.parametrize("name", sorted(DECODED_AS_FEEDPARSER))
@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/rss+xml; charset=utf-8"},
                                     {"Content-Type": "text/xml"}], ids=["none", "utf-8", "text"])
def test_bytes_that_are_not_utf8_are_read_on_the_fast_path_as_feedparser_reads_them(
        name: str, headers: dict[str, str]) -> None:
    body = (AGREEMENT / name).read_bytes()
    parsed = parse.parse_feed(body, "https://base.example.org/", headers, now=NOW)
    assert parsed.parser == "lxml"
    assert f"read as {DECODED_AS_FEEDPARSER[name]}" in parsed.bozo
    lowered = {k.lower(): v for k, v in headers.items()}  # as parse_feed hands them on
    reference = _kept(parse._parse_reference(body, "https://base.example.org/", lowered, None,
                                             NOW, True).entries)
    _assert_agree(parsed.entries, reference, name)
    assert "São Paulo" in parsed.entries[0].title or "Čínou" in parsed.entries[0].title


@pytest.mark.parametrize("body", [
    '<rss version="2.0"><channel><title>Ü</title></channel></rss>'.encode("utf-16-le"),
    '<rss version="2.0"><channel><title>Ü</title></channel></rss>'.encode("utf-32-be"),
    '<rss version="2.0"><channel><title>Ü</title></channel></rss>'.encode("cp037"),
    "\ufeff<rss><channel><title>Ü</title></channel></rss>".encode("utf-8") + b"\xff",
], ids=["utf-16-no-bom", "utf-32", "ebcdic", "utf-8-bom-broken"])
def test_what_feedparser_sniffs_from_the_first_bytes_is_left_to_it(body: bytes) -> None:
    """UTF-16/32, EBCDIC and a byte-order mark: feedparser tells them from the first bytes,
    so they are not read as windows-1252 (they were, in a first version of this change,
    and 22 of feedparser's own test documents were then no longer feeds)."""
    assert encoding.as_feedparser_decodes(body) == (body, None)


# --- Generated items: either the fast path declines, or it agrees field by field ------------

_NAMESPACES = {
    "dc": "http://purl.org/dc/elements/1.1/", "dcterms": "http://purl.org/dc/terms/",
    "media": "http://search.yahoo.com/mrss/", "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "content": "http://purl.org/rss/1.0/modules/content/", "atom": "http://www.w3.org/2005/Atom",
    "xhtml": "http://www.w3.org/1999/xhtml", "wfw": "http://wellformedweb.org/CommentAPI/",
    "x": "urn:example:unknown", "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "feedburner": "http://rssnamespace.org/feedburner/ext/1.0",
}
_WORDS = ("port", "summit", "rail", "quota", "Moscow", "Tokyo", "Delhi", "talks", "deal",
          "café", "don\x92t", "it\u00e2\x80\x99s", "naïve", "&amp;", "Ж", "東京")
_DATES = ("Mon, 02 Nov 2026 10:00:00 +0300", "2026-11-03T04:05:06Z", "2026-11-04T01:02:03-05:00",
          "Tue, 03 Nov 2026 10:00:00 EST", "not a date", "", "1970-01-01T00:00:00Z",
          "2026-11-05")


def _phrase(rng) -> str:
    words = rng.sample(_WORDS, rng.choice((0, 1, 2, 3, 3, 4, 4)))
    if rng.random() < 0.2:
        return f"<![CDATA[<p>{' '.join(words)}</p><p><b>more</b></p>]]>"
    return " ".join(words)


def _url(rng) -> str:
    return rng.choice(("https://g.example.net/", "/rel/", "")) + str(rng.randint(1, 5))


def _rss_child(rng) -> str:
    """One child element of an <item>: known to the fast path or not, namespaced or not."""
    kind = rng.randrange(10 if rng.random() < 0.5 else 52)  # the usual elements more often
    p, u, d = _phrase(rng), _url(rng), rng.choice(_DATES)
    return [
        f"<title>{p}</title>", f"<link>{u}</link>",
        f"<guid isPermaLink='{rng.choice(('true', 'false'))}'>{u}</guid>",
        f"<description>{p}</description>", f"<pubDate>{d}</pubDate>", f"<author>{p}</author>",
        f"<category>{p}</category>", "<comments>https://g.example.net/c</comments>",
        "<enclosure url='https://g.example.net/e.mp3' length='1' type='audio/mpeg'/>",
        f"<source url='https://src.example.net/'>{p}</source>",
        f"<dc:title>{p}</dc:title>", f"<dc:description>{p}</dc:description>",
        f"<dc:creator>{p}</dc:creator>", f"<dc:date>{d}</dc:date>", f"<dc:subject>{p}</dc:subject>",
        f"<dcterms:modified>{d}</dcterms:modified>", f"<dcterms:created>{d}</dcterms:created>",
        f"<dcterms:issued>{d}</dcterms:issued>", f"<content:encoded>{p}</content:encoded>",
        f"<fullitem>{p}</fullitem>", f"<body>{p}</body>",
        f"<xhtml:body><xhtml:p>{p}</xhtml:p></xhtml:body>",
        f"<itunes:summary>{p}</itunes:summary>", f"<itunes:author>{p}</itunes:author>",
        "<itunes:duration>12:00</itunes:duration>", f"<media:title>{p}</media:title>",
        f"<media:description>{p}</media:description>",
        f"<media:group><media:title>{p}</media:title><media:content url='{u}'/></media:group>",
        "<media:thumbnail url='https://g.example.net/t.jpg'/>",
        f"<atom:link rel='{rng.choice(('alternate', 'self', 'related'))}' href='{u}'/>",
        f"<atom:updated>{d}</atom:updated>", f"<x:title>{p}</x:title>", f"<x:foo>{p}</x:foo>",
        f"<x:description>{p}</x:description>", f"<foo>{p}</foo>", f"<PubDate>{d}</PubDate>",
        f"<Title>{p}</Title>", "<geo:lat>55.7</geo:lat>",
        f"<media:description xmlns:media='//search.yahoo.com/mrss/'>{p}</media:description>",
        f"<summary>{p}</summary>", f"<published>{d}</published>", f"<id>{u}</id>",
        f"<feedburner:origLink>{u}</feedburner:origLink>", f"<wfw:commentRss>{u}</wfw:commentRss>",
        "<author>desk@g.example.net (Desk Writer)</author>",
        "<link>https://g.example.net/?a=1&amp;b=2</link>", f"<abstract>{p}</abstract>",
        f"<content>{p}</content>", f"<dc:author>{p}</dc:author>",
        f"<image><title>{p}</title><url>{u}</url></image>",
        f"<category>{p}<image><title>{p}</title></image></category>",
        f"<description type='application/octet-stream'>{p}</description>",
    ][kind]


def _atom_child(rng) -> str:
    kind = rng.randrange(10 if rng.random() < 0.5 else 22)
    p, u, d = _phrase(rng), _url(rng), rng.choice(_DATES)
    kind_attr = rng.choice(("", " type='text'", " type='html'"))
    return [
        f"<title{kind_attr}>{p}</title>", f"<link href='{u}'/>",
        f"<link rel='{rng.choice(('alternate', 'self', 'enclosure'))}' href='{u}'/>",
        f"<link>{u}</link>", f"<id>{u or 'urn:x:1'}</id>", f"<updated>{d}</updated>",
        f"<published>{d}</published>", f"<summary{kind_attr}>{p}</summary>",
        f"<content{kind_attr}>{p}</content>",
        "<content type='application/octet-stream'>aGVsbG8gYmFzZTY0</content>",
        f"<author><name>{p}</name></author>",
        f"<author><name>{p}</name><email>a@g.example.net</email></author>",
        f"<category term='{rng.choice(_WORDS[:6])}'/>", f"<dc:creator>{p}</dc:creator>",
        f"<dc:title>{p}</dc:title>", f"<media:title>{p}</media:title>",
        f"<media:description>{p}</media:description>", f"<x:summary>{p}</x:summary>",
        f"<x:foo>{p}</x:foo>", f"<dcterms:modified>{d}</dcterms:modified>",
        "<content type='xhtml'><xhtml:div><xhtml:p>one</xhtml:p><xhtml:p>two</xhtml:p>"
        "</xhtml:div></content>",
        f"<itunes:summary>{p}</itunes:summary>",
    ][kind]


def _generated_document(rng) -> bytes:
    decls = " ".join(f'xmlns:{k}="{v}"' for k, v in _NAMESPACES.items())
    if rng.random() < 0.35:
        entries = "".join(
            "<entry>" + "".join(_atom_child(rng) for _ in range(rng.randint(0, 7))) + "</entry>"
            for _ in range(rng.randint(1, 4)))
        decls = decls.replace(f'xmlns:atom="{_NAMESPACES["atom"]}"', "")
        return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="{_NAMESPACES["atom"]}" '
                f"{decls}><title>G</title><id>urn:x:g</id>{entries}</feed>").encode()
    items = "".join("<item>" + "".join(_rss_child(rng) for _ in range(rng.randint(0, 7)))
                    + "</item>" for _ in range(rng.randint(1, 4)))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {decls}><channel>'
            f"<title>G</title>{items}</channel></rss>").encode()


def test_generated_items_are_read_as_feedparser_reads_them_or_declined() -> None:
    """Seeded random items (1,000 documents) from a broad vocabulary, known and unknown
    elements mixed.

    For each document: either the fast path declines it (feedparser will read it), or it
    gives as many entries as feedparser and, for every field feedparser has, the same value.
    """
    import random

    rng = random.Random(14)
    accepted = declined = 0
    for n in range(1000):
        body = _generated_document(rng)
        fast = parse._parse_fast(body, "https://base.example.org/", None, NOW)
        if fast is None:
            declined += 1
            continue
        accepted += 1
        _assert_agree(_kept(fast.entries), _reference(body), f"document {n}: {body!r}")
    # Not vacuous: most documents are read by the fast path, some are declined.
    assert accepted > 250 and declined > 50, (accepted, declined)


@pytest.mark.parametrize("unknown", [
    "<x:story>Text in an element nobody reads</x:story>", "<newsBody>Text</newsBody>",
    "<yandex:full-text xmlns:yandex='http://news.yandex.ru'>Text</yandex:full-text>",
])
def test_an_item_missing_a_field_with_a_child_we_did_not_read_is_declined(unknown: str) -> None:
    head = ('<?xml version="1.0"?><rss version="2.0" xmlns:x="urn:example:unknown"><channel>'
            "<title>S</title><item><title>Headline</title><link>https://s.example.net/1</link>"
            "<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>")
    missing_text = f"{head}{unknown}</item></channel></rss>".encode()
    assert parse._parse_fast(missing_text, "", None, NOW) is None
    complete = f"{head}<description>Lead.</description>{unknown}</item></channel></rss>"
    fast = parse._parse_fast(complete.encode(), "", None, NOW)
    assert fast is not None and fast.entries[0].summary == "Lead."
