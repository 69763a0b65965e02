"""Loading history: archives of saved feed files and the GDELT DOC 2.0 API.

Both go through the same staging → store path as live ingestion (``monitor.ingest``), so a
backfilled article is keyed, deduplicated and classified exactly like a polled one; only
``articles.ingested_via`` ('backfill_dir' | 'backfill_gdelt') says how it came. What work is
finished is recorded in ``backfill_files`` and ``backfill_slices`` (migration 0050), so an
interrupted backfill resumes and a repeated one adds nothing.

Submodules are imported lazily by their callers (``monitor.backfill.archive``,
``monitor.backfill.gdelt``): the DAG file and ``monitor --help`` stay cheap.
"""

__all__: list[str] = []
