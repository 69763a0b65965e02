"""The ``monitor`` click group and what every command shares (settings, output helpers).

Commands live in one module per concern (``monitor/cli/<concern>.py``) and register on
``cli``; ``monitor/cli/__init__.py`` imports them all.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from monitor.errors import MonitorError
from monitor.settings import Settings, SettingsError, load_settings

__all__ = ["cli", "pass_settings", "emit_rows", "fail", "known_ids"]


class _Group(click.Group):
    """Turns the monitor's own errors into one clear line and exit code 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (MonitorError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="MONITOR_HOME",
    help="Data directory (warehouse, staging, models, outbox). Default: var/ in the repo.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="russia-asia-monitor")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: int) -> None:
    """Russia–Japan and Russia–China news monitor.

    Pulls news feeds, classifies articles against the seed article's topics and stores them
    in a DuckDB warehouse for trends, a daily digest and the Airflow UI.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    if "settings" not in obj:
        obj["settings"] = load_settings(home=obj.get("home"))
    return obj["settings"]


def pass_settings(func):
    """Decorator: hand the command the loaded ``Settings`` as its first argument."""

    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        return ctx.invoke(func, _settings(ctx), *args, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def fail(message: str) -> None:
    """Stop the command with a clear message (exit code 1)."""
    raise click.ClickException(message)


def known_ids(option: str, value: str | None, valid: Sequence[str],
              noun: str = "topic") -> tuple[str, ...]:
    """Comma-separated ids from an option, each checked against ``valid``.

    Every command that takes topic or dyad ids goes through here, so an unknown id is refused
    the same way everywhere, with the list of the valid ones.
    """
    wanted = tuple(v.strip() for v in (value or "").split(",") if v.strip())
    unknown = [v for v in wanted if v not in valid]
    if unknown:
        fail(f"{option}: unknown {noun}{'s' if len(unknown) > 1 else ''} "
             f"{', '.join(unknown)}; valid {noun}s: {', '.join(valid)}")
    return wanted


def emit_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
              fit: bool = False) -> None:
    """Print rows as a rich table, CSV or JSON (one array of objects).

    ``fit``: the table takes the terminal's width and every row stays on one line, long
    cells cut with "…" (the last column gives way first); otherwise at least 120 columns.
    """
    if fmt == "json":
        records = [dict(zip(columns, (_jsonable(v) for v in row), strict=False)) for row in rows]
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(columns)
        out.writerows([["" if v is None else v for v in row] for row in rows])
        click.echo(buf.getvalue(), nl=False)
    else:
        from rich.console import Console
        from rich.table import Table

        if fit:
            table, width = _fitted_table(columns, rows, Console().width)
        else:
            table = Table(*columns, show_lines=False)
            width = max(120, Console().width)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(file=sys.stdout, soft_wrap=False, width=width).print(table)


def _fitted_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int):
    """A borderless table whose columns keep their full width except the last, which gets
    what is left of ``width`` and cuts its cells with "…"."""
    from rich.cells import cell_len
    from rich.table import Column, Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([cell_len(c), *(cell_len(r[i]) for r in cells)])
              for i, c in enumerate(columns)]
    gap = 2  # rich's padding of one space each side, no borders
    rest = max(8, width - sum(widths[:-1]) - gap * (len(columns) - 1))
    specs = [Column(c, no_wrap=True, min_width=w, max_width=w) for c, w in
             zip(columns[:-1], widths[:-1], strict=True)]
    specs.append(Column(columns[-1], no_wrap=True, overflow="ellipsis",
                        max_width=min(rest, widths[-1])))
    table = Table(*specs, box=None, pad_edge=False, show_lines=False)
    return table, width


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
