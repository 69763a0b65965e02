"""Classifier speed: articles per second on 2,000-character articles, model load time, and the
keyword baseline's speed in the same run (single process).

Articles are our own synthetic ones (monitor/classify/synthetic.py) padded to 2,000
characters, so the benchmark needs nothing outside the repo. Targets: >= 1,000 articles/s and
load < 1 s. Dev-set quality scores: bench/evaluate_dev.py.

Run: .venv/bin/python bench/classify.py [N]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from evaluate_dev import keyword_baseline  # noqa: E402

from monitor.classify.synthetic import synthetic_articles  # noqa: E402
from monitor.settings import load_settings  # noqa: E402

#: Measured in a fresh interpreter, so imports (numpy, the monitor package) are counted.
_LOAD_PROBE = """
import sys, time
t = time.perf_counter()
from monitor.classify import load_classifier
from monitor.settings import load_settings
clf = load_classifier(load_settings(home=sys.argv[1], env={}))
print(time.perf_counter() - t)
"""

ARTICLE_CHARS = 2000


def articles(n: int) -> list[dict]:
    base = synthetic_articles()
    out = []
    for i in range(n):
        a, b = base[i % len(base)], base[(i * 7 + 3) % len(base)]
        text = (a["text"] + " " + b["text"] + " ") * 20
        out.append({"id": f"b{i}", "title": a["title"], "text": text[:ARTICLE_CHARS]})
    return out


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    items = articles(n)
    settings = load_settings(home=tempfile.mkdtemp(prefix="bench-classify-"), env={})

    probe = subprocess.run([sys.executable, "-c", _LOAD_PROBE, str(settings.home)],
                           capture_output=True, text=True, cwd=REPO, check=True)
    load_s = float(probe.stdout.strip().splitlines()[-1])
    from monitor.classify import load_classifier

    clf = load_classifier(settings)
    clf.classify(items[:50])  # warm the token cache as a running pipeline would have it

    # Wall time is what a user sees; CPU time of this process is what the code costs. On a
    # shared machine the two differ, so both are printed.
    started, cpu = time.perf_counter(), time.process_time()
    preds = clf.classify(items)
    clf_s, clf_cpu = time.perf_counter() - started, time.process_time() - cpu

    started, cpu = time.perf_counter(), time.process_time()
    for item in items:
        keyword_baseline(item)
    kw_s, kw_cpu = time.perf_counter() - started, time.process_time() - cpu

    relevant = sum(p.relevant for p in preds)
    print(f"model {clf.version}: load in a fresh process (imports + files) {load_s:.3f} s"
          "  (target < 1 s)")
    print(f"classifier:       {n / clf_s:8.0f} articles/s wall, {n / clf_cpu:8.0f} per CPU-second"
          f"  ({n} x {ARTICLE_CHARS} chars, {relevant} relevant)  (target >= 1000)")
    print(f"keyword baseline: {n / kw_s:8.0f} articles/s wall, {n / kw_cpu:8.0f} per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
