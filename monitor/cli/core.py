"""Set-up and warehouse commands: ``init``, ``config``, ``sql``, ``sources``, ``ingest``."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.app import cli, emit_rows, fail, pass_settings
from monitor.settings import Settings, describe, warnings

FORMATS = click.Choice(["table", "csv", "json"])

#: Statement types ``monitor sql`` runs. Everything else (INSERT, CREATE, COPY, ATTACH, SET,
#: PRAGMA, ...) is refused before it reaches DuckDB; the connection is read-only and has no
#: file access as a second line of defence.
_READ_STATEMENTS = {"SELECT", "EXPLAIN"}


@cli.command()
@pass_settings
def init(settings: Settings) -> None:
    """Create the data directory and the warehouse, apply migrations, load the sources."""
    from monitor.sources import initialise

    version, count = initialise(settings)
    click.echo(f"data directory: {settings.home}")
    click.echo(f"warehouse:      {settings.warehouse_path} (schema version {version})")
    click.echo(f"read snapshot:  {settings.snapshot_path}  <- open this one for analysis")
    click.echo(f"sources:        {count} from {settings.sources_file}")


@cli.command()
@pass_settings
def config(settings: Settings) -> None:
    """Show the effective settings (defaults < TOML file < MONITOR_* variables).

    Every value is checked when the settings load, so a bad one stops here with its name,
    its source and what is allowed.
    """
    emit_rows(["setting", "value"], describe(settings), "table")
    for line in warnings(settings):
        click.echo(line, err=True)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", required=False)
@click.option("-f", "--file", "sql_file", type=click.File("r", encoding="utf-8"),
              help="Read the SQL from this file (- for standard input).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--primary", is_flag=True,
              help="Read the writer's file instead of the published snapshot.")
@pass_settings
def sql(settings: Settings, query: str | None, sql_file, fmt: str, primary: bool) -> None:
    """Run a read-only SQL query against the warehouse.

    Reads the published snapshot, so it never blocks ingestion. Write statements are refused,
    and so are INSTALL/LOAD: extensions and network access are off in this shell. The SQL is
    QUERY, or the file given with -f, or standard input (QUERY "-" or piped in). A QUERY
    that starts with a "--" comment is taken as SQL, not as an option.

    \b
    Examples:
      monitor sql "SELECT outlet, count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC"
      monitor sql -f warehouse/queries/failing_feeds.sql
      monitor sql - < warehouse/queries/topics_rising_this_week.sql
    """
    if sql_file is not None and query is not None:
        fail("give the SQL once: as QUERY or with --file, not both")
    if sql_file is not None:
        query = sql_file.read()
    elif query == "-" or (query is None and not click.get_text_stream("stdin").isatty()):
        query = click.get_text_stream("stdin").read()
    if query is None:
        fail("no SQL given: pass a QUERY, --file FILE, or pipe it in on standard input")
    import duckdb

    from monitor import warehouse

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        fail(f"SQL does not parse: {exc}")
    if not statements:
        fail("no SQL statement given")
    for st in statements:
        kind = st.type.name
        if kind == "LOAD":
            fail("monitor sql is a read-only shell over the warehouse snapshot: extensions "
                 "and network access are off (INSTALL/LOAD would download or run extension "
                 "code and could reach files or the network). Open the snapshot in your own "
                 "DuckDB (duckdb -readonly var/warehouse-read.duckdb) to use extensions.")
        if kind not in _READ_STATEMENTS:
            fail(f"monitor sql is read-only: {kind} statements are refused. Use SELECT (or "
                 f"EXPLAIN); to change data use the monitor's commands.")
    with warehouse.reader(settings, primary=primary, private=True) as con:
        con.execute("SET enable_external_access = false")
        try:
            result = None
            for st in statements:
                result = con.execute(st.query)
            columns = [d[0] for d in result.description] if result.description else []
            rows = result.fetchall()
        except duckdb.Error as exc:
            fail(f"query failed: {exc}")
    emit_rows(columns, rows, fmt)


#: Columns of ``monitor sources`` in the terminal (one line per source at 80 columns); --wide
#: and the CSV/JSON formats carry every column.
_SOURCES_NARROW = {"source_id": "source", "status": "status", "last_outcome": "last",
                   "last_ok": "last ok",
                   "failures": "fails", "last_error": "error"}


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--wide", is_flag=True,
              help="Every column, at least 120 wide (default: one line per source that fits "
                   "the terminal; errors cut).")
@click.option("--all", "show_all", is_flag=True,
              help="Also list retired sources (no longer in the sources file; not polled).")
@pass_settings
def sources(settings: Settings, fmt: str, wide: bool, show_all: bool) -> None:
    """Each active source with its health: last success, consecutive failures, last error."""
    from monitor import warehouse

    with warehouse.reader(settings) as con:
        result = con.execute(
            "SELECT s.source_id, s.outlet, s.kind, s.enabled,"
            + (" s.status," if show_all else "") +
            " strftime(f.last_ok_at, '%Y-%m-%d %H:%M') AS last_ok,"
            " coalesce(f.consecutive_failures, 0) AS failures, f.last_outcome, f.last_status,"
            " strftime(f.next_poll_at, '%Y-%m-%d %H:%M') AS next_poll,"
            " coalesce(s.disabled_reason, f.last_error) AS last_error"
            " FROM sources s LEFT JOIN feed_state f USING (source_id)"
            " WHERE ? OR s.status = 'active'"
            " ORDER BY failures DESC, s.source_id", [show_all]
        )
        columns = [d[0] for d in result.description]
        rows = result.fetchall()
    if fmt == "table" and wide:
        rows = [tuple((str(v)[:60] if i == len(r) - 1 and v else v) for i, v in enumerate(r))
                for r in rows]
    elif fmt == "table":
        keep = [columns.index(c) for c in _SOURCES_NARROW if c in columns]
        rows = [tuple(" ".join(str(r[i]).split()) if r[i] is not None else None for i in keep)
                for r in rows]
        columns = [_SOURCES_NARROW[columns[i]] for i in keep]
        emit_rows(columns, rows, fmt, fit=True)
        return
    emit_rows(columns, rows, fmt)


@cli.command()
@click.option("--sources", "sources_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path),
              help="Poll exactly the sources in this file, once. It does not change the "
                   "configured set: its sources are stored, but scheduled runs keep polling "
                   "the configured sources file (edit that to add or retire sources).")
@click.option("--only", multiple=True,
              help="Fetch only these source ids (repeatable); any stored source, retired "
                   "ones included (polled once, on request).")
@click.option("--all", "poll_all", is_flag=True,
              help="Ignore the back-off of failing sources and poll every active source.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print the summary only.")
@pass_settings
def ingest(settings: Settings, sources_file: Path | None, only: tuple[str, ...],
           poll_all: bool, quiet: bool) -> None:
    """Fetch every active source that is due once, parse, dedup, classify and store new
    articles, and record the run's health in ingest_runs.

    \b
    Exit status:
      0  the run is ok, or degraded (some sources failed; listed above)
      1  a configuration or usage problem (message says which)
      3  the run is blind: no source answered, or the failing share reached
         blind_failure_share (see `monitor config`)
    """
    from monitor.ingest.health import EXIT_BLIND, blind_message
    from monitor.ingest.run import run_ingest

    summary = run_ingest(settings, only=set(only) or None, poll_all=poll_all,
                         progress=not quiet, sources_file=sources_file)
    click.echo(summary.describe())
    if summary.health == "blind" and summary.record is not None:
        click.echo("error: " + blind_message(summary.record), err=True)
        raise SystemExit(EXIT_BLIND)
    if summary.health == "degraded":
        click.echo(f"warning: degraded run: {summary.sources_failed} of "
                   f"{summary.record.sources_planned if summary.record else '?'} sources "
                   "failed (see `monitor sources`)", err=True)
