"""Ingest benchmark: the monitor against the naive baseline, in the same run.

Serves N feed files from a local HTTP server with an artificial per-request latency (default
100 ms) and prints:

1. a full ``monitor ingest`` pass (fetch, parse, dedup, classify, store);
2. the baseline people write: ``feedparser.parse(url)`` for each feed, one after another
   (the two alternate, ``--first-passes`` times, each pass into a new warehouse: on 2 shared
   cores one pass's wall time differs by up to a half from the next);
3. a second ingest pass when nothing changed (answered by 304s), and the CPU of such a poll
   in the main process per feed (default settings and ``ingest_workers = 1``, 5 polls each);
4. CPU throughput of parse + normalise + store against ``feedparser.parse`` alone on the same
   bytes (no network, one process);
5. process against process: the start-up of ``monitor ingest`` (a new process polling one
   unchanged feed, wall time minus the request's latency, best and median of N), and a first
   pass in a new ``monitor ingest`` process against the naive loop in a new Python process.

Spawned processes get a bytecode cache of their own (``PYTHONPYCACHEPREFIX``), as an installed
package has its ``.pyc`` files; the start-up is also printed without one (every module compiled
from source, as under ``PYTHONDONTWRITEBYTECODE`` with no ``__pycache__``).

Feeds: real snapshots from ``../shared/feeds`` when present (repeated with distinct GUIDs and
links up to N), else generated ones. Run: ``.venv/bin/python bench/ingest.py [--feeds 100]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_FEEDS = ROOT.parent / "shared" / "feeds"


#: Generated news: pseudo-words drawn with a Zipf law (as words in news are), a place or
#: two, a number; one story in ten on a Russia–Japan/China subject. Every article differs,
#: as in real feeds (an earlier version drew 9 words from 20, so every article looked like
#: every other and story clustering compared everything with everything).
_SYLLABLES = ("ka to mi ra no shi be lo va ne zu ri po ta ko mu se da chi ya ro hi fu "
              "ga de bo ju ke sa").split()
_PLACES = ("Moscow Tokyo Beijing Seoul Washington Paris Berlin Delhi Cairo Lima Oslo Hanoi "
           "Jakarta Manila Nairobi Ankara Madrid Warsaw Canberra Ottawa").split()
_SUBJECTS = ("Russia and Japan resume talks on the Kuril Islands",
             "Gazprom and CNPC agree Power of Siberia 2 prices",
             "Russian and Chinese warships hold joint drills near Japan",
             "Japan adds Russian firms to its sanctions list",
             "Chinese investment in Russian Far East ports grows")


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    return ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
            for _ in range(size)]


def generated_feed(i: int, items: int = 40) -> bytes:
    rng = random.Random(i)
    vocabulary = _vocabulary(random.Random(0))
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]

    def words(n: int) -> str:
        return " ".join(rng.choices(vocabulary, weights, k=n))

    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>Generated feed {i}</title><link>https://gen{i}.example.org/</link>"]
    for j in range(items):
        place = rng.choice(_PLACES)
        if rng.random() < 0.1:
            title = f"{rng.choice(_SUBJECTS)}: {words(3)}"
        else:
            title = f"{place} {words(rng.randint(5, 9))}".capitalize()
        body = (f"{place}, {rng.randint(2, 999)} {words(rng.randint(40, 110))}. "
                f"{rng.choice(_PLACES)} {words(rng.randint(20, 60))}.")
        parts.append(
            f"<item><title>{title}</title><link>https://gen{i}.example.org/a/{j}</link>"
            f"<guid>https://gen{i}.example.org/a/{j}</guid>"
            f"<pubDate>Mon, {1 + j % 28:02d} Nov 2026 10:00:00 GMT</pubDate>"
            f"<description>&lt;p&gt;{body}&lt;/p&gt;</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def corpus(n: int, folder: Path = SHARED_FEEDS) -> tuple[list[bytes], str]:
    if folder.is_dir():
        real = [p.read_bytes() for p in sorted(folder.glob("*.xml"))]
        out = []
        for i in range(n):
            body = real[i % len(real)]
            if i >= len(real):  # a variation: same shape, different articles
                tag = f"v{i // len(real)}".encode()
                body = re.sub(rb"(<(?:guid|id|link)[^>]*>\s*(?:<!\[CDATA\[)?https?://)",
                              rb"\1" + tag + b".", body)
                # Distinct titles too: per-article work (language, classification, sketches)
                # must not get free answers from texts it has seen in this run.
                body = re.sub(rb"(<title[^>]*>\s*(?:<!\[CDATA\[)?)", rb"\1" + tag + b" ", body)
            out.append(body)
        return out, f"{len(real)} real feeds from {folder}, repeated with variations"
    return [generated_feed(i) for i in range(n)], "generated feeds (../shared/feeds absent)"


@contextlib.contextmanager
def serve_elsewhere(bodies: list[bytes], hosts: int, latency: float) -> Iterator[list[str]]:
    """Serve the feeds from a separate process (as a real server is): threads of a server
    in the measured process would compete with it for the GIL. Yields one URL per feed."""
    from tests.support.httpserver import LocalHTTPServer, served_elsewhere

    hosts = max(1, min(hosts, 200))

    @contextlib.contextmanager
    def serve() -> Iterator[list[str]]:
        servers = [LocalHTTPServer(host=f"127.0.0.{2 + h}").start() for h in range(hosts)]
        try:
            yield [servers[i % hosts].route(f"/f{i}.xml", body, delay=latency,
                                            headers={"Content-Type": "application/xml",
                                                     "ETag": f'"e{i}"'})
                   for i, body in enumerate(bodies)]
        finally:
            for server in servers:
                server.stop()

    with served_elsewhere(serve) as urls:
        yield urls


def cpu_round(bodies: list[bytes], settings: Any, index: int) -> dict[str, Any]:
    """CPU seconds of feedparser.parse over the bodies, and of our parse + normalise + store
    of the same bytes into a fresh warehouse; then, apart, of what the store derives after
    a batch (story clustering and the trend refresh) in a writer session of its own.

    The store's derive step is held back while the batch is stored and run after: timed
    inside the store, clustering's output (a sketch per entry, the stories) was written out
    by the session's closing checkpoint and snapshot copy and counted as storing (15-25 ms
    of 0.5-0.7 s; the sixth session of issue 14 in bench/README.md).
    """
    import feedparser

    from monitor import warehouse
    from monitor.ingest import store as pipeline
    from monitor.ingest.batch import Document, stage_documents
    from monitor.ingest.keys import canonical_url
    from monitor.ingest.store import store_staged
    from monitor.sources import Source

    t = time.process_time()
    for body in bodies:
        feedparser.parse(body)
    cpu_fp = time.process_time() - t
    docs = [Document(source=Source(id=f"f{i}", url=f"https://f{i}.example.org/feed",
                                   outlet=f"Feed {i}"), body=body)
            for i, body in enumerate(bodies)]
    warehouse.ensure_initialised(settings)
    cluster, refresh = pipeline.cluster_recent, pipeline.refresh_trend_tables
    pipeline.cluster_recent = pipeline.refresh_trend_tables = lambda con: None
    # Each round starts with an empty URL cache, as a new process (an Airflow task) does:
    # the rounds parse the same bytes, and a warm cache hid 20-25 ms of key making.
    canonical_url.cache_clear()
    try:
        t = time.process_time()
        staged = stage_documents(settings, docs, f"bench-cpu-{index}", via="live",
                                 classify=False)
        store_staged(settings, [staged["path"]], f"bench-cpu-{index}")
        cpu_ours = time.process_time() - t
    finally:
        pipeline.cluster_recent, pipeline.refresh_trend_tables = cluster, refresh
    # Unclassified here, so every entry counts as a candidate and is clustered: the cost of
    # stories for everything, where a live run clusters the possibly relevant only.
    t = time.process_time()
    with warehouse.writer(settings) as con:  # (its opening and closing count as clustering's)
        cluster(con)
        t_trends = time.process_time()
        refresh(con)
        trends = time.process_time() - t_trends
    clusters = time.process_time() - t - trends
    return {"feedparser": cpu_fp, "ours": cpu_ours, "entries": staged["entries"],
            "clusters": clusters, "trends": trends}


def read_apart(bodies: list[bytes], settings: Any, work: Path) -> None:
    """The CPU figure split: documents the fast path cannot read go to ``feedparser.parse``
    itself (issue 14 §1: never fewer entries than feedparser), so on them our cost is
    feedparser's by design. Prints them, and the ratio on the other documents (best of
    ``CPU_ROUNDS`` rounds of the same measurement over those alone)."""
    from monitor.ingest.parse import parse_feed

    by_feedparser = [parse_feed(body, "https://example.org/feed").parser == "feedparser"
                     for body in bodies]
    rest = [body for body, apart in zip(bodies, by_feedparser, strict=True) if not apart]
    if len(rest) == len(bodies):
        return
    rounds = [cpu_round(rest, settings.with_(home=work / f"cpu-rest{r}"), CPU_ROUNDS + r)
              for r in range(CPU_ROUNDS)]
    cpu_fp = min(r["feedparser"] for r in rounds)
    cpu_ours = min(r["ours"] for r in rounds)
    apart = len(bodies) - len(rest)
    print(f"  {apart} of {len(bodies)} documents lxml cannot read (malformed XML and the"
          " like) go to feedparser.parse itself, by issue 14 §1's contract; on them we cost"
          " what feedparser costs.")
    print(f"  The other {len(rest)} documents, best of {CPU_ROUNDS}: feedparser "
          f"{cpu_fp:.2f}s, ours {cpu_ours:.2f}s → {cpu_fp / cpu_ours:.1f}× feedparser")


#: Unchanged polls timed per setting, and CPU rounds per side: on 2 shared virtual cores the
#: CPU time of the same work differs by up to a third between rounds (the minimum is the
#: cost; the rest is the neighbours' load), so one round decides nothing.
POLLS = 5
CPU_ROUNDS = 5

#: The ``monitor`` console script, as a command line (the entry point ``monitor.cli:main``).
MONITOR = [sys.executable, "-c", "from monitor.cli import main; main()"]


def process_env(home: Path, sources: Path, pycache: Path | None) -> dict[str, str]:
    """The environment of a spawned ``monitor``: this checkout first on the path, its own
    data directory, and a bytecode cache (``None``: none, every import compiles)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MONITOR_") and k not in ("PYTHONDONTWRITEBYTECODE",
                                                          "PYTHONPYCACHEPREFIX")}
    env.update(PYTHONPATH=str(ROOT), MONITOR_HOME=str(home), MONITOR_SOURCES_FILE=str(sources),
               MONITOR_EXTRACT_ENABLED="false")
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def timed_process(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of a new process, and its CPU seconds (user + system, its children
    included): on a shared machine the CPU is the steadier figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def startup_round(env: dict[str, str], source_id: str, latency: float,
                  runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds of ``monitor ingest --only <id>`` in a new process, minus the latency
    of its one request (what the process costs before and after the network), and its CPU
    seconds."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = timed_process(MONITOR + ["ingest", "-q", "--only", source_id], env)
        walls.append(wall - latency)
        cpus.append(cpu)
    return walls, cpus


def store_at_scale(settings: Any, rows: int, runs: int = 5) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of the write session of an unchanged poll (one fetch row staged,
    stored, the snapshot published) when the warehouse already holds ``rows`` fetches and
    ``rows`` articles (synthetic, a year old: nothing to cluster)."""
    import uuid
    from datetime import UTC, datetime

    from monitor import warehouse
    from monitor.ingest.stage import stage_records
    from monitor.ingest.store import store_staged

    warehouse.ensure_initialised(settings)
    with warehouse.writer(settings) as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "INSERT INTO fetches (fetch_id, source_id, run_id, started_at, outcome)"
            " SELECT md5(i::VARCHAR), 'f' || (i % 100), 'cli__' || strftime(TIMESTAMP"
            " '2025-01-01' + to_minutes((i // 100) * 15), '%Y%m%dT%H%M%S'),"
            " TIMESTAMP '2025-01-01' + to_minutes((i // 100) * 15), 'not_modified'"
            " FROM range(?) t(i)", [rows])
        con.execute(
            "INSERT INTO articles (article_id, entry_key, url, canonical_url, title,"
            " source_id, first_seen_at)"
            " SELECT left(md5('a' || i), 16), 'guid:https://x.example.org/' || i,"
            " 'https://x.example.org/' || i, 'https://x.example.org/' || i, 'title ' || i,"
            " 'f' || (i % 100), TIMESTAMP '2025-01-01' + to_seconds(i * 30)"
            " FROM range(?) t(i)", [rows])
    walls, cpus = [], []
    for r in range(runs):
        run_id = f"bench-scale-{r}"
        row = {"type": "fetch", "fetch_id": uuid.uuid4().hex, "source_id": "f0",
               "run_id": run_id, "url": "https://f0.example.org/feed",
               "started_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
               "outcome": "not_modified", "http_status": 304, "bytes": 0,
               "entries_seen": 0, "parser": None, "bozo": None, "error": None,
               "duration_ms": 100, "etag": '"e0"', "last_modified": None,
               "content_hash": None, "moved_to": None, "gone": False, "retry_after": None}
        t, c = time.perf_counter(), time.process_time()
        path = stage_records(settings, run_id, [row], [], [])
        store_staged(settings, [str(path)], run_id)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--corpus", type=Path, default=SHARED_FEEDS,
                        help="folder of real feed files (*.xml); default ../shared/feeds "
                             "beside the checkout, generated feeds when absent")
    parser.add_argument("--scale-rows", type=int, default=1_000_000,
                        help="fetches and articles already in the warehouse for the "
                             "write-session figure (0: skip it)")
    parser.add_argument("--first-passes", type=int, default=3,
                        help="first passes (each into a new warehouse) and naive loops timed, "
                             "alternately")
    parser.add_argument("--startup-runs", type=int, default=7,
                        help="new processes timed for the start-up figure")
    parser.add_argument("--hosts", type=int, default=100,
                        help="spread feeds over this many loopback addresses (127.0.0.x); "
                             "default one per feed, as outlets' feeds live on their own hosts. "
                             "Fewer hosts than feeds/2 adds rounds of latency: the fetcher "
                             "sends at most 2 requests to one host at a time")
    args = parser.parse_args()

    import feedparser

    from monitor.ingest.run import run_ingest
    from monitor.ingest.workers import warm_up
    from monitor.settings import load_settings

    bodies, what = corpus(args.feeds, args.corpus)
    total_bytes = sum(len(b) for b in bodies)
    print(f"corpus: {len(bodies)} feeds, {total_bytes / 1e6:.1f} MB — {what}")
    print(f"latency: {args.latency * 1000:.0f} ms per request\n")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        with serve_elsewhere(bodies, args.hosts, args.latency) as urls:
            lines = [f'[[sources]]\nid = "f{i}"\nurl = "{url}"\noutlet = "Feed {i}"\n'
                     for i, url in enumerate(urls)]
            (work / "sources.toml").write_text("\n".join(lines))
            settings = load_settings(home=work / "home", env={},
                                     sources_file=work / "sources.toml", extract_enabled=False)
            # `monitor init` (what `make run` does before the first ingest): the warehouse
            # and its schema exist, the sources are synced. Timed, but not part of pass 1.
            from monitor.classify import load_classifier
            from monitor.sources import initialise

            t = time.perf_counter()
            initialise(settings)
            t_init = time.perf_counter() - t
            # Imports and models are loaded once per process (an Airflow worker, a CLI run);
            # load them before pass 1 so it measures ingestion, as the naive loop gets
            # feedparser imported before it is timed.
            load_classifier(settings)
            warm_up(settings)

            # First pass and naive loop alternately; each further pass into a warehouse of
            # its own (initialised, untimed), the last one's kept for the passes below.
            firsts: list[float] = []
            naives: list[float] = []
            for n in range(max(1, args.first_passes)):
                if n:
                    settings = settings.with_(home=work / f"home-{n}")
                    initialise(settings)
                t = time.perf_counter()
                first = run_ingest(settings)
                firsts.append(time.perf_counter() - t)

                t = time.perf_counter()
                for url in urls:
                    feedparser.parse(url)
                naives.append(time.perf_counter() - t)
            t_first, t_naive = statistics.median(firsts), statistics.median(naives)
            ratios = sorted(b / a for a, b in zip(firsts, naives, strict=True))

            t = time.perf_counter()
            second = run_ingest(settings)
            t_second = time.perf_counter() - t

            # The unchanged poll's CPU in this (the main) process, default settings (workers
            # as worker_count chooses) and in one process; 5 more polls each (on a shared
            # virtual machine single polls differ by up to a third).
            poll_cpu: dict[str, list[float]] = {}
            for label, workers in (("default", 0), ("ingest_workers=1", 1)):
                for _ in range(POLLS):
                    c = time.process_time()
                    polled = run_ingest(settings.with_(ingest_workers=workers))
                    poll_cpu.setdefault(label, []).append(
                        1000 * (time.process_time() - c) / max(1, polled.sources_total))

            # Process against process. Start-up: one unchanged feed of the warehouse pass 1
            # filled (a warm-up run first fills the bytecode cache and polls the feed once).
            pycache = work / "pycache"
            env = process_env(settings.home, work / "sources.toml", pycache)
            from monitor import warehouse

            with warehouse.reader(settings) as con:  # a feed pass 2 found unchanged
                # Stories are made of the possibly relevant articles only (articles.candidate).
                clustered = con.execute("SELECT count(cluster_id) FROM articles").fetchone()[0]
                source_id = con.execute(
                    "SELECT min(source_id) FROM fetches WHERE run_id = ?"
                    " AND outcome = 'not_modified'", [second.run_id]).fetchone()[0]
            startup_round(env, source_id, args.latency, 1)
            warm, warm_cpu = startup_round(env, source_id, args.latency, args.startup_runs)
            cold, cold_cpu = startup_round(process_env(settings.home, work / "sources.toml", None),
                                 source_id, args.latency, max(3, args.startup_runs // 2))
            # First pass in a new process (`monitor init` before it, untimed, as above)
            # against the naive loop in a new process.
            env_first = process_env(work / "home-process", work / "sources.toml", pycache)
            subprocess.run(MONITOR + ["init"], env=env_first, check=True,
                           stdout=subprocess.DEVNULL)
            t_first_process, cpu_first_process = timed_process(MONITOR + ["ingest", "-q"],
                                                               env_first)
            naive = ("import sys, feedparser\n"
                     "for url in sys.argv[1:]:\n    feedparser.parse(url)\n")
            t_naive_process, cpu_naive_process = timed_process(
                [sys.executable, "-c", naive, *urls], env_first)

        print("| measure | seconds | note |")
        print("|---|---:|---|")
        print(f"| monitor init (before pass 1) | {t_init:.2f} | schema, {len(urls)} sources "
              "synced |")
        def phases(summary: Any) -> str:
            return ", ".join(f"{k} {v:.2f}" for k, v in summary.phases.items())

        def spread(xs: list[float]) -> str:
            return f"median of {len(xs)}: {', '.join(f'{x:.2f}' for x in xs)}"

        print(f"| monitor ingest, first pass | {t_first:.2f} | {spread(firsts)}; "
              f"{first.sources_ok} ok, {first.sources_failed} failed, "
              f"{first.articles_new} new articles, {clustered} of them possibly relevant "
              f"and clustered; last: {phases(first)} |")
        print(f"| naive sequential feedparser.parse(url) | {t_naive:.2f} | baseline, "
              f"{spread(naives)} |")
        print(f"| monitor ingest, second pass (unchanged) | {t_second:.2f} | "
              f"{second.sources_not_modified} not modified; {phases(second)} |")
        print(f"| start-up of `monitor ingest`, one unchanged feed | {min(warm):.2f} best, "
              f"{statistics.median(warm):.2f} median | wall minus {args.latency * 1000:.0f} ms "
              f"latency, {len(warm)} new processes; CPU {min(warm_cpu):.2f} best, "
              f"{statistics.median(warm_cpu):.2f} median; target ≤ 0.8 s |")
        print(f"| the same without a bytecode cache | {min(cold):.2f} best, "
              f"{statistics.median(cold):.2f} median | every module compiled from source; CPU "
              f"{min(cold_cpu):.2f} best, {statistics.median(cold_cpu):.2f} median |")
        print(f"| first pass in a new `monitor ingest` process | {t_first_process:.2f} | "
              f"start-up included; CPU {cpu_first_process:.2f} (workers included) |")
        print(f"| naive loop in a new Python process | {t_naive_process:.2f} | "
              f"start-up included; CPU {cpu_naive_process:.2f} |")
        default, single = poll_cpu["default"], poll_cpu["ingest_workers=1"]
        print(f"\nunchanged poll: {statistics.median(default):.2f} ms CPU per feed in the main "
              f"process (target ≤ 1.5) — default settings, median of {POLLS} "
              f"({min(default):.2f}–{max(default):.2f}); ingest_workers=1: "
              f"{min(single):.2f}–{max(single):.2f}")
        print(f"first pass vs naive baseline: {t_naive / t_first:.1f}× faster, medians "
              f"(target ≥ 6×); pass by pass {ratios[0]:.1f}–{ratios[-1]:.1f}×")
        print(f"process against process, start-up included: "
              f"{t_naive_process / t_first_process:.1f}×")
        print(f"second pass / first pass: {100 * t_second / t_first:.1f}% (issue 2's figure; "
              "issue 14 replaced its targets with the ones above)")

        # CPU throughput on the same bytes, no network; best of 5 rounds for each side (the
        # machine is shared: the minimum is the cost, the rest is other people's load).
        rounds = [cpu_round(bodies, settings.with_(home=work / f"cpu{r}"), r)
                  for r in range(CPU_ROUNDS)]
        cpu_fp = min(r["feedparser"] for r in rounds)
        cpu_ours = min(r["ours"] for r in rounds)
        clusters = min(r["clusters"] for r in rounds)
        trends = min(r["trends"] for r in rounds)
        entries = rounds[0]["entries"]
        mb = total_bytes / 1e6
        print(f"\nCPU, {mb:.1f} MB, {entries} entries, one process, no network, best of "
              f"{CPU_ROUNDS}:")
        print(f"  feedparser.parse alone:          {cpu_fp:6.2f}s  ({mb / cpu_fp:5.1f} MB/s)")
        print(f"  monitor parse+normalise+store:   {cpu_ours:6.2f}s  ({mb / cpu_ours:5.1f} MB/s)"
              f"  → {cpu_fp / cpu_ours:.1f}× feedparser (target ≥ 8×)")
        print(f"  + story clustering, every entry: {clusters:6.2f}s  "
              f"({1000 * clusters / max(1, entries):.2f} ms per entry)")
        print(f"  + trend refresh:                 {trends:6.2f}s")
        total = cpu_ours + clusters + trends
        print(f"  everything:                      {total:6.2f}s  → {cpu_fp / total:.1f}× "
              "feedparser")
        read_apart(bodies, settings, work)

        if args.scale_rows:
            walls, cpus = store_at_scale(settings.with_(home=work / "scale"), args.scale_rows)
            print(f"\nwrite session of an unchanged poll, {args.scale_rows:,} fetches and "
                  f"articles stored before: wall {min(walls):.3f}s best, "
                  f"{statistics.median(walls):.3f}s median; CPU {min(cpus):.3f}s best, "
                  f"{statistics.median(cpus):.3f}s median")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
