"""The shortcuts in :func:`monitor.ingest.text.clean_text` rest on two facts about characters;
if a Python release changed either, the shortcut would change outputs, so both are checked
over every code point (and the shortcut against the long way on strings built to hit it)."""

from __future__ import annotations

import random
import sys

from monitor.ingest import text
from monitor.ingest.keys import clean_content_hash, content_hash


def test_every_character_str_split_splits_on_but_the_space_is_unprintable() -> None:
    # clean_text returns stripped printable text without double spaces as it is.
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        separates = len(f"a{char}b".split()) != 1
        assert separates == (f"{char}a{char}".strip() == "a"), hex(code)
        if char != " " and separates:
            assert not char.isprintable(), hex(code)


def test_every_repair_starts_at_a_character_the_precheck_finds() -> None:
    # Mojibake starts with a lead character, C1 mapping with a C1 character.
    for code in range(0x80, 0x100):
        char = chr(code)
        starts_repair = text._MOJIBAKE.match(char + "\u20ac\u20ac") is not None \
            or text._HAS_C1.match(char) is not None
        if starts_repair:
            assert text._REPAIRABLE.match(char), hex(code)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert text._repairable(f"Ж{char}") == (text._REPAIRABLE.search(char) is not None)


def _long_way(value: str, limit: int) -> str:
    """clean_text's last steps without the shortcuts (plain text, no markup or entities)."""
    if not value.isascii():
        if text._HAS_C1.search(value) is not None:
            value = text.map_c1(value.strip(text._C1_EDGE))
        value = text.fix_mojibake(value)
    return " ".join(value.split())[:limit]


def test_the_shortcuts_give_what_the_long_way_gives() -> None:
    rng = random.Random(5)
    alphabet = list("ab Z9.,-\t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\x92\x81ÃâÅé€™Жд東") \
        + ["Ã©", "â€™", "Â\xa0", "  "]
    for _ in range(20_000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        for limit in (1_000, 3):
            assert text.clean_text(value, limit) == _long_way(value, limit), repr(value)


def test_the_hash_of_clean_text_is_the_hash_of_any_text() -> None:
    # Stored content hashes must not change: the shortcut for parsed entries (whose text
    # clean_text made, cut to a length or not, empty or not) gives content_hash's value.
    rng = random.Random(7)
    alphabet = list("ab Z9.,-\t\n\x85\xa0\u3000\u200b\u0130Жд東") + ["  ", "İI"]
    for _ in range(20_000):
        title, summary = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
                          for _ in range(2))
        for limit in (1_000, 4, 2):
            pair = text.clean_text(title, limit), text.clean_text(summary, limit)
            assert clean_content_hash(*pair) == content_hash(*pair), repr(pair)
