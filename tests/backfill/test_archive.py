"""``monitor backfill --from-dir``: every entry once, entry dates kept, resumable, bad files
reported and skipped."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import warehouse
from monitor.backfill.archive import ARCHIVE_REASON, backfill_dir, read_document, source_slug
from tests.backfill.conftest import ARTICLES, BASE, rss_snapshot
from tests.support.bugs import bug_in_parsing, bug_in_records


def _articles(settings) -> list[tuple]:
    with warehouse.reader(settings) as con:
        return con.execute(
            "SELECT entry_key, title, published_at, first_seen_at, ingested_via, source_id,"
            " outlet FROM articles ORDER BY published_at").fetchall()


def test_loads_every_entry_once_with_its_own_date(settings, archive) -> None:
    root, expected = archive
    started = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    summary = backfill_dir(settings, root)

    assert summary.files_total == expected["files"]
    assert summary.files_failed == expected["bad"]
    bad = {Path(p).name for p, _ in summary.errors}
    assert bad == {"broken_2025-03-02.xml", "cut_2025-03-02.xml.gz", "empty_2025-03-03.xml"}
    assert summary.articles_new == expected["articles"]

    rows = _articles(settings)
    assert len(rows) == expected["articles"] == len({r[0] for r in rows})
    assert {r[4] for r in rows} == {"backfill_dir"}
    news = [r for r in rows if r[5] == "archive-example-news"]
    assert len(news) == ARTICLES
    # Dates come from the entries, not from the run; first_seen_at is the real first sight.
    for j, row in enumerate(news):
        assert row[1] == f"Moscow and Tokyo talks, round {j}"
        assert row[2] == BASE + timedelta(hours=j)
        assert row[3] >= started
    assert {r[6] for r in news} == {"Example News"}  # the feed's own title names the outlet

    with warehouse.reader(settings) as con:
        sources = con.execute(
            "SELECT source_id, kind, enabled, disabled_reason, url FROM sources"
            " ORDER BY source_id").fetchall()
        files = con.execute(
            "SELECT status, count(*) FROM backfill_files GROUP BY 1 ORDER BY 1").fetchall()
    assert [s[0] for s in sources] == ["archive-example-blog", "archive-example-news"]
    assert all(s[1] == "feed" and s[2] is False and s[3] == ARCHIVE_REASON for s in sources)
    assert all(s[4].startswith("file://") for s in sources)
    assert files == [("error", 3), ("ok", 34)]


def test_resumes_after_a_stop_without_redoing_or_duplicating(settings, archive) -> None:
    root, expected = archive
    first = backfill_dir(settings, root, max_files=7)
    assert first.stopped_early and first.files_ok + first.files_failed == 7
    partial = len(_articles(settings))
    assert 0 < partial < expected["articles"]

    second = backfill_dir(settings, root)
    # Finished files (and bad files reported before) are not read again.
    assert second.files_skipped == 7
    assert second.files_ok + second.files_failed == expected["files"] - 7
    rows = _articles(settings)
    assert len(rows) == expected["articles"] == len({r[0] for r in rows})
    assert second.articles_new == expected["articles"] - partial

    third = backfill_dir(settings, root)
    assert third.files_ok == 0 and third.articles_new == 0 and third.files_failed == 0
    assert third.files_skipped == expected["files"]
    assert third.files_bad_before == expected["bad"]  # reported, not parsed again
    assert f"{expected['bad']} bad files reported by an earlier run" in third.describe()
    assert len(_articles(settings)) == expected["articles"]


def test_ctrl_c_stores_the_batch_in_hand(settings, archive) -> None:
    root, expected = archive
    seen = []

    def interrupt_after_five(result) -> None:
        seen.append(result)
        if len(seen) == 5:
            raise KeyboardInterrupt

    first = backfill_dir(settings, root, on_file=interrupt_after_five)
    assert first.interrupted
    with warehouse.reader(settings) as con:
        recorded = con.execute("SELECT count(*) FROM backfill_files").fetchone()[0]
    assert recorded == 5
    second = backfill_dir(settings, root)
    assert second.files_skipped + second.files_failed + second.files_ok == expected["files"]
    rows = _articles(settings)
    assert len(rows) == expected["articles"] == len({r[0] for r in rows})


def test_a_changed_file_at_the_same_path_is_read_again(settings, tmp_path: Path) -> None:
    root = tmp_path / "one"
    root.mkdir()
    path = root / "feed_2025-03-01.xml"
    path.write_bytes(rss_snapshot(3))
    assert backfill_dir(settings, root).articles_new == 4
    path.write_bytes(rss_snapshot(5))
    again = backfill_dir(settings, root)
    assert again.files_ok == 1 and again.files_skipped == 0 and again.articles_new == 2


def test_outlet_option_files_everything_under_one_source(settings, archive) -> None:
    root, expected = archive
    backfill_dir(settings, root, outlet="Example Group")
    rows = _articles(settings)
    assert {r[5] for r in rows} == {"archive-example-group"}
    assert {r[6] for r in rows} == {"Example Group"}


def test_gzip_bomb_in_an_archive_is_a_bad_file(settings, tmp_path: Path) -> None:
    root = tmp_path / "bomb"
    root.mkdir()
    (root / "bomb_2025-01-01.xml.gz").write_bytes(gzip.compress(b" " * 5_000_000))
    summary = backfill_dir(settings.with_(max_body_bytes=100_000), root)
    assert summary.files_failed == 1 and "decompressed" in summary.errors[0][1]
    with pytest.raises(Exception, match="decompressed"):
        read_document(root / "bomb_2025-01-01.xml.gz", 100_000)


@pytest.mark.parametrize(("rel", "slug"), [
    ("tass_2024-01-02T0300Z.xml", "tass"),
    ("tass/2024-01-02T0300Z.xml", "tass"),
    ("2024/01/02/tass.xml.gz", "tass"),
    ("tass/3f7e064e45e8.xml", "tass"),
    ("Japan Times/feed.xml", "japan-times"),
    ("feedparser-test-aaa-illformed_added-2015-04-22.xml", "feedparser-test-aaa-illformed"),
    ("20240102.xml", "archive"),
], ids=["name_date", "dir_date", "date_dirs", "dir_sha", "dir_generic", "added_date", "bare"])
def test_source_slug(rel: str, slug: str, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    assert source_slug(root / rel, root) == slug


def test_cli_prints_a_summary(settings, archive) -> None:
    from monitor.cli import cli

    root, expected = archive
    result = CliRunner().invoke(cli, ["--home", str(settings.home), "backfill", "--from-dir",
                                      str(root), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"{expected['articles']} new articles" in result.output
    assert "bad file:" in result.output
    again = CliRunner().invoke(cli, ["--home", str(settings.home), "backfill", "--from-dir",
                                     str(root), "--no-progress"])
    assert "0 new articles" in again.output and "37 done before" in again.output
    wrong = CliRunner().invoke(cli, ["--home", str(settings.home), "backfill"])
    assert wrong.exit_code != 0 and "--from-dir" in wrong.output


def test_repeated_items_are_cut_before_parsing_without_changing_entries(settings,
                                                                          tmp_path: Path) -> None:
    """Snapshots repeat most items: those are cut out of the bytes before parsing. A
    document whose items do not pair up cleanly (an item tag in CDATA) is parsed whole."""
    from monitor.backfill.archive import _item_blocks

    root = tmp_path / "cuts"
    root.mkdir()
    for i in range(3, 12):
        (root / f"feed_2025-03-01T{i:02d}00Z.xml").write_bytes(rss_snapshot(i, window=4))
    tricky = rss_snapshot(13, window=4).replace(
        b"<description>&lt;p&gt;Report number 13",
        b"<description><![CDATA[<item>not an item</item>]]> Report number 13")
    (root / "feed_2025-03-01T1300Z.xml").write_bytes(tricky)
    assert len(_item_blocks(rss_snapshot(5, window=4))) == 4
    assert _item_blocks(tricky) == []  # a tag inside CDATA nests: nothing is cut

    summary = backfill_dir(settings, root)
    assert summary.entries == 10 * 4  # repeated items still count as entries read
    with warehouse.reader(settings) as con:
        rows = con.execute("SELECT title, summary, published_at FROM articles"
                           " ORDER BY published_at").fetchall()
    assert [r[0] for r in rows] == [f"Moscow and Tokyo talks, round {j}"
                                    for j in range(14)]
    assert rows[0][1] == "Report number 0 on Russia and Japan."
    assert rows[-1][1] == "not an item Report number 13 on Russia and Japan."
    assert all(r[2] == BASE + timedelta(hours=int(r[0].rsplit(" ", 1)[1])) for r in rows)


def test_the_run_is_recorded_in_ingest_runs(settings, archive) -> None:
    root, expected = archive
    summary = backfill_dir(settings, root)
    with warehouse.reader(settings) as con:
        rows = con.execute("SELECT run_id, via, health, sources_planned, sources_ok,"
                           " sources_failed, articles_new FROM ingest_runs").fetchall()
    # Counts are files: the bad ones are failures, the rest answered: degraded, not blind.
    assert rows == [(summary.run_id, "backfill_archive", "degraded", expected["files"],
                     expected["files"] - expected["bad"], expected["bad"],
                     summary.articles_new)]


def test_a_bug_reading_one_file_costs_that_file_only_and_it_is_read_again(
        settings, archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a bug would: parsing one file raises, and so does making the records of another
    outlet's entries. Each is that file's error, the rest is stored, and the next run (the
    bug fixed) reads both again and loses nothing."""
    from monitor.backfill import archive as module

    root, expected = archive
    bug_in_parsing(monkeypatch, module, b"round 3</title>")
    bug_in_records(monkeypatch, "archive-example-blog", "a record bug")
    first = backfill_dir(settings, root)
    errors = dict(first.errors)
    assert any(e == "internal error reading the file: RuntimeError: a parse bug"
               for e in errors.values())
    assert any(e == "internal error reading the feed: RuntimeError: a record bug"
               for e in errors.values())
    assert first.files_failed > expected["bad"]
    assert first.files_ok + first.files_failed == expected["files"]
    stored = _articles(settings)
    assert 0 < len(stored) < expected["articles"]
    assert "archive-example-blog" not in {r[5] for r in stored}

    monkeypatch.undo()  # the bugs fixed
    second = backfill_dir(settings, root)
    # The files the bugs cost are read again; the bad ones were reported before.
    assert second.files_ok == first.files_failed - expected["bad"]
    assert (second.files_failed, second.files_bad_before) == (0, expected["bad"])
    rows = _articles(settings)
    assert len(rows) == expected["articles"] == len({r[0] for r in rows})
