"""Cluster sketches are made by the fetch step and stored with the batch, so the single
writer only compares them; if they are missing it still clusters (computing them)."""

from __future__ import annotations

import pytest

from monitor.ingest import derive
from monitor.ingest.batch import fetch_and_stage
from monitor.ingest.plan import plan_ingest
from monitor.ingest.run import run_ingest
from monitor.ingest.store import store_staged
from monitor.stories import assign, clusters
from tests.ingest.conftest import FeedEnv


def _serve(feeds: FeedEnv) -> None:
    feeds.serve_fixture("basic", "rss_basic.xml")
    feeds.serve_fixture("dupes", "duplicates.xml")


def test_store_reuses_the_staged_sketches(feeds: FeedEnv, query,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(feeds)
    staged = [fetch_and_stage(feeds.settings, batch, "run-s")["path"]
              for batch in plan_ingest(feeds.settings)]

    def no_recompute(*args, **kwargs):
        raise AssertionError("the writer recomputed a sketch the fetch step had staged")

    monkeypatch.setattr(assign, "features", no_recompute)
    store_staged(feeds.settings, staged, "run-s")
    # Every possibly relevant article is sketched by the fetch step and clustered; the rest
    # (a football result, two bare headlines) are neither.
    rows = query("SELECT count(*) FILTER (WHERE candidate), count(cluster_id),"
                 " (SELECT count(*) FROM article_sketches WHERE version = ?),"
                 " count(*) FILTER (WHERE NOT candidate) FROM articles",
                 [clusters.FEATURE_VERSION])
    assert rows[0][0] > 0 and rows[0][:3] == (rows[0][0],) * 3 and rows[0][3] > 0


def test_without_staged_sketches_the_store_computes_them(
        feeds: FeedEnv, query, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(feeds)
    monkeypatch.setattr(derive, "sketch", lambda articles: [])
    summary = run_ingest(feeds.settings)
    assert summary.articles_new > 0
    (candidates,), = query("SELECT count(*) FROM articles WHERE candidate")
    assert 0 < candidates < summary.articles_new
    assert query("SELECT count(*) FILTER (WHERE candidate) - count(cluster_id) FROM articles"
                 ) == [(0,)]
    assert query("SELECT count(*) FROM article_sketches") == [(candidates,)]
