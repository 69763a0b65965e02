"""Benchmark: do trend queries cost what the window asks for, not what history holds?

Builds two synthetic warehouses of classified articles over the same five years (1M and 10M
articles by default; both kept under /tmp and reused on the next run), then, in the same run,
times every trend view and ``monitor.trends`` function for the last 30 days at both sizes and
prints the ratio, plus the full digest build for one day at the larger size. Target: 10M
within 1.5x of 1M; the digest well under a second.

    .venv/bin/python bench/trends.py [--sizes 1000000,10000000] [--root /tmp/...] [--rebuild]

Timings are the median of several runs on a warm, read-only connection to the published
snapshot, as the CLI, the digest and the UI use it.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import trends, warehouse  # noqa: E402
from monitor.settings import Settings, load_settings  # noqa: E402

YEARS = 5
END = date(2026, 11, 26)  # the last day of synthetic history, fixed so runs compare
SOURCES = 60
REPEAT = 11

_COUNTRIES = ["RU", "JP", "CN", "US", "GB", "HK", "SG", "DE"]


def _settings(root: Path, n: int) -> Settings:
    return load_settings(home=root / f"n{n}", env={}, writer_lock_timeout=600.0)


def build(root: Path, n: int, rebuild: bool) -> Settings:
    """A warehouse with n classified articles spread evenly over YEARS years to END."""
    settings = _settings(root, n)
    if rebuild and settings.home.exists():
        shutil.rmtree(settings.home)
    if settings.snapshot_path.exists():
        with warehouse.reader(settings) as con:
            have = con.execute("SELECT count(*) FROM trend_articles").fetchone()[0]
        if have == n:
            with warehouse.writer(settings):
                pass  # applies new migrations and changed views, republishes the snapshot
            return settings
    if settings.home.exists():
        shutil.rmtree(settings.home)
    start = datetime.combine(END - timedelta(days=365 * YEARS), datetime.min.time())
    span = (365 * YEARS + 1) * 86400
    t0 = time.perf_counter()
    with warehouse.writer(settings) as con:
        con.execute(
            "INSERT INTO sources (source_id, url, outlet, country, kind)"
            " SELECT 's' || i, 'https://s' || i || '.example/rss', 'Outlet ' || i,"
            " (?)[1 + i % 8], 'feed' FROM range(?) t(i)", [_COUNTRIES, SOURCES])
        # Articles in time order, as ingestion appends them; ~1 in 3 shares a story cluster.
        con.execute(
            """
            INSERT INTO articles (article_id, entry_key, url, title, summary, outlet, source_id,
                                  published_at, first_seen_at, cluster_id)
            SELECT 'a' || i, 'k' || i, 'https://s' || (i % ?) || '.example/a/' || i,
                   'Synthetic story ' || (i // 3) || ' about relations',
                   'A lead sentence for story ' || (i // 3) || '. More text follows here.',
                   'Outlet ' || (i % ?), 's' || (i % ?),
                   CASE WHEN i % 50 = 0 THEN NULL
                        ELSE ?::TIMESTAMP + to_seconds((i * ?) // ?) END,
                   ?::TIMESTAMP + to_seconds((i * ?) // ? + 600),
                   CASE WHEN i % 3 = 0 THEN NULL ELSE 'c' || (i // 3) END
            FROM range(?) t(i)
            """,
            [SOURCES, SOURCES, SOURCES, start, span, n, start, span, n, n])
        # About 40% relevant; one or two topics from a hash of the id.
        con.execute(
            """
            INSERT INTO classifications (article_id, model_version, relevant, dyads, topics,
                                         scores, evidence, classified_at)
            SELECT 'a' || i, 'bench-1', h % 10 < 4,
                   CASE WHEN h % 10 >= 4 THEN []
                        WHEN h % 7 = 0 THEN ['russia_japan', 'russia_china']
                        WHEN h % 2 = 0 THEN ['russia_japan'] ELSE ['russia_china'] END,
                   CASE WHEN h % 10 >= 4 THEN []
                        WHEN h % 5 = 0 THEN [(?)[(1 + h % 8)::BIGINT], (?)[(1 + (h // 8) % 8)::BIGINT]]
                        ELSE [(?)[(1 + (h // 3) % 8)::BIGINT]] END,
                   '{}', '{}',
                   ?::TIMESTAMP + to_seconds((i * ?) // ? + 900)
            FROM (SELECT i, hash(i) AS h FROM range(?) t(i))
            """,
            [list(trends.TOPICS)] * 3 + [start, span, n, n])
        # Fetches grow with the article count (more feeds, more polls): n / 2 over the span.
        m = n // 2
        con.execute(
            """
            INSERT INTO fetches (fetch_id, source_id, run_id, started_at, outcome, entries_new)
            SELECT 'f' || i, 's' || (i % ?), 'r' || (i // ?),
                   ?::TIMESTAMP + to_seconds((i * ?) // ?),
                   CASE WHEN i % 97 = 0 THEN 'error' ELSE 'ok' END, (i % 5)::INTEGER
            FROM range(?) t(i)
            """,
            [SOURCES, SOURCES, start, span, m, m])
        con.execute(
            """
            INSERT INTO feed_state (source_id, last_attempt_at, last_ok_at, consecutive_failures,
                                    failing_since, last_error)
            SELECT 's' || i, ?::TIMESTAMP, CASE WHEN i % 20 = 0 THEN ?::TIMESTAMP
                                               ELSE ?::TIMESTAMP END,
                   CASE WHEN i % 20 = 0 THEN 12 ELSE 0 END,
                   CASE WHEN i % 20 = 0 THEN ?::TIMESTAMP END,
                   CASE WHEN i % 20 = 0 THEN 'HTTP 503' END
            FROM range(?) t(i)
            """,
            [_end_ts(), _end_ts() - timedelta(days=2), _end_ts(),
             _end_ts() - timedelta(days=2), SOURCES])
        loaded = time.perf_counter() - t0
        result = trends.refresh_trends(con, full=True)
    print(f"  built n={n:,}: load {loaded:.1f}s, full trend refresh {result['seconds']:.1f}s,"
          f" file {settings.warehouse_path.stat().st_size / 1e9:.2f} GB", flush=True)
    return settings


def _end_ts() -> datetime:
    return datetime.combine(END, datetime.min.time()) + timedelta(hours=23)


def interleaved(fns: dict[int, Callable[[], object]],
                repeat: int = REPEAT) -> dict[int, tuple[float, float]]:
    """Median wall and CPU time of each size's function, alternating sizes run by run, so
    that load from other processes on a shared machine hits every size alike. CPU time (all
    threads of this process) is the steadier measure of cost when the machine is busy."""
    for fn in fns.values():
        fn()  # warm-up
    wall: dict[int, list[float]] = {n: [] for n in fns}
    cpu: dict[int, list[float]] = {n: [] for n in fns}
    for _ in range(repeat):
        for n, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[n].append(time.perf_counter() - w0)
            cpu[n].append(time.process_time() - c0)
    return {n: (statistics.median(wall[n]), statistics.median(cpu[n])) for n in fns}


def incremental_refresh(settings: Settings, n: int) -> tuple[float, float]:
    """Seconds for refresh_trends after one more day of articles (n / days of history), on a
    scratch copy of the warehouse so the benchmark's warehouses stay as built."""
    import duckdb

    scratch = settings.home / "scratch.duckdb"
    shutil.copyfile(settings.warehouse_path, scratch)
    try:
        con = duckdb.connect(str(scratch))
        per_day = n // (365 * YEARS + 1)
        day = datetime.combine(END + timedelta(days=1), datetime.min.time())
        watermark = con.execute("SELECT watermark FROM trend_state").fetchone()[0]
        con.execute(
            "INSERT INTO articles (article_id, entry_key, title, outlet, source_id,"
            " published_at, first_seen_at)"
            " SELECT 'new' || i, 'newk' || i, 'New story ' || i, 'Outlet ' || (i % 60),"
            " 's' || (i % 60), ?::TIMESTAMP + to_seconds(i * 86400 // ?),"
            " ?::TIMESTAMP + to_seconds(i * 86400 // ? + 600) FROM range(?) t(i)",
            [day, per_day, day, per_day, per_day])
        con.execute(
            "INSERT INTO classifications SELECT 'new' || i, 'bench-1', i % 10 < 4,"
            " CASE WHEN i % 10 < 4 THEN ['russia_china'] ELSE [] END,"
            " CASE WHEN i % 10 < 4 THEN ['energy'] ELSE [] END, '{}', '{}',"
            " ?::TIMESTAMP + to_seconds(3600 + i) FROM range(?) t(i)", [watermark, per_day])
        w0, c0 = time.perf_counter(), time.process_time()
        trends.refresh_trends(con)
        seconds = (time.perf_counter() - w0, time.process_time() - c0)
        con.close()
        return seconds
    finally:
        scratch.unlink(missing_ok=True)
        Path(str(scratch) + ".wal").unlink(missing_ok=True)


def cases(con) -> dict[str, Callable[[], object]]:
    """Each view queried for the last 30 days of history, and each function likewise."""
    first = END - timedelta(days=29)

    def q(sql: str, *params: object) -> Callable[[], object]:
        return lambda: con.execute(sql, list(params)).fetchall()

    return {
        "view topic_daily": q("SELECT * FROM topic_daily WHERE day BETWEEN ? AND ?", first, END),
        "view dyad_daily": q("SELECT * FROM dyad_daily WHERE day BETWEEN ? AND ?", first, END),
        "view topic_dyad_daily": q("SELECT * FROM topic_dyad_daily WHERE day BETWEEN ? AND ?",
                                   first, END),
        "view articles_daily": q("SELECT * FROM articles_daily WHERE day BETWEEN ? AND ?",
                                 first, END),
        "view trend_rolling": q("SELECT * FROM trend_rolling WHERE day BETWEEN ? AND ?",
                                first, END),
        "view trend_spikes": q("SELECT * FROM trend_spikes WHERE day BETWEEN ? AND ?",
                               first, END),
        "view outlet_share": q("SELECT * FROM outlet_share WHERE day BETWEEN ? AND ?",
                               first, END),
        "view country_share": q("SELECT * FROM country_share WHERE day BETWEEN ? AND ?",
                                first, END),
        "view feed_health": q("SELECT * FROM feed_health_at(?::TIMESTAMP)", _end_ts()),
        "view latest_relevant_articles": q(
            "SELECT * FROM latest_relevant_articles WHERE day BETWEEN ? AND ? LIMIT 50",
            first, END),
        "view trend_freshness": q("SELECT * FROM trend_freshness"),
        "fn topic_series(30)": lambda: trends.topic_series(con, 30, end=END),
        "fn dyad_series(30)": lambda: trends.dyad_series(con, 30, end=END),
        "fn spikes(day)": lambda: trends.spikes(con, END),
        "fn coverage_share(30)": lambda: trends.coverage_share(con, 30, end=END),
        "fn feed_health": lambda: trends.feed_health(con, _end_ts()),
        "fn latest_articles(30)": lambda: trends.latest_articles(con, end=END, limit=50),
    }


def naive(con) -> tuple[float, float]:
    """For scale: the same 30-day topic counts straight from articles + classifications."""
    sql = """
        SELECT coalesce(a.published_at, a.first_seen_at)::DATE AS day, t.topic, count(*)
        FROM articles a
        JOIN current_classifications c USING (article_id),
             unnest(c.topics) AS t(topic)
        WHERE c.relevant AND coalesce(a.published_at, a.first_seen_at)::DATE BETWEEN ? AND ?
        GROUP BY ALL
    """
    fn = lambda: con.execute(sql, [END - timedelta(days=29), END]).fetchall()  # noqa: E731
    return interleaved({0: fn}, 3)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--root", type=Path, default=Path("/tmp/monitor-bench-trends"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"Synthetic warehouses over {YEARS} years ending {END}, under {args.root}")
    built = {n: build(args.root, n, args.rebuild) for n in sizes}
    results: dict[int, dict[str, tuple[float, float]]] = {n: {} for n in sizes}
    with contextlib.ExitStack() as stack:
        cons = {n: stack.enter_context(warehouse.reader(s)) for n, s in built.items()}
        per_size = {n: cases(con) for n, con in cons.items()}
        for name in per_size[sizes[0]]:
            for n, t in interleaved({n: per_size[n][name] for n in sizes}).items():
                results[n][name] = t
        if not args.no_naive:
            for n, con in cons.items():
                results[n]["naive: 30-day topics from articles"] = naive(con)
    for n, settings in built.items():
        results[n]["refresh after one more day (incremental)"] = incremental_refresh(settings, n)
    small, big = sizes[0], sizes[-1]
    print(f"\n{'query (last 30 days), median ms':44} {'wall ' + f'{small:,}':>14}"
          f" {'wall ' + f'{big:,}':>15}  ratio {'cpu ' + f'{small:,}':>14}"
          f" {'cpu ' + f'{big:,}':>15}  ratio")
    for name in results[small]:
        (wa, ca), (wb, cb) = results[small][name], results[big][name]
        print(f"{name:44} {wa * 1000:12.1f}ms {wb * 1000:13.1f}ms {wb / wa:6.2f}x"
              f" {ca * 1000:12.1f}ms {cb * 1000:13.1f}ms {cb / max(ca, 1e-9):6.2f}x")

    # Incremental refresh after a day of new articles, and the digest, at the largest size.
    settings = built[big]
    try:
        from monitor.digest import build_digest, render_digest
    except ImportError:  # the digest package is not there yet
        return
    with warehouse.reader(settings) as con:
        digest_s, digest_cpu = interleaved(
            {0: lambda: render_digest(build_digest(con, END, settings), settings)}, 5)[0]
        data = build_digest(con, END, settings)
    print(f"\ndigest build + render for {END} at {big:,}: {digest_s * 1000:.0f} ms wall, "
          f"{digest_cpu * 1000:.0f} ms CPU "
          f"({data['summary']['articles']} relevant articles, {len(data['stories'])} stories)")


if __name__ == "__main__":
    main()
