"""Feed text → plain text: markup stripped, entities decoded, mis-decoded bytes repaired.

Both parse paths (lxml and feedparser) end here, so whatever cleaning happens here happens
to every entry the same way; ``tests/ingest/test_parser_agreement.py`` relies on that.

Two kinds of wrongly decoded text reach us in real feeds and in feedparser's test corpus:

* C1 control characters (U+0080–U+009F): windows-1252 bytes decoded as Latin-1
  (``"don\x92t"``). feedparser maps them to their windows-1252 meaning; so do we.
* mojibake: UTF-8 bytes decoded as windows-1252 (``"â€™"``) or as Latin-1 (``"â\x80\x99"``,
  ``"Ã\x89"``). Mapping C1 characters first turns the Latin-1 kind into the windows-1252
  kind, which one pattern then repairs.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_text", "fix_mojibake", "map_c1"]

MAX_SUMMARY = 20_000
_MAX_SUMMARY = MAX_SUMMARY

#: U+0080–U+009F → the character the same byte means in windows-1252 (the five bytes
#: windows-1252 leaves undefined stay as they are, as feedparser leaves them).
_C1 = {b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0)
       if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_HAS_C1 = re.compile("[\x80-\x9f]")
#: What the repairs below start from: a C1 character, or the first character of a UTF-8
#: sequence read as windows-1252 (U+00C2–U+00EF). Text without any (Cyrillic, Greek, CJK,
#: typographic quotes and dashes) has nothing to repair: one scan spares both repairs.
_REPAIRABLE = re.compile("[\x80-\x9f\xc2-\xef]")
_C1_EDGE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"


def _repairable(text: str) -> bool:
    """Whether ``text`` has a character of ``_REPAIRABLE``.

    They all lie in U+0080–U+00FF: text without any character of that block (Cyrillic,
    CJK, typographic quotes) is ruled out by encoding it to Latin-1, dropping everything
    else, several times faster than the regular expression scans it.
    """
    return not text.encode("latin-1", "ignore").isascii() and _REPAIRABLE.search(text) is not None


def map_c1(text: str) -> str:
    """C1 control characters → their windows-1252 meaning (``"don\x92t"`` → ``"don’t"``)."""
    return text.translate(_C1)


def clean_text(value: str | None, limit: int = _MAX_SUMMARY) -> str:
    """Markup → plain text: tags removed (scripts and styles with their content), entities
    decoded, mojibake repaired, whitespace folded.

    Feed titles and summaries are small HTML fragments, so a regular-expression tag
    stripper does the job at a fraction of an HTML parser's cost (this runs for every
    entry of every archive file); anything that still looks like markup afterwards (a
    comment, CDATA, an unclosed tag) goes through BeautifulSoup.
    """
    if not value:
        return ""
    text = value
    if "<" in text:
        text = _DROP_BLOCKS.sub(" ", text)
        text = _BLOCK_TAGS.sub(" ", text)
        text = _TAGS.sub("", text)
        if "<" in text and _LEFTOVER.search(text):
            from bs4 import BeautifulSoup

            text = BeautifulSoup(text, "html.parser").get_text(" ")
    if "&" in text:
        text = html.unescape(text)
        if "<" in text and _TAGS.search(text):
            # Double-escaped markup ("&lt;b&gt;"): once decoded it is markup again.
            return clean_text(text, limit)
    if not text.isascii() and _repairable(text):
        if _HAS_C1.search(text) is not None:
            # feedparser strips a value before it maps C1 characters: U+0085 at either end
            # is whitespace to it, "…" only inside. (Not U+00A0: "Â\xa0" is mojibake.)
            text = map_c1(text.strip(_C1_EDGE))
        text = fix_mojibake(text)
    text = text.strip()  # strips what str.split() splits on
    if text.isprintable() and "  " not in text:
        # Every character str.split() splits on, but the space, is unprintable: nothing to
        # fold inside (most titles and leads), so skip building and joining the words.
        return text[:limit]
    # str.split() splits on exactly what the regex \s matches, at a third of its cost.
    return " ".join(text.split())[:limit]


_DROP_BLOCKS = re.compile(
    r"<(?:\w+:)?(script|style|template|noscript|iframe|object)\b"
    r"(?:[^>]*/>|[^>]*>.*?(?:</(?:\w+:)?\1\s*>|$))", re.I | re.S)
#: Block tags become spaces; an optional prefix for XHTML written with one (``<xhtml:p>``).
_BLOCK_TAGS = re.compile(r"<(?:\w+:)?(?:br|p|div|li|tr|h[1-6])\b[^>]*>"
                         r"|</(?:\w+:)?(?:p|div|li|tr|h[1-6])\s*>", re.I)
_TAGS = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->|<!\[CDATA\[|\]\]>", re.S)
_LEFTOVER = re.compile(r"<[A-Za-z/!]")


def _mojibake_pattern() -> re.Pattern[str]:
    """UTF-8 bytes that were decoded as windows-1252/latin-1 ("Ã©", "â€™", "Å\x8d")."""
    cont = "".join(sorted({bytes([b]).decode("cp1252", errors="ignore") or chr(b)
                           for b in range(0x80, 0xC0)}))
    cont = re.escape(cont)
    lead2 = re.escape("".join(bytes([b]).decode("cp1252") for b in range(0xC2, 0xE0)))
    lead3 = re.escape("".join(bytes([b]).decode("cp1252") for b in range(0xE0, 0xF0)))
    return re.compile(f"[{lead2}][{cont}]|[{lead3}][{cont}]{{2}}")


_MOJIBAKE = _mojibake_pattern()


def _fix_one(match: re.Match[str]) -> str:
    text = match.group(0)
    raw = bytearray()
    for ch in text:
        try:
            raw += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return text
            raw.append(ord(ch))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 text that was once decoded as windows-1252 (common in real feeds)."""
    return _MOJIBAKE.sub(_fix_one, text)
