"""The weekly retrain: train a candidate on seed, weak and human labels, judge it against the
current model, promote it only when it is no worse, and record both in ``models``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np

from monitor import warehouse
from monitor.classify.evaluate import score
from monitor.classify.lexicon import build_lexicon
from monitor.classify.load import load_classifier
from monitor.classify.model import LABELS, Classifier
from monitor.classify.store import human_labelled, record_model, unlabelled_texts
from monitor.classify.topics import load_taxonomy
from monitor.classify.train import (
    MAX_WEAK,
    MIN_JUDGED_FOR_PROMOTION,
    WEAK_CONFIDENCE,
    _analyse_all,
    _choose_blend,
    _predict,
    fit_params,
    overall,
    seed_training_items,
    synthetic_weights,
)
from monitor.settings import Settings

__all__ = ["retrain"]

log = logging.getLogger(__name__)


def retrain(settings: Settings) -> dict[str, Any]:
    """Train a candidate (seed + weak + human labels), evaluate it and the current model on
    the labelled data available, promote the candidate only if it is no worse, and record
    both in ``models``. Returns the scores and the decision."""
    taxonomy = load_taxonomy(settings.topics_file)
    lexicon = build_lexicon(taxonomy)
    current = load_classifier(settings)
    with warehouse.reader(settings, primary=True) as con:
        human = human_labelled(con)
        texts = unlabelled_texts(con, limit=MAX_WEAK)
    base = seed_training_items(taxonomy, lexicon)
    weak = _weak_labels(current, texts, exclude={h["id"] for h in human})
    blend = _choose_blend(taxonomy, lexicon, base + weak, human)
    items = base + weak + human
    weights = np.concatenate([
        synthetic_weights(len(base), len(weak) + len(human))[: len(base)],
        np.full(len(weak), 0.5), np.full(len(human), 3.0)])
    version = "m" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    candidate_params = fit_params(_analyse_all(lexicon, items), items, version=version,
                                  taxonomy=taxonomy, blend=blend, sample_weight=weights,
                                  note=f"synthetic={len(base)} weak={len(weak)} "
                                       f"human={len(human)}")
    candidate = Classifier(taxonomy, candidate_params, lexicon)
    # Judge on human labels when there are any, else on our synthetic set (a sanity check).
    judge, judged_on = (human, "human labels") if human else (base, "synthetic articles")
    cand_report = score(judge, _predict(candidate, judge))
    curr_report = score(judge, _predict(current, judge))
    if len(human) < MIN_JUDGED_FOR_PROMOTION:
        promote = False
        reason = (f"not promoted: {len(human)} human label(s), at least "
                  f"{MIN_JUDGED_FOR_PROMOTION} are needed to judge a new model")
    elif overall(cand_report) >= overall(curr_report):
        promote, reason = True, "promoted: no worse than the current model on human labels"
    else:
        promote, reason = False, "not promoted: worse than the current model on human labels"
    candidate_params.metrics = {"judged_on": judged_on, "n": len(judge),
                                **cand_report.headline()}
    path = candidate_params.save(settings.models_dir / f"{version}.json")
    if promote:
        (settings.models_dir / "CURRENT").write_text(version + "\n", encoding="utf-8")
    with warehouse.writer(settings) as con:
        record_model(con, current.version, None, {"judged_on": judged_on, "n": len(judge),
                                                  **curr_report.headline()},
                     promoted=None, note="current model at retrain time")
        record_model(con, version, str(path), candidate_params.metrics, promoted=promote,
                     note=candidate_params.note)
    log.info("retrain candidate=%s promoted=%s", version, promote)
    return {
        "candidate": version,
        "current": current.version,
        "promoted": promote,
        "reason": reason,
        "judged_on": judged_on,
        "n_judged": len(judge),
        "training": {"synthetic": len(base), "weak": len(weak), "human": len(human)},
        "blend": blend,
        "candidate_scores": cand_report.headline(),
        "current_scores": curr_report.headline(),
    }


def _weak_labels(clf: Classifier, texts: list[dict[str, Any]],
                 exclude: set[str]) -> list[dict[str, Any]]:
    """Warehouse articles labelled by the current model where every label is clear-cut."""
    items = [t for t in texts if t["id"] not in exclude]
    out = []
    for item, pred in zip(items, clf.classify(items), strict=True):
        probs = [pred.scores.get(k, 0.5) for k in LABELS]
        if not pred.scores or any(1 - WEAK_CONFIDENCE < p < WEAK_CONFIDENCE for p in probs):
            continue
        out.append({**item, "relevant": pred.relevant, "dyads": pred.dyads,
                    "topics": pred.topics})
    return out
