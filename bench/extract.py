"""Main-text extraction quality: our extractor vs plain trafilatura vs a naive <p> baseline.

    .venv/bin/python bench/extract.py [--limit N] [--dataset scrapinghub] [--json out.json]

Uses the public benchmark in ``../shared/extraction`` (real pages with ground truth and its
scoring script, ``score.py``; see its README). It is not part of this repository: when it
is absent the benchmark says so and exits 0. Nothing from it is copied here.

In one run, on the same pages:

* ``ours``         ``monitor.enrich.extract.extract_text`` (tuned trafilatura + cleaning + fallback)
* ``trafilatura``  ``trafilatura.extract(html)`` with its defaults
* ``bs4-p``        the text of every ``<p>``, the naive baseline people write first

For each: precision / recall / F1 over bag of tokens (n=1) and 4-gram shingles (n=4), the
mean per-page F1, empty outputs where the ground truth has text, and time per page. Our
extractor's numbers are also shown on the ``test`` split alone (the pages we did not look
at while tuning: tuning used only ``--split dev``), and its slowest pages are listed.
Targets (issue 6): F1(n=1) >= 0.95, no worse than plain trafilatura, no empty outputs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO.parent / "shared" / "extraction"
sys.path.insert(0, str(REPO))

NGRAMS = (1, 4)


def load_score_module():
    if not (BENCH_DIR / "score.py").exists():
        return None
    sys.path.insert(0, str(BENCH_DIR))
    import score  # the benchmark's own scoring script

    return score


def summarise(score, rows: list[dict]) -> dict:
    out = score.summarize(rows, NGRAMS)
    out["empty_with_truth"] = sum(1 for r in rows if r["pred_tokens"] == 0 and r["true_tokens"] > 0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, help="only the first N pages of each data set")
    ap.add_argument("--dataset", action="append", choices=("scrapinghub", "readability"))
    ap.add_argument("--only", action="append", choices=("ours", "trafilatura", "bs4-p"),
                    help="run only these extractors (default: all three)")
    ap.add_argument("--json", type=Path, help="write summaries and per-page rows here")
    args = ap.parse_args(argv)

    score = load_score_module()
    if score is None:
        print(f"bench/extract.py: benchmark not found at {BENCH_DIR}; skipped.")
        return 0
    warnings.filterwarnings("ignore")

    import trafilatura

    from monitor.enrich.extract import extract_text

    pages = score.load_pages(datasets=tuple(args.dataset or score.DATASETS))
    pages = [p for p in pages if p["subset"] != "fixture"]  # tiny hand-made unit-test pages
    if args.limit:
        per: dict[str, int] = {}
        pages = [p for p in pages if per.setdefault(p["dataset"], 0) < args.limit
                 and not per.update({p["dataset"]: per[p["dataset"]] + 1})]
    split = {p["id"]: score.split_of(p["id"]) for p in pages}
    extractors = {
        "ours": extract_text,
        "trafilatura": lambda html: trafilatura.extract(html) or "",
        "bs4-p": score.builtin_extractor("bs4-p"),
    }
    chosen = args.only or list(extractors)

    print(f"benchmark: {BENCH_DIR} — {len(pages)} real pages "
          f"({sum(1 for p in pages if p['dataset'] == 'scrapinghub')} scrapinghub, "
          f"{sum(1 for p in pages if p['dataset'] == 'readability')} readability)")
    for p in pages[:10]:  # warm-up, untimed: imports and caches
        for name in chosen:
            extractors[name](p["html"])

    results = {}
    for name in chosen:
        res = score.evaluate(extractors[name], pages, ngrams=NGRAMS, name=name)
        groups: dict[str, list[dict]] = {"ALL": res["pages"]}
        for r in res["pages"]:
            groups.setdefault(r["dataset"], []).append(r)
            if name == "ours":
                groups.setdefault(f"ALL, test split ({split[r['id']]})", []).append(r)
        results[name] = {"groups": {g: summarise(score, rs) for g, rs in groups.items()
                                    if not g.endswith("(dev)")},
                         "pages": res["pages"]}

    head = (f"{'extractor':<12} {'subset':<26} {'pages':>5} | {'P1':>5} {'R1':>5} {'F1':>5} "
            f"{'mF1':>5} | {'P4':>5} {'R4':>5} {'F4':>5} | {'ms mean':>7} {'median':>6} "
            f"{'p95':>6} | {'empty':>5}")
    print(head)
    print("-" * len(head))
    for name in chosen:
        for group, s in results[name]["groups"].items():
            n1, n4 = s["ngram1"], s["ngram4"]
            print(f"{name:<12} {group.replace(' (test)', ''):<26} {s['pages']:>5} | "
                  f"{n1['precision']:.3f} {n1['recall']:.3f} {n1['f1']:.3f} "
                  f"{n1['mean_page_f1']:.3f} | {n4['precision']:.3f} {n4['recall']:.3f} "
                  f"{n4['f1']:.3f} | {1000 * s['sec_per_page_mean']:>7.1f} "
                  f"{1000 * s['sec_per_page_median']:>6.1f} {1000 * s['sec_per_page_p95']:>6.1f} | "
                  f"{s['empty_with_truth']:>5}")

    if "ours" in results:
        rows = results["ours"]["pages"]
        print("\nslowest pages (ours):")
        for r in sorted(rows, key=lambda r: -r["seconds"])[:5]:
            print(f"  {1000 * r['seconds']:7.1f} ms  {r['id']}")
        print("lowest F1 (ours, n=1):")
        for r in sorted(rows, key=lambda r: r["f1"])[:5]:
            print(f"  F1 {r['f1']:.3f}  P {r['p1'] or 0:.3f}  R {r['r1'] or 0:.3f}  {r['id']}")
        empties = [r["id"] for r in rows if r["pred_tokens"] == 0 and r["true_tokens"] > 0]
        print(f"empty outputs where the truth has text (ours): {len(empties)} {empties or ''}")
        if "trafilatura" in results:
            ours = results["ours"]["groups"]["ALL"]["ngram1"]["f1"]
            plain = results["trafilatura"]["groups"]["ALL"]["ngram1"]["f1"]
            print(f"F1 (n=1, all pages): ours {ours:.3f} vs plain trafilatura {plain:.3f} "
                  f"({'+' if ours >= plain else ''}{ours - plain:.3f}); "
                  f"median ms ours {1000 * statistics.median(r['seconds'] for r in rows):.1f}")

    if args.json:
        args.json.write_text(json.dumps(
            {n: {"summary": r["groups"], "pages": r["pages"]} for n, r in results.items()},
            indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
