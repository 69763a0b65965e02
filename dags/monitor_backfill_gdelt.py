"""GDELT backfill: one UTC day of the GDELT DOC 2.0 API per run, for history and for gaps.

```
stage_days ──► store_days (pool duckdb_writer, Asset) ──► refresh_trends (pool duckdb_writer)
                                                     └──► check_slices
```

- **Which day**: the run's *data interval* (never `{{ ds }}`): the DAG is scheduled daily at
  03:00 UTC with intervals [d 03:00, d+1 03:00), and a run loads every UTC day that ends inside
  its interval, i.e. day d, two settled hours after midnight. The daily schedule keeps catching
  what the live feeds missed yesterday.
- **History**: Airflow's own backfill over a date range (UI "Backfill", or
  `airflow backfill create --dag-id monitor_backfill_gdelt --from-date 2026-09-01
  --to-date 2026-11-26 --max-active-runs 4`) creates one run per day. Runs are independent and
  idempotent: GDELT time slices already recorded in `backfill_slices` are not asked again, and
  articles are upserts on their keys. Parallel days share GDELT's one-request-per-5-seconds
  budget through a lock file in the data directory, and their writers queue in the one-slot
  `duckdb_writer` pool. GDELT's DOC API covers about the last three months.
- **stage_days** queries GDELT for the relations and topics (`monitor.backfill.gdelt.QUERIES`),
  splits full slices (250 results) in half, honours 429, records malformed answers, and stages
  the entries like live ingestion (dedup, classification). It never writes DuckDB.
- A scheduled (daily) run also asks again for the slices of the previous seven days that
  failed (GDELT down, no network) or were not settled; backfill runs own only their own day.
- **store_days** stores the staged batch (`ingested_via = 'backfill_gdelt'`), records the
  finished slices and the run (`ingest_runs`, `via = backfill_gdelt`, counts in slices);
  **refresh_trends** updates the trend tables for the days that changed.
- **check_slices** fails the run when every slice it asked failed (GDELT down, no network),
  naming the slices and their errors, so the run is red and the failure alert goes out.

Settings: `MONITOR_GDELT_API_URL` (a mirror or test server), `MONITOR_GDELT_INTERVAL` (seconds
between requests, default 5). The same code runs as `monitor backfill --gdelt --since DATE`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from monitor.orchestration import ARTICLES, WRITER_POOL, dag_settings, default_args

_settings = dag_settings()
#: Not the shared START_DATE (2026): Airflow creates no task instances for runs whose
#: interval lies before the start date, so a backfill of earlier days would silently do
#: nothing. GDELT's DOC 2.0 archive starts in 2017; catchup=False keeps the schedule to the
#: latest day.
GDELT_START = datetime(2017, 1, 1, tzinfo=UTC)


@dag(
    dag_id="monitor_backfill_gdelt",
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    start_date=GDELT_START,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=6),
    tags=["monitor", "backfill", "gdelt"],
    doc_md=__doc__,
    default_args=default_args(_settings, retries=3),
)
def monitor_backfill_gdelt() -> None:
    @task(execution_timeout=timedelta(hours=4))
    def stage_days(data_interval_start=None, data_interval_end=None, dag_run=None,
                   run_id: str | None = None) -> list[dict]:
        from monitor.backfill.gdelt import days_for_interval, days_to_retry, stage_gdelt_day
        from monitor.settings import load_settings

        settings = load_settings()
        days = days_for_interval(data_interval_start, data_interval_end,
                                 getattr(dag_run, "run_after", None))
        if str(getattr(dag_run, "run_type", "")) == "scheduled":
            # The daily run also heals the last week's failed slices (backfill runs do not:
            # each of them owns its own day).
            days = sorted({*days, *days_to_retry(settings, min(days))})
        return [stage_gdelt_day(settings, day, run_id) for day in days]

    @task(pool=WRITER_POOL, outlets=[ARTICLES], retries=5,
          execution_timeout=timedelta(minutes=30))
    def store_days(staged: list[dict], run_id: str | None = None, dag_run=None) -> dict:
        from monitor.backfill.gdelt import gdelt_blind_message, record_gdelt_run, store_gdelt_day
        from monitor.settings import load_settings

        settings = load_settings()
        stored = [store_gdelt_day(settings, item, run_id) for item in staged]
        started = getattr(dag_run, "start_date", None)
        if started is not None and started.tzinfo is not None:
            started = started.astimezone(UTC).replace(tzinfo=None)
        record = record_gdelt_run(
            settings, run_id, sum(s.get("asked", 0) for s in staged),
            sum(s.get("errors", 0) for s in staged), sum(s.get("unreached", 0) for s in staged),
            [f for s in staged for f in s.get("failed", [])],
            sum(s["articles_new"] for s in stored), started_at=started)
        return {"days": stored, "health": record.health,
                "message": gdelt_blind_message(record) if record.health == "blind" else ""}

    @task
    def check_slices(stored: dict) -> str:
        """Fail the run when every GDELT slice asked failed (AirflowFailException: no retry)."""
        from airflow.sdk.exceptions import AirflowFailException

        if stored.get("health") == "blind":
            raise AirflowFailException(stored["message"])
        return stored.get("health", "ok")

    @task(pool=WRITER_POOL, retries=3)
    def refresh_trends() -> dict:
        from monitor.maintenance import refresh_trend_tables
        from monitor.settings import load_settings

        return refresh_trend_tables(load_settings())

    stored = store_days(stage_days())
    stored >> refresh_trends()
    check_slices(stored)


monitor_backfill_gdelt()
