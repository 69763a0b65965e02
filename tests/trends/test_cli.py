"""``monitor trends`` and ``monitor digest`` through the click runner on a temp data dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from monitor import warehouse
from monitor.cli import cli
from monitor.settings import Settings
from tests.trends.builder import add_article, add_source


def _fill(settings: Settings) -> datetime:
    """Energy: 3 articles yesterday, 1 eight days ago; kurils: 2 yesterday. Not refreshed:
    the command must bring the trend tables up to date itself."""
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        for h in range(3):
            add_article(con, published=today - timedelta(hours=12 - h))
        add_article(con, published=today - timedelta(days=8, hours=-9))
        for h in range(2):
            add_article(con, published=today - timedelta(hours=5 - h), dyads=["russia_japan"],
                        topics=["kurils"])
    return today


def test_trends_json_with_change(settings: Settings, home) -> None:
    _fill(settings)
    result = CliRunner().invoke(cli, ["--home", str(home), "trends", "--days", "7",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["key"]): r for r in json.loads(result.output)}
    energy = rows[("topic", "energy")]
    assert (energy["total"], energy["previous_total"], energy["change"]) == (3, 1, 2.0)
    assert len(energy["counts"]) == 7 and energy["counts"][-2] == 3
    assert rows[("topic", "kurils")]["change"] is None
    assert rows[("relation", "*")]["total"] == 5
    assert rows[("relation", "russia_japan")]["total"] == 2


def test_trends_table_and_filters(settings: Settings, home) -> None:
    _fill(settings)
    runner = CliRunner()
    table = runner.invoke(cli, ["--home", str(home), "trends", "--days", "7"])
    assert table.exit_code == 0, table.output
    assert "Energy" in table.output and "+200%" in table.output and "█" in table.output
    csv_out = runner.invoke(cli, ["--home", str(home), "trends", "--dyad", "russia_japan",
                                  "--format", "csv"])
    lines = csv_out.output.strip().splitlines()
    # The relation's own row comes first, then its topics.
    assert lines[0].startswith("kind,key,label") and len(lines) == 3
    assert lines[1].startswith("relation,russia_japan,") and ",kurils," in lines[2]
    bad = runner.invoke(cli, ["--home", str(home), "trends", "--topic", "nope"])
    assert bad.exit_code != 0 and "unknown topic" in bad.output


def test_digest_preview_and_dry_run(settings: Settings, home, tmp_path) -> None:
    today = _fill(settings)
    day = (today - timedelta(days=1)).date().isoformat()
    out = tmp_path / "preview.html"
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "digest", "--date", day,
                                 "--preview", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 articles" in result.output and out.read_text().startswith("<!DOCTYPE html>")
    dry = runner.invoke(cli, ["--home", str(home), "digest", "--date", day])
    assert dry.exit_code == 0 and "dry run" in dry.output
    both = runner.invoke(cli, ["--home", str(home), "digest", "--send", "--preview", str(out)])
    assert both.exit_code != 0
