"""Quality gate: the classifier's scores on our own labelled articles must not regress.

``gate.jsonl`` holds short articles we wrote for this project (never third-party text): every
dyad and topic, both-dyad cases, Russian/Japanese/Chinese articles and the hard negatives of
the labelling conventions (Kuril earthquakes, Japan–China rows without Russia, European gas,
Iran sanctions, sports, Russia–North Korea without Japan or China, an unsupported script).
Each line's ``note`` says what it tests. ``gate_baseline.json`` pins floors a little below the
scores when they were set (trafilatura's eval_gate habit): raise them when the classifier
improves, never lower them to make a change pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify import DYAD_IDS, TOPIC_IDS, load_classifier
from monitor.classify.evaluate import score

HERE = Path(__file__).parent
GOLD = [json.loads(line) for line in (HERE / "gate.jsonl").read_text("utf-8").splitlines()
        if line.strip()]
BASELINE = json.loads((HERE / "gate_baseline.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from monitor.settings import load_settings

    settings = load_settings(home=tmp_path_factory.mktemp("gate-home"), env={})
    clf = load_classifier(settings)
    return score(GOLD, [p.to_json() for p in clf.classify(GOLD)])


def test_gate_covers_every_label_and_language():
    labels = {lab for g in GOLD for lab in g["dyads"] + g["topics"]}
    assert labels == set(DYAD_IDS) | set(TOPIC_IDS)
    notes = " ".join(g["note"] for g in GOLD)
    for needed in ("Russian-language", "Japanese-language", "Chinese-language",
                   "Kuril earthquake", "European gas", "Iran", "sports"):
        assert needed in notes, needed


@pytest.mark.parametrize("metric", sorted(BASELINE["headline"]))
def test_headline_floor(report, metric):
    assert report.headline()[metric] >= BASELINE["headline"][metric], (
        f"{metric} fell below its floor; confusions: {report.confusions}")


@pytest.mark.parametrize("label", sorted(BASELINE["labels"]))
def test_label_floor(report, label):
    assert report.labels[label].f1 >= BASELINE["labels"][label], (
        f"{label} F1 fell below its floor; confusions: {report.confusions}")


def test_hard_negatives_stay_negative(report):
    missed = [c["id"] for c in report.confusions if c["id"].startswith("g-neg-")]
    assert not missed, f"hard negatives classified relevant: {missed}"
