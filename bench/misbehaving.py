"""A whole ingest against misbehaving servers next to a good feed, with the DEFAULT settings.

Issue 14 §2's target: the run ends in under 90 s, under 1.5 GB, with every failure recorded
and the good feed stored. The servers (tests/support/misbehaving.py) run in another process,
so this process's time and memory are the ingest's own. Prints wall time, peak RSS of this
process and of its (worker) children, and each source's outcome.

    PYTHONPATH=$PWD .venv/bin/python bench/misbehaving.py [--workers N] [--queued N]

``--queued N`` adds N more sources on the never-answering host: two at a time (the per-host
limit), each until its 60 s cap, so the last ones are still waiting when the run's deadline
(75 s) comes and must be recorded as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_START = time.monotonic()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor import warehouse  # noqa: E402
from monitor.ingest.run import run_ingest  # noqa: E402
from monitor.settings import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0,
                        help="ingest_workers (0: the default choice)")
    parser.add_argument("--queued", type=int, default=4,
                        help="extra sources on the never-answering host (default 4)")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "tests.support.misbehaving", "5"],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        urls = json.loads(server.stdout.readline())
        urls.update({f"hang-{n}": f"{urls['hang']}?n={n}" for n in range(args.queued)})
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            sources = Path(tmp) / "sources.toml"
            sources.write_text("".join(
                f'[[sources]]\nid = "{name}"\nurl = "{url}"\noutlet = "{name}"\n\n'
                for name, url in urls.items()), encoding="utf-8")
            # Defaults, except where the data lives and that article pages are not fetched
            # (the good feed links to example.org).
            settings = load_settings(home=home, env={}, sources_file=sources,
                                     extract_enabled=False, ingest_workers=args.workers)
            warehouse.ensure_initialised(settings)
            t0 = time.monotonic()
            summary = run_ingest(settings)
            wall = time.monotonic() - t0
            with warehouse.reader(settings) as con:
                rows = con.execute(
                    "SELECT source_id, outcome, http_status, duration_ms, error FROM fetches"
                    " ORDER BY source_id").fetchall()
                good = con.execute(
                    "SELECT count(*) FROM article_sources WHERE source_id = 'good'"
                ).fetchone()[0]
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"settings: total_timeout={settings.total_timeout:.0f}s "
          f"run_deadline_seconds={settings.run_deadline_seconds:.0f}s "
          f"retries={settings.retries} max_body_bytes={settings.max_body_bytes}")
    print(f"wall {wall:.1f}s (run_ingest), {time.monotonic() - T_START:.1f}s (this whole "
          f"process: imports, servers, run); peak RSS {own:.0f} MB (this process), "
          f"{children:.0f} MB (largest child, incl. the server process)")
    print(f"good feed: {good} articles stored; {summary.sources_failed} of "
          f"{summary.sources_total} sources failed")
    for source_id, outcome, status, ms, error in rows:
        print(f"  {source_id:14} {outcome:12} {status or '-':>4} {ms / 1000:6.1f}s  "
              f"{(error or '')[:90]}")


if __name__ == "__main__":
    main()
