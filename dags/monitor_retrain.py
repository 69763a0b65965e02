"""Retrain: weekly, train a candidate classifier and promote it only if it is no worse.

`monitor.classify.retrain` fits a candidate from the seed, weak labels and the human labels
in the warehouse, scores it and the current model on the labelled data available, records
both scores in the `models` table and promotes the candidate only when it scores no worse.
It writes the warehouse, so it runs in the one-slot `duckdb_writer` pool.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from monitor.orchestration import START_DATE, WRITER_POOL, dag_settings, default_args

_settings = dag_settings()


@dag(
    dag_id="monitor_retrain",
    schedule=CronTriggerTimetable(_settings.retrain_cron, timezone=_settings.timezone),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=3),
    tags=["monitor", "classify"],
    doc_md=__doc__,
    default_args=default_args(_settings, retries=1),
)
def monitor_retrain() -> None:
    @task(pool=WRITER_POOL, execution_timeout=timedelta(hours=2))
    def retrain() -> dict:
        import json

        from monitor.classify import retrain as run_retrain
        from monitor.settings import load_settings

        result = run_retrain(load_settings())
        # Keep XCom to plain JSON (scores, versions); anything else becomes text.
        return json.loads(json.dumps(result, default=str))

    retrain()


monitor_retrain()
