"""Which encoding a feed's bytes are read in, before either parser sees them.

Feedparser's order is the reference: the HTTP charset, the XML declaration, a byte-order
mark, then UTF-8, windows-1252 and ISO-8859-2. Two departures, both towards the right
characters: undeclared Cyrillic and CJK bytes are detected (charset-normalizer) and
transcoded, where feedparser's windows-1252 fallback gives nonsense; and bytes that are not
UTF-8 while nothing declares another encoding are decoded exactly as feedparser decodes
them, so the fast path can read them instead of handing the document to feedparser.
"""

from __future__ import annotations

import codecs
import logging
import re

__all__ = ["XML_DECL", "as_feedparser_decodes", "canonical_codec", "declared_charset",
           "is_clean_utf8", "repair_char_refs", "transcode_undeclared"]

log = logging.getLogger(__name__)

XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding=[\"']([A-Za-z0-9._:-]+)[\"']", re.I)


#: Undeclared encodings we trust charset-normalizer to detect: Cyrillic and CJK ones, where
#: feedparser's windows-1252 fallback would produce nonsense.
_TRANSCODE = {"cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866", "shift_jis",
              "cp932", "euc_jp", "iso2022_jp", "gb2312", "gbk", "gb18030", "big5", "big5hkscs",
              "euc_kr", "cp949", "utf_16", "utf_16_le", "utf_16_be"}


def is_clean_utf8(body: bytes) -> bool:
    """Whether the bytes decode as UTF-8 (what the fast path reads directly)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def declared_charset(headers: dict[str, str]) -> str | None:
    """The charset of the Content-Type header (lower-case headers), if any."""
    ctype = headers.get("content-type", "")
    match = re.search(r"charset=[\"']?([A-Za-z0-9._:-]+)", ctype, re.I)
    return match.group(1).lower() if match else None


def canonical_codec(name: str | None) -> str | None:
    """Python's name for an encoding (``UTF8``, ``utf-8`` → ``utf-8``); unknown names lower-cased."""
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def transcode_undeclared(body: bytes) -> bytes | None:
    """Undeclared, non-UTF-8 bytes: detect the encoding and return UTF-8 bytes (or None)."""
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    if best is None or best.encoding not in _TRANSCODE:
        # Latin-script guesses are unreliable (cp1257 for Portuguese); feedparser's own
        # utf-8 → windows-1252 fallback does better there.
        return None
    try:
        text = body.decode(best.encoding, errors="replace")
    except LookupError:
        return None
    log.info("transcoded undeclared feed encoding=%s", best.encoding)
    return _as_utf8(text)


def _as_utf8(text: str) -> bytes:
    """Decoded document text as UTF-8 bytes whose XML declaration (if any) says so."""
    return re.sub(r"^\s*<\?xml[^>]*\?>", '<?xml version="1.0" encoding="utf-8"?>', text,
                  count=1).encode("utf-8")


#: What feedparser tries after UTF-8, in its order, when nothing declares an encoding (and
#: no chardet is installed, as here): windows-1252 decodes all but five byte values, and
#: ISO-8859-2 any byte.
_FEEDPARSER_LAST_RESORTS = ("windows-1252", "iso-8859-2")


def as_feedparser_decodes(body: bytes) -> tuple[bytes, str | None]:
    """Bytes that are not UTF-8, though nothing declares another encoding (or the
    declaration says UTF-8, wrongly), and not in a script charset_normalizer can tell
    (Latin text: a Portuguese feed in windows-1252), decoded exactly as feedparser would,
    as UTF-8 bytes for the fast path, and the note feedparser would make. ``(body, None)``
    unless the document opens as ASCII-compatible XML (``<`` first, no NUL byte): a
    byte-order mark, UTF-16/32 without one, or EBCDIC is sniffed by feedparser from its
    first bytes, and stays its to read.

    Before, such a feed went to feedparser whole: 10-15 ms a poll for a small feed that lxml
    reads in 1 ms, on every run where it changed.
    """
    if b"\x00" in body[:4] or body.lstrip()[:1] != b"<":
        return body, None
    for encoding in _FEEDPARSER_LAST_RESORTS:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _as_utf8(text), (f"not UTF-8, as declared or assumed: read as {encoding}, "
                                f"as feedparser does")
    return body, None


_CHAR_REF = re.compile(rb"&#(?:([0-9]{1,10})|[xX]([0-9a-fA-F]{1,8}));")
#: What a broken reference becomes: U+FFFD, as a browser reads it (HTML's rules).
_REPLACEMENT = b"&#xFFFD;"


def repair_char_refs(data: bytes) -> bytes | None:
    """The document with the numeric character references that no parser takes repaired,
    or None when it has none.

    A UTF-16 surrogate (``&#55357;&#56832;``: how JavaScript and some CMSs write an
    emoji) or a number beyond U+10FFFF makes lxml refuse the document and feedparser raise
    (``UnicodeEncodeError``, ``chr() arg not in range``), so one emoji cost a feed all its
    entries. A surrogate pair becomes the character it encodes; a lone surrogate or a
    number out of range becomes U+FFFD. References XML forbids but feedparser reads (``&#1;``)
    are left to feedparser, as before.
    """
    out: list[bytes] = []
    last = 0
    high: re.Match[bytes] | None = None  # a high surrogate waiting for its low half
    high_value = 0
    changed = False
    for ref in _CHAR_REF.finditer(data):
        value = int(ref.group(1)) if ref.group(1) else int(ref.group(2), 16)
        is_high, is_low = 0xD800 <= value < 0xDC00, 0xDC00 <= value < 0xE000
        if high is not None:  # the previous reference was a high surrogate
            out.append(data[last:high.start()])
            if is_low and ref.start() == high.end():
                code = 0x10000 + ((high_value - 0xD800) << 10) + (value - 0xDC00)
                out.append(b"&#x%X;" % code)
                last, high = ref.end(), None
                continue
            out.append(_REPLACEMENT)
            last, high = high.end(), None
        if is_high:
            high, high_value, changed = ref, value, True
        elif is_low or value > 0x10FFFF:
            out += (data[last:ref.start()], _REPLACEMENT)
            last, changed = ref.end(), True
    if high is not None:
        out += (data[last:high.start()], _REPLACEMENT)
        last = high.end()
    if not changed:
        return None
    out.append(data[last:])
    return b"".join(out)
