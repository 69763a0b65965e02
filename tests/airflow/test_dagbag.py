"""The DAG files import cleanly, fast, and every DAG carries the settings the team relies on."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.xdist_group("airflow")]

EXPECTED = {"monitor_ingest", "monitor_digest", "monitor_retrain", "monitor_maintenance"}


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_conventions(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.tags and "monitor" in dag.tags
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.start_date is not None and dag.start_date.tzinfo is not None
    assert dag.schedule is not None
    assert dag.doc_md and len(dag.doc_md) > 100
    assert dag.is_paused_upon_creation is False
    for t in dag.tasks:
        assert t.owner == "monitor", t.task_id
        if t.task_id == "watcher":  # only turns an upstream failure into a failed run
            assert t.trigger_rule == "one_failed" and not t.downstream_list
            continue
        assert t.retries >= 1, t.task_id
        assert t.retry_exponential_backoff, t.task_id
        assert t.on_failure_callback, t.task_id


def test_warehouse_writers_use_the_pool(dagbag) -> None:
    writers = {
        ("monitor_ingest", "plan"),
        ("monitor_ingest", "store"),
        ("monitor_ingest", "refresh_trends"),
        ("monitor_digest", "send_digest"),
        ("monitor_retrain", "retrain"),
    }
    for dag_id, task_id in writers:
        assert dagbag.dags[dag_id].get_task(task_id).pool == "duckdb_writer"
    # Fetching fans out over batches with dynamic task mapping and never writes DuckDB.
    fetch = dagbag.dags["monitor_ingest"].get_task("fetch_and_stage")
    assert fetch.pool != "duckdb_writer"
    assert dagbag.dags["monitor_ingest"].get_task("store").outlets

