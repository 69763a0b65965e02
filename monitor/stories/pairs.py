"""Pair decisions: do two articles report the same story? And the window index (Pool).

See :mod:`monitor.stories.features` for the rules; this module applies them to pairs.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from monitor.stories.features import (
    _NO_IDF,
    ANCHOR_PREFIX,
    NUM_PERM,
    REPRINT_JACCARD,
    WINDOW_DAYS,
    Features,
    _cosine,
    _hours_apart,
    _jaccard,
    _script,
)

#: The event rule: reports of one event come out within this many hours of each other
#: (the event day and one or two days after).
EVENT_HOURS = 60
#: Shared anchors (names, numbers, dates) an event match needs at least (2 cost a tenth
#: of the dev set's recall for no precision: one name is often all two languages share).
MIN_SHARED_ANCHORS = 1
#: The trained pair model (numbers only): ``python bench/clusters.py --train`` writes it.
MODEL_PATH = Path(__file__).with_name("pair_model.json")

FEATURE_NAMES = (
    "jaccard", "cosine", "anchor_cosine", "shared_entities", "shared_numbers",
    "shared_dates", "same_language", "countries_disjoint", "cosine_same_language", "gap_days",
)
#: Log-odds taken off a pair's probability per unit of :func:`time_order_signal` (one
#: side anticipates and the other does not; the later one reacts and the earlier does not;
#: each in full from 20 hours apart). Cross-validated on the story set: 2 lets a follow-up
#: through, 3 and 4 keep precision at 1.000 with the same recall, 6 costs recall (see
#: bench/README.md).
ODD_PAIR_PENALTY = 4.0


@dataclass(frozen=True)
class PairModel:
    """A logistic pair scorer and the thresholds the clustering applies to it."""

    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5  # a pair is one event from this probability on
    cluster_mean: float = 0.5  # and the mean over the story's members in the window

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> PairModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURE_NAMES:
            raise ValueError(f"{path}: trained on other features; retrain it")
        return cls(tuple(data["coef"]), data["intercept"], data["threshold"],
                   data["cluster_mean"])

    def probability(self, vector: list[float], penalty: float = 0.0) -> float:
        """P(same event); ``penalty`` log-odds are taken off (see time_order_signal)."""
        z = self.intercept + sum(w * x for w, x in zip(self.coef, vector, strict=True))
        z -= penalty
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=1)
def default_model() -> PairModel:
    return PairModel.load()


def _anchor_cosine(a: Features, b: Features, idf: dict[str, float]) -> float:
    """IDF-weighted overlap of the two anchor sets: a rare shared name counts most."""
    def weight(x: str) -> float:
        return idf.get(ANCHOR_PREFIX + x, 1.0) ** 2

    shared = a.anchors & b.anchors
    if not shared:
        return 0.0
    wa = sum(map(weight, a.anchors))
    wb = sum(map(weight, b.anchors))
    return sum(map(weight, shared)) / math.sqrt(wa * wb)


def _lag(hours: float) -> float:
    """How far apart in time two articles are, as a weight: 0 within 8 hours (reports of
    one event on its day), rising to 1 from 20 hours (a preview the evening before). The
    story set's times within a day are made up, so it cannot tell 6, 8 or 12 hours apart
    (all three give the same figures); 8 leaves a same-day report in another time zone
    alone and still catches a preview published the evening before."""
    return min(max(hours - 8, 0.0) / 12, 1.0)


def time_order_signal(a: Features, b: Features, hours: float | None = None) -> float:
    """How strongly the pair reads as a preview or a follow-up of the other's event (0..2).

    One point when one side anticipates (a preview, or a follow-up's "will keep its
    position") and the other does not; one when the later one reacts to something and the
    earlier does not. Weighted by how far apart they are (:func:`_lag`): 0 within 8 hours
    (reports of one event on its day may differ in modality), in full from 20 hours. See
    :mod:`monitor.stories.modality`.
    """
    lag = _lag(_hours_apart(a, b) if hours is None else hours)
    if not lag:
        return 0.0
    earlier, later = (a, b) if (a.at or datetime.min) <= (b.at or datetime.min) else (b, a)
    odd = abs(a.anticipates - b.anticipates) + max(later.reacts - earlier.reacts, 0.0)
    return odd * lag


def pair_probability(a: Features, b: Features, idf: dict[str, float] | None,
                     model: PairModel, jaccard: float | None = None) -> float:
    """The model's probability, less ``ODD_PAIR_PENALTY`` log-odds per unit of time-order
    signal: a preview or a follow-up needs a much closer pair to join the event's story."""
    penalty = ODD_PAIR_PENALTY * time_order_signal(a, b)
    return model.probability(pair_vector(a, b, idf, jaccard), penalty)


def pair_vector(a: Features, b: Features, idf: dict[str, float] | None = None,
                jaccard: float | None = None) -> list[float]:
    """The pair's features, in :data:`FEATURE_NAMES` order.

    The time gap is capped at ``EVENT_HOURS`` (beyond it no event match is made at all), so
    a preview the day before or a follow-up two days after weighs against a join.
    """
    idf = idf if idf is not None else _NO_IDF
    jac = _jaccard(a, b) if jaccard is None else jaccard
    cos = _cosine(a, b, idf)
    shared = a.anchors & b.anchors
    numbers = sum(1 for x in shared if x[0] == "#")
    dates = sum(1 for x in shared if x[0] == "@")
    entities = len(shared) - numbers - dates
    same = 1.0 if _script(a) == _script(b) else 0.0
    disjoint = 1.0 if a.countries and b.countries and not (a.countries & b.countries) else 0.0
    gap = min(_hours_apart(a, b), EVENT_HOURS) / 24
    return [jac, cos, _anchor_cosine(a, b, idf), math.log1p(entities), math.log1p(numbers),
            min(dates, 2) / 2, same, disjoint, cos * same, gap]


def match(a: Features, b: Features, idf: dict[str, float] | None = None,
          model: PairModel | None = None) -> tuple[str, float] | None:
    """``(kind, score)`` if a and b report the same story, else ``None``."""
    return _match(a, b, idf, None, model)


def _match(a: Features, b: Features, idf: dict[str, float] | None,
           jaccard: float | None, model: PairModel | None = None) -> tuple[str, float] | None:
    """:func:`match`, given the MinHash Jaccard when the caller knows it already.

    ``jaccard`` may be any value below ``REPRINT_JACCARD`` when the pair is known not to
    be a reprint: it is only compared with that threshold (and is a feature of the pair).
    """
    hours = _hours_apart(a, b)
    if hours > WINDOW_DAYS * 24:
        return None
    jac = _jaccard(a, b) if jaccard is None else jaccard
    if jac >= REPRINT_JACCARD:
        return "reprint", jac
    if hours > EVENT_HOURS or len(a.anchors & b.anchors) < MIN_SHARED_ANCHORS:
        return None  # an event match needs shared names, numbers or dates (the Pool's index)
    if a.countries and b.countries and a.countries.isdisjoint(b.countries):
        return None  # a story about Russia–Japan is not one about Russia–China
    model = model or default_model()
    p = pair_probability(a, b, idf, model, jac)
    if p >= model.threshold:
        return "event", p
    return None


#: Fewest equal MinHash slots (of NUM_PERM) that make a reprint. By pigeonhole, a reprint
#: has at least one of them among any NUM_PERM - that + 1 slots: the first _KEY_SLOTS
#: slots are keys of the index that finds reprint candidates.
_REPRINT_SLOTS = next(k for k in range(NUM_PERM + 1) if k / NUM_PERM >= REPRINT_JACCARD)
_KEY_SLOTS = NUM_PERM - _REPRINT_SLOTS + 1
_RANK = {"reprint": 2, "event": 1}


class Pool:
    """The window's articles, indexed so a new article is compared only with plausible ones.

    Reprint candidates are the articles sharing a value in one of the first ``_KEY_SLOTS``
    MinHash slots (pigeonhole: every pair at ``REPRINT_JACCARD`` or above does), looked up
    in a sorted array for the window and a dict for articles added since; their equal slots
    are then counted exactly. A scan of all signatures per new article (the old way) grew
    with the window. Rewrite and cross-language candidates must share an anchor, found
    through an inverted index. Equivalent to calling :func:`match` on every pair.
    """

    def __init__(self, items: list[Features], capacity: int) -> None:
        self.items: list[Features] = []
        self.signatures = np.zeros((max(capacity, 1), NUM_PERM), dtype=np.uint64)
        self.by_anchor: dict[str, list[int]] = {}
        self.by_cluster: dict[str, list[int]] = {}
        # Key-slot value -> the row (or rows) added after init with that value.
        self.by_slot: dict[int, int | list[int]] = {}
        # Signature -> the first row added after init with it; that row -> later ones.
        self.first_of: dict[bytes, int] = {}
        self.twins: dict[int, list[int]] = {}
        for item in items:
            self._append(item)
        # Slot values of the initial rows, sorted, and the row each came from.
        keys = self.signatures[:len(self.items), :_KEY_SLOTS].ravel()
        order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[order]
        self.sorted_rows = order // _KEY_SLOTS

    def _append(self, item: Features) -> int:
        index = len(self.items)
        if index >= len(self.signatures):
            self.signatures = np.vstack([self.signatures, np.zeros_like(self.signatures)])
        self.items.append(item)
        self.signatures[index] = item.minhash
        for anchor in item.anchors:
            self.by_anchor.setdefault(anchor, []).append(index)
        if item.cluster_id is not None:
            self.by_cluster.setdefault(item.cluster_id, []).append(index)
        return index

    def add(self, item: Features) -> None:
        index = self._append(item)
        # A verbatim copy of an added article (the commonest reprint) is only noted as its
        # twin: same signature, so found whenever the first is.
        first = self.first_of.setdefault(item.minhash.tobytes(), index)
        if first != index:
            self.twins.setdefault(first, []).append(index)
            return
        # Dict operations in C: almost every value is new, so it maps to the bare row.
        added = dict.fromkeys(item.minhash[:_KEY_SLOTS].tolist(), index)
        for value in added.keys() & self.by_slot.keys():
            rows = self.by_slot[value]
            if isinstance(rows, list):
                rows.append(index)
            else:
                self.by_slot[value] = [rows, index]
            del added[value]
        self.by_slot.update(added)

    def reprints(self, signature: np.ndarray) -> dict[int, int]:
        """Rows whose signature agrees with ``signature`` in enough slots: row -> slots."""
        keys = signature[:_KEY_SLOTS]
        rows: set[int] = set()
        if len(self.sorted_keys):
            lo = np.searchsorted(self.sorted_keys, keys, "left")
            hi = np.searchsorted(self.sorted_keys, keys, "right")
            if (hi > lo).any():
                for start, stop in zip(lo.tolist(), hi.tolist(), strict=True):
                    if stop > start:
                        rows.update(self.sorted_rows[start:stop].tolist())
        values = keys.tolist()
        if not self.by_slot.keys().isdisjoint(values):  # most articles share no value
            for hit in map(self.by_slot.get, values):
                if hit.__class__ is int:
                    rows.add(hit)
                elif hit is not None:
                    rows.update(hit)
        if not rows:
            return {}
        if self.twins:
            for twins in map(self.twins.get, list(rows)):
                if twins:
                    rows.update(twins)
        candidates = np.fromiter(rows, dtype=np.intp, count=len(rows))
        equal = (self.signatures[candidates] == signature).sum(axis=1)
        keep = equal >= _REPRINT_SLOTS
        return dict(zip(candidates[keep].tolist(), equal[keep].tolist(), strict=True))

    def best_match(self, new: Features, idf: dict[str, float],
                   model: PairModel | None = None) -> tuple[Features, str, float] | None:
        """The article ``new`` matches best (a reprint beats an event match), if any."""
        decision = self.decide(new, idf, model)
        return None if decision is None else decision[:3]

    def _candidates(self, new: Features, reprints: dict[int, int]) -> set[int]:
        """Reprints, and the articles sharing most of the new article's rarer anchors.

        The commonest anchors of a window (Putin, a day's date) would make every article a
        candidate: only the ``_CANDIDATE_ANCHORS`` rarest are looked up (the latest
        ``_POSTING_TAIL`` rows of each), and of the rows found only the ``_MAX_PAIRS`` that
        share most are scored, so the cost of one new article stays bounded however large
        the window grows.
        """
        postings = [self.by_anchor[x] for x in new.anchors if x in self.by_anchor]
        postings.sort(key=len)
        shared: Counter[int] = Counter()
        for rows in postings[:_CANDIDATE_ANCHORS]:
            shared.update(rows[-_POSTING_TAIL:])
        candidates = set(reprints)
        candidates.update(row for row, _n in shared.most_common(_MAX_PAIRS))
        return candidates

    def decide(self, new: Features, idf: dict[str, float], model: PairModel | None = None,
               ) -> tuple[Features, str, float, list[str]] | None:
        """(matched article, kind, score, other stories to merge into its story) or None.

        A pair match is not enough to join a story: the new article's mean probability over
        the story's members in the window must reach ``model.cluster_mean`` too, so one
        loose link cannot chain two events together (a reprint joins outright). When the
        article also matches another story as firmly, that story is to be merged.
        """
        if not self.items:
            return None
        model = model or default_model()
        reprints = self.reprints(new.minhash)
        hits: dict[str, list[tuple[int, float, int, str]]] = {}
        for index in sorted(self._candidates(new, reprints)):
            other = self.items[index]
            if other.article_id == new.article_id or other.cluster_id is None:
                continue
            equal = reprints.get(index)
            if equal is None:  # below the reprint threshold, but a feature of the pair
                equal = int(np.count_nonzero(self.signatures[index] == new.minhash))
            found = _match(new, other, idf, equal / NUM_PERM, model)
            if found is not None:
                kind, score = found
                hits.setdefault(other.cluster_id, []).append((_RANK[kind], score, -index, kind))
        accepted: list[tuple[int, float, int, str]] = []
        for cluster_id, found in hits.items():
            best = max(found)
            if best[3] != "reprint" and not self._cohesive(new, cluster_id, idf, model):
                continue
            accepted.append(best)
        if not accepted:
            return None
        accepted.sort(reverse=True)
        _rank, score, index, kind = accepted[0]  # ties go to the earliest row
        merges = [self.items[-i].cluster_id for r, sc, i, _k in accepted[1:]
                  if r > _RANK["event"] or sc >= _MERGE_SCORE]
        return self.items[-index], kind, score, [m for m in merges if m]

    def _cohesive(self, new: Features, cluster_id: str, idf: dict[str, float],
                  model: PairModel) -> bool:
        members = self.by_cluster.get(cluster_id, [])[-_COHESION_MEMBERS:]
        if not members:
            return True
        total = 0.0
        for index in members:
            other = self.items[index]
            if _hours_apart(new, other) > EVENT_HOURS:
                continue  # too far apart to be one event's reports: counts as 0
            total += pair_probability(new, other, idf, model)
        return total / len(members) >= model.cluster_mean

    def started(self, cluster_id: str) -> tuple[datetime, str]:
        """When a story began in the window (its earliest member), for the older-wins rule."""
        times = [self.items[i].at for i in self.by_cluster.get(cluster_id, ())]
        known = [t for t in times if t is not None]
        return (min(known) if known else datetime.max, cluster_id)

    def merge(self, from_cluster: str, into_cluster: str) -> None:
        """Move the members of one story into another (their ids follow)."""
        rows = self.by_cluster.pop(from_cluster, [])
        for index in rows:
            self.items[index].cluster_id = into_cluster
        self.by_cluster.setdefault(into_cluster, []).extend(rows)


#: Rarest anchors of a new article looked up, and the latest rows kept per anchor lookup.
_CANDIDATE_ANCHORS = 8
_POSTING_TAIL = 400
#: Pairs scored per new article (besides reprints), those sharing most anchors first.
_MAX_PAIRS = 64
#: Members of a story a new article is checked against (the latest).
_COHESION_MEMBERS = 12
#: An event match this sure to a second story merges that story into the first.
_MERGE_SCORE = 0.9
