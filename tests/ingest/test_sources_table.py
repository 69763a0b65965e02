"""``monitor sources`` fits an 80-column terminal, one line per source (issue 13, item 6);
``--wide`` and ``--format csv`` still carry every column and the whole error."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from click.testing import CliRunner

from monitor import warehouse
from monitor.cli import cli
from monitor.settings import Settings
from tests.trends.builder import add_feed_state, add_source

NOW = datetime(2026, 11, 20, 12, 0)
LONG_ERROR = ("ConnectError: [Errno -3] Temporary failure in name resolution while fetching "
              "https://www.example-news-outlet.example/rss/all-the-news.xml\nafter 3 tries")


def _fill(settings: Settings) -> None:
    with warehouse.writer(settings) as con:
        add_source(con, "russia-japan-relations-weekly", "Russia–Japan Relations Weekly", "JP")
        add_source(con, "tass", "TASS", "RU")
        add_source(con, "nhk", "NHK World", "JP", enabled=False,
                   disabled_reason="HTTP 410 Gone: the feed was retired by the publisher")
        add_feed_state(con, "russia-japan-relations-weekly", last_attempt_at=NOW,
                       last_ok_at=NOW - timedelta(days=3), failures=14,
                       failing_since=NOW - timedelta(days=3), last_error=LONG_ERROR)
        add_feed_state(con, "tass", last_attempt_at=NOW, last_ok_at=NOW)


def test_table_fits_80_columns_one_line_per_source(settings: Settings, home) -> None:
    _fill(settings)
    result = CliRunner().invoke(cli, ["--home", str(home), "sources"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 + 3  # the header and one line per source
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    failing = next(line for line in lines if "russia-japan-relations-weekly" in line)
    assert "14" in failing and "ConnectError" in failing and failing.rstrip().endswith("…")


def test_wide_and_csv_keep_everything(settings: Settings, home) -> None:
    _fill(settings)
    runner = CliRunner()
    wide = runner.invoke(cli, ["--home", str(home), "sources", "--wide"], env={"COLUMNS": "80"})
    assert wide.exit_code == 0 and "outlet" in wide.output and "next_poll" in wide.output
    out = runner.invoke(cli, ["--home", str(home), "sources", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert {r["source_id"] for r in rows} == {"russia-japan-relations-weekly", "tass", "nhk"}
    failing = next(r for r in rows if r["source_id"] == "russia-japan-relations-weekly")
    assert failing["last_error"] == LONG_ERROR and failing["outlet"]
