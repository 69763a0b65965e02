"""The list of feeds and searches we poll, read from ``seeds/sources.toml``.

Format (other tools and the tests rely on it): an array of tables ``[[sources]]`` with
``id`` (unique slug), ``url``, ``outlet`` and optional ``language``, ``country``,
``kind`` (``feed`` or ``search``) and ``enabled`` (default true).

The file is the operator's intent; the warehouse's ``sources`` table is the state. Syncing
keeps what the fetcher learned (a permanent redirect's new URL, a 410's ``enabled = false``)
until the file itself changes that source's URL.

Lifecycle: the configured file is the truth. A stored source missing from it is *retired*
(``status = 'retired'``, ``retired_at``): never polled on schedule, its articles and fetch
history kept, and active again as soon as it reappears in the file. A one-off file
(``monitor ingest --sources FILE``) is synced with ``configured=False``: its sources are
stored and updated but the configured set (who is active, who is retired) does not change.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from monitor import warehouse
from monitor.errors import ConfigError
from monitor.settings import Settings

__all__ = ["Source", "load_sources", "sync_sources", "active_sources", "stored_sources",
           "initialise"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_KINDS = ("feed", "search")


@dataclass(frozen=True)
class Source:
    id: str
    url: str
    outlet: str
    language: str | None = None
    country: str | None = None
    kind: str = "feed"
    enabled: bool = True


def load_sources(path: Path) -> list[Source]:
    """Read and validate a sources file; every problem names the entry and the key."""
    if not path.exists():
        raise ConfigError(f"sources file {path} does not exist (see seeds/sources.toml)")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    entries = table.get("sources")
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected an array of tables [[sources]]")
    seen: set[str] = set()
    sources = []
    for index, entry in enumerate(entries, 1):
        where = f"{path}: [[sources]] #{index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: not a table")
        unknown = set(entry) - {"id", "url", "outlet", "language", "country", "kind", "enabled",
                                "note"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("id", "url", "outlet"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConfigError(f"{where}: '{key}' is required and must be a string")
        sid = entry["id"]
        if not _SLUG.match(sid):
            raise ConfigError(f"{where}: id {sid!r} must be a lower-case slug")
        if sid in seen:
            raise ConfigError(f"{where}: duplicate id {sid!r}")
        seen.add(sid)
        if not entry["url"].startswith(("http://", "https://")):
            raise ConfigError(f"{where} ({sid}): url must be http(s)")
        kind = entry.get("kind", "feed")
        if kind not in _KINDS:
            raise ConfigError(f"{where} ({sid}): kind must be one of {_KINDS}")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where} ({sid}): enabled must be true or false")
        sources.append(
            Source(
                id=sid,
                url=entry["url"].strip(),
                outlet=entry["outlet"].strip(),
                language=entry.get("language"),
                country=entry.get("country"),
                kind=kind,
                enabled=enabled,
            )
        )
    return sources


def sync_sources(con: duckdb.DuckDBPyConnection, sources: list[Source], *,
                 configured: bool = True) -> None:
    """Upsert the file's sources into the ``sources`` table in one transaction.

    A source whose configured URL is unchanged keeps its stored URL (which may be a permanent
    redirect's target) and its disabled state; a changed URL in the file resets both.
    ``configured``: this is the configured sources file, so its sources are active and every
    other stored feed source is retired. A one-off file (``configured=False``) changes no
    source's status; sources new to the warehouse start retired (not in the configured set).
    """
    with warehouse.transaction(con):
        for s in sources:
            row = con.execute(
                "SELECT configured_url, enabled, disabled_reason FROM sources WHERE source_id = ?",
                [s.id],
            ).fetchone()
            if row is None:
                con.execute(
                    "INSERT INTO sources (source_id, url, outlet, language, country, kind,"
                    " enabled, configured_url, updated_at, status, retired_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?,"
                    " CASE WHEN ? THEN NULL ELSE now()::TIMESTAMP END)",
                    [s.id, s.url, s.outlet, s.language, s.country, s.kind, s.enabled, s.url,
                     "active" if configured else "retired", configured],
                )
                continue
            configured_url, _enabled, reason = row
            if configured_url != s.url:
                con.execute(
                    "UPDATE sources SET url = ?, configured_url = ?, enabled = ?,"
                    " disabled_reason = NULL WHERE source_id = ?",
                    [s.url, s.url, s.enabled, s.id],
                )
            # The file decides enabled, except that a fetcher-disabled source (410) stays off
            # until the operator changes its URL.
            enabled = s.enabled and reason is None
            con.execute(
                "UPDATE sources SET outlet = ?, language = ?, country = ?, kind = ?,"
                " enabled = ?, updated_at = now()::TIMESTAMP WHERE source_id = ?",
                [s.outlet, s.language, s.country, s.kind, enabled, s.id],
            )
        if configured:
            _apply_lifecycle(con, [s.id for s in sources])


def _apply_lifecycle(con: duckdb.DuckDBPyConnection, configured_ids: list[str]) -> None:
    """The configured file's sources are active; every other stored source is retired.

    Backfill sources (GDELT queries, archive files) are never in the file: they are retired
    too, which changes nothing for them (they are stored disabled and never polled).
    """
    con.execute(
        "UPDATE sources SET status = 'active', retired_at = NULL, updated_at = now()::TIMESTAMP"
        " WHERE source_id IN (SELECT unnest(?::VARCHAR[])) AND status <> 'active'",
        [configured_ids])
    con.execute(
        "UPDATE sources SET status = 'retired', retired_at = now()::TIMESTAMP,"
        " updated_at = now()::TIMESTAMP"
        " WHERE source_id NOT IN (SELECT unnest(?::VARCHAR[])) AND status = 'active'",
        [configured_ids])


def _rows_to_sources(rows: list[tuple]) -> list[Source]:
    return [Source(id=r[0], url=r[1], outlet=r[2], language=r[3], country=r[4], kind=r[5])
            for r in rows]


def active_sources(con: duckdb.DuckDBPyConnection, ids: set[str] | None = None) -> list[Source]:
    """Enabled, active (configured) sources as stored (URLs after permanent redirects),
    optionally limited to ids. Retired sources are never polled on schedule."""
    rows = con.execute(
        "SELECT source_id, url, outlet, language, country, kind FROM sources"
        " WHERE enabled AND status = 'active' ORDER BY source_id"
    ).fetchall()
    out = _rows_to_sources(rows)
    if ids is not None:
        out = [s for s in out if s.id in ids]
    return out


def stored_sources(con: duckdb.DuckDBPyConnection, ids: set[str]) -> list[Source]:
    """The stored sources with these ids whatever their status: what ``--only`` and a one-off
    ``--sources FILE`` poll (a retired source is polled once when asked for by name)."""
    rows = con.execute(
        "SELECT source_id, url, outlet, language, country, kind FROM sources"
        " WHERE source_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY source_id", [sorted(ids)]
    ).fetchall()
    return _rows_to_sources(rows)


def initialise(settings: Settings) -> tuple[int, int]:
    """Data directory, migrated warehouse and the sources file synced into it.

    What ``monitor init``, ``monitor up`` and the production init service share. Returns
    (schema version, number of sources).
    """
    settings.ensure_dirs()
    sources = load_sources(settings.sources_file)
    with warehouse.writer(settings) as con:
        sync_sources(con, sources)
        remember_synced(con, settings.sources_file)
        version = warehouse.schema_version(con)
    return version, len(sources)


def sources_digest(path: Path) -> str:
    """What identifies a sources file's content (and location) for "synced already?"."""
    return hashlib.sha1(str(path.resolve()).encode() + b"\0" + path.read_bytes()).hexdigest()


def remember_synced(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Record that ``path`` as it is now was synced, so planning can skip the write."""
    con.execute("INSERT OR REPLACE INTO monitor_state VALUES ('sources_file_sha1', ?, ?)",
                [sources_digest(path), datetime.now(UTC).replace(tzinfo=None)])
