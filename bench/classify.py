"""Classifier speed: articles per second on 2,000-character articles, model load time, and the
keyword baseline's speed in the same run (single process).

Articles are our own synthetic ones (monitor/classify/synthetic.py) padded to 2,000
characters, so the benchmark needs nothing outside the repo. Targets: >= 1,000 articles/s and
load < 1 s. Dev-set quality scores: bench/evaluate_dev.py.

With --articles PATH (JSON lines of feed records: article_id, title, summary, body, e.g. an
export of a real ingest pass; only read, never copied) it also times ``classify`` + ``to_json``
on those records as the ingest pipeline builds them (text = body or summary), the first call
of the process and a warm one, and where the time goes: analysis (text preparation, sentence
split, term matching), batch scoring, predictions. Target there: <= 0.35 s CPU for a batch of
about 3,200 feed entries.

Run: .venv/bin/python bench/classify.py [N] [--articles PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    """``n`` distinct articles: the classifier analyses a repeated text once per batch, so
    repeats would measure that shortcut, not the classifier. Each round through the synthetic
    pairs starts its text a few characters further on."""
    base = synthetic_articles()
    out = []
    for i in range(n):
        a, b = base[i % len(base)], base[(i * 7 + 3) % len(base)]
        text = (a["text"] + " " + b["text"] + " ") * 21
        start = 7 * (i // len(base))
        out.append({"id": f"b{i}", "title": a["title"],
                    "text": text[start:start + ARTICLE_CHARS]})
    return out


def feed_items(path: Path) -> list[dict]:
    """Classifier items as the ingest pipeline builds them from feed records."""
    with path.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [{"id": r.get("article_id"), "title": r.get("title") or "",
             "text": r.get("body") or r.get("summary") or "", "language": r.get("language")}
            for r in records]


def _cpu(fn, runs: int) -> tuple[float, object]:
    """Median CPU seconds of ``fn`` over ``runs`` calls, and its last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.process_time()
        result = fn()
        times.append(time.process_time() - started)
    return statistics.median(times), result


def real_articles(settings, path: Path, runs: int = 7) -> None:
    """classify + to_json on real feed records: first call, warm calls, and the stages."""
    from monitor.classify import load_classifier, rules

    items = feed_items(path)
    clf = load_classifier(settings)
    started = time.process_time()
    [p.to_json() for p in clf.classify(items)]
    first = time.process_time() - started
    warm, _ = _cpu(lambda: [p.to_json() for p in clf.classify(items)], runs)
    unique = list(dict.fromkeys(clf._texts(item) for item in items))
    prepared = [(rules.prepare_text(t, 500), rules._cut_dateline(rules.prepare_text(b)))
                for t, b in unique]
    stages = {
        "prepare text": _cpu(lambda: [(rules.prepare_text(t, 500),
                                       rules._cut_dateline(rules.prepare_text(b)))
                                      for t, b in unique], runs)[0],
        "split sentences": _cpu(lambda: [rules._sentences(b) for _t, b in prepared], runs)[0],
        "split + match terms": _cpu(lambda: [clf.lexicon.match(([t] if t else []) + rules._sentences(b))
                                     for t, b in prepared], runs)[0],
    }
    analyse_s, analyses = _cpu(lambda: [rules.analyse(clf.lexicon, t, b) for t, b in unique],
                               runs)
    stages["analyse (all of the above + features)"] = analyse_s
    stages["batch scoring"] = _cpu(lambda: clf.probability_matrix(analyses), runs)[0]
    print(f"{len(items)} feed records from {path.name} ({len(unique)} distinct title+text):")
    print(f"  classify + to_json: first call {first:.3f} s, warm {warm:.3f} s CPU"
          "  (target <= 0.35 s)")
    for name, seconds in stages.items():
        print(f"    {name:40s} {seconds:.3f} s  ({len(unique)} distinct)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=3000)
    parser.add_argument("--articles", type=Path, help="JSON lines of feed records")
    args = parser.parse_args()
    n = args.n
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
    if args.articles:
        real_articles(settings, args.articles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
