"""A real ingest against misbehaving servers next to a good feed: every failure is recorded
with the right kind of reason, the good feed is stored, and the run ends at its deadline.

Small settings (total cap 3 s, run deadline 8 s) stand in for the defaults; the wall time
and memory with the defaults are measured by bench/misbehaving.py, not asserted here.
Seven sources share the never-answering host, two at a time (the per-host limit): the
first ones hit their own cap, the last ones are still waiting or running at the run's
deadline and must say so. The same run is checked on each path the ingest can take.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.ingest.batch import fetch_and_stage
from monitor.ingest.plan import plan_ingest
from monitor.ingest.run import run_ingest
from monitor.ingest.store import store_staged
from tests.ingest.conftest import FeedEnv
from tests.support.misbehaving import GOOD_TITLES, MisbehavingServers

QUEUED = 7  # sources on the never-answering host

#: behaviour → what its recorded error must contain (None: the fetch itself succeeds).
EXPECTED = {
    "drip": "total time cap",
    "too-many": "HTTP 429",
    "broken": "HTTP 500",
    "gone": "410 Gone",
    "gzip-bomb": "after decompression",
    "huge": "exceeds the cap",
    "huge-chunked": "exceeds the cap",
    "redirect-loop": "redirect loop",
    "entity-bomb": None,
}


@pytest.fixture
def servers() -> Iterator[MisbehavingServers]:
    with MisbehavingServers(drip_interval=0.2, retry_after=1,
                            gzip_bomb_bytes=50 * 1024 * 1024) as s:
        yield s


def _run(path: str, feeds: FeedEnv) -> None:
    settings = feeds.settings
    if path == "airflow-task":
        # What the DAG does: plan, one fetch_and_stage task (here one batch of everything),
        # store.
        batches = plan_ingest(settings)
        staged = fetch_and_stage(settings, [i for b in batches for i in b], "run-misbehaving")
        store_staged(settings, [staged["path"]], "run-misbehaving")
    else:
        summary = run_ingest(settings)
        assert summary.sources_total == len(feeds.sources)
        assert summary.sources_failed == len(feeds.sources) - 2  # good and entity bomb


@pytest.mark.parametrize("path", ["cli-one-process", "cli-workers", "airflow-task"])
def test_misbehaving_servers_are_recorded_and_the_run_keeps_its_deadline(
        feeds: FeedEnv, servers: MisbehavingServers, query, path: str) -> None:
    feeds.settings = feeds.settings.with_(
        total_timeout=3.0, run_deadline_seconds=8.0, max_body_bytes=2 * 1024 * 1024,
        retries=1, per_host_concurrency=2,
        ingest_workers=2 if path == "cli-workers" else 1)
    urls = servers.urls()
    for behaviour, url in urls.items():
        if behaviour != "hang":
            feeds.add_source(behaviour, url)
    for n in range(QUEUED):
        feeds.add_source(f"hang-{n}", f"{urls['hang']}?n={n}")

    _run(path, feeds)

    rows = {r[0]: r[1:] for r in query(
        "SELECT source_id, outcome, error, bozo FROM fetches")}
    assert set(rows) == {s["id"] for s in feeds.sources}, "every source has its fetch row"
    stored = [r[0] for r in query(
        "SELECT a.title FROM articles a JOIN article_sources s USING (article_id)"
        " WHERE s.source_id = 'good' ORDER BY a.title")]
    assert stored == GOOD_TITLES
    assert rows["good"][0] == "ok"

    for behaviour, reason in EXPECTED.items():
        outcome, error, _bozo = rows[behaviour]
        if reason is None:
            continue
        assert outcome == "error" and reason in (error or ""), (behaviour, error)

    # The entity bomb is parsed without expanding it (or declined): never a huge title.
    assert max((len(r[0]) for r in query(
        "SELECT a.title FROM articles a JOIN article_sources s USING (article_id)"
        " WHERE s.source_id = 'entity-bomb'")), default=0) < 1000

    hang = [rows[f"hang-{n}"] for n in range(QUEUED)]
    assert all(outcome == "error" for outcome, _e, _b in hang)
    capped = [e for _o, e, _b in hang if "total time cap" in e]
    late = [e for _o, e, _b in hang if "run deadline of 8s reached" in e]
    assert capped and late, hang
    assert len(capped) + len(late) == QUEUED, hang

    # A source that hit its total cap is not retried in the same run.
    assert servers.hits["drip"] == 1
    gone = query("SELECT enabled FROM sources WHERE source_id = 'gone'")[0][0]
    assert gone is False
    failures = dict(query("SELECT source_id, consecutive_failures FROM feed_state"))
    assert failures["drip"] == 1 and failures[f"hang-{QUEUED - 1}"] == 1


def test_retries_and_retry_after_waits_fit_in_the_source_cap(feeds: FeedEnv) -> None:
    """Each wait is taken only while the source's cap leaves room for it; a Retry-After that
    would pass it ends the source with the wait as its next poll time, not a sleep."""
    from monitor.ingest.fetch import FeedState, fetch_all
    from monitor.sources import Source

    settings = feeds.settings.with_(total_timeout=3.0, retries=5, max_retry_after=10.0)
    url = feeds.server.route("/busy.xml", b"busy", status=503, headers={"Retry-After": "2"})
    (result,) = fetch_all([Source(id="busy", url=url, outlet="Busy")], {"busy": FeedState()},
                          settings)
    assert result.outcome == "error" and result.error == "HTTP 503, Retry-After 2s"
    assert result.retry_after == 2.0
    assert len(feeds.server.hits("/busy.xml")) == 2  # asked at 0 s and 2 s, not at 4 s
