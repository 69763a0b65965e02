"""``monitor_ingest`` end to end with ``dag.test()``: real Airflow, local feeds, temp warehouse."""

from __future__ import annotations

import pytest

from monitor import warehouse
from tests.airflow.feeds import RELEVANT, TOTAL, serve_feeds, write_sources

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.xdist_group("airflow")]


def _counts(settings) -> dict[str, int]:
    with warehouse.reader(settings) as con:
        return {
            "articles": con.execute("SELECT count(*) FROM articles").fetchone()[0],
            "distinct_keys": con.execute(
                "SELECT count(DISTINCT entry_key) FROM articles").fetchone()[0],
            "relevant": con.execute(
                "SELECT count(*) FROM current_classifications WHERE relevant").fetchone()[0],
            "fetch_errors": con.execute(
                "SELECT count(*) FROM fetches WHERE outcome = 'error'").fetchone()[0],
            "trend_articles": con.execute("SELECT count(*) FROM trend_articles").fetchone()[0],
        }


def _run(dag):
    from airflow.utils.state import DagRunState

    run = dag.test()
    assert run.state == DagRunState.SUCCESS, [
        (ti.task_id, ti.map_index, ti.state) for ti in run.get_task_instances()]
    return run


def test_ingest_twice_no_duplicates(dagbag, monitor_env, http_server, tmp_path,
                                    monkeypatch) -> None:
    urls = serve_feeds(http_server)
    monkeypatch.setenv("MONITOR_SOURCES_FILE", str(write_sources(tmp_path / "s.toml", urls)))
    dag = dagbag.dags["monitor_ingest"]

    first = _run(dag)
    after_first = _counts(monitor_env)
    assert after_first["articles"] == TOTAL
    assert after_first["distinct_keys"] == TOTAL
    assert after_first["relevant"] == RELEVANT
    assert after_first["fetch_errors"] == 1  # the 500 is recorded, not a crash
    assert after_first["trend_articles"] >= RELEVANT  # trend tables refreshed and published
    # The batches were mapped and passed as paths; the writer stored them.
    store_ti = next(ti for ti in first.get_task_instances() if ti.task_id == "store")
    assert store_ti.state == "success"
    fetch_tis = [ti for ti in first.get_task_instances() if ti.task_id == "fetch_and_stage"]
    assert fetch_tis and all(ti.map_index >= 0 for ti in fetch_tis)

    # Second run: conditional GETs answer 304; nothing is added twice.
    _run(dag)
    assert _counts(monitor_env)["articles"] == TOTAL
    assert _counts(monitor_env)["distinct_keys"] == TOTAL
    assert http_server.hits("/japan.xml")[-1].headers.get("if-none-match") == '"j1"'
