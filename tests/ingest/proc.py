"""Second processes for the concurrency tests: ``python -m tests.ingest.proc CMD HOME ...``.

Each command prints ``ready`` when it holds what it should hold, then waits for a line on
stdin (or is killed), so the test decides when it lets go.
"""

from __future__ import annotations

import os
import resource
import signal
import sys

import duckdb

from monitor import warehouse
from monitor.settings import load_settings


def main() -> None:
    cmd, home = sys.argv[1], sys.argv[2]
    settings = load_settings(home=home, env={}, extract_enabled=False,
                             sources_file=os.path.join(home, "..", "sources.toml"))
    if cmd == "analyst":
        # An analyst's DuckDB shell on the read snapshot, left open.
        con = duckdb.connect(str(settings.snapshot_path), read_only=True)
        print("ready", con.execute("SELECT count(*) FROM articles").fetchone()[0], flush=True)
        sys.stdin.readline()
        print("after", con.execute("SELECT count(*) FROM articles").fetchone()[0], flush=True)
        sys.stdin.readline()
    elif cmd == "hold-writer":
        with warehouse.writer(settings):
            print("ready", flush=True)
            sys.stdin.readline()
    elif cmd == "die-mid-write":
        # Begin a batch, write part of it, then get killed before COMMIT.
        con = duckdb.connect(str(settings.warehouse_path))
        con.execute("BEGIN")
        con.execute("DELETE FROM article_sources")
        con.execute("UPDATE articles SET title = 'half-written'")
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    elif cmd == "disk-full":
        from monitor.ingest.batch import fetch_and_stage

        # Files may not grow past 2 KB in this process: the staging write fails like ENOSPC.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
        try:
            fetch_and_stage(settings, sys.argv[3].split(","), "run-disk-full")
        except OSError as exc:
            print("oserror", exc.errno, flush=True)
            return
        print("no error", flush=True)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
