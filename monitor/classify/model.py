"""The classifier: rule evidence and a logistic model combined, with evidence and a version.

Scores per label are probabilities::

    p_rule  = sigmoid(slope * (rule_score - threshold))        # rules.py, calibrated slope
    p_model = logistic regression over the rule features       # learned, see train.py
    p       = (1 - blend) * p_rule + blend * p_model

and a label is given when ``p >= 0.5``; topics only when the article is relevant. ``blend`` and
the model's weights are part of the saved model file, so a retrain that learns from human
labels can shift weight towards the model when it earns it (see :func:`train.retrain`).

A model is one small JSON file (weights as numbers, no pickle): fast to load, diffable, safe
to ship in ``seeds/model/``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify.lexicon import Lexicon, build_lexicon
from monitor.classify.rules import (
    FEATURE_NAMES,
    RULE_THRESHOLDS,
    Analysis,
    analyse,
    rule_scores,
)
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS, Taxonomy, load_taxonomy
from monitor.settings import REPO_ROOT, Settings

__all__ = [
    "LABELS",
    "Prediction",
    "ModelParams",
    "Classifier",
    "load_classifier",
    "feature_matrix",
    "SHIPPED_MODEL",
]

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = DYAD_IDS + TOPIC_IDS
#: The seed-bootstrapped model that ships with the repository.
SHIPPED_MODEL = REPO_ROOT / "seeds" / "model" / "seed-model.json"
#: Sentences of evidence kept per label, and their length.
MAX_EVIDENCE = 3
EVIDENCE_CHARS = 280


@dataclass
class Prediction:
    """One article's labels; ``to_json()`` is the line ``monitor classify`` prints."""

    id: Any
    relevant: bool
    dyads: list[str]
    topics: list[str]
    scores: dict[str, float]
    evidence: dict[str, list[str]]
    model_version: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelParams:
    """What a model file holds. ``weights[label]`` pairs with ``feature_names``."""

    version: str
    taxonomy_digest: str
    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    weights: dict[str, list[float]]
    intercepts: dict[str, float]
    rule_slope: dict[str, float]
    blend: float = 0.3
    trained_at: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> ModelParams:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _transform(f: dict[str, float]) -> list[float]:
    """Counts grow with article length; log1p keeps a long article from dominating."""
    return [math.log1p(max(f.get(name, 0.0), 0.0)) for name in FEATURE_NAMES]


def feature_matrix(analyses: list[Analysis]) -> np.ndarray:
    return np.array([_transform(a.features) for a in analyses], dtype=float).reshape(
        len(analyses), len(FEATURE_NAMES))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class Classifier:
    """Classifies articles; built once (taxonomy, lexicon, weights), used for many batches."""

    def __init__(self, taxonomy: Taxonomy, params: ModelParams | None,
                 lexicon: Lexicon | None = None) -> None:
        self.taxonomy = taxonomy
        self.lexicon = lexicon or build_lexicon(taxonomy)
        self.params = params
        self.version = params.version if params else f"rules-{taxonomy.digest}"
        self._w: np.ndarray | None = None
        if params is not None:
            if params.feature_names != FEATURE_NAMES:
                log.warning("model version=%s has other features; using rules only",
                            params.version)
                self.params = None
            else:
                self._mean = np.array(params.mean)
                self._scale = np.array(params.scale)
                self._w = np.array([params.weights[label] for label in LABELS])
                self._b = np.array([params.intercepts[label] for label in LABELS])

    # -- scoring -------------------------------------------------------------------------
    def probabilities_batch(self, analyses: list[Analysis]) -> list[dict[str, float]]:
        """Calibrated probability per label for each analysis (one matrix product)."""
        slope = self.params.rule_slope if self.params else {}
        rules = [rule_scores(a.features) for a in analyses]
        out = [{k: _sigmoid(slope.get(k, 2.0) * (raw[k] - RULE_THRESHOLDS[k])) for k in LABELS}
               for raw in rules]
        if self._w is None or self.params is None or self.params.blend <= 0 or not analyses:
            return out
        x = (feature_matrix(analyses) - self._mean) / self._scale
        z = np.clip(x @ self._w.T + self._b, -30, 30)
        p_model = 1.0 / (1.0 + np.exp(-z))
        blend = self.params.blend
        for row, probs in zip(p_model.tolist(), out, strict=True):
            for i, label in enumerate(LABELS):
                probs[label] = (1 - blend) * probs[label] + blend * row[i]
        return out

    def _prediction(self, item: dict[str, Any], analysis: Analysis,
                    probs: dict[str, float]) -> Prediction:
        dyads = [d for d in DYAD_IDS if probs[d] >= 0.5]
        relevant = bool(dyads)
        topics = [t for t in TOPIC_IDS if relevant and probs[t] >= 0.5]
        scores = {k: round(v, 4) for k, v in probs.items()}
        scores["relevant"] = round(max(probs[d] for d in DYAD_IDS), 4)
        return Prediction(id=item.get("id"), relevant=relevant, dyads=dyads, topics=topics,
                          scores=scores, evidence=self.evidence(analysis, dyads, topics),
                          model_version=self.version)

    @staticmethod
    def _texts(item: dict[str, Any]) -> tuple[str, str]:
        title, text = item.get("title") or "", item.get("text") or ""
        return (title if isinstance(title, str) else str(title),
                text if isinstance(text, str) else str(text))

    def predict_one(self, item: dict[str, Any]) -> Prediction:
        return self.classify([item])[0]

    def classify(self, items: list[dict[str, Any]]) -> list[Prediction]:
        """One prediction per item, in order. Never raises: a broken item gets a
        not-relevant prediction whose evidence says what went wrong."""
        results: list[Prediction | None] = [None] * len(items)
        ok: list[tuple[int, Analysis]] = []
        for i, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise TypeError(f"expected an object, got {type(item).__name__}")
                ok.append((i, analyse(self.lexicon, *self._texts(item))))
            except Exception as exc:  # one bad article must not sink the batch
                results[i] = self._failed(item, exc)
        try:
            probs = self.probabilities_batch([a for _, a in ok])
        except Exception as exc:  # e.g. a corrupt model file: fall back to rules only
            log.warning("model scoring failed (%s); using rules only", exc, exc_info=True)
            probs = Classifier(self.taxonomy, None, self.lexicon).probabilities_batch(
                [a for _, a in ok])
        for (i, analysis), p in zip(ok, probs, strict=True):
            try:
                results[i] = self._prediction(items[i], analysis, p)
            except Exception as exc:
                results[i] = self._failed(items[i], exc)
        return [r for r in results if r is not None]

    def _failed(self, item: Any, exc: Exception) -> Prediction:
        item_id = item.get("id") if isinstance(item, dict) else None
        log.warning("classify failed id=%r: %s", item_id, exc, exc_info=True)
        return Prediction(id=item_id, relevant=False, dyads=[], topics=[], scores={},
                          evidence={"error": [f"{type(exc).__name__}: {exc}"]},
                          model_version=self.version)

    # -- evidence ------------------------------------------------------------------------
    def evidence(self, analysis: Analysis, dyads: list[str],
                 topics: list[str]) -> dict[str, list[str]]:
        """The sentences that decided each given label, with the matched terms in brackets."""
        ev: dict[str, list[str]] = {}
        sents = analysis.sentences
        inter = analysis.hits.get("interaction", {})
        for dyad in dyads:
            a, b = ("russia", "japan") if dyad == "russia_japan" else ("russia", "china")
            ha, hb = analysis.hits.get(f"actor:{a}", {}), analysis.hits.get(f"actor:{b}", {})
            co = sorted(set(ha) & set(hb), key=lambda i: (i not in inter, i))
            ev[dyad] = [_cite(sents[i], [ha[i], hb[i]] + ([inter[i]] if i in inter else []))
                        for i in co[:MAX_EVIDENCE]]
        for t in topics:
            hits = analysis.hits.get(f"topic:{t}", {})
            ev[t] = [_cite(sents[i], [hits[i]]) for i in sorted(hits)[:MAX_EVIDENCE]]
        return ev


def _cite(sentence: str, terms: list[str]) -> str:
    text = sentence if len(sentence) <= EVIDENCE_CHARS else sentence[:EVIDENCE_CHARS] + "…"
    return f"[{', '.join(dict.fromkeys(terms))}] {text}"


def _current_model_path(settings: Settings) -> Path | None:
    pointer = settings.models_dir / "CURRENT"
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    path = settings.models_dir / f"{version}.json"
    return path if path.exists() else None


def load_classifier(settings: Settings) -> Classifier:
    """The promoted model from ``MONITOR_HOME/models``, else the shipped seed model, else a
    seed model built now (a few seconds) and saved, so a fresh install just works."""
    started = time.perf_counter()
    taxonomy = load_taxonomy(settings.topics_file)
    path = _current_model_path(settings)
    if path is None and SHIPPED_MODEL.exists():
        path = SHIPPED_MODEL
    params = None
    if path is not None:
        try:
            params = ModelParams.load(path)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("model file %s unreadable (%s); rebuilding the seed model", path, exc)
    if params is not None and params.taxonomy_digest != taxonomy.digest:
        log.info("model version=%s was trained on another topics.toml (%s != %s)",
                 params.version, params.taxonomy_digest, taxonomy.digest)
    if params is None:
        from monitor.classify.train import build_seed_model

        params = build_seed_model(taxonomy)
        try:
            saved = params.save(settings.models_dir / f"{params.version}.json")
            (settings.models_dir / "CURRENT").write_text(params.version + "\n", encoding="utf-8")
            log.info("built seed model version=%s path=%s", params.version, saved)
        except OSError as exc:
            log.warning("could not save the seed model: %s", exc)
    clf = Classifier(taxonomy, params)
    log.debug("classifier loaded version=%s seconds=%.3f", clf.version,
              time.perf_counter() - started)
    return clf
