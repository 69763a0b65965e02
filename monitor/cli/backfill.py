"""``monitor backfill``: load history from a directory of saved feeds or from GDELT.

The library does the work (``monitor.backfill.archive``, ``monitor.backfill.gdelt``); this
module only parses options, draws a rich progress bar on stderr and prints the summary.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli.app import cli, fail, pass_settings
from monitor.settings import Settings

#: The DOC API's documented search window ("the last 3 months").
GDELT_WINDOW_DAYS = 90


@cli.command()
@click.option("--from-dir", "from_dir", type=click.Path(exists=True, file_okay=False,
                                                        path_type=Path),
              help="Directory of saved feed files (RSS, Atom, JSON Feed; plain or .gz), "
                   "searched recursively.")
@click.option("--outlet", help="File every feed of --from-dir under this one outlet "
                               "(default: one source per feed, named from the file names).")
@click.option("--max-files", type=click.IntRange(min=1),
              help="Stop after reading this many files (a re-run resumes after them).")
@click.option("--gdelt", is_flag=True, help="Query the GDELT DOC 2.0 API instead.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (UTC) to load from GDELT, YYYY-MM-DD.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day (UTC) to load from GDELT, inclusive; default: yesterday.")
@click.option("--query", "queries", multiple=True,
              help="Only these GDELT query ids (repeatable); see docs/backfill.md.")
@click.option("--api-url", help="GDELT DOC API endpoint (default: the public one, or "
                                "$MONITOR_GDELT_API_URL).")
@click.option("--interval", type=click.FloatRange(min=0.0),
              help="Seconds between GDELT requests (default 5: GDELT's published limit).")
@click.option("--no-classify", is_flag=True, help="Store without classifying (faster; run "
                                                   "`monitor reclassify` later).")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs and summary only).")
@pass_settings
def backfill(settings: Settings, from_dir: Path | None, outlet: str | None,
             max_files: int | None, gdelt: bool, since: datetime | None,
             until: datetime | None, queries: tuple[str, ...], api_url: str | None,
             interval: float | None, no_classify: bool, no_progress: bool) -> None:
    """Load history: saved feed files (--from-dir) or the GDELT DOC API (--gdelt).

    Articles go through the same dedup, classification and store as live ingestion, keep
    the dates their entries (or GDELT) give, and are marked `ingested_via` = backfill_dir or
    backfill_gdelt. Finished files and GDELT time slices are recorded: Ctrl-C and the same
    command again resumes, and a repeated run adds nothing. Each run is a row in
    ingest_runs (via backfill_archive or backfill_gdelt).

    Exit status: 0 done; 130 interrupted; 3 every GDELT time slice asked failed (the
    message lists them).

    \b
    Examples:
      monitor backfill --from-dir ~/feed-archive
      monitor backfill --from-dir ~/tass-git-scrape --outlet TASS
      monitor backfill --gdelt --since 2026-09-01 --until 2026-09-30
    """
    if bool(from_dir) == gdelt:
        fail("give either --from-dir DIR or --gdelt --since DATE")
    progress = not no_progress and sys.stderr.isatty()
    if from_dir:
        if since or until or queries or api_url or interval is not None:
            fail("--since/--until/--query/--api-url/--interval belong to --gdelt")
        _from_dir(settings, from_dir, outlet, max_files, not no_classify, progress)
    else:
        if outlet or max_files:
            fail("--outlet and --max-files belong to --from-dir")
        if since is None:
            fail("--gdelt needs --since YYYY-MM-DD")
        first = since.date()
        last = until.date() if until else datetime.now(UTC).date() - timedelta(days=1)
        if last < first:
            fail(f"--until {last} is before --since {first}")
        if first < datetime.now(UTC).date() - timedelta(days=GDELT_WINDOW_DAYS):
            click.echo(f"note: GDELT's DOC API documents a rolling window of about "
                       f"{GDELT_WINDOW_DAYS} days; earlier days may come back empty", err=True)
        _gdelt(settings, first, last, queries, api_url, interval, not no_classify, progress)


def _from_dir(settings: Settings, root: Path, outlet: str | None, max_files: int | None,
              classify: bool, progress: bool) -> None:
    from monitor.backfill.archive import backfill_dir, refresh_trends_after

    bar = _ArchiveProgress() if progress else None
    try:
        summary = backfill_dir(settings, root, outlet=outlet, classify=classify,
                               max_files=max_files,
                               on_start=bar.start if bar else None,
                               on_file=bar.advance if bar else None)
    finally:
        if bar:
            bar.close()
    if summary.articles_new:
        refresh_trends_after(settings)
    click.echo(summary.describe())
    if summary.interrupted:
        sys.exit(130)


def _gdelt(settings: Settings, first: date, last: date, queries: tuple[str, ...],
           api_url: str | None, interval: float | None, classify: bool,
           progress: bool) -> None:
    from monitor.backfill.gdelt import GdeltConfig, backfill_gdelt, known_query_ids

    unknown = set(queries) - set(known_query_ids())
    if unknown:
        fail(f"unknown GDELT query ids: {', '.join(sorted(unknown))} "
             f"(known: {', '.join(known_query_ids())})")
    config = GdeltConfig.from_settings(settings)
    if api_url:
        config = config.with_(api_url=api_url)
    if interval is not None:
        config = config.with_(min_interval=interval)
    days = (last - first).days + 1
    bar = _GdeltProgress(days) if progress else None
    try:
        summary = backfill_gdelt(settings, first, last, queries=list(queries) or None,
                                 config=config, classify=classify,
                                 on_slice=bar.slice if bar else None,
                                 on_day=bar.day if bar else None)
    finally:
        if bar:
            bar.close()
    click.echo(summary.describe())
    if summary.interrupted:
        sys.exit(130)
    if summary.record is not None and summary.record.health == "blind":
        from monitor.backfill.gdelt import gdelt_blind_message
        from monitor.ingest.health import EXIT_BLIND

        click.echo("error: " + gdelt_blind_message(summary.record), err=True)
        sys.exit(EXIT_BLIND)


class _ArchiveProgress:
    """Files done / total, files/s, articles (entries) /s, bad files, time left."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(
            TextColumn("backfill"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:>6.0f} files/s"),
            TextColumn("{task.fields[aps]:>7.0f} articles/s"),
            TextColumn("{task.fields[bad]} bad"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), transient=False)
        self._task: Any = None
        self._entries = 0
        self._bad = 0
        self._read = 0

    def start(self, total: int) -> None:
        self._task = self._p.add_task("files", total=total, fps=0.0, aps=0.0, bad=0)
        self._p.start()

    def advance(self, result: Any) -> None:
        self._entries += result.entries
        self._bad += result.status == "error"
        self._read += result.status != "skipped"
        elapsed = self._p.tasks[0].elapsed or 0.0
        self._p.update(self._task, advance=1, bad=self._bad,
                       fps=self._read / elapsed if elapsed else 0.0,
                       aps=self._entries / elapsed if elapsed else 0.0)

    def close(self) -> None:
        self._p.stop()


class _GdeltProgress:
    """Days done / total, requests and articles so far, time left."""

    def __init__(self, days: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(
            TextColumn("gdelt {task.fields[day]}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[requests]} requests"),
            TextColumn("{task.fields[articles]} articles"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn())
        self._task = self._p.add_task("days", total=days, day="", requests=0, articles=0)
        self._requests = 0
        self._articles = 0
        self._p.start()

    def slice(self, info: dict[str, Any]) -> None:
        self._requests += info.get("requests", 0)
        self._articles += info.get("articles", 0)
        self._p.update(self._task, requests=self._requests, articles=self._articles,
                       day=str(info.get("day", "")))

    def day(self, day: date) -> None:
        self._p.update(self._task, advance=1, day=str(day))

    def close(self) -> None:
        self._p.stop()
