"""Run health: every ingest run is a row in ``ingest_runs`` with a verdict.

A monitor's first duty is to say when it cannot see. A run is

* ``ok`` when no planned source failed,
* ``degraded`` when some failed (the run goes on: failures are data),
* ``blind`` when none answered (ok or not modified), or when the share that failed reaches
  ``settings.blind_failure_share``.

``monitor ingest`` exits with :data:`EXIT_BLIND` on a blind run and Airflow's
``monitor_ingest`` fails its ``check_health`` task, both with :func:`blind_message`. A run
with nothing due (every source backing off after failures) is judged on the sources'
current state, so a dead pipeline never turns green just because it stopped polling.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor import warehouse
from monitor.settings import Settings

__all__ = ["EXIT_BLIND", "HEALTH", "RunRecord", "blind_message", "judge", "record_run",
           "record_from_fetches", "latest_run"]

log = logging.getLogger(__name__)

#: Exit status of ``monitor ingest`` for a blind run (0: ok or degraded; 1: a usage or
#: configuration error; 2: click's usage error).
EXIT_BLIND = 3
#: The verdicts, best first.
HEALTH = ("ok", "degraded", "blind")
#: Failing sources kept on the run's row (the rest are in ``fetches``).
MAX_FAILING = 50


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class RunRecord:
    """One row of ``ingest_runs``: what a run planned, what answered, and the verdict."""

    run_id: str
    via: str
    started_at: datetime
    sources_planned: int = 0
    sources_ok: int = 0
    sources_not_modified: int = 0
    sources_failed: int = 0
    entries_seen: int = 0
    articles_new: int = 0
    seconds: float = 0.0
    health: str = "ok"
    #: (source id, error) of the failing sources.
    failures: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        return (f"run {self.run_id} ({self.via}) is {self.health}: {self.sources_ok} ok, "
                f"{self.sources_not_modified} not modified, {self.sources_failed} failed of "
                f"{self.sources_planned} planned")


def judge(settings: Settings, planned: int, answered: int, failed: int) -> str:
    """ok / degraded / blind for a run that planned ``planned`` sources, of which
    ``answered`` answered (ok or not modified) and ``failed`` failed."""
    if planned <= 0:
        return "ok"
    if answered == 0 or failed / planned >= settings.blind_failure_share:
        return "blind"
    return "degraded" if failed else "ok"


def blind_message(record: RunRecord, limit: int = 10) -> str:
    """What a blind run tells the operator: what failed and what to check."""
    if record.sources_planned:
        lines = [f"the monitor is blind: {record.sources_failed} of {record.sources_planned} "
                 f"sources failed and {record.sources_ok + record.sources_not_modified} "
                 f"answered (run {record.run_id})."]
    else:
        lines = [f"the monitor is blind: nothing was due because {len(record.failures)} active "
                 "sources are failing and backing off (`monitor ingest --all` polls them now; "
                 f"run {record.run_id})."]
    for source_id, error in record.failures[:limit]:
        lines.append(f"  {source_id}: {error}")
    if len(record.failures) > limit:
        lines.append(f"  … and {len(record.failures) - limit} more")
    lines.append("Check the network and any proxy (HTTPS_PROXY), the errors above, and "
                 "`monitor sources` for each source's last error.")
    return "\n".join(lines)


def record_run(con: Any, record: RunRecord) -> None:
    """Insert (or replace: a retried Airflow task records the same run once) the run's row."""
    failing = [f"{sid}: {err}"[:300] for sid, err in record.failures[:MAX_FAILING]]
    # DELETE then INSERT in one transaction rather than INSERT OR REPLACE: the same, at
    # less CPU on every run of the monitor (DuckDB 1.x, one row: 1 ms against 3 ms).
    with warehouse.transaction(con):
        con.execute("DELETE FROM ingest_runs WHERE run_id = ?", [record.run_id])
        con.execute(
            "INSERT INTO ingest_runs (run_id, started_at, finished_at, via, sources_ok,"
            " sources_not_modified, sources_failed, entries_seen, articles_new,"
            " sources_planned, seconds, health, failing)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [record.run_id, record.started_at, _now(), record.via, record.sources_ok,
             record.sources_not_modified, record.sources_failed, record.entries_seen,
             record.articles_new, record.sources_planned, round(record.seconds, 3),
             record.health, failing],
        )
    level = {"ok": logging.INFO, "degraded": logging.WARNING}.get(record.health, logging.ERROR)
    log.log(level, "ingest run recorded run_id=%s via=%s health=%s planned=%d ok=%d "
            "not_modified=%d failed=%d new=%d", record.run_id, record.via, record.health,
            record.sources_planned, record.sources_ok, record.sources_not_modified,
            record.sources_failed, record.articles_new)


def judge_idle(con: Any, settings: Settings, record: RunRecord) -> None:
    """A run with nothing due: judged on the active sources' current state (every one of
    them failing and backing off is a blind monitor, not a quiet one)."""
    active, failing = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE coalesce(f.consecutive_failures, 0) > 0)"
        " FROM sources s LEFT JOIN feed_state f USING (source_id)"
        " WHERE s.enabled AND s.status = 'active'").fetchone()
    record.health = judge(settings, active, active - failing, failing) if active else "ok"
    if record.health != "ok":
        record.failures = [(r[0], r[1] or "error") for r in con.execute(
            "SELECT f.source_id, f.last_error FROM feed_state f JOIN sources s USING (source_id)"
            " WHERE s.enabled AND s.status = 'active' AND f.consecutive_failures > 0"
            " ORDER BY f.source_id").fetchall()]


def record_from_fetches(con: Any, settings: Settings, run_id: str, via: str,
                        planned: Sequence[str], started_at: datetime | None = None,
                        seconds: float | None = None, lost: str | None = None) -> RunRecord:
    """Count this run's ``fetches`` rows, judge the run and record it.

    ``planned``: the source ids the run meant to poll; a planned source without a fetch row
    (its batch or worker was lost) counts as failed, with ``lost`` as its error.
    """
    rows = con.execute(
        "SELECT source_id, outcome, coalesce(entries_seen, 0), coalesce(entries_new, 0), error,"
        " started_at FROM fetches WHERE run_id = ?", [run_id]).fetchall()
    first = min((r[5] for r in rows if r[5] is not None), default=None)
    record = RunRecord(run_id=run_id, via=via, started_at=started_at or first or _now())
    seen: set[str] = set()
    for source_id, outcome, entries, new, error, _ in rows:
        seen.add(source_id)
        if outcome == "ok":
            record.sources_ok += 1
        elif outcome == "not_modified":
            record.sources_not_modified += 1
        else:
            record.sources_failed += 1
            record.failures.append((source_id, error or "error"))
        record.entries_seen += entries
        record.articles_new += new
    missing = [i for i in dict.fromkeys(planned) if i not in seen]
    record.sources_failed += len(missing)
    record.failures += [(i, lost or "no fetch recorded (its batch failed)") for i in missing]
    record.sources_planned = len(seen | set(planned))
    record.seconds = (seconds if seconds is not None
                      else (_now() - record.started_at).total_seconds())
    if record.sources_planned:
        record.health = judge(settings, record.sources_planned,
                              record.sources_ok + record.sources_not_modified,
                              record.sources_failed)
    else:
        judge_idle(con, settings, record)
    record_run(con, record)
    return record


def latest_run(con: Any) -> dict[str, Any] | None:
    """The newest ingest run (live polling, not backfills) with its health, or None."""
    row = con.execute(
        "SELECT run_id, via, started_at, finished_at, health, sources_planned, sources_ok,"
        " sources_not_modified, sources_failed, failing FROM ingest_runs"
        " WHERE via IN ('cli', 'airflow') ORDER BY started_at DESC LIMIT 1").fetchone()
    if row is None:
        return None
    keys = ("run_id", "via", "started_at", "finished_at", "health", "sources_planned",
            "sources_ok", "sources_not_modified", "sources_failed", "failing")
    return dict(zip(keys, row, strict=True))
