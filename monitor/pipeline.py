"""The ingest pipeline, top to bottom (miniflux ``handler.go`` habit).

    plan_ingest      sync the sources file into the warehouse; batches of the sources due
                     now, each host's sources in one batch (the per-host limit holds across
                     parallel fetchers)
    fetch_and_stage  fetch → parse → key → drop what was seen → language → full text →
                     classify → cluster sketches; writes one staging file per batch (JSON
                     Lines) and returns its path. No warehouse write, so many of these run in
                     parallel (Airflow mapped tasks).
    store_staged     the only warehouse writer: loads staged batches, one transaction each;
                     idempotent (storing the same file twice adds nothing); then clusters and
                     trend tables
    run_ingest       all of it for ``monitor ingest``: one fetcher in this process, the CPU
                     work in forked workers when there are enough sources (``_Workers``), each
                     staged group stored as it comes

Staging files are the hand-over between fetching and storing. They are written to a temporary
name and renamed when complete, so a killed task or a full disk leaves no half batch; a batch
that could not be stored (warehouse busy, crash) stays in ``staging/`` and the next
``store_staged`` picks it up: no fetched article is lost.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import msgspec

from monitor import warehouse
from monitor.dedup import article_id, canonical_url, content_hash, keys_for_feed
from monitor.feeds import parse_feed
from monitor.fetch import FeedState, FetchResult, fetch_all
from monitor.settings import Settings
from monitor.sources import (
    Source,
    active_sources,
    load_sources,
    remember_synced,
    sources_digest,
    sync_sources,
)

__all__ = ["plan_ingest", "fetch_and_stage", "store_staged", "run_ingest", "IngestSummary",
           "new_run_id", "stage_records", "pending_batches", "stage_documents", "stage_entries",
           "Document"]

log = logging.getLogger(__name__)

#: Sources per fetch batch (one Airflow mapped task each).
BATCH_SIZE = 8
_SUMMARY_LEAD = 600


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(prefix: str = "cli") -> str:
    return f"{prefix}__{_now():%Y%m%dT%H%M%S}__{uuid.uuid4().hex[:6]}"


# --------------------------------------------------------------------------- plan


def plan_ingest(settings: Settings, *, only: set[str] | None = None,
                poll_all: bool = False) -> list[list[str]]:
    """Sync the sources file and return batches of ids of the enabled sources due now.

    A failing source is polled again only after its back-off (``feed_state.next_poll_at``);
    ``poll_all`` ignores that. Unknown ids in ``only`` are an error, not a silent no-op.
    When the sources file is unchanged since the last sync, planning only reads the
    snapshot: a run with nothing new opens no write session for it.
    """
    return _plan(settings, only=only, poll_all=poll_all).batches


@dataclass
class _Plan:
    """The batches due now, with the sources and their fetch state as read while planning
    (``monitor ingest`` hands them to its fetchers instead of reading them again)."""

    batches: list[list[str]]
    sources: dict[str, Source]
    states: dict[str, FeedState]

    def select(self, ids: list[str]) -> tuple[list[Source], dict[str, FeedState]]:
        """The planned sources among ``ids``, and their fetch state."""
        return ([self.sources[i] for i in ids if i in self.sources],
                {i: self.states[i] for i in ids if i in self.states})


def _plan(settings: Settings, *, only: set[str] | None, poll_all: bool) -> _Plan:
    sources = load_sources(settings.sources_file)
    if only:
        unknown = only - {s.id for s in sources}
        if unknown:
            from monitor.errors import ConfigError

            raise ConfigError(f"unknown source ids: {', '.join(sorted(unknown))}")
    planned = _plan_from_snapshot(settings, sources_digest(settings.sources_file))
    if planned is None:
        with warehouse.writer(settings) as con:
            sync_sources(con, sources)
            remember_synced(con, settings.sources_file)
            planned = _due(con)
    active, waiting, states = planned
    if only:
        active = [s for s in active if s.id in only]
    if poll_all:
        waiting = set()
    due = [s for s in active if s.id not in waiting]
    return _Plan(batches=host_batches(due), sources={s.id: s for s in due},
                 states={k: v for k, v in states.items() if k not in waiting})


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


def _due(con: Any) -> tuple[list[Source], set[str], dict[str, FeedState]]:
    """Enabled sources, the ids still backing off after failures, and every source's
    validators (ETag, Last-Modified, content hash) for conditional GETs."""
    waiting = con.execute(
        "SELECT source_id FROM feed_state WHERE next_poll_at > ?", [_now()]).fetchall()
    return active_sources(con), {r[0] for r in waiting}, _states(con)


def _states(con: Any, ids: list[str] | None = None) -> dict[str, FeedState]:
    sql = "SELECT source_id, etag, last_modified, content_hash FROM feed_state"
    rows = (con.execute(sql + " WHERE source_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
            if ids is not None else con.execute(sql)).fetchall()
    return {r[0]: FeedState(etag=r[1], last_modified=r[2], content_hash=r[3]) for r in rows}


def _plan_from_snapshot(settings: Settings, digest: str
                        ) -> tuple[list[Source], set[str], dict[str, FeedState]] | None:
    if not settings.snapshot_path.exists():
        return None
    try:
        with warehouse.reader(settings) as con:
            row = con.execute(
                "SELECT value FROM monitor_state WHERE key = 'sources_file_sha1'").fetchone()
            if not row or row[0] != digest:
                return None
            return _due(con)
    except duckdb.Error:  # an older snapshot without the table: plan through the writer
        return None


# --------------------------------------------------------------------------- fetch & stage


def _load_state(settings: Settings, ids: list[str]) -> tuple[list[Source], dict[str, FeedState]]:
    with warehouse.reader(settings) as con:
        rows = con.execute(
            "SELECT source_id, url, outlet, language, country, kind FROM sources"
            " WHERE source_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
        ).fetchall()
        states = _states(con, ids)
    sources = [Source(id=r[0], url=r[1], outlet=r[2], language=r[3], country=r[4], kind=r[5])
               for r in rows]
    return sources, states


def _known_keys(settings: Settings, keys: list[str], urls: list[str]) -> tuple[set[str], set[str]]:
    if not keys:
        return set(), set()
    with warehouse.reader(settings) as con:
        known = con.execute(
            "SELECT entry_key FROM articles WHERE entry_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        ).fetchall()
        known_urls = con.execute(
            "SELECT canonical_url FROM articles"
            " WHERE canonical_url IN (SELECT unnest(?::VARCHAR[]))", [urls],
        ).fetchall()
    return {r[0] for r in known}, {r[0] for r in known_urls}


def fetch_and_stage(settings: Settings, source_ids: list[str], run_id: str,
                    on_fetched: Callable[[FetchResult], None] | None = None,
                    plan: _Plan | None = None) -> dict[str, Any]:
    """Fetch a batch of sources and stage what they hold in one staging file. Never raises
    for one bad source.

    Fetching runs in a background thread while this one parses what has arrived, so
    parsing overlaps the network's waiting and a response's body is dropped once parsed.
    ``plan``: sources and fetch state already read by :func:`_plan` (``monitor ingest``);
    without it (an Airflow task) they are read from the snapshot.
    """
    sources, states = (plan.select(source_ids) if plan is not None
                       else _load_state(settings, list(source_ids)))
    arrived: queue.SimpleQueue[FetchResult | BaseException | None] = queue.SimpleQueue()

    def fetch() -> None:
        try:
            fetch_all(sources, states, settings, on_done=arrived.put)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            arrived.put(exc)
        finally:
            arrived.put(None)

    def arrivals() -> Iterator[FetchResult]:
        while (result := arrived.get()) is not None:
            if isinstance(result, BaseException):
                raise result
            if on_fetched is not None:
                on_fetched(result)
            yield result

    threading.Thread(target=fetch, name="monitor-fetch", daemon=True).start()
    (out,) = _staged_groups(settings, run_id, arrivals(), {s.id: s for s in sources}, states)
    return out


def _staged_groups(settings: Settings, run_id: str, results: Iterable[FetchResult],
                   sources: dict[str, Source], states: dict[str, FeedState],
                   group: int | None = None) -> Iterator[dict[str, Any]]:
    """Read fetch results as they come and stage them: a staging file each time ``group``
    entries have been read and one for the rest, or (``None``) exactly one file at the end.
    Yields each file's summary as it is written."""
    earlier: tuple[set[str], set[str]] = (set(), set())
    fetch_rows: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    for result in results:
        candidates.extend(_read_result(result, sources[result.source_id], states, run_id,
                                       fetch_rows))
        if group is not None and len(candidates) >= group:
            yield _stage_group(settings, run_id, fetch_rows, candidates, earlier)
            fetch_rows, candidates = [], []
    if fetch_rows or group is None:
        yield _stage_group(settings, run_id, fetch_rows, candidates, earlier)


def _read_result(result: FetchResult, source: Source, states: dict[str, FeedState],
                 run_id: str, fetch_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One fetch attempt: its ``fetches`` row (appended) and the article records it holds."""
    row = _fetch_row(result, run_id)
    fetch_rows.append(row)
    if result.outcome != "ok":
        return []
    body, result.body = result.body, b""  # parsed once; not kept for the rest of the run
    digest = hashlib.sha1(body).hexdigest()
    row["content_hash"] = digest
    if states.get(source.id, FeedState()).content_hash == digest:
        # The server ignored conditional GET but nothing changed: skip all later work.
        row.update(outcome="not_modified", parser="content-hash")
        return []
    parsed = parse_feed(body, result.final_url or source.url, result.headers,
                        source_language=source.language)
    row["parser"] = parsed.parser
    row["bozo"] = parsed.bozo
    if not parsed.is_feed:
        row.update(outcome="error", error=parsed.error, content_hash=None)
        return []
    row["entries_seen"] = len(parsed.entries)
    keys = keys_for_feed(parsed.entries, source.id)
    return [_article_record(entry, key, source, row["fetch_id"])
            for entry, key in zip(parsed.entries, keys, strict=True)]


def _stage_group(settings: Settings, run_id: str, fetch_rows: list[dict[str, Any]],
                 candidates: list[dict[str, Any]],
                 earlier: tuple[set[str], set[str]]) -> dict[str, Any]:
    """Drop what was seen, then language, full text, classification and sketches of what is
    new; write the staging file. ``earlier``: keys and URLs new in this run's earlier groups
    (updated), so an article carried by two feeds is classified once."""
    new_articles = _drop_seen(settings, candidates, earlier)
    earlier[0].update(a["entry_key"] for a in new_articles)
    earlier[1].update(a["canonical_url"] for a in new_articles if a["canonical_url"])
    _detect_languages(new_articles)
    _enrich(settings, new_articles)
    predictions = _classify(settings, new_articles)
    sketches = _sketch(new_articles)
    path = stage_records(settings, run_id, fetch_rows, candidates, predictions + sketches)
    return {"path": str(path), "sources": len(fetch_rows), "entries": len(candidates),
            "new": len(new_articles),
            "failed": sum(1 for r in fetch_rows if r["outcome"] == "error")}


def _drop_seen(settings: Settings, candidates: list[dict[str, Any]],
               earlier: tuple[set[str], set[str]] | None = None) -> list[dict[str, Any]]:
    """Cheap before expensive: mark entries the warehouse (or this batch, or ``earlier``
    keys and URLs) already has, so only new ones are extracted and classified. Seen ones
    are still staged: the store records which sources carried them."""
    keys = sorted({c["entry_key"] for c in candidates})
    urls = sorted({c["canonical_url"] for c in candidates if c["canonical_url"]})
    known, known_urls = _known_keys(settings, keys, urls)
    if earlier:
        known |= earlier[0]
        known_urls |= earlier[1]
    fresh: dict[str, dict[str, Any]] = {}
    fresh_urls: set[str] = set()
    for c in candidates:
        c["seen"] = c["entry_key"] in known or (c["canonical_url"] in known_urls)
        if c["seen"] or c["entry_key"] in fresh or c["canonical_url"] in fresh_urls:
            continue
        fresh[c["entry_key"]] = c
        if c["canonical_url"]:
            fresh_urls.add(c["canonical_url"])
    return list(fresh.values())


@dataclass
class Document:
    """A feed document that is already here (a file of an archive, a bench corpus)."""

    source: Source
    body: bytes
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def stage_documents(settings: Settings, documents: list[Document], run_id: str, *,
                    via: str = "backfill_dir", classify: bool = True) -> dict[str, Any]:
    """Parse, key, drop seen, classify and stage documents we already hold (no fetching).

    The same path as live ingestion after the fetch, so a backfill stores articles exactly
    as live ingestion would; ``ingested_via`` records how they came. Returns the staged path
    (None when nothing was new), entries seen, new articles and per-document errors.
    """
    groups: list[tuple[Source, list[Any]]] = []
    errors: list[tuple[int, str]] = []
    for index, doc in enumerate(documents):
        parsed = parse_feed(doc.body, doc.url or doc.source.url, doc.headers,
                            source_language=doc.source.language)
        if not parsed.is_feed:
            errors.append((index, parsed.error or "not a feed"))
            continue
        groups.append((doc.source, parsed.entries))
    out = stage_entries(settings, groups, run_id, via=via, classify=classify)
    out["errors"] = errors
    return out


def stage_entries(settings: Settings, groups: list[tuple[Source, list[Any]]], run_id: str, *,
                  via: str, classify: bool = True) -> dict[str, Any]:
    """Stage parsed entries (``monitor.feeds.Entry``) per source, as live ingestion would.

    For sources whose entries do not come from a feed document (the GDELT DOC API's JSON).
    """
    candidates: list[dict[str, Any]] = []
    for source, entries in groups:
        keys = keys_for_feed(entries, source.id)
        for entry, key in zip(entries, keys, strict=True):
            record = _article_record(entry, key, source, None)
            record["ingested_via"] = via
            candidates.append(record)
    new_articles = _drop_seen(settings, candidates)
    predictions = []
    if classify:
        _detect_languages(new_articles)
        predictions = _classify(settings, new_articles) + _sketch(new_articles)
    # Entries seen before need no staging for a backfill (no fetch row to link to), and of
    # the thousand repeats of one entry in a feed archive one per source is enough.
    staged, pairs = [], set()
    for c in candidates:
        if not c["seen"] and (c["entry_key"], c["source_id"]) not in pairs:
            pairs.add((c["entry_key"], c["source_id"]))
            staged.append(c)
    path = stage_records(settings, run_id, [], staged, predictions) if staged else None
    return {"path": str(path) if path else None, "entries": len(candidates),
            "new": len(new_articles)}


def _fetch_row(result: FetchResult, run_id: str) -> dict[str, Any]:
    return {
        "type": "fetch",
        "fetch_id": uuid.uuid4().hex,
        "source_id": result.source_id,
        "run_id": run_id,
        "url": result.url,
        "started_at": result.started_at.isoformat(),
        "outcome": result.outcome,
        "http_status": result.status,
        "bytes": len(result.body),
        "entries_seen": 0,
        "parser": None,
        "bozo": None,
        "error": result.error,
        "duration_ms": result.duration_ms,
        "etag": result.etag,
        "last_modified": result.last_modified,
        "content_hash": None,
        "moved_to": result.moved_to,
        "gone": result.gone,
        "retry_after": result.retry_after,
    }


def _article_record(entry: Any, key: str, source: Source,
                    fetch_id: str | None) -> dict[str, Any]:
    now = _now()
    return {
        "type": "article",
        "article_id": article_id(key),
        "entry_key": key,
        "fetch_id": fetch_id,
        "guid": entry.guid,
        "url": entry.link,
        "canonical_url": canonical_url(entry.link),
        "title": _strip_publisher(entry.title, entry.source_name),
        "summary": entry.summary,
        "body": None,
        "text_source": "summary" if entry.summary else "title",
        "author": entry.author,
        "outlet": _outlet(entry, source),
        "source_id": source.id,
        "language": entry.language or source.language,
        "published_at": entry.published_at.isoformat() if entry.published_at else None,
        "date_flag": entry.date_flag,
        "first_seen_at": now.isoformat(),
        "content_hash": content_hash(entry.title, entry.summary),
        "ingested_via": "live",
        "extract_status": None,
        "extract_error": None,
    }


def _strip_publisher(title: str, publisher: str | None) -> str:
    """Aggregators append " - Publisher" to titles; the outlet column already says it."""
    if publisher and title.endswith(f" - {publisher}"):
        return title[: -len(publisher) - 3].rstrip()
    return title


def _outlet(entry: Any, source: Source) -> str:
    """The publisher: an aggregator's named source, else (for searches) the link's site."""
    if entry.source_name:
        return entry.source_name
    if source.kind == "search" and entry.link:
        host = urlsplit(entry.link).hostname or ""
        return host.removeprefix("www.") or source.outlet
    return source.outlet


#: Which declared languages a text's dominant script confirms.
_SCRIPT_LANGUAGES = {
    "latin": {"en", "fr", "de", "es", "it", "pt", "nl", "pl", "cs", "tr", "id", "vi", "sv",
              "no", "da", "fi", "ro", "hu"},
    "cyrillic": {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn"},
    "kana": {"ja"},
    "han": {"zh", "ja"},
    "hangul": {"ko"},
}


def _detect_languages(articles: list[dict[str, Any]]) -> None:
    """The language of each article: the feed's declared one when the text's script agrees
    with it, else detected from the text (feeds often declare one language site-wide, and
    aggregators none). The statistical detector only runs where it can change the answer."""
    from monitor.language import detect_language, script_profile

    for a in articles:
        text = f"{a['title']}\n{a['summary'] or ''}"
        declared = a.get("language")
        if declared:
            counts = script_profile(text[:400])
            script = max(counts, key=counts.get)
            # (Han script with kana in it is Japanese whatever the feed says.)
            if counts[script] and declared in _SCRIPT_LANGUAGES.get(script, ()) and not (
                    script == "han" and counts["kana"] and declared != "ja"):
                continue
        detected = detect_language(text)
        if detected:
            a["language"] = detected


def _enrich(settings: Settings, articles: list[dict[str, Any]]) -> None:
    """Fetch and extract the full page of possibly relevant new articles (cheap first)."""
    if not settings.extract_enabled or not articles:
        return
    from monitor.classify import is_candidate

    wanted = [a for a in articles
              if not settings.extract_only_candidates or is_candidate(a["title"], a["summary"])]
    if not wanted:
        return
    from monitor.pages import enrich_articles

    try:
        enriched = enrich_articles(settings, wanted)
    except Exception:  # full text is an improvement, never a reason to lose the batch
        log.exception("full-text extraction failed for a batch; keeping feed summaries")
        return
    by_id = {a["article_id"]: a for a in enriched}
    for a in articles:
        if a["article_id"] in by_id:
            a.update({k: v for k, v in by_id[a["article_id"]].items() if k in a})


def _classify(settings: Settings, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Classify new articles; a classifier failure leaves them unclassified, not lost."""
    if not articles:
        return []
    try:
        from monitor.classify import load_classifier

        classifier = load_classifier(settings)
        items = [{"id": a["article_id"], "title": a["title"],
                  "text": a["body"] or a["summary"] or "", "language": a["language"]}
                 for a in articles]
        predictions = classifier.classify(items)
    except Exception:
        log.exception("classification failed; articles are stored unclassified "
                      "(run `monitor reclassify` once fixed)")
        return []
    out = []
    for p in predictions:
        d = p.to_json()
        out.append({
            "type": "classification", "article_id": d["id"], "model_version": d["model_version"],
            "relevant": d["relevant"], "dyads": d["dyads"], "topics": d["topics"],
            "scores": json.dumps(d["scores"]), "evidence": json.dumps(d["evidence"],
                                                                      ensure_ascii=False),
        })
    return out


def _sketch(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Story-cluster sketches of new articles, computed here in the (parallel) fetch step so
    the single writer only compares them. A failure costs nothing: the store computes what
    is missing."""
    if not articles:
        return []
    try:
        from monitor.clusters import sketch_rows

        return [{"type": "sketch", **row} for row in sketch_rows(articles)]
    except Exception:
        log.exception("sketching %d new articles failed; the store will sketch them",
                      len(articles))
        return []


def stage_records(settings: Settings, run_id: str, fetches: list[dict[str, Any]],
                  articles: list[dict[str, Any]],
                  derived: list[dict[str, Any]]) -> Path:
    """Write one batch to ``staging/<run>/<batch>.jsonl`` atomically (temp file + rename).

    ``derived``: records computed from the new articles (classifications, sketches).
    """
    folder = settings.staging_dir / _safe(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch-{uuid.uuid4().hex[:12]}.jsonl"
    tmp = path.with_suffix(".jsonl.part")
    try:
        with tmp.open("wb") as out:
            for record in (*fetches, *articles, *derived):
                out.write(_encode_record(record))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


#: msgspec's encoder (already an Airflow dependency) writes a record several times faster
#: than ``json.dumps``; staging is on the path of every entry.
_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _encode_record(record: dict[str, Any]) -> bytes:
    try:
        return _ENCODER.encode(record) + b"\n"
    except UnicodeEncodeError:  # a lone surrogate in feed text: replaced, not fatal
        return json.dumps(record, ensure_ascii=False, default=str).encode(
            "utf-8", "replace") + b"\n"


def _safe(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)[:120]


# --------------------------------------------------------------------------- store


def pending_batches(settings: Settings) -> list[Path]:
    """Staged batches not stored yet, oldest first (across runs)."""
    if not settings.staging_dir.exists():
        return []
    return sorted(settings.staging_dir.glob("*/batch-*.jsonl"), key=lambda p: p.stat().st_mtime)


_FETCH_COLUMNS = {
    "type": "VARCHAR", "fetch_id": "VARCHAR", "source_id": "VARCHAR", "run_id": "VARCHAR",
    "url": "VARCHAR", "started_at": "TIMESTAMP", "outcome": "VARCHAR", "http_status": "INTEGER",
    "bytes": "BIGINT", "entries_seen": "INTEGER", "parser": "VARCHAR", "bozo": "VARCHAR",
    "error": "VARCHAR", "duration_ms": "INTEGER", "etag": "VARCHAR", "last_modified": "VARCHAR",
    "content_hash": "VARCHAR", "moved_to": "VARCHAR", "gone": "BOOLEAN", "retry_after": "DOUBLE",
}
_ARTICLE_COLUMNS = {
    "type": "VARCHAR", "article_id": "VARCHAR", "entry_key": "VARCHAR", "fetch_id": "VARCHAR",
    "guid": "VARCHAR", "url": "VARCHAR", "canonical_url": "VARCHAR", "title": "VARCHAR",
    "summary": "VARCHAR", "body": "VARCHAR", "text_source": "VARCHAR", "author": "VARCHAR",
    "outlet": "VARCHAR", "source_id": "VARCHAR", "language": "VARCHAR",
    "published_at": "TIMESTAMP", "date_flag": "VARCHAR", "first_seen_at": "TIMESTAMP",
    "content_hash": "VARCHAR", "ingested_via": "VARCHAR", "extract_status": "VARCHAR",
    "extract_error": "VARCHAR", "seen": "BOOLEAN",
}
_CLASS_COLUMNS = {
    "type": "VARCHAR", "article_id": "VARCHAR", "model_version": "VARCHAR",
    "relevant": "BOOLEAN", "dyads": "VARCHAR[]", "topics": "VARCHAR[]", "scores": "VARCHAR",
    "evidence": "VARCHAR",
}

_SKETCH_COLUMNS = {
    "type": "VARCHAR", "article_id": "VARCHAR", "version": "INTEGER", "text_hash": "VARCHAR",
    "minhash": "UBIGINT[]", "terms": "VARCHAR", "anchors": "VARCHAR[]", "countries": "VARCHAR[]",
}


#: Every column a staged record may have (the kinds agree on shared names' types).
_ALL_COLUMNS = {**_FETCH_COLUMNS, **_ARTICLE_COLUMNS, **_CLASS_COLUMNS, **_SKETCH_COLUMNS}


def _read_json_sql(columns: dict[str, str]) -> str:
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (f"SELECT * FROM read_json(?, format = 'newline_delimited', columns = {{{spec}}},"
            " maximum_object_size = 67108864)")


def _store_one(con: Any, path: Path, settings: Settings) -> dict[str, int]:
    """Load one staged batch in one transaction. Upserts on natural keys: idempotent."""
    counts = {"fetches": 0, "articles_new": 0, "links": 0}
    con.execute("BEGIN")
    try:
        # One read of the file; the three record types are split from it.
        con.execute("CREATE OR REPLACE TEMP TABLE stage_all AS " + _read_json_sql(_ALL_COLUMNS),
                    [str(path)])
        for table, columns, kind in (("stage_fetch", _FETCH_COLUMNS, "fetch"),
                                     ("stage_article", _ARTICLE_COLUMNS, "article"),
                                     ("stage_class", _CLASS_COLUMNS, "classification"),
                                     ("stage_sketch", _SKETCH_COLUMNS, "sketch")):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT "
                        f"{', '.join(columns)} FROM stage_all WHERE type = ?", [kind])
        has_articles = con.execute("SELECT count(*) FROM stage_article").fetchone()[0] > 0
        # Fetch attempts not stored before (a re-run of the same file skips them).
        con.execute(
            "CREATE OR REPLACE TEMP TABLE new_fetch AS SELECT * FROM stage_fetch"
            " WHERE fetch_id NOT IN (SELECT fetch_id FROM fetches)"
        )
        # A poll of unchanged feeds stages fetch rows only: nothing else to do.
        if has_articles:
            # Same article under two keys in this batch (two feeds, opaque GUIDs): one id.
            con.execute(
                "UPDATE stage_article SET article_id = f.first_id FROM ("
                "  SELECT canonical_url, arg_min(article_id, first_seen_at) AS first_id"
                "  FROM stage_article WHERE canonical_url IS NOT NULL GROUP BY canonical_url) f"
                " WHERE stage_article.canonical_url = f.canonical_url"
            )
            # Same article under another key (same canonical URL): link to the existing article.
            con.execute(
                "UPDATE stage_article SET article_id = a.article_id FROM articles a"
                " WHERE stage_article.canonical_url IS NOT NULL"
                " AND a.canonical_url = stage_article.canonical_url"
                " AND a.entry_key <> stage_article.entry_key"
            )
            before = con.execute("SELECT count(*) FROM articles").fetchone()[0]
            con.execute(
                "INSERT INTO articles (article_id, entry_key, guid, url, canonical_url, title,"
                " summary, body, text_source, author, outlet, source_id, language, published_at,"
                " date_flag, first_seen_at, content_hash, ingested_via, extract_status, extract_error)"
                " SELECT article_id, entry_key, guid, url, canonical_url, title, summary, body,"
                " coalesce(text_source, 'summary'), author, outlet, source_id, language, published_at,"
                " date_flag, first_seen_at, content_hash, coalesce(ingested_via, 'live'),"
                " extract_status, extract_error FROM stage_article s"
                # article_id is derived from entry_key (or remapped to an existing article
                # above), so matching on it alone also catches a known entry_key; an equi-join
                # keeps this a hash join instead of a nested loop over the whole table.
                " WHERE s.article_id NOT IN (SELECT article_id FROM articles)"
                " QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY first_seen_at) = 1"
            )
            counts["articles_new"] = con.execute("SELECT count(*) FROM articles").fetchone()[0] - before
            # Which source carried which article (an article seen in two feeds is stored once).
            con.execute(
                "INSERT INTO article_sources (article_id, source_id, first_seen_at)"
                " SELECT s.article_id, s.source_id, min(s.first_seen_at) FROM stage_article s"
                " WHERE s.article_id IN (SELECT article_id FROM articles)"
                " GROUP BY ALL ON CONFLICT DO NOTHING"
            )
            con.execute(
                "INSERT INTO classifications (article_id, model_version, relevant, dyads, topics,"
                " scores, evidence, classified_at)"
                " SELECT article_id, model_version, relevant, coalesce(dyads, []),"
                " coalesce(topics, []), scores::JSON, evidence::JSON, now()::TIMESTAMP"
                " FROM stage_class WHERE article_id IN (SELECT article_id FROM articles)"
                " ON CONFLICT DO NOTHING"
            )
            # Cluster sketches made by the fetch step (an id merged into another article
            # above has no row of its own: its sketch is dropped and recomputed if needed).
            con.execute(
                "INSERT INTO article_sketches (article_id, version, text_hash, minhash, terms,"
                " anchors, countries)"
                " SELECT article_id, version, text_hash, minhash, terms::JSON, anchors, countries"
                " FROM stage_sketch WHERE article_id IN (SELECT article_id FROM articles)"
                " QUALIFY row_number() OVER (PARTITION BY article_id) = 1"
                " ON CONFLICT DO NOTHING"
            )
        _store_fetches(con, settings)
        counts["fetches"] = con.execute("SELECT count(*) FROM new_fetch").fetchone()[0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts


def _store_fetches(con: Any, settings: Settings) -> None:
    """Fetch rows, their count of new articles, and each source's health and next poll."""
    con.execute(
        "INSERT INTO fetches (fetch_id, source_id, run_id, url, started_at, outcome, http_status,"
        " bytes, entries_seen, entries_new, parser, bozo, error, duration_ms)"
        " SELECT f.fetch_id, f.source_id, f.run_id, f.url, f.started_at, f.outcome,"
        " f.http_status, f.bytes, f.entries_seen,"
        " (SELECT count(*) FROM stage_article s JOIN articles a USING (article_id)"
        "   WHERE s.fetch_id = f.fetch_id AND a.entry_key = s.entry_key"
        "   AND a.first_seen_at = s.first_seen_at),"
        " f.parser, f.bozo, f.error, f.duration_ms FROM new_fetch f"
    )
    now = _now()
    # Healthy sources: new validators, failures reset.
    con.execute(
        "INSERT INTO feed_state (source_id, etag, last_modified, content_hash, last_attempt_at,"
        " last_ok_at, last_status, last_outcome, last_error, consecutive_failures,"
        " failing_since, next_poll_at)"
        " SELECT source_id, etag, last_modified, content_hash, started_at, started_at,"
        " http_status, outcome, NULL, 0, NULL, NULL FROM new_fetch"
        " WHERE outcome IN ('ok', 'not_modified')"
        " QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY started_at DESC) = 1"
        " ON CONFLICT (source_id) DO UPDATE SET etag = excluded.etag,"
        " last_modified = excluded.last_modified,"
        " content_hash = coalesce(excluded.content_hash, feed_state.content_hash),"
        " last_attempt_at = excluded.last_attempt_at, last_ok_at = excluded.last_ok_at,"
        " last_status = excluded.last_status, last_outcome = excluded.last_outcome,"
        " last_error = NULL, consecutive_failures = 0, failing_since = NULL,"
        " next_poll_at = NULL"
    )
    # Failing sources back off: base × 2^(failures − 1) minutes, capped; a longer
    # Retry-After from the server wins.
    con.execute(
        "INSERT INTO feed_state (source_id, last_attempt_at, last_status, last_outcome,"
        " last_error, consecutive_failures, failing_since, next_poll_at)"
        " SELECT f.source_id, f.started_at, f.http_status, f.outcome, f.error,"
        " coalesce(s.consecutive_failures, 0) + 1, coalesce(s.failing_since, f.started_at),"
        " ?::TIMESTAMP + to_seconds(greatest(least("
        "   ? * 60 * pow(2, coalesce(s.consecutive_failures, 0)), ? * 3600),"
        "   coalesce(f.retry_after, 0)))"
        " FROM new_fetch f LEFT JOIN feed_state s USING (source_id)"
        " WHERE f.outcome NOT IN ('ok', 'not_modified')"
        " QUALIFY row_number() OVER (PARTITION BY f.source_id ORDER BY f.started_at DESC) = 1"
        " ON CONFLICT (source_id) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,"
        " last_status = excluded.last_status, last_outcome = excluded.last_outcome,"
        " last_error = excluded.last_error,"
        " consecutive_failures = excluded.consecutive_failures,"
        " failing_since = excluded.failing_since, next_poll_at = excluded.next_poll_at",
        [now, settings.failure_backoff_minutes, settings.failure_backoff_max_hours],
    )
    # A permanent redirect moves the source; 410 Gone switches it off with a reason.
    con.execute(
        "UPDATE sources SET url = f.moved_to, updated_at = ? FROM new_fetch f"
        " WHERE f.source_id = sources.source_id AND f.moved_to IS NOT NULL", [now])
    con.execute(
        "UPDATE sources SET enabled = false, updated_at = ?, disabled_reason ="
        " '410 Gone at ' || strftime(f.started_at, '%Y-%m-%d %H:%M') || ' UTC: feed removed;"
        " change its URL in the sources file to re-enable'"
        " FROM new_fetch f WHERE f.source_id = sources.source_id AND f.gone", [now])


def _cluster_recent(con: Any) -> None:
    """Story clusters for articles that have none yet, in their own transaction after the
    batch committed: a clustering problem never costs a stored article, and articles it
    missed are picked up by the next batch."""
    from monitor.clusters import assign_clusters

    ids = [r[0] for r in con.execute(
        "SELECT article_id FROM articles WHERE cluster_id IS NULL"
        " AND first_seen_at > now()::TIMESTAMP - INTERVAL 3 DAY ORDER BY first_seen_at"
    ).fetchall()]
    if not ids:
        return
    con.execute("BEGIN")
    try:
        assign_clusters(con, ids)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        log.exception("story clustering failed for %d articles; retried next batch", len(ids))


def store_staged(settings: Settings, paths: list[str] | None, run_id: str) -> dict[str, Any]:
    """Store staged batches (``None``: every pending one). The warehouse's only writer.

    Each batch is one transaction; a stored batch's file is renamed ``.done`` (kept for
    ``staging_retention_days`` for audit, then removed by maintenance). Batches an earlier,
    failed run left behind are stored too.
    """
    with warehouse.writer(settings) as con:
        return _store_files(con, settings, paths, run_id)


def _store_files(con: Any, settings: Settings, paths: list[str] | None,
                 run_id: str) -> dict[str, Any]:
    files = [Path(p) for p in paths] if paths is not None else []
    for leftover in pending_batches(settings):
        if leftover not in files:
            files.append(leftover)
    totals = _new_totals(run_id)
    for path in files:
        _store_path(con, settings, path, totals)
    _derive(con, totals)
    return totals


def _new_totals(run_id: str) -> dict[str, Any]:
    return {"batches": 0, "fetches": 0, "articles_new": 0, "run_id": run_id}


def _store_path(con: Any, settings: Settings, path: Path, totals: dict[str, Any]) -> None:
    """Store one staged batch and rename it ``.done``; add its counts to ``totals``."""
    if not path.exists():
        if not path.with_suffix(".done").exists():
            log.warning("staged batch missing path=%s", path)
        return  # else: stored by an earlier attempt of this task
    try:
        counts = _store_one(con, path, settings)
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # A batch that cannot be read (damaged on disk) must not block every later
        # batch: set it aside, loudly, for a person to look at.
        bad = path.with_suffix(".bad")
        os.replace(path, bad)
        log.error("staged batch unreadable, set aside path=%s error=%s", bad, exc)
        totals.setdefault("unreadable", []).append(str(bad))
        return
    os.replace(path, path.with_suffix(".done"))
    totals["batches"] += 1
    totals["fetches"] += counts["fetches"]
    totals["articles_new"] += counts["articles_new"]


def _derive(con: Any, totals: dict[str, Any]) -> None:
    """Story clusters and trend tables for what the stored batches added."""
    if totals["articles_new"]:
        # Nothing new, nothing to derive: an unchanged poll costs its fetch rows only. (A
        # refresh that failed earlier is retried by the next store with new articles, or by
        # the digest, which refreshes before it reads.)
        _cluster_recent(con)
        _refresh_trends(con)


def _refresh_trends(con: Any) -> None:
    """Bring the trend tables up to date (own transaction, after the batches committed).

    A failure here costs no stored article: the next store, ``monitor trends`` or the
    digest refresh again from the watermark.
    """
    from monitor.trends import refresh_trends

    try:
        refresh_trends(con)
    except Exception:
        log.exception("trend refresh failed; retried at the next store")


# --------------------------------------------------------------------------- one process


@dataclass
class IngestSummary:
    run_id: str
    sources_total: int = 0
    sources_ok: int = 0
    sources_not_modified: int = 0
    sources_failed: int = 0
    entries_seen: int = 0
    articles_new: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: Wall seconds per phase (plan, fetch = fetch+parse+classify+stage, store).
    phases: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [
            f"run {self.run_id}: {self.sources_total} sources in {self.seconds:.1f}s — "
            f"{self.sources_ok} ok, {self.sources_not_modified} not modified, "
            f"{self.sources_failed} failed; {self.entries_seen} entries seen, "
            f"{self.articles_new} new articles",
        ]
        if self.phases:
            lines[0] += " (" + ", ".join(f"{k} {v:.1f}s" for k, v in self.phases.items()) + ")"
        for source_id, error in self.failures[:20]:
            lines.append(f"  failed: {source_id}: {error}")
        if len(self.failures) > 20:
            lines.append(f"  … and {len(self.failures) - 20} more (see `monitor sources`)")
        return "\n".join(lines)


def run_ingest(settings: Settings, only: set[str] | None = None, poll_all: bool = False,
               progress: bool = False, run_id: str | None = None) -> IngestSummary:
    """One ingest: plan, fetch and stage, store, summarise.

    With enough sources (and CPUs) the fetching, parsing and classifying run in worker
    processes, and this process stores each staged group while the workers go on.
    """
    t0 = time.monotonic()
    started = _now()
    run_id = run_id or new_run_id()
    plan = _plan(settings, only=only, poll_all=poll_all)
    summary = IngestSummary(run_id=run_id, sources_total=sum(len(b) for b in plan.batches))
    summary.phases["plan"] = time.monotonic() - t0
    workers = _workers(settings, summary.sources_total)
    bar = _Progress(summary.sources_total) if progress else None
    every = [source_id for batch in plan.batches for source_id in batch]
    lost: list[str] = []  # why worker processes ended early
    try:
        if workers > 1:
            with _Workers(settings, run_id, plan, workers) as pool:
                fetcher = pool.fetch(every, bar)
                with warehouse.writer(settings) as con:
                    totals = _store_files(con, settings, [], run_id)  # earlier runs' leftovers
                    for kind, payload in pool.messages():
                        if kind == "staged":
                            _store_path(con, settings, Path(payload["path"]), totals)
                            if bar is not None:
                                bar.stored(totals["articles_new"])
                        elif kind == "lost":
                            lost.append(payload)
                    fetcher.join()
                    summary.phases["fetch"] = time.monotonic() - t0 - summary.phases["plan"]
                    _derive(con, totals)
                    _summarise(con, summary, started, t0, planned=every, lost=lost)
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
                _store_files(con, settings, paths, run_id)
                _summarise(con, summary, started, t0)
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.monotonic() - t0
    summary.phases["store"] = summary.seconds - summary.phases["plan"] - summary.phases["fetch"]
    return summary


def _summarise(con: Any, summary: IngestSummary, started: datetime, t0: float, *,
               planned: Sequence[str] = (), lost: Sequence[str] = ()) -> None:
    """Fill the summary from this run's ``fetches`` rows and record the run. ``lost``: why
    worker processes ended early; the ``planned`` sources without a row are theirs."""
    rows = con.execute(
        "SELECT source_id, outcome, coalesce(entries_seen, 0), coalesce(entries_new, 0),"
        " error FROM fetches WHERE run_id = ?", [summary.run_id]
    ).fetchall()
    for source_id, outcome, seen, new, error in rows:
        if outcome == "ok":
            summary.sources_ok += 1
        elif outcome == "not_modified":
            summary.sources_not_modified += 1
        else:
            summary.sources_failed += 1
            summary.failures.append((source_id, error or "error"))
        summary.entries_seen += seen
        summary.articles_new += new
    if lost:
        # What a worker staged before it died was stored; the rest is polled next run.
        recorded = {r[0] for r in rows}
        missing = [i for i in planned if i not in recorded]
        errors = "; ".join(dict.fromkeys(lost))
        log.error("ingest workers lost %d sources (polled again next run): %s",
                  len(missing), errors)
        if missing:
            summary.failures.append((f"{len(missing)} sources ({', '.join(missing[:3])}…)",
                                     errors))
            summary.sources_failed += len(missing)
    summary.seconds = time.monotonic() - t0
    record_run(con, summary, "cli", started)


#: Entries per staging file a worker writes: small enough that the parent stores the first
#: files while the workers go on, large enough that the store's per-file cost stays small.
_GROUP_ENTRIES = 600
#: Below this many sources per worker a process costs more than it saves.
_MIN_SOURCES_PER_WORKER = 16


def _workers(settings: Settings, sources: int) -> int:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # workers inherit the parent's state by forking (Linux, macOS)
    if settings.ingest_workers > 0:
        return settings.ingest_workers
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, 4, sources // _MIN_SOURCES_PER_WORKER))


class _Workers:
    """Worker processes that parse, classify and stage what this process fetches.

    Fetching stays here: one client, one per-host limit, and an event loop that is cheap
    to share. Parse, language, classification and sketches are CPU-bound Python: one
    process uses one core, so each fetched feed is handed to the worker with the least
    work so far (by bytes). Workers are forked before this process opens any warehouse
    connection; what the parent has imported and loaded they inherit, the rest they load
    when they first need it.
    Each stages what it is given in a few groups and reports each group as it is written,
    so the parent stores early groups while the rest is still being fetched and parsed. A
    worker that dies (killed, out of memory) costs only the feeds it had not staged yet:
    they have no ``fetches`` row this run and are polled again next run.
    """

    def __init__(self, settings: Settings, run_id: str, plan: _Plan, count: int) -> None:
        self.settings, self.run_id, self.plan, self.count = settings, run_id, plan, count
        self.readers: dict[Any, tuple[int, Any]] = {}
        self.outboxes: list[queue.SimpleQueue[Any]] = []
        self.load: list[int] = []
        #: Cleared by a worker's pump when its pipe breaks: no more feeds are sent to it.
        self.alive: list[bool] = []

    def __enter__(self) -> _Workers:
        import multiprocessing

        from monitor.fetch import tls_context

        # Only what this process needs itself is loaded here: the models are loaded by a
        # worker when it first gets a feed with new entries, so a poll where nothing changed
        # loads none. (A process that has loaded them, see warm_up, passes them on.)
        tls_context()
        ctx = multiprocessing.get_context("fork")
        # Inherited objects are left out of the workers' garbage collection: its passes
        # would touch (and so copy) every page of them. The parent collects as before.
        gc.collect()
        gc.freeze()
        try:
            for index in range(self.count):
                reader, writer = ctx.Pipe(duplex=False)
                task_reader, task_writer = ctx.Pipe(duplex=False)
                process = ctx.Process(
                    target=_cpu_worker, daemon=True, name=f"monitor-ingest-{index}",
                    args=(self.settings, self.run_id, self.plan, task_reader, writer,
                          _GROUP_ENTRIES))
                process.start()
                writer.close()
                task_reader.close()
                self.readers[reader] = (index, process)
                outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
                self.outboxes.append(outbox)
                self.load.append(0)
                self.alive.append(True)
                threading.Thread(target=_pump, args=(outbox, task_writer, self.alive, index),
                                 daemon=True, name=f"monitor-ingest-pump-{index}").start()
        finally:
            gc.unfreeze()
        return self

    def fetch(self, source_ids: list[str], bar: _Progress | None) -> threading.Thread:
        """Fetch ``source_ids`` in a background thread, handing each response to a worker."""
        sources, states = self.plan.select(source_ids)

        def arrived(result: FetchResult) -> None:
            if bar is not None:
                bar.advance(result.outcome)
            live = [i for i, alive in enumerate(self.alive) if alive] or [0]
            index = min(live, key=self.load.__getitem__)
            self.load[index] += len(result.body) + 2048
            self.outboxes[index].put(result)

        def run() -> None:
            try:
                fetch_all(sources, states, self.settings, on_done=arrived)
            except Exception:
                log.exception("fetching failed; what was fetched is staged, the rest is "
                              "polled next run")
            finally:
                for outbox in self.outboxes:
                    outbox.put(None)

        if bar is not None:
            bar.start()  # after the fork: no child inherits the bar's refresh thread
        thread = threading.Thread(target=run, name="monitor-fetch", daemon=True)
        thread.start()
        return thread

    def messages(self) -> Iterator[tuple[str, Any]]:
        """(kind, payload) until every worker has finished: ``staged`` (a group's result)
        or ``lost`` (why a worker ended before staging all it was given)."""
        from multiprocessing.connection import wait

        finished: set[int] = set()
        while self.readers:
            for reader in wait(list(self.readers)):
                index, process = self.readers[reader]
                try:
                    kind, payload = reader.recv()
                except EOFError:
                    process.join()
                    del self.readers[reader]
                    if index not in finished:
                        yield "lost", f"worker process died (exit code {process.exitcode})"
                    continue
                if kind in ("done", "error"):
                    finished.add(index)
                if kind == "error":
                    yield "lost", payload
                elif kind == "staged":
                    yield kind, payload

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        for outbox in self.outboxes:
            outbox.put(None)
        # Normally every worker has finished. After an error here (the warehouse stayed
        # busy) let them finish staging what was fetched, for the next run to store; on
        # Ctrl-C stop them now.
        patient = exc_type is not None and not issubclass(exc_type, KeyboardInterrupt)
        deadline = time.monotonic() + (self.settings.total_timeout + 60 if patient else 0)
        for _index, process in self.readers.values():
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)


def _pump(outbox: queue.SimpleQueue[Any], conn: Any, alive: list[bool], index: int) -> None:
    """Send what the fetcher hands a worker, in order, without ever blocking the fetcher
    (a pipe holds 64 KB; a feed can be megabytes while the worker is busy)."""
    try:
        while True:
            item = outbox.get()
            conn.send(item)
            if item is None:
                break
    except (BrokenPipeError, ConnectionResetError, OSError):
        alive[index] = False  # the worker is gone: the fetcher stops sending it feeds
    finally:
        conn.close()


def warm_up(settings: Settings) -> None:
    """Import and load what ingestion needs: the TLS context, the parsers, the language
    model, the classifier and the cluster sketcher (0.3–1.5 s, once per process).

    A long-lived process (a benchmark, a service) calls it once; workers forked after it
    inherit all of it instead of loading it each."""
    from monitor.fetch import tls_context

    tls_context()
    try:
        import charset_normalizer  # noqa: F401  (undeclared encodings)
        import feedparser  # noqa: F401  (the reference parser)

        from monitor import clusters  # noqa: F401
        from monitor.classify import load_classifier
        from monitor.language import detect_language

        detect_language("Warm-up text for the language model, long enough to be classified")
        load_classifier(settings)
    except Exception:  # warming up is an optimisation; the workers load what failed here
        log.debug("warm-up before forking ingest workers failed", exc_info=True)


def _cpu_worker(settings: Settings, run_id: str, plan: _Plan, tasks: Any, conn: Any,
                group: int) -> None:
    """Body of one worker process: parse, classify and stage the fetched feeds it is sent
    (``None`` ends), a staging file per ``group`` entries, each reported over ``conn``."""
    try:
        for out in _staged_groups(settings, run_id, iter(tasks.recv, None), plan.sources,
                                  plan.states, group):
            conn.send(("staged", out))
        conn.send(("done", None))
    except BaseException as exc:  # reported to the parent, which records it
        import traceback

        log.exception("ingest worker failed")
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
    finally:
        conn.close()


def record_run(con: Any, s: IngestSummary, via: str, started: datetime) -> None:
    con.execute(
        "INSERT OR REPLACE INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [s.run_id, started, _now(), via, s.sources_ok, s.sources_not_modified,
         s.sources_failed, s.entries_seen, s.articles_new],
    )


class _Progress:
    """A rich progress bar on stderr: sources fetched, failures so far."""

    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._p = Progress(TextColumn("fetching"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[failed]} failed,"),
                           TextColumn("{task.fields[stored]} new articles stored"),
                           TimeElapsedColumn(), transient=True)
        self._task = self._p.add_task("fetch", total=total, failed=0, stored=0)
        self._failed = 0

    def start(self) -> None:
        self._p.start()

    def advance(self, outcome: str) -> None:
        if outcome == "error":
            self._failed += 1
        self._p.update(self._task, advance=1, failed=self._failed)

    def stored(self, articles: int) -> None:
        """New articles stored so far: after fetching, parsing and classifying go on."""
        self._p.update(self._task, stored=articles)

    def close(self) -> None:
        self._p.stop()
