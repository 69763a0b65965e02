"""Scores of predictions against gold labels, as the issue defines them.

relevance F1 (binary), dyad F1 (micro over the two dyads), topic micro- and macro-F1 over the
eight topics (topics of non-relevant gold items are empty, so predicting a topic for them is a
false positive), per-label precision/recall/F1, and the confusions worth reading.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.classify.topics import DYAD_IDS, TOPIC_IDS

__all__ = ["Counts", "Report", "score", "read_gold", "summary_line"]

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
