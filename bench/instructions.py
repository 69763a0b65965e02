"""Instructions, not seconds: parse + normalise + store against ``feedparser.parse``, counted
by valgrind's callgrind on the corpus of ``bench/ingest.py``.

On a shared virtual machine the CPU time of the same work differs by up to a third between
rounds, so a change of a few per cent cannot be seen in ``bench/ingest.py``'s seconds. An
instruction count is the same for the same code, input and environment whatever else the
machine is doing. It is a proxy: an instruction of the Python interpreter and one of DuckDB
or libxml2 do not cost the same time, so the ratio here is not the time ratio (on the project
machine it is lower: feedparser's interpreted code runs fewer instructions per cycle).

Each side runs in its own process under callgrind: the whole corpus once, uncounted (imports,
lazily loaded modules, compiled regular expressions: the state of ``bench/ingest.py``'s later
rounds, whose best is its figure), then the same again, counted. Counting is switched on and
off around the measured round (``callgrind_control``; the switching itself counts about
2 M instructions). Modules are byte-compiled before (``PYTHONPYCACHEPREFIX``), as an
installed package is. About 10 minutes; needs ``valgrind``.

Until 2026-12-04 the warm-up was 8 documents and a warm-up-only process's count was
subtracted: the measured round then also paid the imports that only other documents set off
(the encoding detector, feedparser's loose parser, BeautifulSoup's), about 0.2 G of our
2.5 G, which ``bench/ingest.py``'s warm rounds do not pay.

    .venv/bin/python bench/instructions.py [--corpus DIR] [--feeds 100] [--checkout DIR]

``--checkout`` counts another checkout's code (a ``git worktree`` of an older commit) against
this one in the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The measured process: ``<checkout> <mode> <feeds> <corpus>``; mode is our parse +
#: normalise + store ("ours") or feedparser.parse ("feedparser"). Both first run the whole
#: corpus once, uncounted, as the later of ``bench/ingest.py``'s rounds do (imports made,
#: modules loaded lazily on the way loaded, regular expressions compiled); the URL cache is
#: then emptied, as ``bench/ingest.py`` empties it before each round. Only the second run is
#: counted: callgrind starts with counting off and the process switches it on and off.
CHILD = r"""
import os, subprocess, sys, tempfile
from pathlib import Path
checkout, mode, feeds, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
sys.path[:0] = [checkout, str(Path(checkout) / "bench")]
import feedparser
from ingest import corpus
from monitor import warehouse
from monitor.ingest import keys, store
from monitor.ingest.batch import Document, stage_documents
from monitor.settings import load_settings
from monitor.sources import Source

bodies, _ = corpus(feeds, folder)
docs = [Document(source=Source(id=f"f{i}", url=f"https://f{i}.example.org/feed",
                               outlet=f"Feed {i}"), body=body) for i, body in enumerate(bodies)]
store.cluster_recent = lambda con: None  # as bench/ingest.py's CPU rounds: measured apart
store.refresh_trend_tables = lambda con: None
work = Path(tempfile.mkdtemp())

def ours(name):
    settings = load_settings(home=work / name, env={}, extract_enabled=False)
    warehouse.ensure_initialised(settings)
    keys.canonical_url.cache_clear()
    counting(True)
    staged = stage_documents(settings, docs, name, via="live", classify=False)
    store.store_staged(settings, [staged["path"]], name)
    counting(False)

def theirs():
    counting(True)
    for body in bodies:
        feedparser.parse(body)
    counting(False)

measured = False

def counting(on):
    # callgrind_control asks the running process: wait for it without a blocking call.
    if measured:
        proc = subprocess.Popen(["callgrind_control", "-i", "on" if on else "off",
                                 str(os.getpid())], stdout=subprocess.DEVNULL)
        while proc.poll() is None:
            pass

run = ours if mode == "ours" else lambda name: theirs()
run("warm")
measured = True
run("measured")
"""


def count(checkout: Path, mode: str, feeds: int, folder: Path, env: dict[str, str],
          work: Path) -> int:
    """Instructions of the measured part of one child process under callgrind."""
    out = work / f"{checkout.name}-{mode}.callgrind"
    argv = [sys.executable, "-c", CHILD, str(checkout), mode, str(feeds), str(folder)]
    subprocess.run(argv, env=env, check=True)  # byte-compile what it imports, unmeasured
    done = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                           f"--callgrind-out-file={out}", *argv],
                          env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if not found:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "feeds",
                        help="folder of real feed files (*.xml); generated feeds when absent")
    parser.add_argument("--checkout", type=Path, action="append", default=[],
                        help="another checkout to count the same way (repeatable)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:  # `make bench` runs every script: skip, not fail
        print("skipped: valgrind is not installed (Debian: apt-get install valgrind)")
        return
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    try:
        checkouts = [ROOT, *[c.resolve() for c in args.checkout]]
        feedparser = count(ROOT, "feedparser", args.feeds, args.corpus, env, work)
        print(f"corpus: {args.feeds} feeds from {args.corpus if args.corpus.is_dir() else 'generated'}")
        print(f"feedparser.parse alone:            {feedparser / 1e9:6.2f} G instructions")
        for checkout in checkouts:
            ours = count(checkout, "ours", args.feeds, args.corpus, env, work)
            print(f"parse+normalise+store ({checkout.name}): {ours / 1e9:6.2f} G instructions"
                  f"  → {feedparser / ours:.2f}× feedparser")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
