"""The classifier's SQL: predictions, human labels, model records, reclassification.

Each function holds one readable, parameterised statement and runs in the caller's
connection and transaction (the writer decides when to commit), except :func:`reclassify`,
which is a whole job and opens its own short write transactions.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from monitor.classify.model import Prediction
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS
from monitor.settings import Settings

if TYPE_CHECKING:  # duckdb costs ~0.15 s to import; callers already hold a connection
    import duckdb

__all__ = ["store_predictions", "add_label", "human_labelled", "unlabelled_texts",
           "record_model", "reclassify", "RECLASSIFY_BATCH"]

log = logging.getLogger(__name__)

#: Articles per write transaction during reclassification: short holds of the writer lock.
RECLASSIFY_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def store_predictions(con: duckdb.DuckDBPyConnection, predictions: Iterable[Prediction],
                      classified_at: datetime | None = None) -> int:
    """Upsert predictions into ``classifications`` (key: article id × model version)."""
    at = classified_at or _now()
    rows = [
        (str(p.id), p.model_version, bool(p.relevant), list(p.dyads), list(p.topics),
         json.dumps(p.scores, ensure_ascii=False), json.dumps(p.evidence, ensure_ascii=False),
         at)
        for p in predictions if p.id is not None and p.id != ""
    ]
    if not rows:
        return 0
    con.executemany(
        "INSERT INTO classifications (article_id, model_version, relevant, dyads, topics,"
        " scores, evidence, classified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (article_id, model_version) DO UPDATE SET relevant = excluded.relevant,"
        " dyads = excluded.dyads, topics = excluded.topics, scores = excluded.scores,"
        " evidence = excluded.evidence, classified_at = excluded.classified_at",
        rows,
    )
    return len(rows)


def add_label(con: duckdb.DuckDBPyConnection, article_id: str, relevant: bool,
              dyads: list[str], topics: list[str], who: str, note: str | None = None) -> str:
    """Store one human judgement; the newest per article wins when training."""
    bad = [d for d in dyads if d not in DYAD_IDS] + [t for t in topics if t not in TOPIC_IDS]
    if bad:
        raise ValueError(f"unknown labels: {', '.join(bad)}")
    if relevant and not dyads:
        raise ValueError("a relevant article needs at least one dyad (--dyads)")
    if not relevant and (dyads or topics):
        raise ValueError("a not-relevant article has no dyads or topics")
    label_id = uuid.uuid4().hex
    con.execute(
        "INSERT INTO labels (label_id, article_id, relevant, dyads, topics, who, labelled_at,"
        " note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [label_id, article_id, relevant, [d for d in DYAD_IDS if d in dyads],
         [t for t in TOPIC_IDS if t in topics], who, _now(), note],
    )
    return label_id


def human_labelled(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The newest human label of each labelled article, with the article's text."""
    rows = con.execute(
        "SELECT a.article_id, coalesce(a.title, ''),"
        " coalesce(a.body, a.summary, ''), l.relevant, l.dyads, l.topics"
        " FROM labels l JOIN articles a USING (article_id)"
        " QUALIFY row_number() OVER (PARTITION BY l.article_id ORDER BY l.labelled_at DESC) = 1"
        " ORDER BY a.article_id"
    ).fetchall()
    return [{"id": r[0], "title": r[1], "text": r[2], "relevant": bool(r[3]),
             "dyads": list(r[4]), "topics": list(r[5])} for r in rows]


def unlabelled_texts(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """Recent articles for weak labelling (newest first)."""
    rows = con.execute(
        "SELECT article_id, coalesce(title, ''), coalesce(body, summary, '') FROM articles"
        " ORDER BY first_seen_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [{"id": r[0], "title": r[1], "text": r[2]} for r in rows]


def record_model(con: duckdb.DuckDBPyConnection, version: str, path: str | None,
                 metrics: dict[str, Any], promoted: bool | None, note: str = "") -> None:
    """Insert or update a ``models`` row. ``promoted=None`` leaves the flag as it is."""
    now = _now()
    con.execute(
        "INSERT INTO models (version, trained_at, path, metrics, promoted, promoted_at, note)"
        " VALUES (?, ?, ?, ?, coalesce(?, FALSE), CASE WHEN ? THEN ? END, ?)"
        " ON CONFLICT (version) DO UPDATE SET metrics = excluded.metrics,"
        " path = coalesce(excluded.path, models.path),"
        " promoted = CASE WHEN ? IS NULL THEN models.promoted ELSE excluded.promoted END,"
        " promoted_at = CASE WHEN ? THEN excluded.promoted_at ELSE models.promoted_at END",
        [version, now, path, json.dumps(metrics), promoted, bool(promoted), now, note,
         promoted, bool(promoted)],
    )
    if promoted:
        con.execute("UPDATE models SET promoted = FALSE WHERE version <> ? AND promoted",
                    [version])


def reclassify(settings: Settings, since: date | datetime | None = None) -> int:
    """Apply the promoted model to stored articles (first seen on or after ``since``)."""
    from monitor import warehouse
    from monitor.classify.load import load_classifier

    clf = load_classifier(settings)
    with warehouse.reader(settings, primary=True) as con:
        rows = con.execute(
            "SELECT article_id, coalesce(title, ''), coalesce(body, summary, '') FROM articles"
            " WHERE (? IS NULL OR first_seen_at >= ?)"
            # Feed items that are not articles (index pages, headline lists …) keep their
            # not-relevant classification from the fetch step.
            " AND coalesce(page_kind, 'article') = 'article' ORDER BY article_id",
            [since, since],
        ).fetchall()
    total = 0
    for start in range(0, len(rows), RECLASSIFY_BATCH):
        batch = rows[start:start + RECLASSIFY_BATCH]
        preds = clf.classify([{"id": r[0], "title": r[1], "text": r[2]} for r in batch])
        with warehouse.writer(settings, publish=start + RECLASSIFY_BATCH >= len(rows)) as con, \
                warehouse.transaction(con):
            total += store_predictions(con, preds)
            _cluster_newly_relevant(con, [p.id for p in preds if p.relevant])
    log.info("reclassified articles=%d model_version=%s since=%s", total, clf.version, since)
    return total


def _cluster_newly_relevant(con: duckdb.DuckDBPyConnection, relevant: list[str]) -> None:
    """Articles the fetch step found not even possibly relevant were not clustered; one the
    new model finds relevant is marked a candidate and joins its story now, however old
    (the store's clustering looks at the last three days only)."""
    if not relevant:
        return
    ids = [r[0] for r in con.execute(
        "UPDATE articles SET candidate = TRUE WHERE candidate IS FALSE"
        " AND article_id IN (SELECT unnest(?::VARCHAR[])) RETURNING article_id",
        [relevant]).fetchall()]
    if ids:
        from monitor.stories.clusters import assign_clusters

        assign_clusters(con, ids)
