"""The whole run behind ``monitor ingest``: plan, fetch and stage, store, summarise.

With enough sources (and CPUs) parsing and classifying run in worker processes and this
process stores each staged group as it arrives; otherwise one process does it all.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import warehouse
from monitor.ingest.batch import fetch_and_stage
from monitor.ingest.health import RunRecord, record_from_fetches
from monitor.ingest.plan import make_plan, new_run_id
from monitor.ingest.progress import Progress
from monitor.ingest.store import derive, store_files, store_path
from monitor.ingest.workers import Workers, worker_count
from monitor.settings import Settings

__all__ = ["IngestSummary", "run_ingest"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class IngestSummary:
    """What ``monitor ingest`` prints: the recorded run (``ingest_runs``) plus what only the
    CLI needs (sources planned in batches, time per phase). The counts are the record's, so
    what is printed and what the warehouse keeps are one set of figures."""

    run_id: str
    sources_total: int = 0
    seconds: float = 0.0
    #: Wall seconds per phase (plan, fetch = fetch+parse+classify+stage, store).
    phases: dict[str, float] = field(default_factory=dict)
    #: The recorded run (None until it is recorded).
    record: RunRecord | None = None

    @property
    def sources_ok(self) -> int:
        return self.record.sources_ok if self.record else 0

    @property
    def sources_not_modified(self) -> int:
        return self.record.sources_not_modified if self.record else 0

    @property
    def sources_failed(self) -> int:
        return self.record.sources_failed if self.record else 0

    @property
    def entries_seen(self) -> int:
        return self.record.entries_seen if self.record else 0

    @property
    def articles_new(self) -> int:
        return self.record.articles_new if self.record else 0

    @property
    def failures(self) -> list[tuple[str, str]]:
        return self.record.failures if self.record else []

    @property
    def health(self) -> str:
        """ok | degraded | blind (monitor.ingest.health), as recorded in ``ingest_runs``."""
        return self.record.health if self.record else "ok"

    def describe(self) -> str:
        lines = [
            f"run {self.run_id}: {self.sources_total} sources in {self.seconds:.1f}s — "
            f"{self.sources_ok} ok, {self.sources_not_modified} not modified, "
            f"{self.sources_failed} failed; {self.entries_seen} entries seen, "
            f"{self.articles_new} new articles",
        ]
        if self.phases:
            lines[0] += " (" + ", ".join(f"{k} {v:.1f}s" for k, v in self.phases.items()) + ")"
        if self.health != "ok":
            lines[0] += f" [{self.health}]"
        for source_id, error in self.failures[:20]:
            lines.append(f"  failed: {source_id}: {error}")
        if len(self.failures) > 20:
            lines.append(f"  … and {len(self.failures) - 20} more (see `monitor sources`)")
        return "\n".join(lines)


def run_ingest(settings: Settings, only: set[str] | None = None, poll_all: bool = False,
               progress: bool = False, run_id: str | None = None,
               sources_file: Path | None = None) -> IngestSummary:
    """One ingest: plan, fetch and stage, store, summarise, record the run and its health.

    With enough sources (and CPUs) the fetching, parsing and classifying run in worker
    processes, and this process stores each staged group while the workers go on.
    ``sources_file``: poll exactly this file's sources, once (the configured set is kept).
    """
    t0 = time.monotonic()
    started = _now()
    run_id = run_id or new_run_id()
    plan = make_plan(settings, only=only, poll_all=poll_all, sources_file=sources_file)
    summary = IngestSummary(run_id=run_id, sources_total=sum(len(b) for b in plan.batches))
    summary.phases["plan"] = time.monotonic() - t0
    workers = worker_count(settings, summary.sources_total)
    bar = Progress(summary.sources_total) if progress else None
    every = [source_id for batch in plan.batches for source_id in batch]
    lost: list[str] = []  # why worker processes ended early
    try:
        if workers > 1:
            import monitor.ingest.parse  # noqa: F401  (loaded once, before the workers fork)

            with Workers(settings, run_id, plan, workers) as pool:
                # The writer session runs in a thread started once the workers are forked
                # (storing their groups while this thread fetches), or here after the fetch
                # if none were (nothing needed parsing): no connection is open at a fork.
                kept: queue.SimpleQueue[str | None | bool] = queue.SimpleQueue()
                failed: list[BaseException] = []

                def session() -> None:
                    with warehouse.writer(settings) as con:
                        totals = store_files(con, settings, [], run_id)  # earlier leftovers
                        if pool.started:
                            for kind, payload in pool.messages():
                                if kind == "staged":
                                    store_path(con, settings, Path(payload["path"]), totals)
                                    if bar is not None:
                                        bar.stored(totals["articles_new"])
                                elif kind == "lost":
                                    lost.append(payload)
                        # The rows of what needed no parsing (304s, errors, bodies as before).
                        if (path := kept.get()) is False:
                            return  # interrupted
                        if path is not None:
                            store_path(con, settings, Path(path), totals)
                        summary.phases["fetch"] = (time.monotonic() - t0
                                                   - summary.phases["plan"])
                        derive(con, totals)
                        _summarise(con, settings, summary, started, t0, planned=every,
                                   lost=lost)

                def in_thread() -> None:
                    try:
                        session()
                    except BaseException as exc:  # raised again by the fetching thread
                        failed.append(exc)

                store = threading.Thread(target=in_thread, name="monitor-store", daemon=True)
                try:
                    pool.fetch(every, bar, on_started=store.start)
                    # The rows of what needed no parsing; staged even when the warehouse
                    # stays busy, for the next run to store, as the workers' groups are.
                    out = pool.stage_kept()
                    kept.put(out["path"] if out is not None else None)
                finally:
                    kept.put(False)  # (ignored when the path was put)
                if pool.started:  # and so the store thread
                    store.join()
                    if failed:
                        raise failed[0]
                else:
                    session()
        else:
            paths = []
            if every:
                if bar is not None:
                    bar.start()
                # One process: every due source in one pool (the per-host limit still holds).
                out = fetch_and_stage(settings, every, run_id, plan=plan,
                                      on_fetched=(lambda r: bar.advance(r.outcome))
                                      if bar is not None else None)
                paths.append(out["path"])
            summary.phases["fetch"] = time.monotonic() - t0 - summary.phases["plan"]
            with warehouse.writer(settings) as con:
                store_files(con, settings, paths, run_id)
                _summarise(con, settings, summary, started, t0, planned=every)
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.monotonic() - t0
    summary.phases["store"] = summary.seconds - summary.phases["plan"] - summary.phases["fetch"]
    return summary


def _summarise(con: Any, settings: Settings, summary: IngestSummary, started: datetime,
               t0: float, *, planned: Sequence[str] = (), lost: Sequence[str] = ()) -> None:
    """Record the run (``health.record_from_fetches`` counts this run's ``fetches`` rows,
    judges it and writes ``ingest_runs``) and hand the summary that record, so what the
    CLI prints and what the warehouse keeps agree. ``lost``: why worker processes
    ended early; the ``planned`` sources without a row are theirs (polled again next run)."""
    errors = "; ".join(dict.fromkeys(lost)) or None
    record = record_from_fetches(con, settings, summary.run_id, "cli", planned,
                                 started_at=started, seconds=time.monotonic() - t0,
                                 lost=errors)
    if errors:
        log.error("ingest workers ended early (their unstaged sources are polled next run): %s",
                  errors)
    summary.seconds = record.seconds
    summary.record = record
