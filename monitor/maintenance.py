"""Daily housekeeping the ``monitor_maintenance`` DAG runs: plain functions, testable alone.

- :func:`feed_health_report` — every source with its health, failing ones first, written to
  ``reports/feed-health-<date>.json`` and logged, so an operator sees dead feeds without SQL.
- :func:`prune_staging` — staging files (batches between fetch and store) older than
  ``staging_retention_days`` are deleted. A batch that old was either stored long ago or is
  stale news that the next fetch would bring again, so keeping it has no value.
- :func:`export_parquet` — every table and view of the warehouse as Parquet under
  ``export/``, for people who want files rather than SQL.

:func:`refresh_trend_tables` (run by ``monitor_ingest`` after each store, in the writer pool)
brings the trend tables up to date and republishes the snapshot.

The first three read the published read snapshot (``warehouse.reader``), never the primary, so
they can run at any time without blocking or being blocked by ingestion.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import warehouse
from monitor.settings import Settings

__all__ = ["feed_health", "feed_health_report", "prune_staging", "export_parquet",
           "refresh_trend_tables"]

log = logging.getLogger(__name__)

#: Statuses (``monitor.trends.feed_health``) that need an operator's attention.
FAILING = ("failing", "failing_24h")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def feed_health(settings: Settings) -> list[dict[str, Any]]:
    """Every source with its health, failing first (the same rows the Trends page shows)."""
    from monitor import trends

    with warehouse.reader(settings) as con:
        return trends.feed_health(con)


def feed_health_report(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Write today's feed-health report; return the counts and the report's path."""
    now = now or datetime.now(UTC)
    sources = feed_health(settings)
    failing = [s for s in sources if s.get("status") in FAILING]
    disabled = [s for s in sources if s.get("status") == "disabled"]
    report = {
        "generated_at": now.isoformat(),
        "sources": len(sources),
        "failing": len(failing),
        "disabled": len(disabled),
        "items": [{k: _jsonable(v) for k, v in s.items()} for s in sources],
    }
    folder = settings.home / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"feed-health-{now.date().isoformat()}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    for s in failing:
        log.warning("failing source source_id=%s failures=%s last_error=%s",
                    s["source_id"], s["consecutive_failures"], s["last_error"])
    log.info("feed health sources=%d failing=%d disabled=%d path=%s",
             len(sources), len(failing), len(disabled), path)
    return {"path": str(path), "sources": len(sources), "failing": len(failing),
            "disabled": len(disabled)}


def prune_staging(settings: Settings, now: float | None = None) -> dict[str, Any]:
    """Delete stored (``.done``) and abandoned partial (``.part``) staging files, and emptied
    run folders, older than the retention period. Pending batches are never deleted."""
    now = time.time() if now is None else now
    cutoff = now - settings.staging_retention_days * 86400
    root = settings.staging_dir
    removed = kept = freed = 0
    if not root.exists():
        return {"removed": 0, "kept": 0, "bytes_freed": 0}
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        try:
            if path.is_file():
                st = path.stat()
                if path.suffix == ".jsonl":
                    # A batch not stored yet is data, not litter: never delete it. Say so
                    # if it has waited that long (the warehouse must have been unwritable).
                    if st.st_mtime < cutoff:
                        log.warning("staged batch older than the retention period is still "
                                    "not stored path=%s; run `monitor ingest` or check the "
                                    "store task's log", path)
                    kept += 1
                elif st.st_mtime < cutoff:
                    path.unlink()
                    removed += 1
                    freed += st.st_size
                else:
                    kept += 1
            elif path.is_dir() and not any(path.iterdir()) and path.stat().st_mtime < cutoff:
                path.rmdir()
        except FileNotFoundError:
            continue  # removed concurrently (a store task cleaning up): nothing to do
    log.info("pruned staging removed=%d kept=%d bytes_freed=%d retention_days=%d",
             removed, kept, freed, settings.staging_retention_days)
    return {"removed": removed, "kept": kept, "bytes_freed": freed}


def export_parquet(settings: Settings) -> dict[str, Any]:
    """Export every table and view to ``export/<name>.parquet``; returns names and row counts.

    Written into a fresh folder and swapped in, so a reader never sees half an export.
    """
    target = settings.home / "export"
    work = settings.home / f".export-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    counts: dict[str, int] = {}
    try:
        with warehouse.reader(settings) as con:
            names = [
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_catalog = current_database() AND table_schema = 'main'"
                    " AND table_name NOT LIKE 'schema_%'"
                    " ORDER BY table_name"
                ).fetchall()
            ]
            for name in names:
                out = work / f"{name}.parquet"
                # Identifiers cannot be bound; names come from the catalog, quoted here.
                ident = '"' + name.replace('"', '""') + '"'
                con.execute(f"COPY (SELECT * FROM {ident}) TO '{_sql_path(out)}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
                counts[name] = con.execute(f"SELECT count(*) FROM {ident}").fetchone()[0]
        old = settings.home / f".export-old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(work, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("exported parquet tables=%d path=%s", len(counts), target)
    return {"path": str(target), "tables": counts}


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def refresh_trend_tables(settings: Settings) -> dict[str, Any]:
    """Bring the trend tables up to date after a store, and publish them to the snapshot.

    The Trends page and analysts read the snapshot, which only changes when a writer
    publishes; without this, new articles would reach the charts only with the next digest.
    Always publishes: another writer (the digest) may have refreshed the primary's trend
    tables without publishing, so "nothing stale here" does not mean the snapshot is current.
    """
    from monitor import trends

    with warehouse.writer(settings) as con:
        if not trends.is_stale(con):
            return {"mode": "fresh", "published": True}
        result = trends.refresh_trends(con)
    return {**result, "published": True}
