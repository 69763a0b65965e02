"""Language detection cost per ingest pass: the pipeline's ``detect_languages`` over a batch
of new articles, in a fresh interpreter, py3langid's model load included.

Each measurement runs in its own process (CPU time of that process, all threads), because
what matters is the first batch of a worker: the model is loaded then. numpy is imported
before the clock starts (the pipeline has it loaded already for the classifier) and its import
time is printed apart. Two runs: with the per-user model cache in place (the usual case), and
with an empty cache (the first run after installing or upgrading py3langid: decompress, then
write the cache).

Articles: a JSON-lines file of feed records (title, summary, language; e.g. an export of a
real ingest pass) given with --articles, else our synthetic articles (monitor/classify/
synthetic.py) with no declared language. The file is only read, never copied.

Run: .venv/bin/python bench/language.py [--articles PATH] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_PROBE = """
import json, sys, time
t = time.process_time()
import numpy
numpy_s = time.process_time() - t
articles = json.load(sys.stdin)
from monitor.ingest.derive import detect_languages
import monitor.enrich.language as language
t = time.process_time()
detect_languages(articles)
total = time.process_time() - t
language._identifier = None
t = time.process_time()
language._langid()
load = time.process_time() - t
print(json.dumps({"numpy": numpy_s, "total": total, "reload": load,
                  "langid_calls": len(language._answers)}))
"""


def load_articles(path: Path | None) -> list[dict]:
    """Records as ``detect_languages`` sees them: title, summary, declared language."""
    if path is None:
        from monitor.classify.synthetic import synthetic_articles

        return [{"title": a["title"], "summary": a["text"], "language": None}
                for a in synthetic_articles()]
    with path.open(encoding="utf-8") as f:
        return [{"title": r.get("title") or "", "summary": r.get("summary"),
                 "language": r.get("language")} for r in map(json.loads, f) if r]


def probe(articles: list[dict], cache_home: str | None) -> dict:
    env = dict(os.environ)
    if cache_home is not None:
        env["XDG_CACHE_HOME"] = cache_home
    out = subprocess.run([sys.executable, "-c", _PROBE], input=json.dumps(articles),
                         capture_output=True, text=True, cwd=REPO, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=Path, help="JSON lines with title/summary/language")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    articles = load_articles(args.articles)
    probe(articles, None)  # make sure the user's model cache exists
    warm = [probe(articles, None) for _ in range(args.runs)]
    with tempfile.TemporaryDirectory(prefix="bench-language-") as empty:
        cold = probe(articles, empty)

    def med(key: str, runs: list[dict]) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"{len(articles)} articles, {warm[0]['langid_calls']} distinct texts detected (the rest answered from memory)")
    print(f"detect languages, model load included:  {med('total', warm):.3f} s CPU "
          f"(median of {args.runs}; min {min(r['total'] for r in warm):.3f})  (target <= 0.25 s)")
    print(f"  model load alone (cached arrays):      {med('reload', warm):.3f} s")
    print(f"  first run after install (empty cache): {cold['total']:.3f} s "
          "(decompress py3langid's model and write the cache)")
    print(f"  numpy import, not counted above:       {med('numpy', warm):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
