"""The article classifier: relevance, Russia–Japan / Russia–China dyads and the seed's topics.

Public surface (the ingest pipeline, the Airflow DAGs and the CLI code against it)::

    load_classifier(settings) -> Classifier     fast; builds the seed model on first use
    Classifier.classify(items) -> [Prediction]  never raises on bad input
    is_candidate(title, summary) -> bool        cheap, recall-oriented pre-filter
    store_predictions(con, predictions)         upsert into ``classifications``
    retrain(settings) -> dict                   candidate vs current, promote if no worse
    reclassify(settings, since=None) -> int     apply the promoted model to history

How it decides: ``rules.py`` counts sentences where actors of both countries deal with each
other and sentences carrying each topic's terms (``seeds/topics.toml``); ``model.py`` turns
that evidence into calibrated probabilities, blended with a logistic regression over the same
features (``train.py``). See docs/classifier.md.
"""

from __future__ import annotations

import functools

from monitor.classify.lexicon import Lexicon, build_lexicon
from monitor.classify.load import load_classifier
from monitor.classify.model import LABELS, Classifier, Prediction
from monitor.classify.retrain import retrain
from monitor.classify.rules import analyse, possibly_relevant
from monitor.classify.store import reclassify, store_predictions
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS, load_taxonomy
from monitor.settings import Settings

__all__ = [
    "Classifier",
    "Prediction",
    "LABELS",
    "DYAD_IDS",
    "TOPIC_IDS",
    "load_classifier",
    "is_candidate",
    "store_predictions",
    "retrain",
    "reclassify",
]


@functools.lru_cache(maxsize=1)
def _default_lexicon() -> Lexicon:
    return build_lexicon(load_taxonomy(Settings().topics_file))


def is_candidate(title: str, summary: str) -> bool:
    """Might this entry concern Russia with Japan or China? Decides whether its full page is
    fetched, so it errs towards yes (:func:`~monitor.classify.rules.possibly_relevant`).
    Never raises."""
    try:
        a = analyse(_default_lexicon(), str(title or ""), str(summary or ""))
    except Exception:
        return True
    return possibly_relevant(a)
