"""``monitor backfill --gdelt`` against a local stand-in for the DOC API (tests/backfill/gdelt_api.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor import warehouse
from monitor.backfill.gdelt import (
    GdeltConfig,
    backfill_gdelt,
    backfill_gdelt_day,
    parse_articles,
)
from tests.backfill.gdelt_api import FakeGdelt
from tests.support.bugs import bug_in_records

DAY = date(2025, 3, 1)


@pytest.fixture
def gdelt(http_server) -> FakeGdelt:
    return FakeGdelt(http_server)


@pytest.fixture
def config(gdelt) -> GdeltConfig:
    return GdeltConfig(api_url=gdelt.url, min_interval=0.0)


def _slices(settings) -> dict[str, list[tuple]]:
    with warehouse.reader(settings) as con:
        rows = con.execute("SELECT query_id, slice_start, slice_end, status, articles, error"
                           " FROM backfill_slices ORDER BY 1, 2, 3").fetchall()
    out: dict[str, list[tuple]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row[1:])
    return out


def test_a_day_splits_full_slices_and_records_what_failed(settings, gdelt, config) -> None:
    out = backfill_gdelt_day(settings, DAY, config=config)

    # China: the day (600) and both halves (300) are full; the four quarters (150) fit.
    china = gdelt.requests_for("China")
    assert len(china) == 1 + 2 + 4
    slices = _slices(settings)
    assert [(s[0].hour, s[2], s[3]) for s in slices["russia_china"]] == [
        (0, "done", 150), (6, "done", 150), (12, "done", 150), (18, "done", 150)]
    assert out["split"] == 3
    # 429 honoured: the Kuril query was asked again and its slice finished.
    assert len(gdelt.requests_for("Kuril")) == 2
    assert slices["kurils"][0][2] == "done"
    # Malformed JSON and GDELT's text error are recorded and skipped, not fatal.
    assert slices["eaeu_bri"][0][2] == "error" and "malformed JSON" in slices["eaeu_bri"][0][4]
    assert slices["energy_pipelines"][0][2] == "error"
    assert "too short" in slices["energy_pipelines"][0][4]
    assert out["errors"] == 2

    with warehouse.reader(settings) as con:
        rows = con.execute(
            "SELECT url, outlet, language, published_at, ingested_via, source_id, title"
            " FROM articles").fetchall()
        sources = con.execute("SELECT source_id, kind, enabled FROM sources").fetchall()
    assert len(rows) == 600 + 40 == len({r[0] for r in rows})
    assert {r[4] for r in rows} == {"backfill_gdelt"}
    by_url = {r[0]: r for r in rows}
    first = by_url["https://www.cn-news.example/0301/1"]
    assert first[1] == "cn-news.example"  # the outlet is GDELT's domain
    assert first[3] == datetime(2025, 3, 1, 0, 2, 24)  # seendate, not the run's time
    assert by_url["https://jp-1.example.org/story/0301-1"][2] == "ru"
    assert by_url["https://jp-2.example.org/story/0301-2"][2] == "ja"
    assert by_url["https://jp-0.example.org/story/0301-3"][6] == "Kremlin answers Tokyo"
    assert ("gdelt-backfill-russia-china", "search", False) in sources


def test_a_repeated_day_asks_only_for_what_failed(settings, gdelt, config) -> None:
    backfill_gdelt_day(settings, DAY, config=config)
    before = len(gdelt.calls)
    again = backfill_gdelt_day(settings, DAY, config=config)
    asked = {c[1].split()[0] for c in gdelt.calls[before:]}
    assert len(gdelt.calls) - before == 2 and again["articles_new"] == 0
    assert all("Eurasian" in c[1] or "Power of Siberia" in c[1] for c in gdelt.calls[before:]), asked
    with warehouse.reader(settings) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 640


def test_a_bug_staging_one_querys_articles_fails_its_slices_only(
        settings, gdelt, config, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a bug would: making the records of one query's articles raises. Its slices are
    recorded as failed (asked again by the next run), the other queries' are stored."""
    bug_in_records(monkeypatch, "gdelt-backfill-russia-china")
    out = backfill_gdelt_day(settings, DAY, config=config, queries=["russia_china", "russia_japan"])
    china = _slices(settings)["russia_china"]
    assert {s[2] for s in china} == {"error"}
    assert {s[4] for s in china} == {"internal error reading the feed: RuntimeError: a bug"}
    assert {s[2] for s in _slices(settings)["russia_japan"]} == {"done"}
    assert out["errors"] == len(china)
    with warehouse.reader(settings) as con:
        assert con.execute("SELECT count(*) FROM articles WHERE source_id ="
                           " 'gdelt-backfill-russia-china'").fetchone()[0] == 0
        kept = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert kept > 0

    monkeypatch.undo()  # the bug fixed
    backfill_gdelt_day(settings, DAY, config=config, queries=["russia_china", "russia_japan"])
    assert {s[2] for s in _slices(settings)["russia_china"]} == {"done"}
    with warehouse.reader(settings) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == kept + 600


def test_later_days_start_at_the_width_earlier_days_needed(settings, gdelt, config) -> None:
    summary = backfill_gdelt(settings, DAY, DAY + timedelta(days=1), config=config,
                             queries=["russia_china"])
    china = gdelt.requests_for("China")
    assert len(china) == 7 + 4  # day two starts with quarter days: no wasted full answers
    assert summary.days == 2 and summary.articles_new == 1200 and summary.errors == 0
    assert "2 days" in summary.describe()


def test_a_slice_still_full_at_the_minimum_width_is_kept_as_truncated(settings, gdelt,
                                                                         config) -> None:
    narrow = config.with_(min_slice=timedelta(hours=12))
    backfill_gdelt_day(settings, DAY, config=narrow, queries=["russia_china"])
    slices = _slices(settings)["russia_china"]
    assert [(s[2], s[3]) for s in slices] == [("truncated", 250), ("truncated", 250)]


def test_requests_are_spaced_across_processes_by_the_interval(settings, gdelt, config) -> None:
    backfill_gdelt_day(settings, DAY, config=config.with_(min_interval=0.25),
                       queries=["russia_japan", "kurils"])
    times = [c[0] for c in gdelt.calls]
    assert len(times) == 3
    assert all(b - a >= 0.24 for a, b in zip(times, times[1:], strict=False))


def test_parse_articles_rejects_text_and_reads_empty_answers() -> None:
    assert parse_articles(b"{}") == []
    with pytest.raises(Exception, match="not JSON"):
        parse_articles(b"Please limit requests to one every 5 seconds")
    entries = parse_articles(b'{"articles": [{"url": "https://a.example/x", "title": "T",'
                             b' "seendate": "20250301T101500Z", "domain": "a.example",'
                             b' "language": "Chinese"}, {"title": "no url"}]}')
    assert len(entries) == 1
    assert entries[0].language == "zh" and entries[0].source_name == "a.example"
    assert entries[0].published_at == datetime(2025, 3, 1, 10, 15)


def test_control_characters_in_a_title_leave_no_double_space() -> None:
    entries = parse_articles(b'{"articles": [{"url": "https://a.example/x", "title":'
                             b' "Kremlin \x01 answers\x02Tokyo \x1f now"}]}')
    assert entries[0].title == "Kremlin answersTokyo now"


def test_cli(settings, gdelt) -> None:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, [
        "--home", str(settings.home), "backfill", "--gdelt", "--since", "2025-03-01",
        "--until", "2025-03-01", "--api-url", gdelt.url, "--interval", "0",
        "--query", "russia_japan", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 days" in result.output and "40 new" in result.output
    bad = CliRunner().invoke(cli, ["--home", str(settings.home), "backfill", "--gdelt",
                                   "--since", "2025-03-01", "--query", "nope"])
    assert bad.exit_code != 0 and "unknown GDELT query" in bad.output


def test_ctrl_c_keeps_finished_days_and_a_rerun_resumes(settings, gdelt, config) -> None:
    calls = []

    def interrupt_on_day_two(info) -> None:
        calls.append(info)
        if info["day"] == DAY + timedelta(days=1):
            raise KeyboardInterrupt

    first = backfill_gdelt(settings, DAY, DAY + timedelta(days=1), config=config,
                           queries=["russia_china"], on_slice=interrupt_on_day_two)
    assert first.interrupted and first.days == 1 and first.articles_new == 600
    asked = len(gdelt.calls)
    second = backfill_gdelt(settings, DAY, DAY + timedelta(days=1), config=config,
                            queries=["russia_china"])
    # Day one: its four finished quarter-day slices are skipped, nothing asked; day two starts
    # at the quarter-day width day one needed: four requests, none wasted on full answers.
    assert not second.interrupted and second.slices_skipped == 4 and second.requests == 4
    assert all(c[2].startswith("20250302") for c in gdelt.calls[asked:])
    with warehouse.reader(settings) as con:
        assert con.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (
            1200, 1200)


def test_a_failed_slice_is_asked_alone_and_found_for_retry(settings, gdelt, config) -> None:
    from monitor.backfill.gdelt import days_to_retry

    backfill_gdelt_day(settings, DAY, config=config, queries=["russia_china"])
    assert days_to_retry(settings, DAY + timedelta(days=1)) == []
    with warehouse.writer(settings) as con:  # as if GDELT had failed on the third quarter
        con.execute("UPDATE backfill_slices SET status = 'error', error = 'HTTP 503'"
                    " WHERE query_id = 'russia_china' AND hour(slice_start) = 12")
    assert days_to_retry(settings, DAY + timedelta(days=1)) == [DAY]
    asked = len(gdelt.calls)
    backfill_gdelt_day(settings, DAY, config=config, queries=["russia_china"])
    new_calls = gdelt.calls[asked:]
    assert [(c[2], c[3]) for c in new_calls] == [("20250301120000", "20250301175959")]
    assert days_to_retry(settings, DAY + timedelta(days=1)) == []
    # Starting from a whole day (a wider hint), the finished parts are split away, not asked.
    with warehouse.writer(settings) as con:
        con.execute("UPDATE backfill_slices SET status = 'error'"
                    " WHERE query_id = 'russia_china' AND hour(slice_start) = 18")
    asked = len(gdelt.calls)
    backfill_gdelt_day(settings, DAY, config=config, queries=["russia_china"],
                       hints={"russia_china": 86400.0})
    assert [(c[2], c[3]) for c in gdelt.calls[asked:]] == [("20250301180000", "20250301235959")]


def test_cli_fails_when_every_slice_failed_and_says_which(settings, http_server) -> None:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, [
        "--home", str(settings.home), "backfill", "--gdelt", "--since", "2025-03-01",
        "--until", "2025-03-02", "--api-url", http_server.url("/no/such/api"),
        "--interval", "0", "--query", "russia_japan", "--no-progress"])
    assert result.exit_code == 3, result.output
    assert "all 2 time slices asked failed" in result.output
    assert "russia_japan 2025-03-01T00:00..00:00: HTTP 404" in result.output
    assert "russia_japan 2025-03-02T00:00..00:00: HTTP 404" in result.output
    assert "Check the network" in result.output
    with warehouse.reader(settings) as con:
        assert con.execute("SELECT via, health, sources_planned, sources_failed"
                           " FROM ingest_runs").fetchall() == [("backfill_gdelt", "blind", 2, 2)]
