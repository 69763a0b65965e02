"""The cheaper ways :mod:`monitor.ingest.parse` and :mod:`monitor.ingest.items` answer a
question must give the answers of the plain ways they replaced, on inputs built to reach
their edges, and the facts they rest on must hold."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.ingest import dates, items, parse


@pytest.mark.parametrize("fields", [
    ("2026", "11", "02", "10", "00", "00"), ("2026", "11", "2", "9", "05", None),
    ("2026", "02", "29", "10", "00", "00"), ("2024", "02", "29", "23", "59", "59"),
    ("2026", "11", "31", "10", "00", "00"), ("2026", "11", "02", "24", "00", "00"),
    ("2026", "11", "02", "23", "60", "00"), ("2026", "11", "02", "23", "59", "60"),
    ("0000", "01", "01", "00", "00", "00"), ("0001", "01", "01", "00", "00", "00"),
    ("9999", "12", "31", "23", "59", "59"), ("２０２６", "11", "02", "10", "00", "00"),
    ("2026", "11", "٠٢", "10", "00", "00"), ("2026", "11", "02", "10", "00", "٠٠"),
])
def test_rfc822_fields_give_what_int_and_the_constructor_give(fields: tuple) -> None:
    year, month, day, hour, minute, sec = fields
    try:
        expected: datetime | None = datetime(int(year), int(month), int(day), int(hour),
                                             int(minute), int(sec or 0))
    except ValueError:
        expected = None
    assert dates.rfc822_local(year, month, day, hour, minute, sec) == expected


@pytest.mark.parametrize("stamp,expected", [
    ("Mon, 02 Nov 2026 10:00:00 +0300", datetime(2026, 11, 2, 7)),
    ("Mon, 02 Nov 2026 10:00:00 GMT", datetime(2026, 11, 2, 10)),
    ("Mon, 02 nOV 2026 10:00:00 -0130", datetime(2026, 11, 2, 11, 30)),  # the long way
    ("Mon, ٠٢ Nov 2026 10:00:00 GMT", datetime(2026, 11, 2, 10)),  # Unicode digits
    ("Mon, 02 Nov 2026 24:00:00 GMT", None),
    ("Mon, 31 Nov 2026 10:00:00 GMT", None),
    ("Mon, 02 Nov 2026 10:00:00 GMT\n", datetime(2026, 11, 2, 10)),  # $ before a newline
    ("Mon, 02 Nov 2026 10:00 UT", datetime(2026, 11, 2, 10)),
    ("Mon, 02 Nov 2026 10:00:00 EST", None),  # feedparser's parser decides
])
def test_the_usual_rfc822_shape_and_the_long_way_agree(stamp: str, expected: datetime | None) -> None:
    assert dates.quick_date(stamp) == expected


def test_attribute_defaults_of_a_doctype_the_fast_path_reads_still_count() -> None:
    # A DOCTYPE past the first 2 kB is not declined; its ATTLIST default makes every title
    # base64, as lxml's get() says (items() does not list defaults).
    doctype = b'<!DOCTYPE rss [<!ATTLIST title type CDATA "base64">]>'
    body = (b'<?xml version="1.0"?><!--' + b"x" * 3000 + b"-->" + doctype
            + b"<rss><channel><item><title>aGVsbG8=</title><link>https://d.example/1</link>"
            b"</item></channel></rss>")
    parsed = parse.parse_feed(body, now=datetime(2026, 11, 27))
    assert parsed.parser == "lxml"
    assert [e.title for e in parsed.entries] == ["hello"]
    plain = body.replace(doctype, b"")
    assert [e.title for e in parse.parse_feed(plain).entries] == ["aGVsbG8="]


def test_every_single_valued_field_has_one_rank_per_key() -> None:
    # read_item keeps the first GUID, date of a kind, author or source and declines on a
    # different second one: right only while no such key has tags of two ranks.
    ranks: dict[str, set[int]] = {}
    for field, rank in items._FIELDS.values():
        if field in ("title", "text", "link"):
            continue
        key = items._DATE_KINDS[rank] if field == "date" else field
        ranks.setdefault(key, set()).add(rank)
    assert ranks and all(len(found) == 1 for found in ranks.values()), ranks
