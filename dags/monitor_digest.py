"""Digest: build and send the daily digest for the previous day.

Runs daily at `digest_hour` in the configured `timezone` and sends the digest of the
calendar day before the run (in that timezone). The day comes from the run's own time
(`data_interval_end`, else `run_after`), never from `{{ ds }}`: runs started by hand or
through the REST API have no logical date.

Idempotent per date and recipient: the `digests` table records what was sent, so a retry or
a second run for the same day does not send twice (set `force` to resend on purpose).
It writes the `digests` table, so it runs in the one-slot `duckdb_writer` pool.

Params (manual runs): `day` (YYYY-MM-DD, default: the previous day), `force`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from monitor.orchestration import START_DATE, WRITER_POOL, dag_settings, default_args

_settings = dag_settings()


@dag(
    dag_id="monitor_digest",
    schedule=CronTriggerTimetable(f"0 {_settings.digest_hour} * * *", timezone=_settings.timezone),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=2),
    tags=["monitor", "digest", "email"],
    doc_md=__doc__,
    default_args=default_args(_settings, retries=3),
    params={
        "day": Param(None, type=["null", "string"], format="date",
                     description="Digest day YYYY-MM-DD (empty: the day before the run)."),
        "force": Param(False, type="boolean", description="Send again even if already sent."),
    },
)
def monitor_digest() -> None:
    @task(pool=WRITER_POOL, execution_timeout=timedelta(minutes=30))
    def send_digest(params: dict | None = None, dag_run=None) -> dict:
        from datetime import date

        from monitor.digest import run_digest
        from monitor.orchestration import previous_day, run_time
        from monitor.settings import load_settings

        settings = load_settings()
        params = params or {}
        if params.get("day"):
            day = date.fromisoformat(str(params["day"]))
        else:
            day = previous_day(run_time(dag_run), settings.timezone)
        result = run_digest(settings, day=day, send=True, force=bool(params.get("force")))
        return {"day": day.isoformat(), **_plain(result)}

    send_digest()


def _plain(result: object) -> dict:
    """XCom takes JSON: keep what serialises, stringify the rest (dates, paths)."""
    if not isinstance(result, dict):
        return {"result": str(result)}
    return {str(k): v if isinstance(v, str | int | float | bool | type(None) | list | dict)
            else str(v) for k, v in result.items()}


monitor_digest()
