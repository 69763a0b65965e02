"""Opening the DuckDB warehouse: one writer at a time, readers that never block it.

DuckDB lets one process hold a database file read-write, and while it does no other process
may open the file at all, not even read-only. We therefore keep two files in the data
directory:

``warehouse.duckdb``
    the primary. Only the monitor's writer opens it, for short transactions (one batch), under
    an exclusive ``fcntl`` lock on ``warehouse.lock`` so writers in several processes
    (CLI, Airflow tasks, Celery workers on one host) queue instead of failing.

``warehouse-read.duckdb``
    the published snapshot. After every write session the writer copies the closed primary to
    a temporary file and atomically renames it over the snapshot. Analysts' DuckDB shells,
    ``monitor sql``, ``monitor trends`` and the Airflow Trends view open this file read-only.
    A reader that holds the old snapshot open keeps reading the old inode; ingestion never
    waits for it, and it never waits for ingestion.

Migrations are numbered SQL files in ``warehouse/migrations`` applied in one transaction each,
recording the version in ``schema_migrations``. Views in ``warehouse/views/*.sql`` are
(re)created after migrations whenever their text changed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from monitor.errors import WarehouseBusy, WarehouseError
from monitor.settings import Settings

__all__ = [
    "transaction",
    "writer",
    "reader",
    "apply_migrations",
    "publish_snapshot",
    "schema_version",
    "is_lock_error",
]

log = logging.getLogger(__name__)

#: New warehouse files are written in the storage format of DuckDB 1.4, so analysts can open
#: the snapshot with the DuckDB CLI they have (the `duckdb-cli` package in .venv is 1.5),
#: not only with the newest library.
STORAGE_COMPATIBILITY = "v1.4.0"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
_LOCK_POLL = 0.2


def is_lock_error(exc: BaseException) -> bool:
    """True for DuckDB's 'file is locked by another process' errors."""
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def _migrations(settings: Settings) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(settings.migrations_dir.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise WarehouseError(f"{path}: migration files are named NNNN_name.sql")
        found.append((int(match.group(1)), path))
    versions = [v for v, _ in found]
    if len(versions) != len(set(versions)):
        raise WarehouseError(f"two migrations share a number in {settings.migrations_dir}")
    return found


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        " AND table_catalog = current_database()"
    ).fetchone()
    if not row or not row[0]:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def apply_migrations(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[int]:
    """Apply pending migrations, then refresh changed views. Returns the versions applied."""
    if _current(con, settings):
        return []
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_views ("
        " name VARCHAR PRIMARY KEY, sha1 VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, path in _migrations(settings):
        if version in done:
            continue
        sql = path.read_text(encoding="utf-8")
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                [version, path.name],
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"migration {path.name} failed: {exc}") from exc
        log.info("applied migration version=%s name=%s", version, path.name)
        applied.append(version)
    _refresh_views(con, settings)
    return applied


def _current(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether every migration is applied and every view is as its file says, asked in one
    statement: the usual case, at the start of every writer session, where the steps
    below take four statements (0.7-0.8 ms of CPU against 1.5-1.7 ms)."""
    try:
        rows = con.execute(
            "SELECT version, NULL, NULL FROM schema_migrations"
            " UNION ALL SELECT NULL, name, sha1 FROM schema_views").fetchall()
    except duckdb.CatalogException:  # a new warehouse: no bookkeeping tables yet
        return False
    versions = sorted(version for version, _, _ in rows if version is not None)
    if versions != [version for version, _ in _migrations(settings)]:
        return False
    views = {name: sha1 for version, name, sha1 in rows if version is None}
    return not _views_changed(views, _view_files(settings))


def _refresh_views(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    paths = _view_files(settings)
    known = dict(con.execute("SELECT name, sha1 FROM schema_views").fetchall())
    if not _views_changed(known, paths):
        return
    # Views may depend on each other: recreate them all, in name order, in one transaction.
    con.execute("BEGIN")
    try:
        for path in paths:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute(
                "INSERT OR REPLACE INTO schema_views VALUES (?, ?, now()::TIMESTAMP)",
                [path.name, _sha1(path)],
            )
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        raise WarehouseError(f"view {path.name} failed: {exc}") from exc


def _view_files(settings: Settings) -> list[Path]:
    """The view files, in name order (the order they are created in)."""
    return sorted(settings.views_dir.glob("*.sql")) if settings.views_dir.exists() else []


def _views_changed(known: dict[str, str], paths: list[Path]) -> bool:
    """Whether a view file is new or differs from what ``known`` (name → sha1) recorded."""
    return any(known.get(p.name) != _sha1(p) for p in paths)


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive advisory lock between processes on this host, waited for up to timeout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another monitor writer held {path} for over {timeout:.0f}s; "
                        "the batch stays staged and is stored by the next run"
                    ) from None
                time.sleep(_LOCK_POLL)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _connect_private(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB instance of its own on ``path`` (``monitor sql``: its settings
    are its own)."""
    return _retrying(path, True, timeout, lambda: duckdb.connect(str(path), read_only=True))


def _retrying(path: Path, read_only: bool, timeout: float, open_: Any) -> Any:
    """``open_()``, retried while another process holds the file's lock, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return open_()
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or time.monotonic() >= deadline:
                if is_lock_error(exc):
                    who = "a writer" if read_only else "another process (a DuckDB shell?)"
                    raise WarehouseBusy(
                        f"{path} is locked by {who} for over {timeout:.0f}s. Analysts should open "
                        f"the read snapshot instead; retry in a moment. ({exc})"
                    ) from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class _Instance:
    """This process's one in-memory DuckDB instance, to which warehouse files are attached.

    Creating a DuckDB instance costs about 17 ms of CPU however small the file (measured:
    ``duckdb.connect(":memory:")``), and a run opened three or four (the plan's snapshot, the
    seen-before check, the writer): a tenth of an unchanged poll of 100 feeds. Attaching a
    file to a live instance costs 3 ms. Each :func:`reader`/:func:`writer` attaches its file
    under a name of its own, makes it the connection's default database (``USE``), and
    detaches it on exit: DuckDB then checkpoints a written file and drops its lock, exactly
    as closing a connection did. A forked child never touches its parent's instance (its
    threads did not survive the fork): it makes its own.
    """

    lock = threading.Lock()
    con: duckdb.DuckDBPyConnection | None = None
    pid = 0
    attached = 0
    names = itertools.count()
    single_threaded = False


def _shared() -> duckdb.DuckDBPyConnection:
    with _Instance.lock:
        if _Instance.con is None or _Instance.pid != os.getpid():
            _Instance.con = duckdb.connect(":memory:")
            _Instance.pid = os.getpid()
            _Instance.attached = 0
            _Instance.single_threaded = False
        _Instance.attached += 1
        return _Instance.con


def _unshare(instance: duckdb.DuckDBPyConnection) -> None:
    with _Instance.lock:
        if instance is _Instance.con:
            _Instance.attached -= 1


def single_threaded(con: duckdb.DuckDBPyConnection) -> None:
    """Run this process's DuckDB statements on the calling thread from now on (``con``: a
    connection of the shared instance). The writer of staged batches calls it.

    A batch is small, a few thousand rows at most. DuckDB's threads cost more to coordinate
    on it than they save: a third less wall time and less CPU on one thread. For the 100
    fetch rows of an unchanged poll, it saves 11 ms of CPU. The setting is switched once
    and never back. Every switch (``SET threads``, ``RESET``) makes DuckDB trim glibc's
    heap, and the pages it gives back are faulted in again at about 3.6 µs each on the
    project machine. Switching around each batch cost a store of 3,000 articles, in a
    process that had parsed them (``monitor ingest`` with few sources, a backfill),
    3,000 faults and 15-20 ms of CPU (bench/README.md, issue 14's tenth session); a process
    that only stores has little heap to trim. What such a process runs after a store
    (story clustering, the trend refresh from its watermark, the run's health) is small.
    """
    with _Instance.lock:
        if _Instance.single_threaded and _Instance.pid == os.getpid():
            return
    con.execute("SET threads = 1")  # (not under the lock: other threads attach meanwhile)
    with _Instance.lock:
        _Instance.single_threaded = True


def release_instance() -> bool:
    """Close this process's DuckDB instance if no file is attached to it (before a fork: no
    DuckDB thread then runs in the parent). False when a file is still attached."""
    with _Instance.lock:
        if _Instance.con is None or _Instance.pid != os.getpid():
            _Instance.con = None
            return True
        if _Instance.attached:
            return False
        _Instance.con.close()
        _Instance.con = None
        return True


@contextlib.contextmanager
def _attached(path: Path, read_only: bool, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default database is ``path``, attached to the shared instance."""
    instance = _shared()
    alias = f"warehouse_{next(_Instance.names)}"
    con = instance.cursor()
    options = "READ_ONLY" if read_only else f"STORAGE_VERSION '{STORAGE_COMPATIBILITY}'"
    quoted = str(path).replace("'", "''")
    try:
        _retrying(path, read_only, timeout,
                  lambda: con.execute(f"ATTACH '{quoted}' AS {alias} ({options})"))
        con.execute(f"USE {alias}")
    except BaseException:
        con.close()
        _unshare(instance)
        raise
    try:
        yield con
    finally:
        con.close()  # rolls back a transaction left open
        try:
            closer = instance.cursor()
            closer.execute(f"DETACH {alias}")  # checkpoints a written file, drops its lock
            closer.close()
        finally:
            _unshare(instance)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT around the block; ROLLBACK and re-raise if it (or the COMMIT) fails.

    A write of several statements (a staged batch, a sources sync, a run's row) is all or
    nothing: a half-written one would be read by the next snapshot."""
    con.execute("BEGIN")
    try:
        yield con
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def writer(settings: Settings, *, publish: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the primary, migrated, held as briefly as the caller needs.

    Callers do their work in explicit transactions. On exit the file is detached (DuckDB
    checkpoints the WAL into it) and the read snapshot is published.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    with _file_lock(settings.home / "warehouse.lock", settings.writer_lock_timeout):
        with _attached(settings.warehouse_path, False, settings.writer_lock_timeout) as con:
            apply_migrations(con, settings)
            yield con
        if publish:  # the primary is detached (checkpointed) and still ours alone
            publish_snapshot(settings)


def publish_snapshot(settings: Settings) -> Path:
    """Copy the closed primary over the read snapshot atomically. Call under the writer lock."""
    target = settings.snapshot_path
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _copy(settings.warehouse_path, tmp)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def _copy(source: Path, target: Path) -> None:
    """Copy a file in the kernel with ``copy_file_range``: on file systems that share
    blocks (XFS, Btrfs) the copy is a reflink and costs the same for any size of warehouse;
    elsewhere it is the in-kernel copy ``shutil.copyfile`` makes. Falls back to that."""
    try:
        with open(source, "rb") as src, open(target, "wb") as dst:
            size = os.fstat(src.fileno()).st_size
            done = 0
            while done < size:
                n = os.copy_file_range(src.fileno(), dst.fileno(), size - done)
                if n == 0:
                    break  # the file shrank under us (it cannot: we hold the writer lock)
                done += n
        return
    except (AttributeError, OSError):  # no copy_file_range here (other OS, file system)
        pass
    shutil.copyfile(source, target)


def ensure_initialised(settings: Settings) -> None:
    """Create the data directory, the warehouse and its snapshot if they do not exist yet."""
    settings.ensure_dirs()
    if not settings.snapshot_path.exists() or not settings.warehouse_path.exists():
        with writer(settings):
            pass


@contextlib.contextmanager
def reader(settings: Settings, *, primary: bool = False,
           private: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, by default to the published snapshot.

    ``primary=True`` reads the writer's file (waiting briefly if a write is under way); the
    CLI uses it only right after its own write. ``private=True``: a DuckDB instance of its
    own instead of the shared one, for a caller that changes instance settings (``monitor
    sql`` turns off file and network access, which cannot be turned back on).
    """
    if not settings.snapshot_path.exists():
        ensure_initialised(settings)
    path = settings.warehouse_path if primary else settings.snapshot_path
    if private:
        con = _connect_private(path, settings.reader_lock_timeout)
        try:
            yield con
        finally:
            con.close()
        return
    with _attached(path, True, settings.reader_lock_timeout) as con:
        yield con
