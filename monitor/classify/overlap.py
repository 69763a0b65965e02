"""Which gold items a model was trained on: scores on them overstate the model, so
``monitor evaluate`` warns. Apart from ``evaluate`` because it needs the training data
(``train``), which itself scores with ``evaluate``: no import circle."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from monitor.classify.lexicon import build_lexicon
from monitor.classify.train import seed_training_items

__all__ = ["text_key", "training_overlap"]

log = logging.getLogger(__name__)


def text_key(item: dict[str, Any]) -> str:
    """A hash of an item's title and text, blind to case and spacing: the same article
    exported twice (ids renamed, re-wrapped) gets the same key."""
    words = f"{item.get('title') or ''}\n{item.get('text') or ''}".lower().split()
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()[:20]


def training_overlap(settings: Any, clf: Any, gold: list[dict[str, Any]]) -> dict[str, int]:
    """How many gold items the current model was trained on, by where they came from.

    Every model is fitted on the seed articles (``train.seed_training_items``); a retrained
    model (not ``seed-…``) also on the human labels in the warehouse's ``labels`` table up to
    its ``trained_at``. Matched by text hash, and for labels also by article id. Scores on
    such items overstate the model. (Weak labels of recent articles are not recorded per
    model, so they cannot be checked.)
    """
    keys = [text_key(g) for g in gold]
    seed = {text_key(i) for i in seed_training_items(clf.taxonomy, build_lexicon(clf.taxonomy))}
    out = {"seed articles": sum(k in seed for k in keys)}
    params = getattr(clf, "params", None)
    if params is None or str(params.version).startswith("seed-"):
        return {k: v for k, v in out.items() if v}
    import duckdb

    from monitor.errors import MonitorError

    try:
        labelled = _labels_before(settings, params.trained_at or None)
    except (duckdb.Error, MonitorError, OSError) as exc:  # no warehouse: nothing to compare
        log.info("labels not read for the overlap check: %s", exc)
        labelled = []
    ids = {str(item["id"]) for item in labelled}
    label_keys = {text_key(item) for item in labelled}
    out["human labels"] = sum(str(g.get("id")) in ids or k in label_keys
                              for g, k in zip(gold, keys, strict=True))
    return {k: v for k, v in out.items() if v}


def _labels_before(settings: Any, trained_at: str | None) -> list[dict[str, Any]]:
    """Labelled articles with a label given before ``trained_at`` (UTC, ISO), all if None."""
    from datetime import datetime

    from monitor import warehouse

    if not settings.snapshot_path.exists():
        return []
    until = None
    if trained_at:
        until = datetime.fromisoformat(trained_at.replace("Z", "+00:00")).replace(tzinfo=None)
    with warehouse.reader(settings) as con:
        rows = con.execute(
            "SELECT DISTINCT a.article_id, coalesce(a.title, ''),"
            " coalesce(a.body, a.summary, '')"
            " FROM labels l JOIN articles a USING (article_id)"
            " WHERE ?::TIMESTAMP IS NULL OR l.labelled_at <= ?::TIMESTAMP",
            [until, until],
        ).fetchall()
    return [{"id": r[0], "title": r[1], "text": r[2]} for r in rows]
