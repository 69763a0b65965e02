"""The ingest pipeline, top to bottom (miniflux ``handler.go`` habit).

    plan_ingest      which sources are due (back-off of failing ones respected)
    fetch_and_stage  fetch → parse → normalise → dedup-in-batch → classify; writes one staging
                     file per batch (JSON Lines) and returns its path — no warehouse write
    store_staged     the only warehouse writer: upserts staged batches in one transaction each,
                     idempotent (re-running it on the same file adds nothing)
    run_ingest       the three above in one process, for ``monitor ingest``

Airflow's ``monitor_ingest`` DAG maps ``fetch_and_stage`` over groups of sources and runs
``store_staged`` once, in the one-slot ``duckdb_writer`` pool.
"""
