"""Feed dates → naive UTC datetimes, as feedparser reads them, and which are absurd.

Both parse paths end here: the lxml path reads the stamps itself (:func:`dated`, with a
shortcut for the two shapes nearly every feed uses and feedparser's own date parser for the
rest), the feedparser path hands over the ``time.struct_time`` it parsed
(:func:`from_struct`), and JSON Feed has ISO 8601 (:func:`json_date`). A date before 1990 or
more than two days ahead is flagged ``absurd`` and stored as NULL.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from feedparser.datetimes import _parse_date

__all__ = ["FUTURE_SLACK", "MIN_DATE", "dated", "from_struct", "json_date", "quick_date",
           "rfc822_local"]

#: Dates before this are treated as absurd (a feed's epoch-zero or a typo).
MIN_DATE = datetime(1990, 1, 1)
#: Dates further in the future than this are absurd too (a wrong time zone is not).
FUTURE_SLACK = timedelta(days=2)


_RFC822 = re.compile(
    r"^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})"
    r"(?::(\d{2}))?\s*(GMT|UTC|UT|Z|[+-]\d{4})$")
#: The shape nearly every RSS date has ("Mon, 02 Nov 2026 10:00:00 +0300"). Where it
#: matches, ``_RFC822`` matches with the same fields: it is only a shorter way to them.
_RFC822_USUAL = re.compile(
    r"[A-Za-z]{3}, (\d\d) ([A-Za-z]{3}) (\d{4}) (\d\d:\d\d:\d\d) (GMT|[+-]\d{4})\Z")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                "dec")
#: Month names as feeds write them ("Nov", "nov", "NOV") → "11"; other casings go through
#: lower().
_MONTHS = {form: f"{i:02d}" for i, m in enumerate(_MONTH_NAMES, 1)
           for form in (m, m.title(), m.upper())}
#: RFC 822 zone → its offset, filled as zones are met (a feed repeats one zone on every item).
_OFFSETS: dict[str, timedelta] = dict.fromkeys(("GMT", "UTC", "UT", "Z"), timedelta(0))


def _offset(zone: str) -> timedelta:
    """The UTC offset of a numeric RFC 822 zone ("+0300"), remembered for the next item."""
    offset = _OFFSETS.get(zone)
    if offset is None:
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        if len(_OFFSETS) < 512:  # feeds use a handful of zones; junk must not grow it
            _OFFSETS[zone] = offset
    return offset


def rfc822_local(year: str, month: str, day: str, hour: str, minute: str,
                  sec: str | None) -> datetime | None:
    """The RFC 822 fields as a datetime (None if no such time), as
    ``datetime(int(year), ...)`` gives it.

    ``datetime.fromisoformat`` on the fields written out costs a third of six int() calls
    and the constructor; it takes ASCII digits only and checks the same ranges, so anything
    it refuses (Unicode digits, hour 24 for a Python that accepts it) goes the long way.
    """
    if hour != "24":
        try:
            return datetime.fromisoformat(
                f"{year}-{month}-{day if len(day) == 2 else '0' + day}"
                f"T{hour if len(hour) == 2 else '0' + hour}:{minute}:{sec or '00'}")
        except ValueError:
            pass
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(sec or 0))
    except ValueError:
        return None


def quick_date(stamp: str) -> datetime | None:
    """The two date shapes nearly every feed uses, parsed without feedparser's chain.

    RFC 822 with a numeric or UTC zone, and ISO 8601 with an offset; anything else (named
    zones like EST, two-digit years, odd separators) returns None and goes to feedparser's
    parser, so both paths agree (tests/ingest/test_parser_agreement.py).
    """
    usual = _RFC822_USUAL.match(stamp)
    if usual:
        day, mon, year, clock, zone = usual.groups()
        month = _MONTHS.get(mon)
        if month is not None and not clock.startswith("24"):
            # What rfc822_local() below does with these fields; anything it would refuse
            # (an odd month casing, no such day, Unicode digits) takes the long way.
            try:
                when = datetime.fromisoformat(f"{year}-{month}-{day}T{clock}")
            except ValueError:
                pass
            else:
                offset = _offset(zone)
                return when - offset if offset else when
    match = _RFC822.match(stamp)
    if match:
        day, mon, year, hour, minute, sec, zone = match.groups()
        month = _MONTHS.get(mon)
        if month is None:
            month = _MONTHS.get(mon.lower())
            if month is None:
                return None
        when = rfc822_local(year, month, day, hour, minute, sec)
        if when is None:
            return None
        offset = _offset(zone)
        return when - offset if offset else when
    if len(stamp) >= 20 and stamp[4] == "-" and stamp[10] in "Tt" and \
            (stamp[-1] in "Zz" or stamp[-6] in "+-"):
        try:
            when = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp[-1] in "Zz" else stamp)
        except ValueError:
            return None
        return when.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return None


def dated(stamps: list[str], now: datetime) -> tuple[datetime | None, str | None]:
    """(published_at, date_flag) from the first stamp that parses, in feedparser's order
    (published, updated, created).

    Dates go through feedparser's own date parser unless :func:`quick_date` knows the
    shape, so both paths agree; a stamp that does not parse is skipped as feedparser skips
    it, and a parsed date out of range is flagged absurd (as :func:`from_struct` does).
    """
    for stamp in stamps:
        when = quick_date(stamp)
        if when is None:
            parsed = _parse_date(stamp)
            if not parsed:
                continue
            return from_struct(parsed, now)
        if when < MIN_DATE or when > now + FUTURE_SLACK:
            return None, "absurd"
        return when, None
    return None, "missing"


def from_struct(parsed: Any, now: datetime) -> tuple[datetime | None, str | None]:
    """(published_at, date_flag) from a parsed date (feedparser's ``struct_time``, UTC)."""
    try:
        when = datetime(*parsed[:6]) if not isinstance(parsed, datetime) else parsed
        # struct_time from both parsers is UTC already; normalise via timegm for safety.
        when = datetime.fromtimestamp(calendar.timegm(when.timetuple()), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return None, "absurd"
    if when < MIN_DATE or when > now + FUTURE_SLACK:
        return None, "absurd"
    return when, None


def json_date(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    if not value or not isinstance(value, str):
        return None, "missing"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None, "absurd"
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if when < MIN_DATE or when > now + FUTURE_SLACK:
        return None, "absurd"
    return when, None
