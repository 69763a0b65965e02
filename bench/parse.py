"""Parse alone: ``monitor.ingest.parse.parse_feed`` against ``feedparser.parse`` on the same bytes.

Feeds: the real snapshots of ``../shared/feeds`` (only read, never copied). Without them
the benchmark says so and exits 0: generated feeds would measure our own shapes, not the
world's. Each side runs ``--rounds`` times over all files; the best round is the figure
(the machine is shared: the minimum is the cost, the rest is other people's load). CPU time
of this process. Also printed: how many documents each parser path took, so a change that
makes the fast path decline more often shows up next to the time it costs.

Run: .venv/bin/python bench/parse.py [--feeds DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CANDIDATES = (ROOT.parent / "shared" / "feeds", ROOT.parent.parent / "shared" / "feeds")


def _feeds(directory: Path | None) -> list[bytes]:
    for folder in ([directory] if directory else CANDIDATES):
        if folder and folder.is_dir():
            return [p.read_bytes() for p in sorted(folder.iterdir())
                    if p.is_file() and p.suffix != ".md"]
    return []


def _best(fn, bodies: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for body in bodies:
            fn(body)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bodies = _feeds(args.feeds)
    if not bodies:
        print("parse bench skipped: no feed snapshots (../shared/feeds absent)")
        return

    import logging

    import feedparser

    from monitor.ingest.parse import parse_feed

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    paths = collections.Counter(parse_feed(b).parser for b in bodies)
    entries = sum(len(parse_feed(b).entries) for b in bodies)
    size = sum(len(b) for b in bodies) / 1e6
    ours = _best(parse_feed, bodies, args.rounds)
    theirs = _best(feedparser.parse, bodies, args.rounds)
    print(f"{len(bodies)} feeds, {size:.1f} MB, {entries} entries; parser paths: "
          + ", ".join(f"{k} {v}" for k, v in paths.most_common()))
    print(f"parse_feed       {ours:6.3f} s CPU ({size / ours:5.1f} MB/s)  best of {args.rounds}")
    print(f"feedparser.parse {theirs:6.3f} s CPU ({size / theirs:5.1f} MB/s)")
    print(f"ratio            {theirs / ours:6.1f}x")


if __name__ == "__main__":
    main()
