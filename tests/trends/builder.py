"""Filling a test warehouse with known articles, straight through SQL (shared by trend and
digest tests). Every helper takes the writer's connection and inserts exactly what it says."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

import duckdb

_ids = itertools.count(1)


def add_source(con: duckdb.DuckDBPyConnection, source_id: str, outlet: str,
               country: str | None = None, *, enabled: bool = True,
               disabled_reason: str | None = None) -> None:
    con.execute(
        "INSERT INTO sources (source_id, url, outlet, country, enabled, disabled_reason)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [source_id, f"https://{source_id}.example/rss", outlet, country, enabled,
         disabled_reason],
    )


def add_article(con: duckdb.DuckDBPyConnection, *, published: datetime | None,
                first_seen: datetime | None = None, source_id: str = "tass",
                outlet: str | None = None, title: str | None = None,
                summary: str = "", url: str | None = None, cluster_id: str | None = None,
                relevant: bool = True, dyads: Sequence[str] = ("russia_china",),
                topics: Sequence[str] = ("energy",), classified_at: datetime | None = None,
                model_version: str = "m1", article_id: str | None = None) -> str:
    """One article with one classification; returns its id."""
    n = next(_ids)
    article_id = article_id or f"a{n:06d}"
    seen = first_seen or published
    outlet = outlet or con.execute(
        "SELECT outlet FROM sources WHERE source_id = ?", [source_id]).fetchone()[0]
    con.execute(
        "INSERT INTO articles (article_id, entry_key, url, title, summary, outlet, source_id,"
        " published_at, first_seen_at, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [article_id, f"key-{article_id}", url or f"https://{source_id}.example/{article_id}",
         title or f"Story {article_id}", summary, outlet, source_id, published, seen,
         cluster_id],
    )
    classify(con, article_id, relevant=relevant, dyads=dyads, topics=topics,
             classified_at=classified_at or seen, model_version=model_version)
    return article_id


def classify(con: duckdb.DuckDBPyConnection, article_id: str, *, relevant: bool,
             dyads: Sequence[str], topics: Sequence[str], classified_at: datetime,
             model_version: str) -> None:
    con.execute(
        "INSERT INTO classifications (article_id, model_version, relevant, dyads, topics,"
        " scores, evidence, classified_at) VALUES (?, ?, ?, ?, ?, '{}', '{}', ?)",
        [article_id, model_version, relevant, list(dyads) if relevant else [],
         list(topics) if relevant else [], classified_at],
    )


def add_feed_state(con: duckdb.DuckDBPyConnection, source_id: str, *,
                   last_attempt_at: datetime | None, last_ok_at: datetime | None,
                   failures: int = 0, failing_since: datetime | None = None,
                   last_error: str | None = None) -> None:
    con.execute(
        "INSERT INTO feed_state (source_id, last_attempt_at, last_ok_at, consecutive_failures,"
        " failing_since, last_error, last_outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [source_id, last_attempt_at, last_ok_at, failures, failing_since, last_error,
         "error" if failures else "ok"],
    )


def add_fetch(con: duckdb.DuckDBPyConnection, source_id: str, started_at: datetime,
              outcome: str = "ok", entries_new: int = 0, error: str | None = None) -> None:
    fid = f"f{next(_ids):06d}"
    con.execute(
        "INSERT INTO fetches (fetch_id, source_id, run_id, started_at, outcome, entries_new,"
        " error) VALUES (?, ?, 'run', ?, ?, ?, ?)",
        [fid, source_id, started_at, outcome, entries_new, error],
    )
