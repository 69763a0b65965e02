"""Backfill from a directory of saved feed files (``monitor backfill --from-dir DIR``).

People keep feed snapshots: "git scraping" repositories that commit a feed every hour, cron
jobs that save ``feed-<date>.xml.gz``. Thousands of files, each holding mostly the entries of
the previous one. The flow, top to bottom:

    discover      every feed-looking file under DIR, in path order (snapshots sort by date)
    read          raw bytes, gunzipped when they start with the gzip magic (bounded)
    skip          (path, content hash) already in ``backfill_files``: finished before
    parse         ``monitor.ingest.parse.parse_feed`` (RSS, Atom, JSON Feed; never raises)
    drop repeats  entry keys staged earlier in this run are dropped before any other work
    stage+store   ``ingest.stage_entries`` (drop what the warehouse has, classify, stage)
                  and ``ingest.store_staged``, one batch of files at a time
    record        the batch's files in ``backfill_files``, after their articles are stored

Resuming: a file is recorded only after its batch is stored, so Ctrl-C (or a crash, or a
``max_files`` stop) loses at most the batch in hand, and that batch is simply redone (storing
is idempotent). Bad files (not a feed, broken gzip) are reported and skipped; they are
recorded with ``status='error'`` and retried on the next run, which costs little.

Sources: each outlet/feed of the archive becomes a ``sources`` row of kind 'feed' with
``enabled = false`` and a ``disabled_reason`` saying it is an archive, so live polling never
starts on it (its URL is a ``file://`` path). Articles keep the dates their entries carry
(``published_at``); ``first_seen_at`` is when we stored them, not faked.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import warehouse
from monitor.ingest.batch import internal_error, stage_entries
from monitor.ingest.keys import keys_for_feed
from monitor.ingest.parse import Entry, ParsedFeed, parse_feed
from monitor.ingest.plan import new_run_id
from monitor.ingest.store import store_staged
from monitor.settings import Settings
from monitor.sources import Source

__all__ = ["backfill_dir", "discover", "ArchiveSummary", "FileResult", "source_slug",
           "VIA", "ARCHIVE_REASON", "read_document", "decode_document"]

log = logging.getLogger(__name__)

VIA = "backfill_dir"
#: ``sources.disabled_reason`` of archive sources (live polling skips disabled sources).
ARCHIVE_REASON = "archive source (monitor backfill --from-dir): never polled"
#: File name endings we read; anything else under DIR (README.md, .git) is ignored.
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".json", ".feed", ".txt", ""})
#: A batch is stored when it holds this many files, new entries or parsed bytes, whichever
#: comes first. Each store publishes the read snapshot (a file copy) and clusters the stored
#: articles against the recent ones (a cost per call), so batches are large; Ctrl-C stores
#: the batch in hand, only a crash loses it (and a re-run redoes it).
BATCH_FILES = 5000
BATCH_ENTRIES = 20_000
BATCH_BYTES = 512 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
# A trailing capture date/time in a snapshot's name: "tass_2024-01-02T0300Z", "feed-20240102".
_DATE_TAIL = re.compile(
    r"(?:^|[_.\-\s]+)(?:added-)?\d{4}-?\d{2}-?\d{2}(?:[T_\-\s]?\d{2}:?\d{2}(?::?\d{2})?Z?)?$",
    re.I)
_NOT_A_NAME = re.compile(r"^(?:\d+|[0-9a-f]{7,40}|feed|rss|atom|index|snapshot)$", re.I)
_SLUG_CHARS = re.compile(r"[^a-z0-9_.-]+")
#: Start and end tags of RSS items and Atom entries (prefixed names such as rss:item too).
_ITEM_OPEN = re.compile(rb"<(?:[A-Za-z0-9_]+:)?(?:item|entry)[\s>]")
_ITEM_CLOSE = re.compile(rb"</(?:[A-Za-z0-9_]+:)?(?:item|entry)\s*>")
_XML_DECL_LINE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\?>")


def _item_blocks(body: bytes) -> list[tuple[int, int]]:
    """Byte spans of the items of a feed document; empty when they do not pair up cleanly
    (nesting, an item tag inside CDATA, JSON Feed, UTF-16), and then nothing is pruned."""
    if body[:1] in (b"{", b"[") or b"\x00" in body[:64]:
        return []
    opens = [m.start() for m in _ITEM_OPEN.finditer(body)]
    closes = [m.end() for m in _ITEM_CLOSE.finditer(body)]
    if not opens or len(opens) != len(closes):
        return []
    spans = list(zip(opens, closes, strict=True))
    for (a, b), nxt in zip(spans, opens[1:] + [len(body)], strict=True):
        if not a < b <= nxt:
            return []
    return spans


@dataclass
class FileResult:
    """What happened to one file (the progress bar and the summary read these)."""

    path: Path
    bytes: int
    status: str  # ok | skipped | error
    entries: int = 0
    error: str | None = None


@dataclass
class ArchiveSummary:
    run_id: str
    files_total: int = 0
    files_skipped: int = 0  # finished by an earlier run (same path and content)
    files_bad_before: int = 0  # of those, bad files reported by an earlier run
    files_ok: int = 0
    files_failed: int = 0
    entries: int = 0
    articles_new: int = 0
    batches: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stopped_early: bool = False  # the max_files limit was reached
    errors: list[tuple[str, str]] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)

    def describe(self) -> str:
        rate = self.files_ok / self.seconds if self.seconds else 0.0
        lines = [
            f"backfill {self.run_id}: {self.files_total} files in {self.seconds:.1f}s — "
            f"{self.files_ok} read ({rate:.0f} files/s), {self.files_skipped} done before, "
            f"{self.files_failed} bad; {self.entries} entries, {self.articles_new} new articles "
            f"from {len(self.sources)} sources",
        ]
        if self.files_bad_before:
            lines.append(f"  {self.files_bad_before} bad files reported by an earlier run were "
                         "skipped (SELECT * FROM backfill_files WHERE status = 'error')")
        for path, error in self.errors[:20]:
            lines.append(f"  bad file: {path}: {error}")
        if len(self.errors) > 20:
            lines.append(f"  … and {len(self.errors) - 20} more (backfill_files.status = 'error')")
        if self.interrupted or self.stopped_early:
            lines.append("  stopped before the end: run the same command again to resume")
        return "\n".join(lines)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- discover


def discover(root: Path) -> list[Path]:
    """Feed files under ``root`` in path order; hidden files and folders (``.git``) skipped."""
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        name = path.name.lower()
        suffix = Path(name[:-3]).suffix if name.endswith(".gz") else path.suffix.lower()
        if suffix in FEED_SUFFIXES:
            out.append(path)
    return sorted(out)


def _slugify(text: str) -> str:
    slug = _SLUG_CHARS.sub("-", text.strip().lower()).strip("-._")
    return slug[:60] or "archive"


def _stem(path: Path) -> str:
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem


def source_slug(path: Path, root: Path) -> str:
    """Which feed a snapshot belongs to, from its name or folder.

    ``tass_2024-01-02T0300Z.xml`` → ``tass``; ``tass/2024-01-02T0300Z.xml`` → ``tass``;
    ``2024/01/02/tass.xml.gz`` → ``tass``; ``tass/<commit sha>.xml`` → ``tass``. Files directly
    in DIR with no name but a date fall back to DIR's own name.
    """
    stem = _DATE_TAIL.sub("", _stem(path)).strip("_.- ")
    if stem and not _NOT_A_NAME.match(stem):
        return _slugify(stem)
    for parent in reversed(path.relative_to(root).parts[:-1]):
        name = _DATE_TAIL.sub("", parent).strip("_.- ")
        if name and not _NOT_A_NAME.match(name):
            return _slugify(name)
    return _slugify(root.resolve().name)


# --------------------------------------------------------------------------- read


class BadFile(Exception):
    """A file that cannot be read as a feed document (its message goes to the report)."""


def read_document(path: Path, cap: int) -> tuple[bytes, str]:
    """(document bytes, sha1 of the raw file); see :func:`decode_document`."""
    raw = path.read_bytes()
    return decode_document(raw, cap), hashlib.sha1(raw).hexdigest()


def decode_document(raw: bytes, cap: int) -> bytes:
    """The feed document in a file's bytes. Gzip is detected by its magic, not the name, and
    decompressed with a cap so a gzip bomb in an archive stops at ``cap`` bytes."""
    if raw[:2] != _GZIP_MAGIC:
        return raw
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, cap + 1)
    except zlib.error as exc:
        raise BadFile(f"broken gzip: {exc}") from None
    if len(body) > cap:
        raise BadFile(f"larger than {cap} bytes once decompressed")
    if not inflater.eof:
        raise BadFile("truncated gzip")
    return body


# --------------------------------------------------------------------------- warehouse


def _load_state(settings: Settings) -> tuple[dict[tuple[str, str], str | None],
                                              dict[str, Source]]:
    """Files finished before ((path, hash) → None when ok, else the error that made them a
    bad file) and the archive sources stored so far.

    Read through the writer so migrations are applied and the newest records are seen (the
    read snapshot may lag behind the last batch's records).
    """
    with warehouse.writer(settings, publish=False) as con:
        done = {(p, h): (e or "bad file") if st != "ok" else None for p, h, st, e in con.execute(
            "SELECT path, content_hash, status, error FROM backfill_files").fetchall()}
        rows = con.execute(
            "SELECT source_id, url, outlet, language, country FROM sources"
            " WHERE disabled_reason = ?", [ARCHIVE_REASON]).fetchall()
    sources = {r[0]: Source(id=r[0], url=r[1], outlet=r[2], language=r[3], country=r[4],
                            kind="feed", enabled=False) for r in rows}
    return done, sources


def _record(settings: Settings, run_id: str, results: list[tuple[FileResult, str, str | None]],
            sources: list[Source]) -> None:
    """Archive sources and processed files, after the batch's articles are stored."""
    now = _now()
    with warehouse.writer(settings, publish=False) as con, warehouse.transaction(con):
        for s in sources:
            con.execute(
                "INSERT INTO sources (source_id, url, outlet, language, country, kind,"
                " enabled, disabled_reason, configured_url, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'feed', false, ?, ?, ?)"
                " ON CONFLICT (source_id) DO NOTHING",
                [s.id, s.url, s.outlet, s.language, s.country, ARCHIVE_REASON, s.url, now])
        # Columns as arrays and one statement: executemany costs a round trip per row.
        rows = [(str(r.path), digest, source_id, r.bytes, r.entries, r.status, r.error)
                for r, digest, source_id in results]
        columns = [list(col) for col in zip(*rows, strict=True)]
        con.execute(
            "INSERT OR REPLACE INTO backfill_files (path, content_hash, source_id, bytes,"
            " entries, status, error, run_id, processed_at)"
            " SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
            " unnest(?::BIGINT[]), unnest(?::INTEGER[]), unnest(?::VARCHAR[]),"
            " unnest(?::VARCHAR[]), ?, ?", [*columns, run_id, now])


# --------------------------------------------------------------------------- the run


@dataclass
class _Batch:
    groups: list[tuple[Source, list[Entry]]] = field(default_factory=list)
    results: list[tuple[FileResult, str, str | None]] = field(default_factory=list)
    group_files: list[int] = field(default_factory=list)  # each group's file in results
    new_sources: list[Source] = field(default_factory=list)
    bytes: int = 0
    entries: int = 0  # entries in groups (staged by this batch)


class _Run:
    """The state of one backfill run: sources, keys staged so far, the batch in hand."""

    def __init__(self, settings: Settings, root: Path, outlet: str | None, classify: bool,
                 run_id: str, summary: ArchiveSummary) -> None:
        self.settings = settings
        self.root = root
        self.outlet = outlet
        self.classify = classify
        self.run_id = run_id
        self.summary = summary
        self.done, self.sources = _load_state(settings)
        self.recorded_sources = set(self.sources)
        self.used: set[str] = set()
        #: Entry keys staged by this run: the thousandth copy of an entry costs a set lookup.
        self.staged_keys: set[str] = set()
        #: Raw hashes processed by this run: identical snapshots are parsed once.
        self.seen_hashes: set[str] = set()
        self.bad_hashes: dict[str, str] = {}
        #: Hashes of the raw bytes of every item parsed by this run (per source and declared
        #: encoding): a snapshot's repeated items are cut out before parsing.
        self.item_hashes: set[int] = set()
        self.batch = _Batch()

    def source_for(self, path: Path, title: str | None, language: str | None) -> Source:
        slug = _slugify(self.outlet) if self.outlet else source_slug(path, self.root)
        source_id = f"archive-{slug}"
        source = self.sources.get(source_id)
        if source is None:
            outlet = self.outlet or (title or "").strip()[:200] or slug
            source = Source(id=source_id, url=f"file://{self.root.resolve()}/{slug}",
                            outlet=outlet, language=language, kind="feed", enabled=False)
            self.sources[source_id] = source
        self.used.add(source_id)
        if source_id not in self.recorded_sources:
            self.recorded_sources.add(source_id)
            self.batch.new_sources.append(source)
        return source

    def process(self, path: Path) -> FileResult:
        """Read, parse and batch one file. Never raises for a bad file."""
        resolved = path.resolve()
        try:
            raw = resolved.read_bytes()
        except OSError as exc:
            result = FileResult(resolved, 0, "error", error=str(exc))
            self.batch.results.append((result, "-", None))
            return result
        size, digest = len(raw), hashlib.sha1(raw).hexdigest()
        if (str(resolved), digest) in self.done:
            # Same path, same bytes: finished before, or a bad file reported before.
            error = self.done[(str(resolved), digest)]
            return FileResult(resolved, size, "skipped", error=error)
        try:
            body = decode_document(raw, self.settings.max_body_bytes)
        except BadFile as exc:
            result = FileResult(resolved, size, "error", error=str(exc))
            self.batch.results.append((result, digest, None))
            return result
        if digest in self.bad_hashes:  # a byte-identical copy of a bad file of this run
            result = FileResult(resolved, size, "error", error=self.bad_hashes[digest])
            self.batch.results.append((result, digest, None))
            return result
        if digest in self.seen_hashes:  # a byte-identical copy of a file of this run
            result = FileResult(resolved, size, "ok")
            self.batch.results.append((result, digest, None))
            return result
        try:
            return self._read(resolved, size, digest, body)
        except Exception as exc:
            # A bug of ours on one file: its error, never the run's. Recorded without its
            # hash, so the next run reads it again (once the bug is fixed).
            log.exception("reading an archive file failed path=%s", resolved)
            result = FileResult(resolved, size, "error", error=internal_error(exc, "the file"))
            self.batch.results.append((result, "-", None))
            return result

    def _read(self, resolved: Path, size: int, digest: str, body: bytes) -> FileResult:
        """Parse a file's new items and add them to the batch in hand."""
        slug = _slugify(self.outlet) if self.outlet else source_slug(resolved, self.root)
        blocks = _item_blocks(body)
        prefix = _XML_DECL_LINE.match(body)
        # Python's bytes hash (SipHash, 64 bits, per process): a collision among the few
        # hundred thousand items of a run is about 1e-9 likely, and blake2 costs 3× more here.
        scope = (slug, prefix.group(0) if prefix else b"")
        hashes = [hash((scope, body[a:b])) for a, b in blocks]
        known = [h in self.item_hashes for h in hashes]
        parsed = None
        if blocks and all(known) and f"archive-{slug}" in self.sources:
            entries: list[Entry] = []  # every item was parsed from an earlier snapshot
        else:
            if any(known):
                parsed = self._parse_pruned(body, blocks, known)
            if parsed is None:
                parsed = parse_feed(body, "")
                known = [False] * len(blocks)
            if not parsed.is_feed:
                self.bad_hashes[digest] = parsed.error or "not a feed"
                result = FileResult(resolved, size, "error", error=self.bad_hashes[digest])
                self.batch.results.append((result, digest, None))
                return result
            entries = parsed.entries
        source = self.source_for(resolved, parsed.title if parsed else None,
                                 parsed.language if parsed else None)
        fresh = self._unstaged(entries, source.id)
        self.seen_hashes.add(digest)
        self.item_hashes.update(hashes)
        if fresh:
            self.batch.groups.append((source, fresh))
            self.batch.group_files.append(len(self.batch.results))
            self.batch.entries += len(fresh)
        total = len(entries) + sum(known)
        result = FileResult(resolved, size, "ok", entries=total,
                            error=parsed.bozo if parsed else None)
        self.batch.results.append((result, digest, source.id))
        self.batch.bytes += len(body)
        return result

    def _parse_pruned(self, body: bytes, blocks: list[tuple[int, int]],
                      known: list[bool]) -> ParsedFeed | None:
        """Parse the document without the items an earlier snapshot already held.

        Items are found by a regular expression, so the pruned document is only trusted when
        it parses as a feed with exactly one entry per item kept; anything else (an item tag
        inside CDATA, a broken document) returns None and the whole file is parsed.
        """
        parts, at = [], 0
        for (a, b), seen in zip(blocks, known, strict=True):
            if seen:
                parts.append(body[at:a])
                at = b
        parts.append(body[at:])
        parsed = parse_feed(b"".join(parts), "")
        if not parsed.is_feed or len(parsed.entries) != known.count(False):
            return None
        return parsed

    def _unstaged(self, entries: list[Entry], source_id: str) -> list[Entry]:
        """Entries whose key this run has not staged yet (cheap before expensive)."""
        keys = keys_for_feed(entries, source_id)
        fresh = [(e, k) for e, k in zip(entries, keys, strict=True) if k not in self.staged_keys]
        if not fresh:
            return []
        subset = [e for e, _ in fresh]
        # A GUID shared by two links is untrusted within its feed; keep the whole feed when a
        # subset would be keyed differently, so the store sees the same keys either way.
        if len(subset) != len(entries) and keys_for_feed(subset, source_id) != [k for _, k in fresh]:
            subset = entries
        self.staged_keys.update(k for _, k in fresh)
        return subset

    def _failed(self, batch: _Batch, index: int, error: str) -> None:
        """A file whose entries could not be staged (a bug of ours): an error, recorded
        without its hash so the next run reads it again, instead of a finished file."""
        done, _, source_id = batch.results[index]
        batch.results[index] = (FileResult(done.path, done.bytes, "error", error=error), "-",
                                source_id)
        self.summary.files_ok -= 1
        self.summary.entries -= done.entries
        self.summary.files_failed += 1
        self.summary.errors.append((str(done.path), error))

    def full(self) -> bool:
        return (len(self.batch.results) >= BATCH_FILES or self.batch.bytes >= BATCH_BYTES
                or self.batch.entries >= BATCH_ENTRIES)

    def flush(self) -> None:
        """Stage and store the batch in hand, then record its files as finished."""
        batch, self.batch = self.batch, _Batch()
        if not batch.results:
            return
        if batch.groups:
            staged = stage_entries(self.settings, batch.groups, self.run_id, via=VIA,
                                   classify=self.classify)
            for group, error in staged["failed_groups"]:
                self._failed(batch, batch.group_files[group], error)
            if staged["path"]:
                stored = store_staged(self.settings, [staged["path"]], self.run_id)
                self.summary.articles_new += stored["articles_new"]
        _record(self.settings, self.run_id, batch.results, batch.new_sources)
        self.summary.batches += 1
        log.info("backfill batch stored run_id=%s files=%d new_total=%d", self.run_id,
                 len(batch.results), self.summary.articles_new)


def backfill_dir(settings: Settings, root: Path, *, outlet: str | None = None,
                 classify: bool = True, max_files: int | None = None,
                 run_id: str | None = None,
                 on_start: Callable[[int], None] | None = None,
                 on_file: Callable[[FileResult], None] | None = None) -> ArchiveSummary:
    """Load every feed file under ``root`` into the warehouse, resumably.

    ``max_files`` stops after that many files were read in this run (files finished before
    do not count): the resume test and cautious first runs use it. ``on_start(total)`` and
    ``on_file(result)`` feed a progress display. Ctrl-C stores the batch in hand and returns
    a summary with ``interrupted=True``.
    """
    started = time.monotonic()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    root = Path(root)
    if not root.is_dir():
        from monitor.errors import ConfigError

        raise ConfigError(f"{root} is not a directory")
    summary = ArchiveSummary(run_id=run_id or new_run_id("backfill"))
    files = discover(root)
    summary.files_total = len(files)
    if on_start:
        on_start(len(files))
    run = _Run(settings, root, outlet, classify, summary.run_id, summary)
    read = 0
    try:
        for path in files:
            result = run.process(path)
            if result.status == "skipped":
                summary.files_skipped += 1
                summary.files_bad_before += result.error is not None
            elif result.status == "error":
                summary.files_failed += 1
                summary.errors.append((str(result.path), result.error or "error"))
                log.info("bad archive file path=%s error=%s", result.path, result.error)
            else:
                summary.files_ok += 1
                summary.entries += result.entries
            if on_file:
                on_file(result)
            if result.status != "skipped":
                read += 1
            if run.full():
                run.flush()
            if max_files is not None and read >= max_files:
                summary.stopped_early = read < len(files) - summary.files_skipped
                break
    except KeyboardInterrupt:
        summary.interrupted = True
        log.warning("backfill interrupted run_id=%s: storing the batch in hand", summary.run_id)
    run.flush()
    summary.sources = run.used
    summary.seconds = time.monotonic() - started
    _record_and_publish(settings, summary, started_at)
    return summary


def _record_and_publish(settings: Settings, summary: ArchiveSummary,
                        started_at: datetime) -> None:
    """Record the run in ``ingest_runs`` (via ``backfill_archive``; the counts are files
    read) and publish the read snapshot once at the end (file records were written without
    it)."""
    from monitor.ingest.health import RunRecord, judge, record_run

    read = summary.files_ok + summary.files_failed
    record = RunRecord(run_id=summary.run_id, via="backfill_archive", started_at=started_at,
                       sources_planned=read, sources_ok=summary.files_ok,
                       sources_failed=summary.files_failed, entries_seen=summary.entries,
                       articles_new=summary.articles_new, seconds=summary.seconds,
                       failures=list(summary.errors),
                       health=judge(settings, read, summary.files_ok, summary.files_failed))
    try:
        with warehouse.writer(settings) as con:
            record_run(con, record)
    except Exception:  # the next writer publishes; a busy warehouse is no reason to fail
        log.warning("could not record the run or publish the read snapshot after the "
                    "backfill", exc_info=True)


def refresh_trends_after(settings: Settings) -> dict[str, Any]:
    """Bring the trend tables up to date for the days the backfill touched."""
    from monitor.maintenance import refresh_trend_tables

    return refresh_trend_tables(settings)
