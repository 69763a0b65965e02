"""`monitor ingest` with worker processes: same result as one process, host-affine batches
for parallel fetchers, and a killed worker costs only the feeds it had not staged."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import warehouse
from monitor.ingest.plan import host_batches
from monitor.ingest.run import run_ingest
from monitor.settings import Settings
from monitor.sources import Source
from tests.support.httpserver import LocalHTTPServer


def _feed(host: int, feed: int, items: int = 4) -> bytes:
    entries = "".join(
        f"<item><title>Feed {host}-{feed} story {j}: Moscow and Tokyo talk fisheries</title>"
        f"<link>https://h{host}.example.org/{feed}/{j}</link>"
        f"<guid>https://h{host}.example.org/{feed}/{j}</guid>"
        f"<pubDate>Tue, 24 Nov 2026 0{j}:00:00 GMT</pubDate>"
        f"<description>Story {j} of feed {feed} on host {host}.</description></item>"
        for j in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {host}-{feed}</title><link>https://h{host}.example.org/</link>"
            f"{entries}</channel></rss>").encode()


@pytest.fixture
def two_hosts() -> Iterator[list[LocalHTTPServer]]:
    servers = [LocalHTTPServer(host="127.0.0.1").start(), LocalHTTPServer(host="127.0.0.2").start()]
    yield servers
    for server in servers:
        server.stop()


def _sources_file(path: Path, servers: list[LocalHTTPServer], per_host: int,
                  delay: dict[int, float] | None = None) -> Path:
    lines = []
    for h, server in enumerate(servers):
        for f in range(per_host):
            url = server.route(f"/f{f}.xml", _feed(h, f), delay=(delay or {}).get(h, 0.0),
                               headers={"Content-Type": "application/rss+xml"})
            lines.append(f'[[sources]]\nid = "h{h}f{f}"\nurl = "{url}"\noutlet = "Host {h}"\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _stored(settings: Settings) -> tuple[set[tuple[str, str]], int]:
    with warehouse.reader(settings) as con:
        pairs = set(con.execute(
            "SELECT a.entry_key, s.source_id FROM articles a JOIN article_sources s"
            " USING (article_id)").fetchall())
        fetches = con.execute("SELECT count(*) FROM fetches").fetchone()[0]
    return pairs, fetches


def test_host_batches_keep_each_host_in_one_batch() -> None:
    sources = ([Source(id=f"g{i}", url=f"https://news.google.com/rss/search?q={i}", outlet="G")
                for i in range(10)]
               + [Source(id=f"o{i}", url=f"https://outlet{i}.example/feed", outlet="O")
                  for i in range(13)]
               + [Source(id="o0b", url="https://OUTLET0.example/other", outlet="O")])
    batches = host_batches(sources, size=8)
    where = {sid: n for n, batch in enumerate(batches) for sid in batch}
    assert sorted(where) == sorted(s.id for s in sources)
    assert len({where[f"g{i}"] for i in range(10)}) == 1  # ten on one host: one batch
    assert where["o0"] == where["o0b"]  # host names compare case-insensitively
    assert all(len(b) <= 8 for b in batches if not b[0].startswith("g"))


def _one_and_two_workers(settings: Settings, tmp_path: Path,
                         hosts: list[LocalHTTPServer]) -> tuple[Settings, Settings]:
    """The same 18 sources, for a run in one process and a run with two workers."""
    sources = _sources_file(tmp_path / "sources.toml", hosts, per_host=9)
    return tuple(settings.with_(home=tmp_path / name, sources_file=sources,
                                extract_enabled=False, ingest_workers=n)
                 for name, n in (("one", 1), ("two", 2)))


def test_workers_store_exactly_what_one_process_stores(
        settings: Settings, tmp_path: Path, two_hosts: list[LocalHTTPServer]) -> None:
    one, two = _one_and_two_workers(settings, tmp_path, two_hosts)
    a, b = run_ingest(one), run_ingest(two)
    assert (a.sources_ok, a.articles_new, a.entries_seen) == (18, 72, 72)
    assert (b.sources_ok, b.articles_new, b.entries_seen) == (18, 72, 72)
    assert _stored(one) == _stored(two)
    with warehouse.reader(two) as con:
        assert con.execute("SELECT count(*) FROM classifications").fetchone()[0] == 72
    # Unchanged feeds, second run in workers too: nothing new, every attempt recorded.
    again = run_ingest(two)
    assert (again.sources_ok + again.sources_not_modified, again.articles_new) == (18, 0)
    assert _stored(two)[1] == 36


def test_a_killed_worker_costs_only_the_feeds_it_had_not_staged(
        settings: Settings, tmp_path: Path, two_hosts: list[LocalHTTPServer]) -> None:
    # Host 1 answers slowly; one worker is killed (OOM killer, kill -9) while it waits.
    sources = _sources_file(tmp_path / "sources.toml", two_hosts, per_host=9, delay={1: 0.3})
    s = settings.with_(sources_file=sources, extract_enabled=False, ingest_workers=2)
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not killed:
            workers = [p for p in multiprocessing.active_children()
                       if p.name.startswith("monitor-ingest")]
            if len(workers) == 2 and len(two_hosts[0].requests) >= 9:
                workers[0].kill()
                killed.append(workers[0].pid or 0)
            time.sleep(0.02)

    threading.Thread(target=kill_one_worker, daemon=True).start()
    summary = run_ingest(s)
    assert killed, "no worker was seen"
    assert any("worker process died" in error for _, error in summary.failures)
    assert summary.sources_ok + summary.sources_failed == 18
    assert summary.articles_new == 4 * summary.sources_ok  # what was staged is all stored
    pairs, _ = _stored(s)
    assert len(pairs) == summary.articles_new

    # The lost feeds were not marked as polled: the next run fetches and stores them.
    again = run_ingest(s)
    assert again.sources_failed == 0
    pairs, _ = _stored(s)
    assert len(pairs) == 72 and len({key for key, _ in pairs}) == 72


def test_a_busy_warehouse_leaves_what_the_workers_fetched_staged(
        settings: Settings, tmp_path: Path, two_hosts: list[LocalHTTPServer]) -> None:
    from monitor.ingest.stage import pending_batches
    from monitor.sources import initialise
    from tests.ingest.test_concurrency import spawn, wait_ready

    sources = _sources_file(tmp_path / "sources.toml", two_hosts, per_host=9)
    s = settings.with_(sources_file=sources, extract_enabled=False, ingest_workers=2,
                       writer_lock_timeout=1.0)
    initialise(s)
    holder = spawn("hold-writer", str(s.home))  # another writer (an Airflow store task)
    try:
        wait_ready(holder)
        with pytest.raises(warehouse.WarehouseBusy):
            run_ingest(s)
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    assert pending_batches(s), "the workers' groups should be staged, waiting for a writer"
    # The next run stores them first, then its own fetch of the same feeds adds nothing.
    run_ingest(s)
    pairs, fetches = _stored(s)
    assert len(pairs) == 72 and pending_batches(s) == []
    assert fetches == 36  # both runs' attempts are recorded


def test_workers_are_forked_only_when_a_feed_needs_parsing(
        settings: Settings, tmp_path: Path, two_hosts: list[LocalHTTPServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.ingest.workers import Workers

    forks: list[bool] = []
    start = Workers._start

    def counted(self: Workers) -> bool:
        forks.append(started := start(self))
        return started

    monkeypatch.setattr(Workers, "_start", counted)
    sources = _sources_file(tmp_path / "sources.toml", two_hosts, per_host=9)
    s = settings.with_(sources_file=sources, extract_enabled=False, ingest_workers=2)
    first = run_ingest(s)
    assert forks == [True] and first.articles_new == 72
    forks.clear()
    again = run_ingest(s)  # every body as before: rows only, no worker forked
    assert forks == [] and again.sources_ok + again.sources_not_modified == 18
    assert _stored(s)[1] == 36


def test_when_forking_is_never_safe_the_parent_parses_it_all(
        settings: Settings, tmp_path: Path, two_hosts: list[LocalHTTPServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.ingest.workers import Workers

    monkeypatch.setattr(Workers, "_start", lambda self: False)
    one, two = _one_and_two_workers(settings, tmp_path, two_hosts)
    a, b = run_ingest(one), run_ingest(two)
    assert (b.sources_ok, b.articles_new, b.entries_seen) == (18, 72, 72)
    assert _stored(one) == _stored(two) and a.articles_new == 72
    with warehouse.reader(two) as con:
        assert con.execute("SELECT count(*) FROM classifications").fetchone()[0] == 72


def test_each_worker_is_given_a_feed_when_it_asks_and_a_feed_it_never_got_goes_to_another(
        ) -> None:
    """The hand-over between the fetcher's queue and the workers: real pipes and a pump
    thread per worker, as in a run; this test plays the two workers at the pipes' far ends."""
    import queue

    from monitor.ingest.workers import _asked, _pump

    pending: queue.SimpleQueue = queue.SimpleQueue()
    gone_here, gone_there = multiprocessing.Pipe(duplex=True)
    live_here, live_there = multiprocessing.Pipe(duplex=True)
    # The first worker asks for a feed and dies before reading it (kill -9 after its ask).
    gone_there.send_bytes(b"?")
    gone_there.close()
    pumps = [threading.Thread(target=_pump, args=(pending, end), daemon=True)
             for end in (gone_here, live_here)]
    pumps[0].start()
    for item in ("feed-1", "feed-2", "feed-3"):
        pending.put(item)
    pumps[0].join(timeout=10)
    assert not pumps[0].is_alive()  # the pump of a dead worker ends
    pumps[1].start()
    for _ in pumps:
        pending.put(None)  # the end marks: one per pump
    got = list(_asked(live_there))  # the second worker asks until the end mark
    pumps[1].join(timeout=10)
    # The feed taken for the dead worker was put back: every feed reaches the live one.
    assert sorted(got) == ["feed-1", "feed-2", "feed-3"]
