"""Pair decisions: do two articles report the same story? And the window index (Pool).

See :mod:`monitor.stories.features` for the rules; this module applies them to pairs.
"""

from __future__ import annotations

import numpy as np

from monitor.stories.features import (
    _NO_IDF,
    CROSSLANG_MIN_SHARED,
    CROSSLANG_OVERLAP,
    NUM_PERM,
    REPRINT_JACCARD,
    REWRITE_COSINE,
    REWRITE_HOURS,
    WINDOW_DAYS,
    Features,
    _cosine,
    _hours_apart,
    _jaccard,
    _script,
)


def match(a: Features, b: Features, idf: dict[str, float] | None = None) -> tuple[str, float] | None:
    """``(kind, score)`` if a and b report the same story, else ``None``."""
    return _match(a, b, idf, None)


def _match(a: Features, b: Features, idf: dict[str, float] | None,
           jaccard: float | None) -> tuple[str, float] | None:
    """:func:`match`, given the MinHash Jaccard when the caller knows it already.

    ``jaccard`` may be any value below ``REPRINT_JACCARD`` when the pair is known not to
    be a reprint: it is only compared with that threshold.
    """
    hours = _hours_apart(a, b)
    if hours > WINDOW_DAYS * 24:
        return None
    jac = _jaccard(a, b) if jaccard is None else jaccard
    if jac >= REPRINT_JACCARD:
        return "reprint", jac
    if hours > REWRITE_HOURS:
        return None
    if a.countries and b.countries and not (a.countries & b.countries):
        return None  # a story about Russia–Japan is not one about Russia–China
    shared = a.anchors & b.anchors
    if _script(a) == _script(b):
        if not shared:
            return None  # a rewrite needs a shared anchor, whatever the cosine
        cos = _cosine(a, b, idf if idf is not None else _NO_IDF)
        if cos >= REWRITE_COSINE:
            return "rewrite", cos
        return None
    has_number = any(x.startswith("#") for x in shared)
    if len(shared) >= CROSSLANG_MIN_SHARED + (0 if has_number else 1):
        overlap = len(shared) / min(len(a.anchors), len(b.anchors))
        if overlap >= CROSSLANG_OVERLAP:
            return "crosslang", overlap
    return None



#: Fewest equal MinHash slots (of NUM_PERM) that make a reprint. By pigeonhole, a reprint
#: has at least one of them among any NUM_PERM - that + 1 slots: the first _KEY_SLOTS
#: slots are keys of the index that finds reprint candidates.
_REPRINT_SLOTS = next(k for k in range(NUM_PERM + 1) if k / NUM_PERM >= REPRINT_JACCARD)
_KEY_SLOTS = NUM_PERM - _REPRINT_SLOTS + 1
_RANK = {"reprint": 3, "rewrite": 2, "crosslang": 1}


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

    def best_match(self, new: Features,
                   idf: dict[str, float]) -> tuple[Features, str, float] | None:
        """The article ``new`` matches best: reprints beat rewrites beat cross-language."""
        if not self.items:
            return None
        reprints = self.reprints(new.minhash)
        candidates = set(reprints)
        for anchor in new.anchors:
            candidates.update(self.by_anchor.get(anchor, ()))
        best: tuple[Features, str, float] | None = None
        for index in sorted(candidates):
            other = self.items[index]
            if other.article_id == new.article_id:
                continue
            # Not among the reprints: below the threshold, and 0.0 says just that.
            found = _match(new, other, idf, reprints.get(index, 0) / NUM_PERM)
            if found is None:
                continue
            kind, score = found
            if best is None or (_RANK[kind], score) > (_RANK[best[1]], best[2]):
                best = (other, kind, score)
        return best


