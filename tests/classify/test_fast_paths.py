"""The classifier's fast paths give exactly what the straightforward code gives.

Each speed-up of the classifier (whole-batch scoring, features computed only for categories
with hits, sentences skipped by the matcher, one ``re.split`` for sentences, a plain dict for
``to_json``) is checked here against a reference written the plain way: equality, not
closeness, because stored scores and labels must not move when the code gets faster.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from monitor.classify import LABELS, load_classifier
from monitor.classify.model import Prediction, _gc_paused, _sigmoid, feature_matrix
from monitor.classify.rules import (
    ACTORS,
    DYAD_ACTORS,
    FEATURE_NAMES,
    LEAD_SENTENCES,
    NEGATIVE_KINDS,
    RULE_THRESHOLDS,
    _pairs,
    _sentences,
    analyse,
    rule_score_matrix,
    rule_scores,
    split_sentences,
    sport_veto,
)
from monitor.classify.synthetic import synthetic_articles
from monitor.classify.topics import TOPIC_IDS

HERE = Path(__file__).parent
GATE = [json.loads(line) for line in (HERE / "gate.jsonl").read_text("utf-8").splitlines()
        if line.strip()]


def _corpus() -> list[dict]:
    """Gate and synthetic articles, plus every headline alone and two stories run together
    (several dyads and topics in one text)."""
    items = GATE + synthetic_articles()
    extra = [{"id": f"t{i}", "title": a["title"], "text": ""} for i, a in enumerate(items)]
    extra += [{"id": f"m{i}", "title": a["title"], "text": a["text"] + "\n" + b["text"]}
              for i, (a, b) in enumerate(zip(items, items[7:], strict=False))]
    return items + extra


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    from monitor.settings import load_settings

    return load_classifier(load_settings(home=tmp_path_factory.mktemp("fast-home"), env={}))


def _reference_features(a, tokens: dict[str, list[tuple[int, int, str]]]) -> dict[str, float]:
    """The features as first written: every category, every time."""
    f: dict[str, float] = {"n_sentences": float(len(a.sentences))}
    n, title = len(a.sentences), a.has_title
    sets = {c: set(h) for c, h in a.hits.items()}
    inter = sets.get("interaction", set())
    actor = {x: sets.get(f"actor:{x}", set()) for x in ACTORS}
    for x, s in actor.items():
        f[f"{x}_sentences"] = float(len(s))
        f[f"{x}_title"] = float(title and 0 in s)
        f[f"{x}_mentions"] = float(len(tokens.get(x, ())))
    lead = set(range(int(title), int(title) + LEAD_SENTENCES))
    any_dyad: set[int] = set()
    for dyad, (x, y) in DYAD_ACTORS.items():
        co = actor[x] & actor[y]
        any_dyad |= actor[x] | actor[y]
        f[f"{dyad}_co"] = float(len(co))
        f[f"{dyad}_co_int"] = float(len(co & inter))
        f[f"{dyad}_pairs"] = float(len(_pairs(tokens.get(x, []), tokens.get(y, []))))
        f[f"{dyad}_title"] = float(title and 0 in co)
        f[f"{dyad}_title_one"] = float(title and (0 in actor[x] or 0 in actor[y]))
        f[f"{dyad}_lead"] = float(len(co & lead))
        f[f"{dyad}_min_sents"] = float(min(len(actor[x]), len(actor[y])))
        f[f"{dyad}_co_share"] = len(co) / n if n else 0.0
        near = {i for i in actor[x] if (i + 1) in actor[y] or (i - 1) in actor[y]}
        f[f"{dyad}_near"] = float(len(near - co))
    for kind in NEGATIVE_KINDS:
        f[f"neg_{kind}"] = float(len(sets.get(f"neg:{kind}", ())))
    top = max(len(sets.get(f"topic:{t}", ())) for t in TOPIC_IDS) or 1
    for t in TOPIC_IDS:
        strong = sets.get(f"topic:{t}", set())
        weak = sets.get(f"weak:{t}", set()) - strong
        f[f"{t}_strong"] = float(len(strong))
        f[f"{t}_weak"] = float(len(weak))
        f[f"{t}_title"] = float(title and 0 in strong)
        f[f"{t}_with_actor"] = float(len(strong & any_dyad))
        f[f"{t}_share"] = len(strong) / n if n else 0.0
        f[f"{t}_rel"] = len(strong) / top
    return f


def _analyse_with_mentions(lexicon, title: str, text: str):
    """analyse(), and the actor mentions (after masks) it counted."""
    import monitor.classify.rules as rules

    kept: dict[str, list[tuple[int, int, str]]] = {}
    original = rules._actor_tokens

    def spy(matches, hits):
        kept.update(original(matches, hits))
        return kept

    rules._actor_tokens = spy
    try:
        return analyse(lexicon, title, text), kept
    finally:
        rules._actor_tokens = original


def test_features_equal_the_full_computation(clf):
    for item in _corpus():
        a, mentions = _analyse_with_mentions(clf.lexicon, *clf._texts(item))
        reference = _reference_features(a, mentions)
        assert a.features == reference, item.get("id")
        assert list(a.features) == FEATURE_NAMES


def test_matcher_skipping_sentences_changes_nothing(clf):
    """Sentences without a token that starts a term are skipped; processing every sentence
    must give the same matches, in the same order."""

    class Everything:
        def __rand__(self, other):
            return set(other)

    lexicon = clf.lexicon
    for item in _corpus():
        sentences = analyse(lexicon, *clf._texts(item)).sentences
        fast = lexicon.match(sentences)
        useful, lexicon._useful = lexicon._useful, Everything()
        try:
            full = lexicon.match(sentences)
        finally:
            lexicon._useful = useful
        assert list(fast.items()) == list(full.items())


def _random_features(rng: random.Random) -> dict[str, float]:
    f = {}
    for name in FEATURE_NAMES:
        r = rng.random()
        if r < 0.5:
            f[name] = 0.0
        elif r < 0.9:
            f[name] = float(rng.randint(0, 12))
        else:
            f[name] = rng.uniform(0, 9)
    return f


def test_rule_score_matrix_equals_rule_scores():
    rng = random.Random(7)
    rows = [_random_features(rng) for _ in range(3000)]
    x = np.array([[f[name] for name in FEATURE_NAMES] for f in rows])
    got = rule_score_matrix(x).tolist()
    for f, row in zip(rows, got, strict=True):
        want = rule_scores(f)
        assert row == [want[label] for label in LABELS]


def test_feature_matrix_is_log1p_of_each_feature(clf):
    analyses = [analyse(clf.lexicon, *clf._texts(item)) for item in _corpus()]
    want = np.array([[math.log1p(max(a.features.get(name, 0.0), 0.0)) for name in FEATURE_NAMES]
                     for a in analyses])
    assert np.array_equal(feature_matrix(analyses), want)


def _reference_probabilities(clf, analyses) -> list[dict[str, float]]:
    """Per article, per label, as first written (the batch matrix product aside)."""
    slope = clf.params.rule_slope if clf.params else {}
    out = [{k: _sigmoid(slope.get(k, 2.0) * (raw[k] - RULE_THRESHOLDS[k])) for k in LABELS}
           for raw in (rule_scores(a.features) for a in analyses)]
    if clf._w is None or clf.params is None or clf.params.blend <= 0:
        return out
    x = (feature_matrix(analyses) - clf._mean) / clf._scale
    p_model = 1.0 / (1.0 + np.exp(-np.clip(x @ clf._w.T + clf._b, -30, 30)))
    blend = clf.params.blend
    for row, probs in zip(p_model.tolist(), out, strict=True):
        for i, label in enumerate(LABELS):
            probs[label] = (1 - blend) * probs[label] + blend * row[i]
    return out


def test_batch_probabilities_and_predictions_equal_the_reference(clf):
    items = _corpus()
    analyses = [analyse(clf.lexicon, *clf._texts(item)) for item in items]
    reference = _reference_probabilities(clf, analyses)
    assert clf.probabilities_batch(analyses) == reference
    for item, pred, probs, analysis in zip(items, clf.classify(items), reference, analyses,
                                           strict=True):
        dyads = [d for d in ("russia_japan", "russia_china") if probs[d] >= 0.5]
        if dyads and sport_veto(analysis):  # a match between national teams: no relations
            dyads = []
        topics = [t for t in TOPIC_IDS if dyads and probs[t] >= 0.5]
        scores = {k: round(v, 4) for k, v in probs.items()}
        scores["relevant"] = round(max(probs[d] for d in DYAD_ACTORS), 4)
        assert (pred.id, pred.dyads, pred.topics, pred.scores) == (item["id"], dyads, topics,
                                                                   scores)
        assert pred.relevant is bool(dyads)


def test_duplicates_in_a_batch_get_equal_but_separate_predictions(clf):
    items = GATE[:10] + [dict(g, id=f"copy-{i}") for i, g in enumerate(GATE[:10])]
    preds = clf.classify(items)
    for a, b in zip(preds[:10], preds[10:], strict=True):
        assert {**a.to_json(), "id": None} == {**b.to_json(), "id": None}
        assert a.dyads is not b.dyads and a.topics is not b.topics
        assert a.scores is not b.scores and a.evidence is not b.evidence


@pytest.mark.parametrize("item_id", ["a1", 7, None, {"feed": "x", "n": [1, 2]}])
def test_to_json_equals_asdict(item_id):
    pred = Prediction(id=item_id, relevant=True, dyads=["russia_japan"], topics=["kurils"],
                      scores={"russia_japan": 0.9}, evidence={"kurils": ["[Iturup] …"]},
                      model_version="v")
    got = pred.to_json()
    # Every field but the clustering gate, which is not part of the printed line.
    expected = dataclasses.asdict(pred)
    assert expected.pop("candidate") is True
    assert got == expected
    got["dyads"].append("x")
    got["evidence"]["kurils"].append("y")
    assert pred.dyads == ["russia_japan"] and pred.evidence["kurils"] == ["[Iturup] …"]
    if isinstance(item_id, dict):
        assert got["id"] is not item_id


def _reference_sentences(text: str) -> list[str]:
    return [text[s:e].strip() for s, e in split_sentences(text)]


def test_sentences_equal_split_sentences():
    rng = random.Random(11)
    pieces = ["Russia", "Japan", " ", "  ", "\n", "\n\n", ".", "!", "?", "…", "。", "！", "？",
              "\"", "'", "”", "’", "»", ")", "U.S.", "中俄", "a", "\t", " . ", ".\n"]
    texts = ["", " ", "\n", ".", "a", "a. b", "。。", "x\n\ny", "end.", "“Quote.” Next"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(5000)]
    texts += [g["text"] for g in GATE] + [a["text"] for a in synthetic_articles()]
    for text in texts:
        assert _sentences(text) == _reference_sentences(text), repr(text)


def test_gc_paused_restores_the_collector():
    assert gc.isenabled()
    with _gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_prepare_text_and_dateline_equal_the_plain_substitutions():
    from monitor.classify import rules

    def reference(text: str, limit: int = rules.MAX_CHARS) -> str:
        text = text[: limit * 4]
        if "<" in text and ">" in text:
            text = rules._TAG.sub(" ", text)
        if "&" in text:
            text = rules.html.unescape(text)
        text = rules._CONTROL.sub(" ", text)
        text = rules._SPACES.sub(" ", text)
        return text[:limit].strip()

    rng = random.Random(5)
    pieces = ["a", "B", " ", "  ", "\t", "\n", "\r", "\x00", "\x07", "\x0b", "\x1f", "\x7f",
              "\ufffd", "\u00a0", "\u3000", "\u2028", "\u200b", "é", "中", "&amp;", "<b>", ">",
              "MOSCOW", "TOKYO (Reuters) -", ", March 3 ", "(Sputnik)", " -- ", "\u2014 "]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(5000)]
    texts += ["MOSCOW, March 3 (Sputnik) - Russia said", "TOKYO (Reuters) -- Japan said",
              "Not a dateline - here"]
    for text in texts:
        assert rules.prepare_text(text) == reference(text), repr(text)
        assert rules.prepare_text(text, 7) == reference(text, 7), repr(text)
        assert rules._cut_dateline(text) == rules._DATELINE.sub("", text, count=1), repr(text)
