"""Ingest: poll the due feeds, stage new articles per batch, store them in one writer.

```
plan ──► fetch_and_stage[batch 1..n] (mapped) ──► store (pool duckdb_writer, Asset) ──► refresh_trends
                                                        └──► check_health
```

- **plan** decides which sources are due (failing ones back off) and groups them into batches;
  it also syncs `seeds/sources.toml` into the warehouse (a short write, so it takes the pool).
- **fetch_and_stage** runs once per batch (dynamic task mapping), so one slow outlet holds up
  only its own batch. It fetches, parses, dedups and classifies, and writes a staging file
  keyed by the run id; XCom carries only the file's path and counts. It never writes DuckDB.
- **store** is the only task that writes articles: it upserts the staged batches in the one-slot
  `duckdb_writer` pool (DuckDB has one writer) and is idempotent, so a retry changes nothing.
  It runs even when some batches failed (their sources are recorded as failures) and also
  stores batches an earlier run staged but could not store. It updates the
  `monitor_warehouse_articles` Asset.
- **store** also records the run in `ingest_runs` (`via = airflow`) from this run's
  `fetches` rows, with its health: ok, degraded (some sources failed) or blind (none
  answered, or the failing share reached `blind_failure_share`).
- **check_health** fails on a blind run with a message that says what to check (network,
  proxy, `monitor sources`, the failing errors), so the run is red and the failure alert
  mails the operator; a degraded run stays green and says so in this task's log.
- **refresh_trends** brings the trend tables up to date and publishes the read snapshot, so
  the Trends view shows the new articles.
- **watcher** fails the run if any task failed (since `store` runs regardless, the run's
  state would otherwise hide a failed batch).

Params (manual runs): `only` (list of source ids), `poll_all` (ignore back-off).
Runs by hand or through the REST API need no logical date: everything is keyed by `run_id`.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from airflow.sdk import Param, dag, task

from monitor.orchestration import (
    ARTICLES,
    START_DATE,
    WRITER_POOL,
    dag_settings,
    default_args,
)

_settings = dag_settings()


@dag(
    dag_id="monitor_ingest",
    schedule=timedelta(minutes=_settings.ingest_every_minutes),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=2),
    tags=["monitor", "ingest"],
    doc_md=__doc__,
    default_args=default_args(_settings),
    params={
        "only": Param([], type=["array", "null"], items={"type": "string"},
                      description="Poll only these source ids (empty: every due source)."),
        "poll_all": Param(False, type="boolean",
                          description="Ignore the back-off of failing sources."),
    },
)
def monitor_ingest() -> None:
    @task(pool=WRITER_POOL, retries=3)
    def plan(params: dict | None = None) -> list[list[str]]:
        from monitor.ingest.plan import plan_ingest
        from monitor.settings import load_settings

        params = params or {}
        only = set(params.get("only") or []) or None
        return plan_ingest(load_settings(), only=only, poll_all=bool(params.get("poll_all")))

    @task(max_active_tis_per_dagrun=4, execution_timeout=timedelta(minutes=20))
    def fetch_and_stage(batch: list[str], run_id: str | None = None) -> dict:
        from monitor.ingest.batch import fetch_and_stage as stage
        from monitor.settings import load_settings

        return stage(load_settings(), batch, run_id)

    @task(pool=WRITER_POOL, outlets=[ARTICLES], trigger_rule="all_done", retries=5,
          execution_timeout=timedelta(minutes=30))
    def store(staged: list[dict | None], batches: list[list[str]] | None,
              run_id: str | None = None, dag_run=None) -> dict:
        from monitor.ingest.store import store_staged
        from monitor.settings import load_settings

        paths = [item["path"] for item in staged or [] if item and item.get("path")]
        planned = [source_id for batch in batches or [] for source_id in batch]
        started = getattr(dag_run, "start_date", None)
        if started is not None and started.tzinfo is not None:
            started = started.astimezone(UTC).replace(tzinfo=None)
        # Also stores batches an earlier run staged but could not store (lock timeout), and
        # records the run and its health in ingest_runs.
        return store_staged(load_settings(), paths, run_id, record_via="airflow",
                            planned=planned, started_at=started)

    @task
    def check_health(stored: dict) -> str:
        """Fail a blind run (red in the UI, the failure alert mails the operator); a
        degraded run stays green and says so here. AirflowFailException is not retried."""
        import logging

        from airflow.sdk.exceptions import AirflowFailException

        health = (stored or {}).get("health") or {}
        verdict = health.get("health", "ok")
        if verdict == "blind":
            raise AirflowFailException(health.get("message", "the monitor is blind"))
        if verdict == "degraded":
            logging.getLogger("monitor.ingest.health").warning(
                "degraded run: %s failed of %s planned: %s", health.get("failed"),
                health.get("planned"), "; ".join(health.get("failing", [])))
        return verdict

    @task(pool=WRITER_POOL, retries=3)
    def refresh_trends() -> dict:
        from monitor.maintenance import refresh_trend_tables
        from monitor.settings import load_settings

        return refresh_trend_tables(load_settings())

    @task(trigger_rule="one_failed", retries=0, on_failure_callback=None)
    def watcher() -> None:
        """Fail the run when any task failed: `store` runs on `all_done`, so without this a
        run with a failed batch would look green (the failed task has alerted already)."""
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed; see its log")

    batches = plan()
    staged = fetch_and_stage.expand(batch=batches)
    stored = store(staged, batches)
    refreshed = refresh_trends()
    stored >> refreshed
    checked = check_health(stored)
    [batches, staged, stored, refreshed, checked] >> watcher()


monitor_ingest()
