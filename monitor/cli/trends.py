"""``monitor trends``: counts per relation and topic with a sparkline and the change."""

from __future__ import annotations

import logging
from typing import Any

import click

from monitor.cli.app import cli, emit_rows, fail, known_ids, pass_settings
from monitor.settings import Settings

log = logging.getLogger(__name__)

_BLOCKS = "▁▂▃▄▅▆▇█"
#: Marks in one sparkline; longer periods are summed into weeks, 30-day blocks … so that every
#: day is represented at any terminal width.
SPARK_WIDTH = 60


def sparkline(values: list[int]) -> str:
    """One character per value, scaled to the row's busiest; a blank for no articles."""
    top = max(values, default=0) or 1
    return "".join(_BLOCKS[min(7, round(v * 7 / top))] if v else " " for v in values)


def _change(row: dict[str, Any]) -> str:
    if row["change"] is None:
        return "new" if row["total"] else ""
    return f"{row['change'] * 100:+.0f}%"


def _fresh_reader(settings: Settings, refresh: bool):
    """A reader on the snapshot, after bringing the trend tables up to date if they lag."""
    from monitor import trends, warehouse
    from monitor.errors import WarehouseBusy

    if refresh:
        with warehouse.reader(settings) as con:
            stale = trends.is_stale(con)
        if stale:
            try:
                with warehouse.writer(settings) as con:
                    trends.refresh_trends(con)
            except WarehouseBusy as exc:
                click.echo(f"note: trend tables not refreshed ({exc}); showing the last "
                           "refresh", err=True)
    return warehouse.reader(settings)


@cli.command()
@click.option("--topic", help="Only this topic (e.g. kurils, energy).")
@click.option("--dyad", help="Only articles about this relation (russia_japan, russia_china).")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True,
              help="Length of the period; the change is against the period before it.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--no-refresh", is_flag=True,
              help="Do not bring the trend tables up to date first (never takes the writer).")
@pass_settings
def trends(settings: Settings, topic: str | None, dyad: str | None, days: int, fmt: str,
           no_refresh: bool) -> None:
    """Relevant articles per relation and topic over the last DAYS days (UTC).

    Each row has a sparkline (one character per day; over 60 days, per week, 2 weeks,
    30 days … so that every day is in it, as the header says), the total, the previous
    period's total and the change. --dyad keeps that relation's row and its topics. CSV and
    JSON always carry the daily counts. Reads the published snapshot.

    \b
    Examples:
      monitor trends --days 7
      monitor trends --dyad russia_china --format csv
    """
    from monitor import trends as trend_queries

    if topic and len(known_ids("--topic", topic, tuple(trend_queries.TOPICS))) != 1:
        fail("--topic takes one topic id")
    if dyad and len(known_ids("--dyad", dyad, tuple(trend_queries.DYADS), noun="dyad")) != 1:
        fail("--dyad takes one relation")
    with _fresh_reader(settings, not no_refresh) as con:
        rows: list[dict[str, Any]] = [
            {**r, "kind": "relation"} for r in trend_queries.dyad_series(con, days, topic=topic)
            if not dyad or r["key"] == dyad]
        rows += [{**r, "kind": "topic"}
                 for r in trend_queries.topic_series(con, days, dyad=dyad, topic=topic)]
    if fmt == "json":
        columns = ["kind", "key", "label", "start", "end", "counts", "total",
                   "previous_total", "change"]
        emit_rows(columns, [[r[c] for c in columns] for r in rows], fmt)
        return
    if fmt == "csv":
        columns = ["kind", "key", "label", "start", "end", "total", "previous_total",
                   "change", "counts"]
        emit_rows(columns, [[r["kind"], r["key"], r["label"], r["start"], r["end"], r["total"],
                             r["previous_total"],
                             "" if r["change"] is None else round(r["change"], 4),
                             " ".join(map(str, r["counts"]))] for r in rows], fmt)
        return
    if not rows:
        click.echo(f"No relevant articles in the last {days} days.")
        return
    size = trend_queries.bucket_days(days, SPARK_WIDTH)
    header = f"last {days} days" if size == 1 else \
        f"last {days} days, one mark per {trend_queries.bucket_name(size)}"
    columns = ["", "series", header, "total", "previous", "change"]
    emit_rows(columns, [[r["kind"], r["label"],
                         sparkline(trend_queries.bucket_counts(r["counts"], size)), r["total"],
                         r["previous_total"], _change(r)] for r in rows], fmt)
