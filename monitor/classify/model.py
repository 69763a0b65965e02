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

import contextlib
import copy
import gc
import itertools
import json
import logging
import math
import operator
from collections.abc import Iterator
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
    possibly_relevant,
    rule_score_matrix,
    sport_veto,
)
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS, Taxonomy
from monitor.settings import REPO_ROOT

__all__ = [
    "LABELS",
    "Prediction",
    "ModelParams",
    "Classifier",
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
#: ``round(p, 4)`` for every label of a row, through ``map``.
_FOURS = tuple(itertools.repeat(4, len(LABELS)))


#: Ids ``to_json`` may hand out as they are (``asdict`` would copy anything else).
_IMMUTABLE_IDS = (str, int, float, type(None))


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
    #: Possibly about Russia with Japan or China (:func:`rules.possibly_relevant`, or
    #: relevant): only such articles are clustered into stories. Not part of ``to_json``
    #: (the line ``monitor classify`` prints); True when classifying failed (errs to yes).
    candidate: bool = True

    def to_json(self) -> dict[str, Any]:
        """The fields as a new dict, like ``dataclasses.asdict`` (containers copied, so the
        caller may change them) but built directly: ``asdict`` deep-copies field by field
        through generic recursion, which cost more than classifying the article."""
        item_id = self.id
        if not isinstance(item_id, _IMMUTABLE_IDS):
            item_id = copy.deepcopy(item_id)
        return {"id": item_id, "relevant": self.relevant, "dyads": list(self.dyads),
                "topics": list(self.topics), "scores": dict(self.scores),
                "evidence": {k: list(v) for k, v in self.evidence.items()},
                "model_version": self.model_version}


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


_feature_values = operator.itemgetter(*FEATURE_NAMES)


def _raw_row(f: dict[str, float]) -> tuple[float, ...]:
    """One article's features in FEATURE_NAMES order (missing ones 0.0)."""
    try:
        return _feature_values(f)
    except KeyError:
        return tuple(f.get(name, 0.0) for name in FEATURE_NAMES)


def raw_feature_matrix(analyses: list[Analysis]) -> np.ndarray:
    """The features as counted (rows of articles, FEATURE_NAMES columns), untransformed."""
    n, width = len(analyses), len(FEATURE_NAMES)
    values = itertools.chain.from_iterable(_raw_row(a.features) for a in analyses)
    return np.fromiter(values, dtype=float, count=n * width).reshape(n, width)


def _log_features(raw: np.ndarray) -> np.ndarray:
    """Counts grow with article length; log1p keeps a long article from dominating.

    ``math.log1p`` of each positive entry, not ``np.log1p``: numpy's may differ in the last
    bit on some CPUs, and the model's answers must not depend on the machine. Most entries
    are 0 and stay 0 (log1p of 0, and of the clipped negatives)."""
    x = np.zeros_like(raw)
    where = np.nonzero(~(raw <= 0.0))
    x[where] = [math.log1p(v) for v in raw[where].tolist()]
    return x


def feature_matrix(analyses: list[Analysis]) -> np.ndarray:
    """The model's input: log1p of the (non-negative) features, one row per analysis."""
    return _log_features(raw_feature_matrix(analyses))


_Labels = tuple[list[str], list[str], dict[str, float]]


def _labels(probs: list[float]) -> _Labels:
    """Dyads, topics (only when relevant) and scores rounded to 4 places, from ``probs`` in
    LABELS order. Python's ``round``, not numpy's: they differ on some halfway cases."""
    n_dyads = len(DYAD_IDS)
    dyads = [d for d, p in zip(DYAD_IDS, probs, strict=False) if p >= 0.5]
    topics = ([t for t, p in zip(TOPIC_IDS, probs[n_dyads:], strict=True) if p >= 0.5]
              if dyads else [])
    scores = dict(zip(LABELS, map(round, probs, _FOURS), strict=True))
    scores["relevant"] = round(max(probs[:n_dyads]), 4)
    return dyads, topics, scores


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is classified.

    A batch keeps thousands of small dicts, sets and lists alive until its predictions are
    built, and the collector's full passes over them (and over everything else the process
    holds: an Airflow worker holds a lot) cost about a tenth of the batch. Classifying
    creates no reference cycles, so there is nothing for the collector to find; it resumes
    afterwards unless it was off already.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        """Calibrated probability per label for each analysis."""
        return [dict(zip(LABELS, row, strict=True))
                for row in self.probability_matrix(analyses).tolist()]

    def probability_matrix(self, analyses: list[Analysis]) -> np.ndarray:
        """Calibrated probabilities, one row per analysis and one column per label (LABELS
        order): rule scores, their sigmoid and the model's blend as whole-batch arrays."""
        raw = raw_feature_matrix(analyses)
        out = self._rule_probabilities(rule_score_matrix(raw))
        if self._w is None or self.params is None or self.params.blend <= 0 or not analyses:
            return out
        x = (_log_features(raw) - self._mean) / self._scale
        z = np.clip(x @ self._w.T + self._b, -30, 30)
        p_model = 1.0 / (1.0 + np.exp(-z))
        blend = self.params.blend
        return (1 - blend) * out + blend * p_model

    def _rule_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """sigmoid(slope * (score - threshold)) per label, through ``math.exp`` like
        :func:`_sigmoid` (numpy's exp may differ in the last bit on some CPUs). Rule scores
        are sums of a few multiples of 0.05, so a batch holds few distinct values per label:
        the sigmoid is computed once per distinct value."""
        slope = self.params.rule_slope if self.params else {}
        out = np.empty_like(scores)
        for j, label in enumerate(LABELS):
            values, index = np.unique(scores[:, j], return_inverse=True)
            k, threshold = slope.get(label, 2.0), RULE_THRESHOLDS[label]
            probs = np.array([_sigmoid(k * (v - threshold)) for v in values.tolist()])
            out[:, j] = probs[index.reshape(-1)]
        return out

    def _prediction(self, item: dict[str, Any], analysis: Analysis, probs: list[float],
                    labels: dict[tuple[float, ...], _Labels] | None = None) -> Prediction:
        """``probs`` in LABELS order (dyads first). ``labels`` memoises what follows from
        ``probs`` alone over a batch: articles with equal features (every short entry that
        names nothing, by its number of sentences) have equal probabilities."""
        key = tuple(probs)
        found = labels.get(key) if labels is not None else None
        if found is None:
            found = _labels(probs)
            if labels is not None:
                labels[key] = found
        dyads, topics, scores = list(found[0]), list(found[1]), dict(found[2])
        candidate = bool(dyads) or possibly_relevant(analysis)
        if dyads:
            sport = sport_veto(analysis)
            if sport:  # a match between national teams is not relations news
                return Prediction(id=item.get("id"), relevant=False, dyads=[], topics=[],
                                  scores=scores, evidence={"sport": [sport]},
                                  model_version=self.version, candidate=candidate)
        return Prediction(id=item.get("id"), relevant=bool(dyads), dyads=dyads, topics=topics,
                          scores=scores, evidence=self.evidence(analysis, dyads, topics),
                          model_version=self.version, candidate=candidate)

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
        with _gc_paused():
            return self._classify(items)

    def _classify(self, items: list[dict[str, Any]]) -> list[Prediction]:
        results: list[Prediction | None] = [None] * len(items)
        ok: list[tuple[int, Analysis]] = []
        # The same story often comes from several feeds in one batch (a third of a real
        # ingest pass): its analysis, a pure function of title and text, is made once.
        seen: dict[tuple[str, str], Analysis] = {}
        for i, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise TypeError(f"expected an object, got {type(item).__name__}")
                texts = self._texts(item)
                analysis = seen.get(texts)
                if analysis is None:
                    analysis = seen[texts] = analyse(self.lexicon, *texts)
                ok.append((i, analysis))
            except Exception as exc:  # one bad article must not sink the batch
                results[i] = self._failed(item, exc)
        try:
            probs = self.probability_matrix([a for _, a in ok]).tolist()
        except Exception as exc:  # e.g. a corrupt model file: fall back to rules only
            log.warning("model scoring failed (%s); using rules only", exc, exc_info=True)
            probs = Classifier(self.taxonomy, None, self.lexicon).probability_matrix(
                [a for _, a in ok]).tolist()
        labels: dict[tuple[float, ...], _Labels] = {}
        for (i, analysis), p in zip(ok, probs, strict=True):
            try:
                results[i] = self._prediction(items[i], analysis, p, labels)
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
        if not dyads and not topics:  # most articles
            return ev
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
