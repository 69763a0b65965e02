"""``monitor_backfill_gdelt``: the DAG file imports cleanly with the team's conventions, and a
run for a data interval loads that day from the (local) GDELT API; a second run adds nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitor import warehouse
from monitor.backfill.gdelt import days_for_interval
from tests.airflow import conftest as airflow_conftest
from tests.airflow.conftest import dagbag, monitor_env  # noqa: F401  (fixtures, reused)
from tests.backfill.gdelt_api import FakeGdelt

DAG_ID = "monitor_backfill_gdelt"


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """The metadata DB of tests/airflow/conftest.py, migrated without a reset: in one session
    the tests/airflow fixture may have set it up already (initdb is idempotent, resetdb not)."""
    from airflow.utils import db

    db.initdb()
    airflow_conftest._ensure_pool()
    yield Path(os.environ["AIRFLOW_HOME"])


@pytest.mark.parametrize(("start", "end", "days"), [
    (datetime(2025, 3, 1, 3, tzinfo=UTC), datetime(2025, 3, 2, 3, tzinfo=UTC), [date(2025, 3, 1)]),
    (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC), [date(2025, 3, 1)]),
    (datetime(2025, 3, 1, 3), datetime(2025, 3, 4, 3), [date(2025, 3, d) for d in (1, 2, 3)]),
    (datetime(2025, 3, 2, 3, tzinfo=UTC), datetime(2025, 3, 2, 3, tzinfo=UTC), [date(2025, 3, 1)]),
], ids=["daily_at_3", "midnight", "three_days", "zero_length"])
def test_days_for_interval(start, end, days) -> None:
    assert days_for_interval(start, end) == days


@pytest.mark.airflow
@pytest.mark.xdist_group("airflow")
def test_dag_imports_with_conventions(dagbag) -> None:  # noqa: F811
    assert not {k: v for k, v in dagbag.import_errors.items() if "backfill" in k}
    dag = dagbag.dags[DAG_ID]
    assert "monitor" in dag.tags and dag.catchup is False and dag.max_active_runs == 1
    assert dag.start_date.tzinfo is not None and dag.doc_md and "data interval" in dag.doc_md
    for t in dag.tasks:
        assert t.owner == "monitor" and t.retries >= 1 and t.on_failure_callback, t.task_id
    assert dag.get_task("store_days").pool == "duckdb_writer"
    assert dag.get_task("refresh_trends").pool == "duckdb_writer"
    assert dag.get_task("stage_days").pool != "duckdb_writer"


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_a_run_loads_its_interval_day_idempotently(dagbag, monitor_env, http_server,  # noqa: F811
                                                    monkeypatch) -> None:
    from airflow.utils.state import DagRunState

    fake = FakeGdelt(http_server)
    monkeypatch.setenv("MONITOR_GDELT_API_URL", fake.url)
    monkeypatch.setenv("MONITOR_GDELT_INTERVAL", "0")
    dag = dagbag.dags[DAG_ID]

    # dag.test() infers the interval that *ends* at the given date: [03-01 03:00, 03-02 03:00).
    when = datetime(2025, 3, 2, 3, tzinfo=UTC)
    run = dag.test(logical_date=when)
    assert run.state == DagRunState.SUCCESS, [(t.task_id, t.state)
                                              for t in run.get_task_instances()]
    with warehouse.reader(monitor_env) as con:
        first = con.execute("SELECT count(*), count(DISTINCT entry_key), min(published_at),"
                            " max(published_at) FROM articles").fetchone()
        days = con.execute("SELECT DISTINCT slice_start::DATE FROM backfill_slices").fetchall()
    assert first[0] == first[1] == 640
    assert first[2].date() == first[3].date() == date(2025, 3, 1)
    assert days == [(date(2025, 3, 1),)]

    asked = len(fake.calls)
    again = dag.test(logical_date=when)  # the same interval again (a cleared run, a retry)
    assert again.state == DagRunState.SUCCESS
    assert len(fake.calls) - asked == 2  # only the two slices that failed are asked again
    with warehouse.reader(monitor_env) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 640
    with warehouse.reader(monitor_env) as con:
        runs = con.execute("SELECT via, health, sources_failed FROM ingest_runs").fetchall()
    # Two runs recorded; the malformed and error answers make them degraded, not blind.
    assert runs == [("backfill_gdelt", "degraded", 2)] * 2


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.xdist_group("airflow")
def test_a_run_whose_every_slice_failed_fails(dagbag, monitor_env, http_server,  # noqa: F811
                                              monkeypatch) -> None:
    from airflow.utils.state import DagRunState

    # An endpoint that answers 404 to everything: every slice fails at once.
    monkeypatch.setenv("MONITOR_GDELT_API_URL", http_server.url("/no/such/api"))
    monkeypatch.setenv("MONITOR_GDELT_INTERVAL", "0")
    run = dagbag.dags[DAG_ID].test(logical_date=datetime(2025, 3, 2, 3, tzinfo=UTC))
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["store_days"] == "success" and states["check_slices"] == "failed"
    with warehouse.reader(monitor_env) as con:
        [(via, health, asked, failed, failing)] = con.execute(
            "SELECT via, health, sources_planned, sources_failed, failing FROM ingest_runs"
        ).fetchall()
    assert (via, health) == ("backfill_gdelt", "blind") and asked == failed == 5
    assert any(f.startswith("russia_japan 2025-03-01") and "HTTP 404" in f for f in failing)
