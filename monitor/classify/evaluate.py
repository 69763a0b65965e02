"""Scores of predictions against gold labels, as the issue defines them.

relevance F1 (binary), dyad F1 (micro over the two dyads), topic micro- and macro-F1 over the
eight topics (topics of non-relevant gold items are empty, so predicting a topic for them is a
false positive), per-label precision/recall/F1, and the confusions worth reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.classify.topics import DYAD_IDS, TOPIC_IDS

__all__ = ["Counts", "Report", "score", "read_gold", "summary_line", "text_key",
           "training_overlap"]

log = logging.getLogger(__name__)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, gold: bool, pred: bool) -> None:
        self.tp += gold and pred
        self.fp += pred and not gold
        self.fn += gold and not pred


@dataclass
class Report:
    n: int
    relevance: Counts
    labels: dict[str, Counts]
    confusions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dyad_micro(self) -> Counts:
        return _sum(self.labels[d] for d in DYAD_IDS)

    @property
    def topic_micro(self) -> Counts:
        return _sum(self.labels[t] for t in TOPIC_IDS)

    @property
    def topic_macro_f1(self) -> float:
        """Mean F1 over topics that occur in the gold or the predictions (a topic absent from
        both says nothing about the model; on a full labelled set all eight occur)."""
        seen = [self.labels[t] for t in TOPIC_IDS
                if self.labels[t].tp + self.labels[t].fp + self.labels[t].fn]
        return sum(c.f1 for c in seen) / len(seen) if seen else 1.0

    def headline(self) -> dict[str, float]:
        return {
            "relevance_f1": round(self.relevance.f1, 4),
            "relevance_precision": round(self.relevance.precision, 4),
            "relevance_recall": round(self.relevance.recall, 4),
            "dyad_f1": round(self.dyad_micro.f1, 4),
            "topic_micro_f1": round(self.topic_micro.f1, 4),
            "topic_macro_f1": round(self.topic_macro_f1, 4),
        }

    def table(self) -> list[tuple[str, int, int, int, float, float, float]]:
        rows = [("relevance", *_row(self.relevance))]
        rows += [(label, *_row(c)) for label, c in self.labels.items()]
        rows += [("dyads (micro)", *_row(self.dyad_micro)),
                 ("topics (micro)", *_row(self.topic_micro))]
        return rows


def _row(c: Counts) -> tuple[int, int, int, float, float, float]:
    return c.tp, c.fp, c.fn, round(c.precision, 3), round(c.recall, 3), round(c.f1, 3)


def _sum(counts: Any) -> Counts:
    total = Counts()
    for c in counts:
        total.tp += c.tp
        total.fp += c.fp
        total.fn += c.fn
    return total


def score(gold: list[dict[str, Any]], predicted: list[dict[str, Any]]) -> Report:
    """Compare gold items with predictions (dicts with relevant/dyads/topics), by position."""
    report = Report(n=len(gold), relevance=Counts(),
                    labels={k: Counts() for k in DYAD_IDS + TOPIC_IDS})
    for g, p in zip(gold, predicted, strict=True):
        report.relevance.add(bool(g.get("relevant")), bool(p.get("relevant")))
        wrong = []
        for label in DYAD_IDS:
            gv, pv = label in g.get("dyads", []), label in p.get("dyads", [])
            report.labels[label].add(gv, pv)
            if gv != pv:
                wrong.append(("missed " if gv else "extra ") + label)
        for label in TOPIC_IDS:
            gv, pv = label in g.get("topics", []), label in p.get("topics", [])
            report.labels[label].add(gv, pv)
            if gv != pv:
                wrong.append(("missed " if gv else "extra ") + label)
        if wrong:
            report.confusions.append({"id": g.get("id"), "wrong": wrong,
                                      "gold": [*g.get("dyads", []), *g.get("topics", [])],
                                      "predicted": [*p.get("dyads", []), *p.get("topics", [])],
                                      "title": (g.get("title") or "")[:80]})
    # Relevance mistakes first: they are the ones readers notice.
    report.confusions.sort(key=lambda c: (not any("russia_" in w for w in c["wrong"]),
                                          -len(c["wrong"])))
    return report


def read_gold(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Gold items and one message per line that could not be used (with its line number)."""
    items, problems = [], []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {lineno}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(item, dict):
                problems.append(f"line {lineno}: expected a JSON object")
                continue
            item.setdefault("dyads", [])
            item.setdefault("topics", [])
            item.setdefault("relevant", bool(item["dyads"]))
            items.append(item)
    return items, problems


def summary_line(report: Report) -> str:
    h = report.headline()
    return (f"relevance F1 {h['relevance_f1']:.3f}  dyad F1 {h['dyad_f1']:.3f}  "
            f"topic micro-F1 {h['topic_micro_f1']:.3f}  macro-F1 {h['topic_macro_f1']:.3f}")


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
    from monitor.classify.lexicon import build_lexicon
    from monitor.classify.train import seed_training_items

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
