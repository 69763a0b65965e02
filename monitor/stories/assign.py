"""Story ids in the warehouse: sketches, window clustering, stable ids.

:func:`sketch_rows` lets the fetch worker compute sketches before the store;
:func:`assign_clusters` gives new articles the story id of the window article they match.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from monitor.stories.features import (
    _EMPTY_SIGNATURE,
    LEAD_CHARS,
    MAX_CANDIDATES,
    NUM_PERM,
    WINDOW_DAYS,
    Features,
    features,
    idf_of,
    modality_of,
)
from monitor.stories.pairs import PairModel, Pool

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------- warehouse

#: Bump when :func:`features` changes, so stored sketches are recomputed.
FEATURE_VERSION = 4

# Only the lead is read: bodies can be long and only their start is compared.
_SELECT_SKETCHED = f"""
SELECT a.article_id, a.title, substr(coalesce(a.body, a.summary, ''), 1, {LEAD_CHARS}),
       a.language, coalesce(a.published_at, a.first_seen_at), a.cluster_id,
       s.version, s.text_hash, coalesce(len(s.minhash) = {NUM_PERM}, false),
       s.terms, s.anchors, s.countries, s.anticipates, s.reacts
FROM articles a LEFT JOIN article_sketches s USING (article_id)
"""

_NEW_SQL = _SELECT_SKETCHED + """
WHERE a.article_id IN (SELECT unnest(?::VARCHAR[]))
"""

_WINDOW_SQL = _SELECT_SKETCHED + """
WHERE a.cluster_id IS NOT NULL
  AND coalesce(a.published_at, a.first_seen_at) BETWEEN ? AND ?
  AND a.article_id NOT IN (SELECT unnest(?::VARCHAR[]))
ORDER BY coalesce(a.published_at, a.first_seen_at) DESC
LIMIT ?
"""

# Stored signatures, fetched apart as numpy columns in long form (article, slot, value): as
# lists in the rows above, each of their values became a Python int, which cost more than
# the rest of the read; 64 list-element columns cost more to plan than a small call reads.
_SIGNATURES_SQL = """
SELECT q.i, generate_subscripts(s.minhash, 1) AS j, unnest(s.minhash) AS v
FROM (SELECT unnest(ids) AS article_id, generate_subscripts(ids, 1) AS i
      FROM (SELECT ?::VARCHAR[] AS ids)) q
JOIN article_sketches s USING (article_id)
"""

#: From this many rows on, a batch goes to DuckDB as registered numpy columns; below, as
#: list parameters. Registering costs a millisecond or two whatever the size; binding lists
#: costs per value (the signatures of a few thousand articles as a UBIGINT[][] parameter
#: were 200,000 Python ints converted one by one, slower than sketching them).
_REGISTER_FROM = 200

# Articles with no sketch yet (nearly all) take a plain INSERT, about twice as fast as
# INSERT OR REPLACE, which only stale sketches need.
_STORE_SKETCHES_SQL = """
INSERT {how} INTO article_sketches
    (article_id, version, text_hash, minhash, terms, anchors, countries, anticipates, reacts)
SELECT article_id, version, text_hash, minhash, terms::JSON,
       CASE WHEN anchors = '' THEN [] ELSE string_split(anchors, chr(31)) END,
       CASE WHEN countries = '' THEN [] ELSE string_split(countries, chr(31)) END,
       anticipates, reacts
FROM {batch}
WHERE {which}stale
"""


@contextlib.contextmanager
def _batch(con: Any, name: str,
           columns: dict[str, tuple[str, Any]]) -> Iterator[tuple[str, list[Any]]]:
    """Parallel columns as one SQL relation: yields (relation, its parameters).

    ``columns``: name -> (DuckDB type, values as a list or numpy array). A UBIGINT[]
    column is a 2-D uint64 array, one row per row. Small batches are list parameters;
    large ones a registered dict of numpy columns, as long as the ``with`` block lasts.
    """
    size = len(next(iter(columns.values()))[1])
    if size < _REGISTER_FROM:
        select = ", ".join(f"unnest(?::{kind}[]) AS {column}"
                           for column, (kind, _values) in columns.items())
        yield f"(SELECT {select})", [
            values.tolist() if isinstance(values, np.ndarray) else list(values)
            for _kind, values in columns.values()]
        return
    frame: dict[str, np.ndarray] = {}
    lists = []
    for column, (kind, values) in columns.items():
        if kind == "UBIGINT[]":  # as one column per element, put together in SQL
            for j in range(values.shape[1]):
                frame[f"{column}_{j}"] = np.ascontiguousarray(values[:, j])
            items = ", ".join(f"{column}_{j}" for j in range(values.shape[1]))
            lists.append(f"[{items}]::UBIGINT[] AS {column}")
        elif isinstance(values, np.ndarray):
            frame[column] = values
        else:
            frame[column] = np.array(values, dtype=object)
    con.register(name, frame)
    try:
        yield f"(SELECT *{''.join(', ' + x for x in lists)} FROM {name})", []
    finally:
        con.unregister(name)


#: Joins a sorted set of names (gazetteer names, "#" numbers, country codes: none holds
#: it) for string_split in SQL: cheaper than a JSON list per row and a cast.
_UNIT_SEPARATOR = "\x1f"
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def _text_hash(title: str | None, lead: str | None) -> str:
    return hashlib.sha1(f"{title or ''}\x00{lead or ''}".encode()).hexdigest()[:20]


def _lead(body: str | None, summary: str | None) -> str:
    """The compared lead, as the SQL reads it: substr(coalesce(body, summary, ''), 1, N)."""
    text = body if body is not None else summary if summary is not None else ""
    return text[:LEAD_CHARS]


def _sketch_row(item: Features, text_hash: str) -> dict[str, Any]:
    """An ``article_sketches`` row of features computed from the text with ``text_hash``."""
    return {"article_id": item.article_id, "version": FEATURE_VERSION, "text_hash": text_hash,
            "minhash": item.minhash.tolist(),
            "terms": _encode_json(item.terms),
            "anchors": sorted(item.anchors), "countries": sorted(item.countries),
            "anticipates": item.anticipates, "reacts": item.reacts}


def sketch_rows(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``article_sketches`` rows for articles not stored yet, to insert along with them.

    Lets the fetch worker sketch articles in parallel, before the store: the rows are what
    :func:`assign_clusters` would compute (same lead, same ``text_hash``, current
    ``FEATURE_VERSION``), so it finds them valid and does not recompute them. Each article
    is a dict with article_id, title, summary, body (language, published_at and
    first_seen_at may be present; the sketch does not depend on them).
    """
    rows = []
    for article in articles:
        title = article.get("title")
        lead = _lead(article.get("body"), article.get("summary"))
        item = features(article["article_id"], title, lead)
        rows.append(_sketch_row(item, _text_hash(title, lead)))
    return rows


def _store_sketches(con: Any, fresh: list[tuple[Features, str, bool]]) -> None:
    """Store the sketches of (features, text hash, a stale sketch exists) in one batch."""
    if not fresh:
        return
    columns: dict[str, tuple[str, Any]] = {
        "article_id": ("VARCHAR", [item.article_id for item, _hash, _stale in fresh]),
        "version": ("INTEGER", np.full(len(fresh), FEATURE_VERSION, dtype=np.int32)),
        "text_hash": ("VARCHAR", [text_hash for _item, text_hash, _stale in fresh]),
        "minhash": ("UBIGINT[]", np.stack([item.minhash for item, _hash, _stale in fresh])),
        "terms": ("VARCHAR", [_encode_json(item.terms) for item, _hash, _stale in fresh]),
        "anchors": ("VARCHAR", [_UNIT_SEPARATOR.join(sorted(item.anchors))
                                for item, _hash, _stale in fresh]),
        "countries": ("VARCHAR", [_UNIT_SEPARATOR.join(sorted(item.countries))
                                  for item, _hash, _stale in fresh]),
        "anticipates": ("DOUBLE", np.array([item.anticipates for item, _hash, _stale in fresh],
                                           dtype=np.float64)),
        "reacts": ("DOUBLE", np.array([item.reacts for item, _hash, _stale in fresh],
                                      dtype=np.float64)),
        "stale": ("BOOLEAN", np.array([stale for _item, _hash, stale in fresh], dtype=bool)),
    }
    with _batch(con, "_cluster_sketch_batch", columns) as (batch, params):
        con.execute(_STORE_SKETCHES_SQL.format(how="", batch=batch, which="NOT "), params)
        if columns["stale"][1].any():
            con.execute(_STORE_SKETCHES_SQL.format(how="OR REPLACE", batch=batch, which=""),
                        params)


def _stored_signatures(con: Any, article_ids: list[str]) -> np.ndarray:
    """The stored MinHash signatures of these articles, one row each, in their order."""
    columns = con.execute(_SIGNATURES_SQL, [article_ids]).fetchnumpy()
    rows = np.asarray(columns["i"], dtype=np.intp) - 1
    slots = np.asarray(columns["j"], dtype=np.intp) - 1
    if len(rows) != len(article_ids) * NUM_PERM:  # lengths were checked when read
        raise RuntimeError("article_sketches changed while clusters read it")
    matrix = np.empty((len(article_ids), NUM_PERM), dtype=np.uint64)
    matrix[rows, slots] = np.asarray(columns["v"], dtype=np.uint64)
    return matrix


def _load_features(con: Any, rows: list[tuple[Any, ...]]) -> list[Features]:
    """Features of article rows: stored sketches where still valid, else computed and stored."""
    out: list[Features] = []
    fresh: list[tuple[Features, str, bool]] = []
    stored_at: list[int] = []  # positions in ``out`` of the features read from sketches
    for (article_id, title, lead, language, at, cluster_id, version, stored_hash,
         has_minhash, terms, anchors, countries, anticipates, reacts) in rows:
        text_hash = _text_hash(title, lead)
        if version == FEATURE_VERSION and stored_hash == text_hash and has_minhash:
            stored_at.append(len(out))
            if anticipates is None or reacts is None:
                # A sketch made before the modality was kept with it (migration 0092):
                # the regexes over the title and lead read here (no FEATURE_VERSION bump).
                anticipates, reacts = modality_of(title, lead)
            out.append(Features(
                article_id=article_id, at=at, language=language or None,
                minhash=_EMPTY_SIGNATURE, terms=Counter(json.loads(terms)),
                anchors=set(anchors), countries=set(countries), cluster_id=cluster_id,
                anticipates=anticipates, reacts=reacts))
            continue
        item = features(article_id, title, lead, language, at, cluster_id)
        out.append(item)
        fresh.append((item, text_hash, version is not None))  # a stale sketch exists
    if stored_at:
        matrix = _stored_signatures(con, [out[i].article_id for i in stored_at])
        for position, signature in zip(stored_at, matrix, strict=True):
            out[position].minhash = signature
    _store_sketches(con, fresh)
    return out


def _store_decisions(con: Any, decided: list[tuple[str, str, str | None, str, float]]) -> None:
    """Write the batch's cluster ids, new clusters and match reasons: three statements."""
    if not decided:
        return
    ids, clusters, matched, kinds, scores = (list(c) for c in zip(*decided, strict=True))
    columns: dict[str, tuple[str, Any]] = {
        "article_id": ("VARCHAR", ids), "cluster_id": ("VARCHAR", clusters),
        "matched_article_id": ("VARCHAR", matched), "match_kind": ("VARCHAR", kinds),
        "score": ("DOUBLE", np.array(scores, dtype=np.float64)),
    }
    with _batch(con, "_cluster_decisions", columns) as (batch, params):
        con.execute(
            "UPDATE articles SET cluster_id = d.cluster_id"
            f" FROM (SELECT article_id, cluster_id FROM {batch}) d"
            " WHERE articles.article_id = d.article_id", params)
        con.execute(
            "INSERT INTO clusters (cluster_id, founder_article_id, created_at)"
            f" SELECT article_id, article_id, now()::TIMESTAMP FROM {batch}"
            " WHERE match_kind = 'founder' ON CONFLICT DO NOTHING", params)
        con.execute(
            "INSERT OR REPLACE INTO cluster_members"
            " (article_id, cluster_id, matched_article_id, match_kind, score, assigned_at)"
            " SELECT article_id, cluster_id, matched_article_id::VARCHAR, match_kind, score,"
            f" now()::TIMESTAMP FROM {batch}", params)


def cluster_items(pool: list[Features], new: list[Features],
                  model: PairModel | None = None,
                  ) -> tuple[list[tuple[str, str, str | None, str, float]], list[tuple[str, str]]]:
    """Decide the story of each new article against the window: (decisions, merges).

    ``pool`` items carry their story ids; ``new`` ones get theirs here, oldest first, so a
    story's founder is its earliest article. A decision is (article, story, matched article,
    kind, score); a merge is (from story, into story): when a new article ties two stories,
    the younger is merged into the older, whose id survives.
    """
    new = sorted(new, key=lambda f: (f.at or datetime.max, f.article_id))
    idf = idf_of(pool + new)
    index = Pool(pool, capacity=len(pool) + len(new))
    decided: list[tuple[str, str, str | None, str, float]] = []
    merges: list[tuple[str, str]] = []
    for item in new:
        found = index.decide(item, idf, model)
        if found is None:
            item.cluster_id = item.article_id
            decided.append((item.article_id, item.cluster_id, None, "founder", 1.0))
        else:
            other, kind, score, others = found
            story = other.cluster_id
            if others:
                ordered = sorted({story, *others}, key=lambda c: index.started(c))
                story = ordered[0]
                for gone in ordered[1:]:
                    index.merge(gone, story)
                    merges.append((gone, story))
            item.cluster_id = story
            decided.append((item.article_id, story, other.article_id, kind, round(score, 4)))
        index.add(item)
    if merges:  # a decision taken before a merge names the story that merged away
        final = {i.article_id: i.cluster_id for i in index.items}
        decided = [(a, final.get(a, c), m, k, sc) for a, c, m, k, sc in decided]
    return decided, merges


def _store_merges(con: Any, merges: list[tuple[str, str]], reason: str) -> None:
    """Move the merged stories' articles to the surviving id and record each merge.

    Earlier merges into a story that now merges away are pointed at the survivor too, so
    ``story_merges`` resolves any old id in one step (see warehouse/README.md).
    """
    for gone, into in merges:
        con.execute("UPDATE articles SET cluster_id = ? WHERE cluster_id = ?", [into, gone])
        con.execute("UPDATE cluster_members SET cluster_id = ? WHERE cluster_id = ?",
                    [into, gone])
        con.execute("UPDATE story_merges SET into_story = ? WHERE into_story = ?", [into, gone])
        con.execute("INSERT OR REPLACE INTO story_merges (from_story, into_story, merged_at,"
                    " reason) VALUES (?, ?, now()::TIMESTAMP, ?)", [gone, into, reason])


def assign_clusters(con: Any, article_ids: list[str], model: PairModel | None = None) -> int:
    """Give each listed article without a cluster a ``cluster_id``; return how many got one.

    Runs inside the caller's (writer's) transaction. Articles are taken oldest first, so the
    founder of a story is its earliest article in this batch or the window. Idempotent: an
    article that already has a cluster keeps it, and a story keeps its id unless it is
    merged into an older one (recorded in ``story_merges``). Sketches of the articles it
    reads are kept in ``article_sketches``, so the next call re-reads rather than
    recomputes them.
    """
    if not article_ids:
        return 0
    ids = list(dict.fromkeys(article_ids))
    rows = con.execute(_NEW_SQL, [ids]).fetchall()
    todo = [r for r in rows if r[5] is None]
    if not todo:
        return 0
    times = [r[4] for r in todo if r[4] is not None]
    lo = min(times) - timedelta(days=WINDOW_DAYS) if times else datetime(1970, 1, 1)
    hi = max(times) + timedelta(days=WINDOW_DAYS) if times else datetime(2100, 1, 1)
    window = con.execute(_WINDOW_SQL, [lo, hi, ids, MAX_CANDIDATES]).fetchall()
    pool = _load_features(con, window)
    new = _load_features(con, todo)
    decided, merges = cluster_items(pool, new, model)
    _store_decisions(con, decided)
    _store_merges(con, merges, "an article matched both stories")
    log.info("clusters assigned articles=%d window=%d merges=%d", len(decided), len(window),
             len(merges))
    return len(decided)
