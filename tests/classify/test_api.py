"""The Python surface other pieces code against: load_classifier, classify, is_candidate."""

from __future__ import annotations

import pytest

import monitor.classify.load as model_module
from monitor.classify import Prediction, is_candidate, load_classifier


@pytest.mark.parametrize(("title", "summary", "expected"), [
    ("Putin and Xi meet in Beijing", "", True),
    ("Japan protests to Moscow", "Tokyo summoned the envoy.", True),
    ("Grave visits to Kunashir resume", "", True),  # the Kurils alone are worth a look
    ("Gazprom raises Power of Siberia flows", "", True),  # Russia + an energy term
    ("Путин встретился с Си Цзиньпином", "", True),
    ("日露首脳会談", "", True),
    ("Toyota raises profit forecast", "Weak yen helps exporters.", False),
    ("Japan and China leaders meet at APEC", "", False),
    ("", "", False),
], ids=lambda v: str(v)[:30])
def test_is_candidate(title, summary, expected):
    assert is_candidate(title, summary) is expected


def test_is_candidate_never_raises():
    assert is_candidate(None, None) is False  # type: ignore[arg-type]
    assert isinstance(is_candidate("\x00" * 10, "<b>" * 1000), bool)


def test_classify_never_raises_and_keeps_order(settings):
    clf = load_classifier(settings)
    items = [{"id": 1, "title": "Russia and China hold naval drills", "text": "x"},
             "not a dict", None, {"id": 4}]
    preds = clf.classify(items)  # type: ignore[arg-type]
    assert [p.id for p in preds] == [1, None, None, 4]
    assert all(isinstance(p, Prediction) for p in preds)
    assert "error" in preds[1].evidence and not preds[1].relevant
    assert preds[0].to_json()["model_version"] == clf.version


@pytest.mark.slow
def test_seed_model_built_on_first_use_without_shipped_file(settings, monkeypatch, tmp_path):
    monkeypatch.setattr(model_module, "SHIPPED_MODEL", tmp_path / "missing.json")
    clf = load_classifier(settings)
    assert clf.version.startswith("seed-")
    assert (settings.models_dir / "CURRENT").read_text().strip() == clf.version
    assert (settings.models_dir / f"{clf.version}.json").exists()
    pred = clf.classify([{"id": "k", "title": "Japan protests Russian drills on Kuril islands",
                          "text": "Tokyo lodged a protest with Moscow over drills on Iturup."}])
    assert pred[0].dyads == ["russia_japan"]
    # second load reads the saved file instead of training again
    assert load_classifier(settings).version == clf.version
