"""Ingest: from the sources file to stored articles, one module per stage.

    plan ─► fetch ─► parse ─► keys ─► derive ─► stage ══► store (the one writer)
    sources  HTTP     feed    entry   language,  staging   upserts, fetch rows, feed health,
    due now  polite   bytes → key,    full text, file      story clusters, trend tables
                      entries drop    classify,  (atomic)
                              seen    sketches

    parse uses encoding (which encoding the bytes are read in), items (one feed item, read
    as feedparser would or declined to it), dates (stamps to UTC, the absurd flagged) and
    text (cleaning: entities, C1 characters, mojibake); fetch (libcurl) uses response (one response's head and body, bounded)
    and resolve (host names looked up in threads of ours, handed to libcurl)
    client   the aiohttp configuration of the JSON API clients (GDELT); with tls (the
             process's one CA bundle, and aiohttp imported without loading its own)
    batch    one batch of sources from fetch to its staging file (an Airflow mapped task)
    workers  worker processes that parse, derive and stage what ``run`` fetches
    run      the whole of ``monitor ingest``: plan, fetch and stage, store, summarise
    health   a run's verdict (ok, degraded, blind) and its ``ingest_runs`` row

Staging files are the hand-over between fetching and storing: a killed task, a busy warehouse
or a full disk leaves the batch staged, and the next store picks it up.

Public surface (the DAGs, backfills and the CLI import these from their modules; this file
imports nothing, so loading one stage does not load them all):

    plan.plan_ingest, plan.host_batches, plan.new_run_id
    batch.fetch_and_stage, batch.stage_documents, batch.stage_entries, batch.Document
    stage.stage_records, stage.pending_batches
    store.store_staged
    run.run_ingest, run.IngestSummary
    workers.warm_up
"""
