"""Backfill benchmark: ``monitor backfill --from-dir`` against ``feedparser.parse`` alone.

Builds an archive of N feed snapshots under /tmp (default 2000): the real feeds of
``../shared/feeds`` when present, each repeated as a series of snapshots in which about a
tenth of the items are new and the rest repeat the previous snapshot (a git-scraping
archive), every third file gzip-compressed; else generated feeds with the same overlap. Then
prints, in one run:

1. ``feedparser.parse`` alone on the same (decompressed) bytes: files/s, entries/s, CPU per
   entry (on every file, or on a fixed sample with ``--sample``: feedparser is slow);
2. the first ``backfill_dir`` over the directory, end to end (read, gunzip, hash, parse, drop
   repeats, dedup against the warehouse, classify, stage, store, cluster, record): the same
   figures, with and without the one-time start-up (imports, language and classifier models,
   creating the warehouse: measured separately on a one-file archive);
3. a second ``backfill_dir`` over the same directory (every file finished before), and its
   time as a share of the first.

Targets (issue 8): end-to-end throughput at least 5× feedparser's; the second run under 5% of
the first. Run: ``.venv/bin/python bench/backfill.py [--files 2000] [--sample 300]``.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import random
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_FEEDS = ROOT.parent / "shared" / "feeds"
WORK = Path("/tmp/monitor-bench-backfill")

_ITEM_START = re.compile(rb"<(?:[A-Za-z0-9_]+:)?(?:item|entry)[\s>]")
_IDENT = re.compile(rb"(<(?:guid|id|link)[^>]*>\s*(?:<!\[CDATA\[)?https?://)")
_IDENT_ATTR = re.compile(rb"(<link[^>]*href=[\"']https?://)")


def snapshot_of(body: bytes, k: int, fresh: float = 0.1) -> bytes:
    """Snapshot ``k`` of a feed: its first ~10% of items get new identities (new articles),
    the rest stay as they are (repeated in every snapshot of this feed)."""
    starts = [m.start() for m in _ITEM_START.finditer(body)]
    if not starts:
        return body
    n_new = max(1, round(len(starts) * fresh))
    cut = starts[n_new] if n_new < len(starts) else len(body)
    head, tail = body[:cut], body[cut:]
    tag = f"s{k}.".encode()
    items = _IDENT_ATTR.sub(rb"\1" + tag, _IDENT.sub(rb"\1" + tag, head[starts[0]:]))
    head = head[: starts[0]] + items
    return head + tail


def generated_feed(feed: int, newest: int, window: int = 30) -> bytes:
    words = ("Moscow Tokyo Beijing talks gas pipeline sanctions drills islands trade summit "
             "minister treaty yuan exports navy strait forum investment energy").split()
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>Generated feed {feed}</title><link>https://gen{feed}.example.org/</link>"]
    for j in range(newest, max(-1, newest - window), -1):
        r = random.Random(feed * 100_000 + j)
        title = " ".join(r.choice(words) for _ in range(9)).capitalize()
        body = " ".join(r.choice(words) for _ in range(60))
        parts.append(
            f"<item><title>{title}</title><link>https://gen{feed}.example.org/a/{j}</link>"
            f"<guid>https://gen{feed}.example.org/a/{j}</guid>"
            f"<pubDate>Mon, {1 + j % 28:02d} Sep 2026 {j % 24:02d}:00:00 GMT</pubDate>"
            f"<description>&lt;p&gt;{body}&lt;/p&gt;</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def build_archive(n: int) -> tuple[Path, str]:
    archive = WORK / f"archive-{n}"
    marker = archive / ".complete"
    if marker.exists():
        return archive, marker.read_text()
    shutil.rmtree(archive, ignore_errors=True)
    archive.mkdir(parents=True)
    if SHARED_FEEDS.is_dir():
        real = sorted(SHARED_FEEDS.glob("*.xml"))
        kind = f"{len(real)} real feeds of ../shared/feeds as snapshot series"
        for i in range(n):
            src = real[i % len(real)]
            k = i // len(real)
            body = snapshot_of(src.read_bytes(), k)
            name = f"{src.stem}/{k:05d}.xml"
            _write(archive / name, body, gzip_it=i % 3 == 0)
    else:
        feeds = 40
        kind = f"{feeds} generated feeds as snapshot series"
        for i in range(n):
            feed, k = i % feeds, i // feeds
            _write(archive / f"gen{feed}/{k:05d}.xml", generated_feed(feed, 30 + 3 * k),
                   gzip_it=i % 3 == 0)
    marker.write_text(kind)
    return archive, kind


def _write(path: Path, body: bytes, gzip_it: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gzip_it:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(body, 6))
    else:
        path.write_bytes(body)


def _documents(archive: Path) -> list[bytes]:
    from monitor.backfill.archive import discover

    out = []
    for path in discover(archive):
        raw = path.read_bytes()
        out.append(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return out


def bench_feedparser(docs: list[bytes]) -> dict[str, float]:
    import feedparser

    wall, cpu = time.perf_counter(), time.process_time()
    entries = 0
    for body in docs:
        entries += len(feedparser.parse(body).entries)
    return {"files": len(docs), "entries": entries, "bytes": sum(map(len, docs)),
            "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def bench_backfill(settings, archive: Path) -> dict[str, float]:
    from monitor.backfill.archive import backfill_dir

    wall, cpu = time.perf_counter(), time.process_time()
    summary = backfill_dir(settings, archive)
    return {"files": summary.files_ok + summary.files_failed + summary.files_skipped,
            "entries": summary.entries, "new": summary.articles_new,
            "bad": summary.files_failed, "skipped": summary.files_skipped,
            "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def _row(name: str, r: dict[str, float], entries: float | None = None) -> str:
    entries = r["entries"] if entries is None else entries
    return (f"| {name} | {r['files']:,.0f} | {entries:,.0f} | {r['wall']:.1f} s | "
            f"{r['cpu']:.1f} s | {r['files'] / r['wall']:,.0f} | {entries / r['wall']:,.0f} | "
            f"{entries / r['cpu']:,.0f} | {1e6 * r['cpu'] / max(entries, 1):,.0f} µs |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=0,
                        help="feedparser on every k-th file only (0: all files)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from monitor.settings import load_settings

    archive, kind = build_archive(args.files)
    docs = _documents(archive)
    size = sum(map(len, docs))
    print(f"archive: {len(docs)} files, {size / 1e6:.1f} MB decompressed ({kind}); {archive}")

    sample = docs[:: args.sample] if args.sample else docs
    fp = bench_feedparser(sample)

    # One-time start-up (imports, language and classifier models, a new warehouse), measured
    # on a one-file archive in a throwaway data directory, so the runs below are warm.
    tiny = WORK / "tiny"
    shutil.rmtree(tiny, ignore_errors=True)
    (tiny / "archive").mkdir(parents=True)
    (tiny / "archive" / "one.xml").write_bytes(generated_feed(999, 5))
    startup = bench_backfill(load_settings(home=tiny / "home", env={}), tiny / "archive")

    home = WORK / "home"
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(home=home, env={})
    first = bench_backfill(settings, archive)
    second = bench_backfill(settings, archive)

    print()
    print("| pass | files | entries | wall | CPU | files/s | entries/s (wall) |"
          " entries/s (CPU) | CPU per entry |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    label = "`feedparser.parse` alone" + (f" (every {args.sample}th file)" if args.sample else "")
    print(_row(label, fp))
    cold = dict(first, wall=first["wall"] + startup["wall"], cpu=first["cpu"] + startup["cpu"])
    print(_row("backfill, first run, end to end incl. start-up", cold))
    print(_row("backfill, first run, warm (start-up excluded)", first))
    print(_row("backfill, second run (all done before)", second, entries=first["entries"]))
    print()
    fp_rate = fp["entries"] / fp["cpu"]
    print(f"first run: {first['new']:,} new articles from {first['entries']:,} entries, "
          f"{first['bad']} bad files skipped; one-time start-up {startup['cpu']:.1f} s CPU")
    for name, r in (("incl. start-up", cold), ("warm", first)):
        print(f"end-to-end CPU throughput vs feedparser alone, {name}: "
              f"{r['entries'] / r['cpu'] / fp_rate:.1f}× (entries per CPU second); wall: "
              f"{r['entries'] / r['wall'] / (fp['entries'] / fp['wall']):.1f}× (shared machine)")
    print(f"second run: {second['wall']:.2f} s = {100 * second['wall'] / cold['wall']:.1f}% "
          f"of the first ({second['skipped']} files skipped by path + content hash)")


if __name__ == "__main__":
    main()
