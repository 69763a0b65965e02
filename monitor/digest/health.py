"""The digest's pipeline-health block: could the monitor see on the digest's day?

A reader cannot tell a quiet day from a dead pipeline by the articles alone, so every digest
says when the last successful ingest ran, how many of the configured sources answered on its
day, and which sources are failing now (id, outlet, since when, last error). A day with no
relevant articles is called "quiet" when sources answered and "blind" when none did; the
subject line says which.

Kept apart from the article listing (build.py / render.py) on purpose: one function builds
the block's data, two render it (HTML and text).
"""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

import duckdb

__all__ = ["build_health", "health_html", "health_text", "day_verdict", "MAX_FAILING"]

#: Failing sources listed by name; the rest are counted.
MAX_FAILING = 20
_ERROR_CHARS = 160


def build_health(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime,
                 ) -> dict[str, Any]:
    """Pipeline health for the day [start, end) (naive UTC bounds of the local day)."""
    last_ok = con.execute(
        "SELECT max(finished_at) FROM ingest_runs"
        " WHERE via IN ('cli', 'airflow') AND health IN ('ok', 'degraded')").fetchone()[0]
    if last_ok is None:  # runs recorded before run health existed: the fetches say it
        last_ok = con.execute(
            "SELECT max(started_at) FROM fetches WHERE outcome IN ('ok', 'not_modified')"
        ).fetchone()[0]
    configured = con.execute(
        "SELECT count(*) FROM sources WHERE status = 'active' AND enabled").fetchone()[0]
    answered, polled = con.execute(
        "SELECT count(DISTINCT f.source_id) FILTER (WHERE f.outcome IN ('ok', 'not_modified')),"
        " count(DISTINCT f.source_id)"
        " FROM fetches f JOIN sources s USING (source_id)"
        " WHERE s.status = 'active' AND f.started_at >= ? AND f.started_at < ?",
        [start, end]).fetchone()
    rows = con.execute(
        "SELECT s.source_id, s.outlet, f.failing_since, f.last_error"
        " FROM feed_state f JOIN sources s USING (source_id)"
        " WHERE s.status = 'active' AND s.enabled AND f.consecutive_failures > 0"
        " ORDER BY f.failing_since, s.source_id").fetchall()
    failing = [{"source_id": r[0], "outlet": r[1], "since": r[2],
                "last_error": _clip(r[3] or "no message")} for r in rows]
    return {
        "last_ok_ingest": last_ok,
        "configured": configured,
        "answered": answered,
        "polled": polled,
        "failing": failing[:MAX_FAILING],
        "failing_more": max(0, len(failing) - MAX_FAILING),
        "failing_total": len(failing),
    }


def _clip(text: str, limit: int = _ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_verdict(health: dict[str, Any] | None) -> str:
    """"blind" when no configured source answered on the day (or none is configured),
    else "seeing"."""
    if health is None:
        return "seeing"
    return "seeing" if health["answered"] else "blind"


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "never"


def _lines(health: dict[str, Any], day: date) -> tuple[str, list[str]]:
    """The block's headline and its failing-source lines (shared by HTML and text)."""
    head = (f"Pipeline health: {health['answered']} of {health['configured']} configured "
            f"sources answered on {day.isoformat()}; last successful ingest "
            f"{_when(health['last_ok_ingest'])}.")
    if day_verdict(health) == "blind":
        head = "The monitor was BLIND on this day: no source answered. " + head
    items = [f"{f['source_id']} ({f['outlet']}), failing since {_when(f['since'])}: "
             f"{f['last_error']}" for f in health["failing"]]
    if health["failing_more"]:
        items.append(f"and {health['failing_more']} more (see `monitor sources`)")
    return head, items


def health_html(health: dict[str, Any] | None, day: date) -> str:
    """The block as HTML (inline styles, escaped)."""
    if health is None:
        return ""
    head, items = _lines(health, day)
    color = "#a00000" if day_verdict(health) == "blind" else "#555"
    out = [f'<div class="pipeline-health" data-verdict="{day_verdict(health)}" '
           f'style="border-top:1px solid #ddd;margin-top:14px;padding-top:8px;color:{color};'
           'font-size:12px">', f"<p>{html.escape(head)}</p>"]
    if items:
        out.append(f"<p>Sources failing now ({health['failing_total']}):</p><ul>")
        out += [f"<li>{html.escape(item)}</li>" for item in items]
        out.append("</ul>")
    out.append("</div>")
    return "\n".join(out)


def health_text(health: dict[str, Any] | None, day: date) -> list[str]:
    """The block as lines of plain text."""
    if health is None:
        return []
    head, items = _lines(health, day)
    lines = ["", head]
    if items:
        lines.append(f"Sources failing now ({health['failing_total']}):")
        lines += [f"  - {item}" for item in items]
    return lines
