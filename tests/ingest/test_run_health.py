"""Run health and the source lifecycle through ``monitor`` commands, against a real HTTP
server on 127.0.0.1 and a real DuckDB warehouse (issue 13's "Done when" scenario).

Dead URLs are closed ports on 127.0.0.1: refused at once, never a real hostname.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor import warehouse
from monitor.cli import cli
from monitor.errors import ConfigError
from monitor.ingest.health import EXIT_BLIND, judge
from monitor.settings import Settings, SettingsError
from tests.support.httpserver import LocalHTTPServer
from tests.support.smtp import free_port

#: An irrelevant item only: a day that answered but had no relevant article is "quiet".
QUIET_RSS = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             "<title>Sport</title><link>https://sport.example.org/</link><description>t"
             "</description><item><title>Local football club wins the cup</title>"
             "<link>https://sport.example.org/{name}/cup</link>"
             "<description>The home team won the final 2-1 after extra time.</description>"
             "</item></channel></rss>")


def _write(path: Path, sources: dict[str, str]) -> Path:
    lines = []
    for source_id, url in sources.items():
        lines += ["[[sources]]", f'id = "{source_id}"', f'url = "{url}"',
                  f'outlet = "{source_id.title()} Outlet"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Monitor:
    """``monitor …`` on one data directory, with the configured sources file at ``path``."""

    def __init__(self, settings: Settings, configured: Path) -> None:
        self.settings = settings
        self.env = {"MONITOR_HOME": str(settings.home), "MONITOR_SOURCES_FILE": str(configured),
                    "MONITOR_EXTRACT_ENABLED": "false", "MONITOR_RETRIES": "0",
                    "MONITOR_CONNECT_TIMEOUT": "2", "MONITOR_TOTAL_TIMEOUT": "5",
                    "MONITOR_CONFIG": ""}

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with warehouse.reader(self.settings) as con:
            return con.execute(sql, params or []).fetchall()

    def last_run(self) -> tuple:
        return self.query("SELECT run_id, via, health, sources_planned, sources_ok,"
                          " sources_failed FROM ingest_runs ORDER BY started_at DESC LIMIT 1")[0]

    def polled(self, run_id: str) -> set[str]:
        return {r[0] for r in self.query("SELECT source_id FROM fetches WHERE run_id = ?",
                                         [run_id])}


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/feed.xml"


def test_done_when_lifecycle_blind_exit_and_digest(settings: Settings, tmp_path: Path,
                                                   http_server: LocalHTTPServer,
                                                   dead_url: str) -> None:
    for name in ("a", "c"):
        http_server.route(f"/{name}.xml", QUIET_RSS.format(name=name),
                          headers={"Content-Type": "application/rss+xml"})
    a_url, c_url = http_server.url("/a.xml"), http_server.url("/c.xml")
    configured = tmp_path / "sources.toml"
    monitor = Monitor(settings, configured)

    # Sources A (a good feed) and B (a dead URL): a degraded run, exit 0, recorded.
    _write(configured, {"a": a_url, "b": dead_url})
    result = monitor("ingest", "-q")
    assert result.exit_code == 0, result.output
    assert "[degraded]" in result.output and "warning: degraded run" in result.output
    run_id, via, health, planned, ok, failed = monitor.last_run()
    assert (via, health, planned, ok, failed) == ("cli", "degraded", 2, 1, 1)
    assert monitor.polled(run_id) == {"a", "b"}

    # Then a file with only A: B is retired; later runs record fetch rows for A only.
    _write(configured, {"a": a_url})
    for _ in range(2):
        assert monitor("ingest", "-q", "--all").exit_code == 0
        run_id, *_ = monitor.last_run()
        assert monitor.polled(run_id) == {"a"}
        assert monitor.last_run()[2] == "ok"
    assert monitor.query("SELECT status, retired_at IS NOT NULL FROM sources"
                         " WHERE source_id = 'b'") == [("retired", True)]
    assert monitor.query("SELECT count(*) FROM fetches WHERE source_id = 'b'")[0][0] == 1
    listed = monitor("sources", "--format", "csv")
    assert listed.exit_code == 0 and "\nb," not in listed.output and "\na," in listed.output
    everything = monitor("sources", "--all", "--format", "csv")
    b_row = next(line for line in everything.output.splitlines() if line.startswith("b,"))
    assert ",retired," in b_row

    # --sources with a third file polls exactly its sources, once; the configured set stays.
    third = _write(tmp_path / "third.toml", {"c": c_url})
    result = monitor("ingest", "-q", "--sources", str(third))
    assert result.exit_code == 0, result.output
    run_id, *_ = monitor.last_run()
    assert monitor.polled(run_id) == {"c"}
    assert monitor("ingest", "-q", "--all").exit_code == 0
    assert monitor.polled(monitor.last_run()[0]) == {"a"}

    # --only takes any stored id, retired or not in the configured file; unknown ids fail.
    result = monitor("ingest", "-q", "--only", "c")
    assert result.exit_code == 0, result.output
    assert monitor.polled(monitor.last_run()[0]) == {"c"}
    unknown = monitor("ingest", "-q", "--only", "nosuch")
    assert unknown.exit_code == 1 and "unknown source ids: nosuch" in unknown.output

    # B back in the file: active again.
    _write(configured, {"a": a_url, "b": dead_url})
    monitor("ingest", "-q", "--all")
    assert monitor.query("SELECT status, retired_at FROM sources WHERE source_id = 'b'") == [
        ("active", None)]

    # A file of only dead URLs: blind, exit 3, a message that says what to check.
    other_dead = f"http://127.0.0.1:{free_port()}/rss"
    _write(configured, {"b": dead_url, "e": other_dead})
    result = monitor("ingest", "-q", "--all")
    assert result.exit_code == EXIT_BLIND, result.output
    assert "the monitor is blind: 2 of 2 sources failed" in result.output
    assert "Check the network" in result.output and "`monitor sources`" in result.output
    assert "  b: " in result.output and "  e: " in result.output
    assert monitor.last_run()[2:] == ("blind", 2, 0, 2)

    # The digest preview for that day says it was blind and names the failing sources.
    today = datetime.now(UTC).date().isoformat()
    preview = tmp_path / "digest.html"
    result = monitor("digest", "--date", today, "--preview", str(preview))
    assert result.exit_code == 0, result.output
    assert "BLIND: no source answered" in result.output  # the subject line
    page = preview.read_text(encoding="utf-8")
    assert 'data-verdict="blind"' in page
    assert "The monitor was BLIND on this day" in page
    assert "0 of 2 configured sources answered" in page
    assert "b (B Outlet), failing since" in page and "e (E Outlet), failing since" in page


def test_quiet_day_says_quiet(settings: Settings, tmp_path: Path,
                              http_server: LocalHTTPServer) -> None:
    url = http_server.route("/a.xml", QUIET_RSS.format(name="a"),
                            headers={"Content-Type": "application/rss+xml"})
    monitor = Monitor(settings, _write(tmp_path / "sources.toml", {"a": url}))
    assert monitor("ingest", "-q").exit_code == 0
    today = datetime.now(UTC).date().isoformat()
    result = monitor("digest", "--date", today, "--preview", str(tmp_path / "d.html"))
    assert "quiet day: no relevant articles" in result.output
    page = (tmp_path / "d.html").read_text(encoding="utf-8")
    assert "1 of 1 configured sources answered" in page and 'data-verdict="seeing"' in page


def test_run_with_nothing_due_is_judged_on_the_sources_state(
        settings: Settings, tmp_path: Path, dead_url: str) -> None:
    """Every source backing off after failures: nothing is polled, and still blind."""
    monitor = Monitor(settings, _write(tmp_path / "sources.toml", {"b": dead_url}))
    assert monitor("ingest", "-q").exit_code == EXIT_BLIND
    result = monitor("ingest", "-q")  # b backs off: nothing due
    assert result.exit_code == EXIT_BLIND, result.output
    assert "nothing was due because 1 active sources are failing" in result.output
    assert "  b: " in result.output  # its last error
    assert monitor.last_run()[2:] == ("blind", 0, 0, 0)


@pytest.mark.parametrize(("share", "planned", "answered", "failed", "expected"), [
    (1.0, 4, 4, 0, "ok"),
    (1.0, 4, 1, 3, "degraded"),
    (1.0, 4, 0, 4, "blind"),
    (0.5, 4, 2, 2, "blind"),
    (0.5, 4, 3, 1, "degraded"),
    (1.0, 0, 0, 0, "ok"),
], ids=["all-ok", "some-failed", "none-answered", "share-reached", "share-not-reached",
        "nothing-planned"])
def test_judge(settings: Settings, share: float, planned: int, answered: int, failed: int,
               expected: str) -> None:
    assert judge(settings.with_(blind_failure_share=share), planned, answered, failed) == expected


@pytest.mark.parametrize("share", ["0", "-0.1", "1.5"])
def test_blind_failure_share_is_validated(tmp_path: Path, share: str) -> None:
    from monitor.settings import load_settings

    with pytest.raises(SettingsError, match="blind_failure_share"):
        load_settings(home=tmp_path, env={"MONITOR_BLIND_FAILURE_SHARE": share})


def test_sources_file_is_the_truth_for_sync(settings: Settings) -> None:
    from monitor.sources import Source, active_sources, sync_sources

    a = Source(id="a", url="https://a.example/rss", outlet="A")
    b = Source(id="b", url="https://b.example/rss", outlet="B")
    x = Source(id="x", url="https://x.example/rss", outlet="X")
    with warehouse.writer(settings) as con:
        sync_sources(con, [a, b])
        sync_sources(con, [a])
        assert [s.id for s in active_sources(con)] == ["a"]
        sync_sources(con, [x], configured=False)  # a one-off file changes no status
        assert [s.id for s in active_sources(con)] == ["a"]
        assert con.execute("SELECT source_id, status FROM sources ORDER BY 1").fetchall() == [
            ("a", "active"), ("b", "retired"), ("x", "retired")]
        # Feed health lists what is polled: retired sources need no attention.
        assert con.execute("SELECT source_id FROM feed_health").fetchall() == [("a",)]
        sync_sources(con, [a, b])
        assert [s.id for s in active_sources(con)] == ["a", "b"]


def test_unknown_only_id_is_a_config_error(settings: Settings, tmp_path: Path) -> None:
    from monitor.ingest.plan import make_plan

    s = settings.with_(sources_file=_write(tmp_path / "s.toml", {"a": "https://a.example/"}))
    with pytest.raises(ConfigError, match="unknown source ids: zz"):
        make_plan(s, only={"zz"}, poll_all=False)
