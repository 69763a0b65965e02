"""Plan: sync the sources file and choose the sources due now, in host-affine batches.

A source still backing off after failures waits; every host's sources share one batch so the
per-host limit holds across parallel fetchers (Airflow mapped tasks, worker processes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from monitor import warehouse
from monitor.errors import ConfigError
from monitor.ingest.fetch import FeedState
from monitor.settings import Settings
from monitor.sources import (
    Source,
    active_sources,
    load_sources,
    remember_synced,
    sources_digest,
    stored_sources,
    sync_sources,
)

__all__ = ["BATCH_SIZE", "Plan", "host_batches", "load_state", "make_plan", "new_run_id",
           "plan_ingest"]

#: Sources per fetch batch (one Airflow mapped task each).
BATCH_SIZE = 8


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(prefix: str = "cli") -> str:
    return f"{prefix}__{_now():%Y%m%dT%H%M%S}__{uuid.uuid4().hex[:6]}"



def plan_ingest(settings: Settings, *, only: set[str] | None = None,
                poll_all: bool = False) -> list[list[str]]:
    """Sync the sources file and return batches of ids of the active sources due now.

    A failing source is polled again only after its back-off (``feed_state.next_poll_at``);
    ``poll_all`` ignores that. ``only`` may name any stored source, retired ones included
    (polled once, on request); unknown ids are an error, not a silent no-op.
    When the sources file is unchanged since the last sync, planning only reads the
    snapshot: a run with nothing new opens no write session for it.
    """
    return make_plan(settings, only=only, poll_all=poll_all).batches


@dataclass
class Plan:
    """The batches due now, with the sources and their fetch state as read while planning
    (``monitor ingest`` hands them to its fetchers instead of reading them again)."""

    batches: list[list[str]]
    sources: dict[str, Source]
    states: dict[str, FeedState]

    def select(self, ids: list[str]) -> tuple[list[Source], dict[str, FeedState]]:
        """The planned sources among ``ids``, and their fetch state."""
        return ([self.sources[i] for i in ids if i in self.sources],
                {i: self.states[i] for i in ids if i in self.states})


def make_plan(settings: Settings, *, only: set[str] | None, poll_all: bool,
              sources_file: Path | None = None) -> Plan:
    """The sources due now. The configured file (``settings.sources_file``) is synced first:
    its sources are active, the others retired. ``sources_file``: a one-off file whose
    sources, exactly, are polled; it is synced without changing the configured set."""
    planned = None
    if sources_file is None and settings.sources_file.exists():
        # A file whose digest the snapshot holds was parsed and validated when it was
        # synced: it is not parsed again (tomllib is pure Python: 7 % of the CPU of an
        # unchanged poll of 100 sources, by cProfile).
        planned = _plan_from_snapshot(settings, sources_digest(settings.sources_file), only)
    configured = load_sources(settings.sources_file) if planned is None else []
    one_off = load_sources(sources_file) if sources_file is not None else None
    wanted = {s.id for s in one_off} if one_off is not None else None
    if only:
        wanted = set(only) if wanted is None else wanted & set(only)
    if planned is None:
        with warehouse.writer(settings) as con:
            if not _synced(con, settings.sources_file):
                sync_sources(con, configured)
                remember_synced(con, settings.sources_file)
            if one_off is not None:
                sync_sources(con, one_off, configured=False)
            planned = _due(con, wanted)
    picked, waiting, states = planned
    if only:
        unknown = set(only) - {s.id for s in picked} - ({s.id for s in one_off or []})
        if unknown:
            raise ConfigError(f"unknown source ids: {', '.join(sorted(unknown))} (not in the "
                              "warehouse; `monitor sources --all` lists every stored source)")
    if poll_all or only or one_off is not None:
        # Asked for by name or file: polled now, back-off or not.
        waiting = set()
    due = [s for s in picked if s.id not in waiting]
    if one_off is not None:
        # A disabled entry in the one-off file stays unpolled, like in the configured file.
        off = {s.id for s in one_off if not s.enabled}
        due = [s for s in due if s.id not in off]
    return Plan(batches=host_batches(due), sources={s.id: s for s in due},
                states={k: v for k, v in states.items() if k not in waiting})


def _synced(con: Any, path: Path) -> bool:
    row = con.execute(
        "SELECT value FROM monitor_state WHERE key = 'sources_file_sha1'").fetchone()
    return bool(row) and row[0] == sources_digest(path)


def host_batches(sources: list[Source], size: int = BATCH_SIZE) -> list[list[str]]:
    """Source ids in batches of about ``size``, every host's sources in one batch.

    Batches are fetched in parallel (Airflow mapped tasks, ``monitor ingest`` worker
    processes), each with its own per-host limit; keeping a host in one batch is what makes
    ``per_host_concurrency`` hold across all of them. A host with more sources than ``size``
    (ten Google News searches) makes one larger batch. First-fit decreasing keeps the
    batches close to ``size``.
    """
    by_host: dict[str, list[str]] = {}
    for source in sources:
        host = (urlsplit(source.url).hostname or "").lower()
        by_host.setdefault(host, []).append(source.id)
    batches: list[list[str]] = []
    for ids in sorted(by_host.values(), key=len, reverse=True):
        for batch in batches:
            if len(batch) + len(ids) <= size:
                batch.extend(ids)
                break
        else:
            batches.append(list(ids))
    return batches


def _due(con: Any, ids: set[str] | None = None
         ) -> tuple[list[Source], set[str], dict[str, FeedState]]:
    """Active enabled sources (or the stored sources named by ``ids``, whatever their
    status), the ids still backing off after failures, and every source's validators
    (ETag, Last-Modified, content hash) for conditional GETs."""
    waiting = con.execute(
        "SELECT source_id FROM feed_state WHERE next_poll_at > ?", [_now()]).fetchall()
    picked = active_sources(con) if ids is None else stored_sources(con, ids)
    return picked, {r[0] for r in waiting}, _states(con)


def _states(con: Any, ids: list[str] | None = None) -> dict[str, FeedState]:
    sql = "SELECT source_id, etag, last_modified, content_hash FROM feed_state"
    rows = (con.execute(sql + " WHERE source_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
            if ids is not None else con.execute(sql)).fetchall()
    return {r[0]: FeedState(etag=r[1], last_modified=r[2], content_hash=r[3]) for r in rows}


def _plan_from_snapshot(settings: Settings, digest: str, ids: set[str] | None = None
                        ) -> tuple[list[Source], set[str], dict[str, FeedState]] | None:
    if not settings.snapshot_path.exists():
        return None
    try:
        with warehouse.reader(settings) as con:
            row = con.execute(
                "SELECT value FROM monitor_state WHERE key = 'sources_file_sha1'").fetchone()
            if not row or row[0] != digest:
                return None
            return _due(con, ids)
    except duckdb.Error:  # an older snapshot without the table: plan through the writer
        return None


# --------------------------------------------------------------------------- fetch & stage


def load_state(settings: Settings, ids: list[str]) -> tuple[list[Source], dict[str, FeedState]]:
    with warehouse.reader(settings) as con:
        rows = con.execute(
            "SELECT source_id, url, outlet, language, country, kind FROM sources"
            " WHERE source_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
        ).fetchall()
        states = _states(con, ids)
    sources = [Source(id=r[0], url=r[1], outlet=r[2], language=r[3], country=r[4], kind=r[5])
               for r in rows]
    return sources, states

