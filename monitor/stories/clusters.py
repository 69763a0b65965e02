"""Story clusters: one story, however many outlets (and languages) carried it.

The public face of :mod:`monitor.stories`: features (:mod:`.features`), the gazetteer
(:mod:`.lexicon`), pair decisions and the window index (:mod:`.pairs`), the warehouse side
(:mod:`.assign`). Callers import from here.
"""

from __future__ import annotations

from typing import Any

from monitor.stories.assign import FEATURE_VERSION, assign_clusters, sketch_rows
from monitor.stories.features import (
    _DAY_HINT,
    _FOLD_VARIANTS,
    LEAD_CHARS,
    NUM_PERM,
    REPRINT_JACCARD,
    WINDOW_DAYS,
    Features,
    _minhash,
    _numbers,
    _shingles,
    features,
    idf_of,
)
from monitor.stories.lexicon import COUNTRIES, ENTITIES
from monitor.stories.pairs import Pool, match

__all__ = [
    "COUNTRIES",
    "ENTITIES",
    "FEATURE_VERSION",
    "LEAD_CHARS",
    "NUM_PERM",
    "REPRINT_JACCARD",
    "WINDOW_DAYS",
    "_DAY_HINT",
    "_FOLD_VARIANTS",
    "Features",
    "Pool",
    "_minhash",
    "_numbers",
    "_shingles",
    "assign_clusters",
    "evaluate_pairs",
    "features",
    "idf_of",
    "match",
    "sketch_rows",
]


# ------------------------------------------------------------------------ evaluation


def evaluate_pairs(articles: list[dict[str, Any]],
                   pairs: list[dict[str, str]]) -> dict[str, Any]:
    """Precision/recall of :func:`match` on labelled pairs (``bench/clusters.py``, tests).

    ``articles``: dicts with id, title, text, language, at (datetime). ``pairs``: dicts with
    a, b and label (reprint | rewrite | crosslang | different). IDF is computed over all the
    articles, as :func:`assign_clusters` does over its window.
    """
    feats = {a["id"]: features(a["id"], a.get("title"), a.get("text"), a.get("language"),
                               a.get("at")) for a in articles}
    idf = idf_of(list(feats.values()))
    rows = []
    for pair in pairs:
        found = match(feats[pair["a"]], feats[pair["b"]], idf)
        rows.append({**pair, "predicted": found[0] if found else None,
                     "score": found[1] if found else None})
    same = [r for r in rows if r["label"] != "different"]
    predicted = [r for r in rows if r["predicted"]]
    tp = sum(1 for r in predicted if r["label"] != "different")
    by_label = {}
    for label in ("reprint", "rewrite", "crosslang", "different"):
        group = [r for r in rows if r["label"] == label]
        hits = sum(1 for r in group if (r["predicted"] is not None) == (label != "different"))
        by_label[label] = {"pairs": len(group), "correct": hits}
    return {
        "precision": tp / len(predicted) if predicted else 1.0,
        "recall": tp / len(same) if same else 1.0,
        "by_label": by_label,
        "rows": rows,
    }

