"""``monitor_maintenance`` and ``monitor_retrain`` end to end with ``dag.test()``."""

from __future__ import annotations

import json
import os
import time

import pytest

from monitor import warehouse
from tests.airflow.feeds import serve_feeds, write_sources

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.xdist_group("airflow")]


@pytest.fixture
def ingested(dagbag, monitor_env, http_server, tmp_path, monkeypatch):
    from monitor.ingest.run import run_ingest
    from monitor.settings import load_settings

    urls = serve_feeds(http_server)
    monkeypatch.setenv("MONITOR_SOURCES_FILE", str(write_sources(tmp_path / "s.toml", urls)))
    settings = load_settings()
    run_ingest(settings)
    return settings


def test_maintenance(dagbag, ingested) -> None:
    from airflow.utils.state import DagRunState

    settings = ingested
    old = settings.staging_dir / "old-run" / "batch-old.jsonl.done"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("{}\n")
    pending = settings.staging_dir / "old-run" / "batch-never-stored.jsonl"
    pending.write_text("{}\n")
    stale = time.time() - (settings.staging_retention_days + 1) * 86400
    os.utime(old, (stale, stale))
    os.utime(pending, (stale, stale))

    run = dagbag.dags["monitor_maintenance"].test()
    assert run.state == DagRunState.SUCCESS

    assert not old.exists()  # past retention
    assert pending.exists()  # a batch not stored yet is never pruned
    assert any(settings.staging_dir.rglob("batch-*"))  # today's batches are kept
    reports = list((settings.home / "reports").glob("feed-health-*.json"))
    report = json.loads(reports[0].read_text())
    assert report["failing"] == 1 and report["items"][0]["source_id"] == "broken-outlet"
    export = settings.home / "export"
    with warehouse.reader(settings) as con:
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        exported = con.execute(
            "SELECT count(*) FROM read_parquet(?)", [str(export / "articles.parquet")]
        ).fetchone()[0]
    assert exported == articles > 0
    assert (export / "trend_daily.parquet").exists()


def test_retrain_records_both_scores(dagbag, ingested) -> None:
    from airflow.utils.state import DagRunState

    run = dagbag.dags["monitor_retrain"].test()
    assert run.state == DagRunState.SUCCESS
    with warehouse.reader(ingested) as con:
        models = con.execute("SELECT version, metrics FROM models").fetchall()
    assert models  # the candidate is recorded whether or not it was promoted
