"""Clear errors instead of tracebacks in ``monitor digest`` and ``monitor trends`` (issue 13,
item 5): a preview into a missing folder, and unknown topic/dyad ids refused alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import warehouse
from monitor.cli import cli
from monitor.settings import Settings


@pytest.fixture
def ready(settings: Settings, home: Path) -> Path:
    with warehouse.writer(settings):
        pass  # an empty, migrated warehouse
    return home


def test_preview_into_a_missing_folder_names_it(ready: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "x.html"
    result = CliRunner().invoke(cli, ["--home", str(ready), "digest", "--date", "2026-11-20",
                                      "--preview", str(target)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"the folder {target.parent} does not exist" in result.output
    assert not target.parent.exists()  # not created behind the user's back


@pytest.mark.parametrize("args", [
    ["digest", "--date", "2026-11-20", "--preview", "{out}", "--topics", "energy,bogus"],
    ["trends", "--topic", "bogus"],
], ids=["digest-topics", "trends-topic"])
def test_unknown_topic_is_refused_alike(ready: Path, tmp_path: Path, args: list[str]) -> None:
    args = [a.replace("{out}", str(tmp_path / "d.html")) for a in args]
    result = CliRunner().invoke(cli, ["--home", str(ready), *args])
    assert result.exit_code == 1, result.output
    assert "unknown topic bogus; valid topics: kurils, eaeu_bri, sanctions" in result.output
    assert not (tmp_path / "d.html").exists()


def test_unknown_dyad_lists_the_valid_ones(ready: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(ready), "trends", "--dyad", "bogus"])
    assert result.exit_code == 1
    assert "unknown dyad bogus; valid dyads: russia_japan, russia_china" in result.output


def test_known_topic_filter_still_previews(ready: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.html"
    result = CliRunner().invoke(cli, ["--home", str(ready), "digest", "--date", "2026-11-20",
                                      "--preview", str(out), "--topics", "energy, kurils"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
