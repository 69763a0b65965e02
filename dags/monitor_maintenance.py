"""Maintenance: daily feed-health report, staging retention, Parquet export.

- **feed_health** writes `reports/feed-health-<date>.json` under the data directory (failing
  sources first) and logs the failing ones; it reads the published read snapshot.
- **prune_staging** deletes staging files older than `staging_retention_days`.
- **export_parquet** writes every warehouse table and view to `export/*.parquet` (replaced
  atomically), for people who want files; it reads the snapshot, so it never blocks ingest.

All three are read-only on the warehouse and independent of each other.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from monitor.orchestration import START_DATE, dag_settings, default_args

_settings = dag_settings()


@dag(
    dag_id="monitor_maintenance",
    schedule=CronTriggerTimetable(_settings.maintenance_cron, timezone=_settings.timezone),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=2),
    tags=["monitor", "maintenance"],
    doc_md=__doc__,
    default_args=default_args(_settings),
)
def monitor_maintenance() -> None:
    @task
    def feed_health() -> dict:
        from monitor.maintenance import feed_health_report
        from monitor.settings import load_settings

        return feed_health_report(load_settings())

    @task
    def prune_staging() -> dict:
        from monitor.maintenance import prune_staging as prune
        from monitor.settings import load_settings

        return prune(load_settings())

    @task(execution_timeout=timedelta(hours=1))
    def export_parquet() -> dict:
        from monitor.maintenance import export_parquet as export
        from monitor.settings import load_settings

        return export(load_settings())

    feed_health()
    prune_staging()
    export_parquet()


monitor_maintenance()
