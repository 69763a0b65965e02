"""Only articles that may concern Russia with Japan or China become stories.

The fetch step decides it from the classifier's analysis (``articles.candidate``): the rest
(a general feed's sport) is stored and classified, but neither sketched nor clustered. An
article stored before the flag existed (NULL) is clustered as before, and one that a new
model finds relevant is marked and clustered by ``monitor reclassify``.
"""

from __future__ import annotations

from monitor import warehouse
from monitor.classify import reclassify
from monitor.ingest.run import run_ingest
from monitor.ingest.stage import stage_records
from monitor.ingest.store import cluster_recent, store_staged
from tests.ingest.conftest import FeedEnv

KURILS = "Japan and Russia resume talks on the Kuril Islands peace treaty"
GAS = "Gazprom and CNPC sign Power of Siberia 2 supply terms"
FOOTBALL = "Football: Brazil beat Uruguay in a late thriller"
TALKS = "Foreign ministers meet in Tokyo"


def _articles(query) -> dict[str, tuple]:
    """title -> (candidate, cluster_id, has a sketch, relevant)."""
    return {r[0]: r[1:] for r in query(
        "SELECT a.title, a.candidate, a.cluster_id, s.article_id IS NOT NULL, c.relevant"
        " FROM articles a JOIN current_classifications c USING (article_id)"
        " LEFT JOIN article_sketches s USING (article_id)")}


def test_only_possibly_relevant_articles_become_stories(feeds: FeedEnv, query) -> None:
    feeds.serve_fixture("wire", "rss_basic.xml")
    assert run_ingest(feeds.settings).articles_new == 3
    rows = _articles(query)
    for title in (KURILS, GAS):  # candidate, clustered, sketched
        candidate, cluster_id, sketched, _relevant = rows[title]
        assert candidate is True and cluster_id and sketched, title
    # Stored and classified (not relevant), but no story and no sketch.
    assert rows[FOOTBALL] == (False, None, False, False)
    assert query("SELECT count(*) FROM stories") == [(2,)]


def test_an_article_stored_before_the_flag_is_clustered(feeds: FeedEnv, query) -> None:
    """NULL (stored before migration 0093, or without classification) counts as a
    candidate: such articles are clustered as they always were."""
    feeds.serve_fixture("wire", "rss_basic.xml")
    run_ingest(feeds.settings)
    with warehouse.writer(feeds.settings) as con:
        con.execute("UPDATE articles SET candidate = NULL WHERE title = ?", [FOOTBALL])
        cluster_recent(con)
    assert _articles(query)[FOOTBALL][1:3] == (
        query("SELECT article_id FROM articles WHERE title = ?", [FOOTBALL])[0][0], True)


def test_reclassify_clusters_an_article_that_becomes_relevant(feeds: FeedEnv, query) -> None:
    """An article the fetch step left out of stories joins one when the classifier (a new
    model, or here a new text for it) finds it relevant, however old it is."""
    feeds.serve_fixture("wire", "rss_basic.xml")
    run_ingest(feeds.settings)
    with warehouse.writer(feeds.settings) as con:
        # Older than the store's three-day clustering look-back, and now about the Kurils.
        con.execute(
            "UPDATE articles SET title = ?, summary = ?,"
            " first_seen_at = first_seen_at - INTERVAL 30 DAY WHERE title = ?",
            [TALKS, "Russia and Japan agreed on Tuesday to resume talks on the southern Kuril "
             "Islands, the foreign ministers of Japan and Russia said in Tokyo.", FOOTBALL])
    assert reclassify(feeds.settings) == 3
    candidate, cluster_id, sketched, relevant = _articles(query)[TALKS]
    assert relevant and candidate is True and cluster_id and sketched
    # The rest keep their stories (reclassify clusters only what turned relevant).
    assert query("SELECT count(*) FROM articles WHERE cluster_id IS NULL") == [(0,)]


def test_a_batchs_copies_of_one_article_keep_the_classified_copys_flag(feeds: FeedEnv,
                                                                      query) -> None:
    """The same entry twice in a batch (a feed that repeats an item): only the first copy is
    classified; the other, dropped as seen, has no flag. The stored row is the classified
    copy even when both were read in the same microsecond."""
    record = {"type": "article", "article_id": "a" * 16, "entry_key": "url:https://x.example/1",
              "url": "https://x.example/1", "canonical_url": "https://x.example/1",
              "title": FOOTBALL, "summary": "A late goal.", "source_id": "wire",
              "first_seen_at": "2026-12-03T10:00:00", "page_kind": "article"}
    unflagged = {**record, "seen": True}
    classified = {**record, "seen": False, "candidate": False}
    for order in ([unflagged, classified], [classified, unflagged]):
        with warehouse.writer(feeds.settings) as con:
            con.execute("DELETE FROM articles")
        path = stage_records(feeds.settings, "run-twins", [], order, [])
        store_staged(feeds.settings, [str(path)], "run-twins")
        assert query("SELECT candidate, cluster_id FROM articles") == [(False, None)]
