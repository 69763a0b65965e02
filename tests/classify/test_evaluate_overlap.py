"""``monitor evaluate`` warns when the gold file holds items the model was trained on
(issue 13, item 6): a perfect score on training data must not pass for a result."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from monitor import warehouse
from monitor.classify.lexicon import build_lexicon
from monitor.classify.model import SHIPPED_MODEL, ModelParams
from monitor.classify.topics import load_taxonomy
from monitor.classify.train import seed_training_items
from monitor.cli import cli
from monitor.settings import Settings

#: Articles written for this test, so no model has seen them.
FRESH = [
    {"id": "fresh-1", "title": "Japanese trawlers detained near Shikotan",
     "text": "Russian border guards detained two Japanese fishing boats near Shikotan on "
             "Tuesday; Tokyo demanded the crews be released.", "relevant": True,
     "dyads": ["russia_japan"], "topics": ["kurils", "maritime"]},
    {"id": "fresh-2", "title": "Local bakery wins a prize",
     "text": "A bakery in Lyon won the regional bread prize for the third year.",
     "relevant": False, "dyads": [], "topics": []},
]


def _write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                    encoding="utf-8")
    return path


def _evaluate(home: Path, gold: Path, *args: str):
    return CliRunner().invoke(cli, ["--home", str(home), "evaluate", str(gold), *args])


def test_seed_articles_in_the_gold_file_are_flagged(settings: Settings, home: Path,
                                                    tmp_path: Path) -> None:
    taxonomy = load_taxonomy(settings.topics_file)
    seen = seed_training_items(taxonomy, build_lexicon(taxonomy))[:5]
    renamed = [{**item, "id": f"mine-{i}"} for i, item in enumerate(seen)]  # ids do not help
    result = _evaluate(home, _write(tmp_path / "gold.jsonl", renamed + FRESH))
    assert result.exit_code == 0, result.output
    assert "warning: 5 of 7 items" in result.stderr and "5 seed articles" in result.stderr
    assert "overstate" in result.stderr
    as_json = _evaluate(home, tmp_path / "gold.jsonl", "--json")
    assert json.loads(as_json.stdout)["training_overlap"] == {"seed articles": 5}


def test_fresh_gold_file_has_no_warning(settings: Settings, home: Path, tmp_path: Path) -> None:
    result = _evaluate(home, _write(tmp_path / "gold.jsonl", FRESH))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_human_labels_a_retrained_model_saw_are_flagged(settings: Settings, home: Path,
                                                        tmp_path: Path) -> None:
    from monitor.classify.store import add_label

    labelled, later = FRESH[0], {**FRESH[1], "id": "fresh-3"}
    with warehouse.writer(settings) as con:
        for item in (labelled, later):
            con.execute("INSERT INTO articles (article_id, entry_key, title, body, "
                        "first_seen_at) VALUES (?, ?, ?, ?, ?)",
                        [item["id"], item["id"], item["title"], item["text"],
                         datetime(2026, 1, 1)])
        add_label(con, labelled["id"], True, labelled["dyads"], labelled["topics"], "tester")
    # A "retrained" model promoted after that label (the seed weights under a new version).
    params = ModelParams.load(SHIPPED_MODEL)
    params.version = "m20990101000000"
    params.trained_at = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    params.save(settings.models_dir / f"{params.version}.json")
    (settings.models_dir / "CURRENT").write_text(params.version + "\n", encoding="utf-8")
    with warehouse.writer(settings) as con:  # labelled after training: not in its data
        add_label(con, later["id"], False, [], [], "tester")
        con.execute("UPDATE labels SET labelled_at = ? WHERE article_id = ?",
                    [datetime(2100, 1, 1), later["id"]])
    result = _evaluate(home, _write(tmp_path / "gold.jsonl", [labelled, later]))
    assert result.exit_code == 0, result.output
    assert "model m20990101000000" in result.stdout
    assert "warning: 1 of 2 items" in result.stderr and "1 human labels" in result.stderr
