"""``monitor classify`` and ``monitor evaluate`` through the real CLI, fed bad input.

Every case ends with exit code 0 and one output line per usable input line: a bad line is
reported on stderr with its line number, never a crash of the batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli

HERE = Path(__file__).parent
GOOD = {"id": "ok-1", "title": "Japan protests Russian drills on disputed Kuril islands",
        "text": "Japan lodged a protest with Russia after Russian troops held drills on "
                "Iturup and Kunashir, islands Tokyo calls the Northern Territories."}
FIELDS = {"id", "relevant", "dyads", "topics", "scores", "evidence", "model_version"}


def run(home: Path, lines: list[str] | bytes, *args: str):
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "classify", *args], input=data)
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, out


def test_good_line_has_exact_fields(home):
    result, out = run(home, [json.dumps(GOOD)])
    assert result.exit_code == 0, result.output
    assert len(out) == 1 and set(out[0]) == FIELDS
    assert out[0]["relevant"] is True and out[0]["dyads"] == ["russia_japan"]
    assert "kurils" in out[0]["topics"]
    assert out[0]["evidence"]["kurils"] and out[0]["model_version"]
    assert all(0.0 <= v <= 1.0 for v in out[0]["scores"].values())


@pytest.mark.parametrize("item", [
    {"id": "empty", "title": "", "text": ""},
    {"id": "blank", "title": "  ", "text": "\n\t  \n"},
    {"id": "title-only", "title": "Putin and Xi sign gas pipeline deal in Beijing"},
    {"id": "nulls", "title": None, "text": None},
    {"id": "numbers", "title": 12, "text": 3.5},
    {"id": "html", "title": "<b>Russia</b>",
     "text": "<html><script>alert('x')</script><p>Russia &amp; China held "
             "<i>joint</i> naval drills.</p></html>"},
    {"id": "binary", "title": "", "text": "\x00\x01\x02\ufffd\x7f" * 1000},
    {"id": "thai", "title": "", "text": "ภาษาไทย การท่องเที่ยว การลงทุน " * 50},
    {"id": "no-text-field"},
], ids=lambda i: i["id"])
def test_odd_items_get_a_sensible_result(home, item):
    result, out = run(home, [json.dumps(item, ensure_ascii=False)])
    assert result.exit_code == 0, result.output
    assert len(out) == 1 and out[0]["id"] == item["id"] and set(out[0]) == FIELDS


def test_title_only_can_still_be_relevant(home):
    _, out = run(home, [json.dumps({"id": "t", "title": "Japan protests to Russia over "
                                    "drills on disputed Kuril islands"})])
    assert out[0]["dyads"] == ["russia_japan"]


def test_five_megabytes_of_text(home):
    text = ("Russia and China signed a gas deal. Gazprom will supply CNPC. " * 80_000)[:5_000_000]
    result, out = run(home, [json.dumps({"id": "big", "title": "", "text": text})])
    assert result.exit_code == 0
    assert out[0]["id"] == "big" and out[0]["dyads"] == ["russia_china"]


def test_invalid_lines_reported_with_line_number_others_processed(home):
    lines = [json.dumps(GOOD), "{not json", "[1, 2]", "", json.dumps({**GOOD, "id": "ok-2"}),
             '"a string"']
    result, out = run(home, lines)
    assert result.exit_code == 0
    assert [o["id"] for o in out] == ["ok-1", "ok-2"]
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: expected a JSON object" in result.stderr
    assert "line 6: expected a JSON object" in result.stderr


def test_invalid_utf8_bytes(home):
    data = json.dumps(GOOD).encode() + b"\n" + b'{"id": "bad", "text": "\xff\xfe\x80"}\n'
    result, out = run(home, data)
    assert result.exit_code == 0
    assert [o["id"] for o in out] == ["ok-1", "bad"]


def test_every_line_skipped_exits_non_zero_with_a_summary(home):
    result, out = run(home, ["{not json", "[1, 2]", "", '"a string"'])
    assert result.exit_code == 1 and out == []
    assert "nothing classified: all 3 input line(s) were skipped" in result.stderr
    assert "line 1: not valid JSON" in result.stderr


def test_some_lines_skipped_still_exit_zero_and_say_how_many(home):
    result, out = run(home, [json.dumps(GOOD), "{not json"])
    assert result.exit_code == 0 and len(out) == 1
    assert "1 line(s) classified, 1 skipped" in result.stderr


def test_duplicate_ids_reported_and_classified(home):
    result, out = run(home, [json.dumps(GOOD), json.dumps(GOOD)])
    assert result.exit_code == 0 and len(out) == 2
    assert "line 2: duplicate id 'ok-1'" in result.stderr


def test_evaluate_prints_scores_and_reports_bad_lines(home, tmp_path):
    gold = tmp_path / "gold.jsonl"
    lines = (HERE / "gate.jsonl").read_text("utf-8").splitlines()[:6]
    gold.write_text("\n".join(lines + ["{broken"]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--home", str(home), "evaluate", str(gold)])
    assert result.exit_code == 0, result.output
    assert "relevance F1" in result.stdout and "topics (micro)" in result.stdout
    assert "line 7: not valid JSON" in result.stderr


@pytest.mark.parametrize("command", ["classify", "evaluate", "label", "train", "reclassify"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
