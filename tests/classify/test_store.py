"""Warehouse side: predictions upserted per model version, human labels, train, reclassify."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from monitor import warehouse
from monitor.classify import load_classifier, reclassify, retrain, store_predictions
from monitor.cli import cli

ARTICLES = [
    ("a-kurils", "Japan protests Russian drills on Kuril islands",
     "Japan lodged a protest with Russia after Russian troops held drills on Iturup. Tokyo "
     "calls the islands the Northern Territories and wants a peace treaty."),
    ("a-gas", "Gazprom ships more gas to China",
     "Russia and China agreed to raise deliveries through the Power of Siberia pipeline. "
     "Gazprom and CNPC signed the contract in Beijing."),
    ("a-quake", "Earthquake off the Kurils",
     "A magnitude 6 earthquake struck off the Kuril Islands. Japan said there was no tsunami "
     "threat."),
]


def _seed_articles(settings):
    with warehouse.writer(settings) as con:
        for aid, title, body in ARTICLES:
            con.execute(
                "INSERT INTO articles (article_id, entry_key, title, body, first_seen_at)"
                " VALUES (?, ?, ?, ?, ?)", [aid, aid, title, body, datetime(2026, 1, 1)])


def test_store_predictions_is_an_idempotent_upsert(settings):
    clf = load_classifier(settings)
    preds = clf.classify([{"id": a, "title": t, "text": b} for a, t, b in ARTICLES])
    with warehouse.writer(settings) as con:
        con.execute("BEGIN")
        assert store_predictions(con, preds) == 3
        assert store_predictions(con, preds) == 3
        con.execute("COMMIT")
        rows = con.execute("SELECT article_id, relevant, dyads, topics, model_version,"
                           " evidence FROM classifications ORDER BY 1").fetchall()
    assert len(rows) == 3
    by_id = {r[0]: r for r in rows}
    assert by_id["a-kurils"][1] and "kurils" in by_id["a-kurils"][3]
    assert by_id["a-gas"][2] == ["russia_china"]
    assert not by_id["a-quake"][1]
    assert by_id["a-gas"][4] == clf.version
    assert json.loads(by_id["a-gas"][5])["russia_china"]


def test_label_command_validates_and_stores(settings, home):
    _seed_articles(settings)
    runner = CliRunner()
    ok = runner.invoke(cli, ["--home", str(home), "label", "a-gas", "--relevant", "yes",
                             "--dyads", "russia_china", "--topics", "energy", "--who", "ann"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(cli, ["--home", str(home), "label", "a-gas", "--relevant", "yes",
                              "--topics", "energy"])
    assert bad.exit_code == 1 and "needs at least one dyad" in bad.output
    unknown = runner.invoke(cli, ["--home", str(home), "label", "a-gas", "--relevant", "yes",
                                  "--dyads", "russia_japan", "--topics", "weather"])
    assert unknown.exit_code == 1 and "unknown topic weather; valid topics: kurils" in unknown.output
    bad_dyad = runner.invoke(cli, ["--home", str(home), "label", "a-gas", "--relevant", "yes",
                                   "--dyads", "russia_mars"])
    assert bad_dyad.exit_code == 1
    assert "unknown dyad russia_mars; valid dyads: russia_japan, russia_china" in bad_dyad.output
    missing = runner.invoke(cli, ["--home", str(home), "label", "nope", "--relevant", "no"])
    assert missing.exit_code == 1 and "no article" in missing.output
    with warehouse.reader(settings, primary=True) as con:
        rows = con.execute("SELECT article_id, relevant, dyads, topics, who FROM labels"
                           ).fetchall()
    assert rows == [("a-gas", True, ["russia_china"], ["energy"], "ann")]


@pytest.mark.slow
def test_retrain_records_models_and_reclassify_uses_promoted(settings):
    _seed_articles(settings)
    with warehouse.writer(settings) as con:
        from monitor.classify.store import add_label

        con.execute("BEGIN")
        add_label(con, "a-quake", False, [], [], "tester")
        add_label(con, "a-gas", True, ["russia_china"], ["energy"], "tester")
        con.execute("COMMIT")
    result = retrain(settings)
    assert result["training"]["human"] == 2
    assert result["judged_on"] == "human labels"
    assert result["promoted"] is False and "at least 30" in result["reason"]
    assert set(result["candidate_scores"]) >= {"relevance_f1", "dyad_f1", "topic_micro_f1"}
    with warehouse.reader(settings, primary=True) as con:
        models = con.execute("SELECT version, promoted FROM models").fetchall()
    assert {v for v, _ in models} == {result["candidate"], result["current"]}
    assert sum(p for _, p in models) == (1 if result["promoted"] else 0)

    n = reclassify(settings, since=datetime(2025, 12, 31))
    assert n == 3
    expected = load_classifier(settings).version
    with warehouse.reader(settings, primary=True) as con:
        versions = {r[0] for r in con.execute(
            "SELECT model_version FROM current_classifications").fetchall()}
    assert versions == {expected}
    assert reclassify(settings, since=datetime(2030, 1, 1)) == 0


@pytest.mark.slow
def test_retrain_promotes_only_when_enough_human_labels_and_no_worse(settings):
    from pathlib import Path

    from monitor.classify.store import add_label

    gold = [json.loads(line) for line in
            (Path(__file__).parent / "gate.jsonl").read_text("utf-8").splitlines()]
    with warehouse.writer(settings) as con:
        con.execute("BEGIN")
        for g in gold:
            con.execute(
                "INSERT INTO articles (article_id, entry_key, title, body, first_seen_at)"
                " VALUES (?, ?, ?, ?, ?)", [g["id"], g["id"], g["title"], g["text"],
                                            datetime(2026, 1, 1)])
            add_label(con, g["id"], g["relevant"], g["dyads"], g["topics"], "tester")
        con.execute("COMMIT")
    result = retrain(settings)
    assert result["n_judged"] == len(gold) >= 30
    better = (sum(result["candidate_scores"][k] for k in ("relevance_f1", "dyad_f1",
                                                         "topic_micro_f1", "topic_macro_f1"))
              >= sum(result["current_scores"][k] for k in ("relevance_f1", "dyad_f1",
                                                          "topic_micro_f1", "topic_macro_f1")))
    assert result["promoted"] is better
    current = load_classifier(settings).version
    assert current == (result["candidate"] if better else result["current"])
