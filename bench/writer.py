"""Writer benchmark: what one write session of the single DuckDB writer costs, by size.

Every task in the ``duckdb_writer`` pool opens ``warehouse.duckdb`` under the writer lock,
checks migrations, does its transaction, closes (checkpoint) and publishes the read snapshot
by copying the whole file (``warehouse.publish_snapshot``). The copy grows with the
warehouse; this prints what it costs on this machine for the warehouses ``bench/trends.py``
builds (1M and 10M articles under ``/tmp/monitor-bench-trends``), so docs/scaling.md can say
when the single writer becomes the limit.

The synthetic articles of bench/trends are short; to translate its sizes into real ones this
also ingests real feed snapshots (``../shared/feeds``, as ``bench/ingest.py`` serves them,
full-text extraction off) into a fresh warehouse and prints the bytes per real article.

The bench/trends warehouses are only read: each is first copied to a private temp folder.

    .venv/bin/python bench/writer.py                   # needs bench/trends.py run once
    .venv/bin/python bench/writer.py --root /other/place --repeat 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor import warehouse  # noqa: E402
from monitor.settings import load_settings  # noqa: E402


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(source: Path, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="monitor-bench-writer-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        started = time.perf_counter()
        shutil.copyfile(source, home / "warehouse.duckdb")
        first_copy = time.perf_counter() - started
        settings = load_settings(home=home, env={}, writer_lock_timeout=600.0)
        size = (home / "warehouse.duckdb").stat().st_size

        def session(publish: bool) -> None:
            with warehouse.writer(settings, publish=publish) as con:
                con.execute("SELECT count(*) FROM sources").fetchone()

        return {
            "size_gb": size / 1e9,
            "copy_first_s": first_copy,
            "publish_s": _median(lambda: warehouse.publish_snapshot(settings), repeat),
            "session_no_publish_s": _median(lambda: session(False), repeat),
            "session_s": _median(lambda: session(True), repeat),
        }


def real_article_size(feeds: int) -> str:
    """Ingest ``feeds`` real feed documents from local servers; bytes per stored article."""
    sys.path.insert(0, str(ROOT / "bench"))
    from ingest import corpus

    from monitor.ingest.run import run_ingest
    from tests.support.httpserver import LocalHTTPServer

    bodies, what = corpus(feeds)
    with tempfile.TemporaryDirectory(prefix="monitor-bench-writer-") as tmp:
        work = Path(tmp)
        servers = [LocalHTTPServer(host=f"127.0.0.{2 + h}").start() for h in range(25)]
        try:
            lines = []
            for i, body in enumerate(bodies):
                url = servers[i % len(servers)].route(
                    f"/f{i}.xml", body, headers={"Content-Type": "application/xml"})
                lines.append(f'[[sources]]\nid = "f{i}"\nurl = "{url}"\noutlet = "Feed {i}"\n')
            (work / "sources.toml").write_text("\n".join(lines))
            settings = load_settings(home=work / "home", env={}, extract_enabled=False,
                                     sources_file=work / "sources.toml")
            started = time.perf_counter()
            run_ingest(settings)
            took = time.perf_counter() - started
        finally:
            for server in servers:
                server.stop()
        with warehouse.reader(settings) as con:
            n = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        size = settings.warehouse_path.stat().st_size
    return (f"real articles: {n:,} from {len(bodies)} feeds ({what}) stored in {took:.1f} s "
            f"({n / took:.0f} articles/s end to end, no latency); warehouse "
            f"{size / 1e6:.1f} MB = {size / max(n, 1):,.0f} bytes per article")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/monitor-bench-trends"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--feeds", type=int, default=300,
                        help="real feed documents for the bytes-per-article figure (0: skip)")
    args = parser.parse_args()
    if args.feeds:
        print(real_article_size(args.feeds) + "\n")
    found = sorted(args.root.glob("n*/warehouse.duckdb"), key=lambda p: int(p.parent.name[1:]))
    if not found:
        print(f"no warehouse under {args.root}: run bench/trends.py first (it builds them)")
        return
    print(f"write-session cost by warehouse size (median of {args.repeat}; 2 shared cores)\n")
    print("| articles | file | publish snapshot (copy+rename) | session, no publish "
          "| session + publish | MB/s copied |")
    print("|---:|---:|---:|---:|---:|---:|")
    for path in found:
        n = int(path.parent.name[1:])
        m = measure(path, args.repeat)
        print(f"| {n:,} | {m['size_gb']:.2f} GB | {m['publish_s']:.2f} s "
              f"| {m['session_no_publish_s']:.2f} s | {m['session_s']:.2f} s "
              f"| {m['size_gb'] * 1000 / m['publish_s']:.0f} |")


if __name__ == "__main__":
    main()
