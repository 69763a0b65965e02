"""Worker processes for ``monitor ingest``: parse, classify and stage what the parent fetches.

The parent keeps the one HTTP client (one per-host limit); CPU-bound work goes to forked
workers, each feed to the first worker that asks for one; each staged group is reported as
it is written, so the parent stores while the workers go on.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from monitor.ingest.batch import needs_parsing, staged_groups
from monitor.ingest.fetch import FetchResult, fetch_all
from monitor.ingest.plan import Plan
from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.ingest.progress import Progress

__all__ = ["Workers", "warm_up", "worker_count"]

log = logging.getLogger(__name__)

_GROUP_ENTRIES = 600
#: Below this many sources per worker a process costs more than it saves.
_MIN_SOURCES_PER_WORKER = 16


def worker_count(settings: Settings, sources: int) -> int:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # workers inherit the parent's state by forking (Linux, macOS)
    if settings.ingest_workers > 0:
        return settings.ingest_workers
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, 4, sources // _MIN_SOURCES_PER_WORKER))


class Workers:
    """Worker processes that parse, classify and stage what this process fetches.

    Fetching stays here, in this process's main thread: one client, one per-host limit, one
    event loop. Parse, language, classification and sketches are CPU-bound Python: one
    process uses one core, so each fetched feed that needs parsing waits in one queue here
    until a worker asks for its next feed; what needs none (a 304, an error, a body as
    before) is only a ``fetches`` row, which this process stages itself. Workers pull: what a
    feed costs depends on how many of its entries are new, which nothing here knows before
    parsing (handing each feed to the worker with the fewest bytes so far left the two
    workers' end times a median 0.58 s apart on the benchmark's first pass of 100 feeds;
    0.23 s when they ask, bench/README.md).

    The workers are forked when the first feed that needs parsing arrives, not before: a
    poll where nothing changed forks none (forking cost the parent ~0.5 ms of CPU per feed
    of such a poll). They are forked from the main thread between two steps of the fetch's
    event loop, and only when that is safe: no thread of this run alive (the loop's DNS
    threads are ended first, the progress bar draws without one, the pumps and the store
    start after) and no warehouse connection open (the writer is opened after the fork, by
    :meth:`fetch`'s ``on_started``; the process's idle DuckDB instance is closed first, so
    none of its threads runs at the fork). What the
    parent has imported and loaded they inherit, the rest they load when they first need it.
    If forking is never safe, this process parses what the workers would have, after the
    fetch (:meth:`stage_kept`).
    Each worker stages what it is given in a few groups and reports each group as it is
    written, so the parent stores early groups while the rest is still being fetched and
    parsed. A worker that dies (killed, out of memory) costs only the feeds it had taken and
    not staged yet: they have no ``fetches`` row this run and are polled again next run; the
    feeds still waiting here go to the other workers.
    """

    def __init__(self, settings: Settings, run_id: str, plan: Plan, count: int) -> None:
        self.settings, self.run_id, self.plan, self.count = settings, run_id, plan, count
        self.readers: dict[Any, tuple[int, Any]] = {}
        #: Fetched feeds waiting for a worker to ask for one (``None``: no more, one each).
        self.pending: queue.SimpleQueue[FetchResult | None] = queue.SimpleQueue()
        self.pumps = 0
        #: Results this process stages itself (see :meth:`stage_kept`): those with nothing
        #: to parse (only their ``fetches`` rows), and, if the workers could not be forked,
        #: the rest.
        self.kept: list[FetchResult] = []
        #: Results that need parsing and arrived while the workers could not be forked yet.
        self.waiting: list[FetchResult] = []

    @property
    def started(self) -> bool:
        return bool(self.readers) or bool(self.pumps)

    def __enter__(self) -> Workers:
        from monitor.ingest.tls import tls_context

        # Only what this process needs itself is loaded here: the models are loaded by a
        # worker when it first gets a feed with new entries, so a poll where nothing changed
        # loads none. (A process that has loaded them, see warm_up, passes them on.)
        tls_context()
        return self

    def _start(self) -> bool:
        """Fork the workers if that is safe now: in the main thread, with no thread of this
        run alive (all are named ``monitor-…``). In ``monitor ingest`` that is no other
        thread at all; a caller's own threads (a test's HTTP server) are its business, as
        they were when the workers were forked before the fetch. Their pumps (threads)
        start after the last fork."""
        import multiprocessing

        from monitor import warehouse

        here = threading.current_thread()
        if here is not threading.main_thread() or any(
                t.name.startswith("monitor-") for t in threading.enumerate() if t is not here):
            return False
        if not warehouse.release_instance():
            return False  # a warehouse file is attached: DuckDB's threads may be at work
        ctx = multiprocessing.get_context("fork")
        # Inherited objects are left out of the workers' garbage collection: its passes
        # would touch (and so copy) every page of them. The parent collects as before. (No
        # gc.collect first: it cost the parent 20-30 ms a run; what garbage it would have
        # freed is only frozen in the workers, and collected here after the unfreeze.)
        gc.freeze()
        task_ends = []
        try:
            for index in range(self.count):
                reader, writer = ctx.Pipe(duplex=False)
                # Duplex: the worker asks for a feed, its pump here answers with one.
                task_end, worker_end = ctx.Pipe(duplex=True)
                process = ctx.Process(
                    target=_cpu_worker, daemon=True, name=f"monitor-ingest-{index}",
                    args=(self.settings, self.run_id, self.plan, worker_end, writer,
                          _GROUP_ENTRIES))
                process.start()
                writer.close()
                worker_end.close()
                self.readers[reader] = (index, process)
                task_ends.append(task_end)
        finally:
            gc.unfreeze()
            for index, task_end in enumerate(task_ends):
                threading.Thread(target=_pump, daemon=True, name=f"monitor-ingest-pump-{index}",
                                 args=(self.pending, task_end)).start()
            self.pumps = len(task_ends)
        return True

    def fetch(self, source_ids: list[str], bar: Progress | None,
              on_started: Callable[[], None]) -> None:
        """Fetch ``source_ids`` in this thread, handing each response that needs parsing to
        a worker (forked on the first such response; ``on_started`` is called after)."""
        from monitor.ingest.fetch import end_resolver_threads

        sources, states = self.plan.select(source_ids)

        def arrived(result: FetchResult) -> None:
            if bar is not None:
                bar.advance(result.outcome)
            if not needs_parsing(result, states):
                # A fetches row only: pickling it to a worker and a staging file and a
                # store there cost more than the row (an unchanged poll is all such rows).
                self.kept.append(result)
                return
            self.waiting.append(result)
            if not self.started:
                end_resolver_threads()
                if not self._start():
                    return  # tried again with the next response; else parsed here
                on_started()
            waiting, self.waiting = self.waiting, []
            for item in waiting:
                self.pending.put(item)

        if bar is not None:
            bar.start()
        try:
            fetch_all(sources, states, self.settings, on_done=arrived)
        except Exception:
            log.exception("fetching failed; what was fetched is staged, the rest is "
                          "polled next run")
        finally:
            self._end_pending()
            # Never forked: this process parses them (with the rows, in stage_kept).
            self.kept.extend(self.waiting)
            self.waiting = []

    def stage_kept(self) -> dict[str, Any] | None:
        """Stage the fetch results kept here (call after :meth:`fetch`); the staged group's
        summary, or None when there were none (or they are staged already)."""
        kept, self.kept = self.kept, []
        if not kept:
            return None
        (out,) = staged_groups(self.settings, self.run_id, kept, self.plan.sources,
                               self.plan.states)
        return out

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

    def _end_pending(self) -> None:
        """No more feeds: one end mark for each worker's pump."""
        for _ in range(self.pumps):
            self.pending.put(None)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._end_pending()
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


def _pump(pending: queue.SimpleQueue[FetchResult | None], conn: Any) -> None:
    """Give one worker the next waiting feed each time it asks for one, until the end mark.

    A thread per worker, so the fetcher never blocks on a pipe (a pipe holds 64 KB; a feed
    can be megabytes). A worker that is gone asks for nothing more; a feed taken for it
    and not delivered goes back for the others.
    """
    try:
        while True:
            conn.recv_bytes()  # the worker is ready for its next feed (EOFError: it is gone)
            item = pending.get()
            try:
                conn.send(item)
            except OSError:
                pending.put(item)  # never reached the worker: another one takes it
                raise
            if item is None:
                break
    except (EOFError, OSError):
        pass  # the worker died; what it had taken and not staged is polled next run
    finally:
        conn.close()


def _asked(conn: Any) -> Iterator[FetchResult]:
    """The feeds a worker is given, each asked for when it is ready for it."""
    while True:
        conn.send_bytes(b"?")
        item = conn.recv()
        if item is None:
            return
        yield item


def warm_up(settings: Settings) -> None:
    """Import and load what ingestion needs: the TLS context, the parsers, the language
    model, the classifier and the cluster sketcher (0.3–1.5 s, once per process).

    A long-lived process (a benchmark, a service) calls it once; workers forked after it
    inherit all of it instead of loading it each."""
    from monitor.ingest.tls import tls_context

    tls_context()
    try:
        import charset_normalizer  # noqa: F401  (undeclared encodings)
        import feedparser  # noqa: F401  (the reference parser)

        from monitor.classify import load_classifier
        from monitor.enrich.language import detect_language
        from monitor.stories import clusters  # noqa: F401

        detect_language("Warm-up text for the language model, long enough to be classified")
        load_classifier(settings)
    except Exception:  # warming up is an optimisation; the workers load what failed here
        log.debug("warm-up before forking ingest workers failed", exc_info=True)


def _cpu_worker(settings: Settings, run_id: str, plan: Plan, tasks: Any, conn: Any,
                group: int) -> None:
    """Body of one worker process: parse, classify and stage the fetched feeds it asks for
    (``None`` ends), a staging file per ``group`` entries, each reported over ``conn``."""
    try:
        for out in staged_groups(settings, run_id, _asked(tasks), plan.sources,
                                  plan.states, group):
            conn.send(("staged", out))
        conn.send(("done", None))
    except BaseException as exc:  # reported to the parent, which records it
        import traceback

        log.exception("ingest worker failed")
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
    finally:
        conn.close()
