"""Two real processes against one warehouse: analysts and ingestion never break each other.

The mechanism (monitor/warehouse.py): writers take an fcntl lock and hold DuckDB's file lock
only for a batch; readers open the published snapshot, which a writer replaces atomically.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import warehouse
from monitor.ingest.batch import fetch_and_stage
from monitor.ingest.plan import plan_ingest
from monitor.ingest.run import run_ingest
from monitor.ingest.stage import pending_batches
from monitor.ingest.store import store_staged
from tests.ingest.conftest import FEEDS, FeedEnv

ROOT = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest.proc", *args], cwd=ROOT, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return proc


def wait_ready(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        proc.kill()
        raise AssertionError(f"helper did not start: {line!r} {proc.stderr.read()}")
    return line


@pytest.fixture
def env(feeds: FeedEnv) -> FeedEnv:
    # The helper process reads the sources file next to the data directory.
    feeds.settings = feeds.settings.with_(sources_file=feeds.settings.home.parent / "sources.toml")
    feeds.serve_fixture("wire", "rss_basic.xml")
    return feeds


def test_open_analyst_shell_never_blocks_ingestion(env: FeedEnv, query) -> None:
    warehouse.ensure_initialised(env.settings)
    analyst = spawn("analyst", str(env.settings.home))
    try:
        assert wait_ready(analyst).split() == ["ready", "0"]
        summary = run_ingest(env.settings)  # must not wait for, or fail because of, the analyst
        assert summary.articles_new == 3
        analyst.stdin.write("\n")
        analyst.stdin.flush()
        # The analyst's open connection keeps a consistent (old) view ...
        assert analyst.stdout.readline().split() == ["after", "0"]
        # ... and a fresh one sees the new data.
        assert query("SELECT count(*) FROM articles")[0][0] == 3
    finally:
        analyst.stdin.write("\n")
        analyst.stdin.flush()
        analyst.wait(timeout=10)


def test_second_writer_waits_instead_of_failing(env: FeedEnv, query) -> None:
    warehouse.ensure_initialised(env.settings)
    batches = plan_ingest(env.settings)
    staged = fetch_and_stage(env.settings, batches[0], "run-1")
    holder = spawn("hold-writer", str(env.settings.home))
    try:
        wait_ready(holder)
        import threading

        threading.Timer(1.5, lambda: (holder.stdin.write("\n"), holder.stdin.flush())).start()
        totals = store_staged(env.settings, [staged["path"]], "run-1")
    finally:
        holder.wait(timeout=10)
    assert totals["articles_new"] == 3
    assert query("SELECT count(*) FROM articles")[0][0] == 3


def test_busy_warehouse_leaves_batch_staged_then_stores_it(env: FeedEnv, query) -> None:
    warehouse.ensure_initialised(env.settings)
    settings = env.settings.with_(writer_lock_timeout=1.0)
    staged = fetch_and_stage(settings, plan_ingest(settings)[0], "run-busy")
    holder = spawn("hold-writer", str(settings.home))
    try:
        wait_ready(holder)
        with pytest.raises(warehouse.WarehouseBusy, match="stays staged"):
            store_staged(settings, [staged["path"]], "run-busy")
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    assert [str(p) for p in pending_batches(settings)] == [staged["path"]]
    # The next run (with no paths of its own) stores what was left behind.
    assert store_staged(settings, None, "run-next")["articles_new"] == 3
    assert pending_batches(settings) == []
    assert query("SELECT count(*) FROM articles")[0][0] == 3


@pytest.mark.parametrize("looked_up", [False, True], ids=["joined", "looked-up"])
def test_storing_the_same_batch_twice_adds_nothing(env: FeedEnv, query, looked_up: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if looked_up:  # the stored keys found by the index, as in a large warehouse
        from monitor.ingest import store

        monkeypatch.setattr(store, "_ROWS_PER_KEY_FOR_INDEX", 0)
    staged = fetch_and_stage(env.settings, plan_ingest(env.settings)[0], "run-twice")
    store_staged(env.settings, [staged["path"]], "run-twice")
    counts = ("SELECT count(*), (SELECT count(*) FROM fetches),"
              " (SELECT count(*) FROM article_sources),"
              " (SELECT consecutive_failures FROM feed_state),"
              " (SELECT count(*) FROM classifications), (SELECT count(*) FROM article_sketches)"
              " FROM articles")
    before = query(counts)
    # Three articles classified; the two that may concern Russia with Japan or China
    # sketched (the football result is no story).
    assert before[0][0] == 3 and before[0][1] == 1 and before[0][4:] == (3, 2)
    # A retried task that stored but died before renaming its file stores it again.
    done = Path(staged["path"]).with_suffix(".done")
    done.rename(staged["path"])
    store_staged(env.settings, [staged["path"]], "run-twice")
    assert query(counts) == before


def test_killed_writer_leaves_no_half_batch(env: FeedEnv, query) -> None:
    run_ingest(env.settings)
    proc = spawn("die-mid-write", str(env.settings.home))
    wait_ready(proc)
    proc.wait(timeout=10)
    assert proc.returncode == -9
    # The writer's next session recovers the file; the uncommitted batch is gone.
    run_ingest(env.settings, poll_all=True)
    with warehouse.reader(env.settings, primary=True) as con:
        assert con.execute("SELECT count(*) FROM articles WHERE title = 'half-written'"
                           ).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM article_sources").fetchone()[0] == 3


def test_full_disk_while_staging_loses_nothing(env: FeedEnv, query) -> None:
    warehouse.ensure_initialised(env.settings)
    plan_ingest(env.settings)
    body = (FEEDS / "rss_basic.xml").read_bytes() * 1
    env.serve("wire", body)
    proc = spawn("disk-full", str(env.settings.home), "wire")
    out, err = proc.communicate(timeout=60)
    assert out.startswith("oserror"), (out, err)
    # No partial batch was left to be mistaken for a complete one ...
    assert pending_batches(env.settings) == []
    assert not list(env.settings.staging_dir.rglob("*.part"))
    # ... and the warehouse did not record the source as fetched, so the next run gets it all.
    assert run_ingest(env.settings).articles_new == 3


def test_duckdb_cli_reads_the_snapshot(env: FeedEnv) -> None:
    """The README tells analysts to open the snapshot with .venv/bin/duckdb (an older CLI)."""
    cli = Path(sys.executable).parent / "duckdb"
    if not cli.exists():
        pytest.skip("duckdb CLI not installed in this environment (package duckdb-cli)")
    run_ingest(env.settings)
    out = subprocess.run([str(cli), "-readonly", "-csv", str(env.settings.snapshot_path), "-c",
                          "SELECT count(*) AS n FROM articles"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["n", "3"]


def test_unreadable_batch_is_set_aside_and_does_not_block_others(env: FeedEnv, query) -> None:
    staged = fetch_and_stage(env.settings, plan_ingest(env.settings)[0], "run-good")
    damaged = env.settings.staging_dir / "run-damaged" / "batch-damaged.jsonl"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b'{"type": "article", "article_id": \x00\xff not json at all\n')
    totals = store_staged(env.settings, [str(damaged), staged["path"]], "run-good")
    assert totals["articles_new"] == 3
    assert totals["unreadable"] == [str(damaged.with_suffix(".bad"))]
    assert damaged.with_suffix(".bad").exists() and pending_batches(env.settings) == []


@pytest.mark.parametrize("looked_up", [False, True], ids=["joined", "looked-up"])
def test_a_batch_without_classifications_or_sketches_is_stored(
        env: FeedEnv, query, looked_up: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Articles staged without derived records (a document stage that does not classify, a
    classifier that failed) are stored as they are."""
    from monitor.ingest import store
    from monitor.ingest.batch import Document, stage_documents
    from monitor.sources import Source

    if looked_up:
        monkeypatch.setattr(store, "_ROWS_PER_KEY_FOR_INDEX", 0)
    source = Source(id="wire", url="https://wire.example.org/feed", outlet="Wire")
    staged = stage_documents(env.settings, [Document(source=source, body=(
        FEEDS / "rss_basic.xml").read_bytes())], "run-plain", classify=False)
    store_staged(env.settings, [staged["path"]], "run-plain")
    # (The store's clustering sketches what came without sketches.)
    assert query("SELECT count(*), (SELECT count(*) FROM classifications),"
                 " (SELECT count(*) FROM article_sketches) FROM articles") == [(3, 0, 3)]


def test_a_bug_on_one_document_is_its_error_and_the_others_are_staged(
        env: FeedEnv, query, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a bug would: parsing one document raises, making another's records raises.
    Each is that document's error; the third is staged and stored."""
    from monitor.ingest import parse
    from monitor.ingest.batch import Document, stage_documents
    from monitor.sources import Source
    from tests.support.bugs import bug_in_parsing, bug_in_records

    bug_in_parsing(monkeypatch, parse, b"parse-bug")
    bug_in_records(monkeypatch, "record-bug", "a record bug")
    body = (FEEDS / "rss_basic.xml").read_bytes()
    docs = [Document(source=Source(id=name, url=f"https://{name}.example.org/feed",
                                   outlet=name), body=data)
            for name, data in (("parse-bug", body + b"<!-- parse-bug -->"),
                               ("record-bug", body), ("wire", body))]
    staged = stage_documents(env.settings, docs, "run-bugs", classify=False)
    assert staged["errors"] == [
        (0, "internal error reading the feed: RuntimeError: a parse bug"),
        (1, "internal error reading the feed: RuntimeError: a record bug")]
    store_staged(env.settings, [staged["path"]], "run-bugs")
    assert query("SELECT DISTINCT source_id FROM articles") == [("wire",)]


@pytest.mark.parametrize("odd", [False, True], ids=["plain-keys", "a-key-with-the-separator"])
def test_entries_stored_before_are_seen_whatever_their_keys_hold(env: FeedEnv, odd: bool) -> None:
    """The seen-before lookup passes a batch's keys joined by U+001F, which no XML feed can
    hold; a JSON Feed can, and its keys are then looked up as a list."""
    import json

    from monitor.ingest.batch import Document, stage_documents
    from monitor.sources import Source

    items = [{"id": f"https://json.example.org/{i}", "url": f"https://json.example.org/{i}",
              "title": f"Item {i}", "content_text": "Russia and Japan"} for i in range(3)]
    if odd:
        items.append({"id": "opaque\u001fid", "title": "Odd", "content_text": "Russia"})
    doc = Document(source=Source(id="json", url="https://json.example.org/feed.json",
                                 outlet="JSON"),
                   body=json.dumps({"version": "https://jsonfeed.org/version/1.1",
                                    "title": "JSON", "items": items}).encode())
    first = stage_documents(env.settings, [doc], "run-1", classify=False)
    store_staged(env.settings, [first["path"]], "run-1")
    assert first["new"] == len(items)
    again = stage_documents(env.settings, [doc], "run-2", classify=False)
    assert (again["entries"], again["new"]) == (len(items), 0)


def test_an_entry_whose_link_is_stored_under_another_key_is_seen(env: FeedEnv) -> None:
    """Seen before by its canonical URL (another feed's GUID for the same page): not new, so
    not extracted or classified again; the store links it to the stored article."""
    import json

    from monitor.ingest.batch import Document, stage_documents
    from monitor.sources import Source

    def doc(source: str, guid: str) -> Document:
        items = [{"id": guid, "url": "https://news.example.org/a/1?utm_source=rss",
                  "title": "Moscow and Tokyo talk", "content_text": "Russia and Japan"}]
        return Document(source=Source(id=source, url=f"https://{source}.example.org/feed",
                                      outlet=source),
                        body=json.dumps({"version": "https://jsonfeed.org/version/1.1",
                                         "title": source, "items": items}).encode())

    first = stage_documents(env.settings, [doc("one", "one-1")], "run-1", classify=False)
    store_staged(env.settings, [first["path"]], "run-1")
    again = stage_documents(env.settings, [doc("two", "two-9")], "run-2", classify=False)
    assert (first["new"], again["entries"], again["new"]) == (1, 1, 0)
