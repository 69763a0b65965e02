"""Story clustering quality and cost: our labelled pairs, the story dev set, the speed.

    .venv/bin/python bench/clusters.py [--pairs tests/extract/fixtures/cluster_pairs.toml]
    .venv/bin/python bench/clusters.py --train   # refit monitor/stories/pair_model.json

Four measurements in one run (the third skips cleanly without shared/labels):

* pairwise: ``monitor.stories.clusters.match`` on each labelled pair (reprint / rewrite / crosslang
  should match; "different" pairs, two stories on one topic the same day, must not);
* end to end: every article stored in a throw-away warehouse, ``assign_clusters`` run in
  publication order, then each pair judged by whether both ended in one cluster;
* the story dev set (``shared/labels/clusters-dev.jsonl``), cross-validated by story group:
  precision, recall, cross-language recall, non-English members (``bench/story_dev.py``);
* the time per 1,000 new articles against a window of 10,000 stored (synthetic) ones.

Prints figures; asserts nothing (the floors live in tests/extract/test_clusters.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor import warehouse  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.stories.clusters import assign_clusters, evaluate_pairs  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import story_dev  # noqa: E402

DEFAULT_PAIRS = REPO / "tests" / "extract" / "fixtures" / "cluster_pairs.toml"


def load(path: Path) -> tuple[list[dict], list[dict]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    articles = [dict(a, at=datetime.fromisoformat(a["at"])) for a in data["articles"]]
    return articles, data["pairs"]


def end_to_end(articles: list[dict], pairs: list[dict]) -> dict:
    """Store the articles, cluster them as the pipeline would, judge pairs by cluster."""
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=home, env={})
        with warehouse.writer(settings, publish=False) as con:
            ordered = sorted(articles, key=lambda a: a["at"])
            con.execute("BEGIN")
            for a in ordered:
                con.execute(
                    "INSERT INTO articles (article_id, entry_key, title, body, language,"
                    " outlet, published_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [a["id"], a["id"], a["title"], a["text"], a["language"],
                     a["id"].split("-")[1], a["at"], a["at"]],
                )
            started = time.perf_counter()
            for i in range(0, len(ordered), 5):  # arrive in small batches, as ingest runs do
                assign_clusters(con, [a["id"] for a in ordered[i:i + 5]])
            seconds = time.perf_counter() - started
            con.execute("COMMIT")
            cluster = dict(con.execute("SELECT article_id, cluster_id FROM articles").fetchall())
    rows = [dict(p, merged=cluster[p["a"]] == cluster[p["b"]]) for p in pairs]
    same = [r for r in rows if r["label"] != "different"]
    merged = [r for r in rows if r["merged"]]
    tp = sum(1 for r in merged if r["label"] != "different")
    return {"precision": tp / len(merged) if merged else 1.0,
            "recall": tp / len(same) if same else 1.0,
            "clusters": len(set(cluster.values())), "articles": len(cluster),
            "seconds": seconds, "rows": rows}


def scaling(articles: list[dict], window: int, new: int = 1000) -> tuple[float, float, int]:
    """Seconds for ``assign_clusters`` of ``new`` articles against ``window`` stored ones.

    Two calls: the first ("cold") sketches every window article and stores the sketches,
    the second ("warm", another ``new`` articles) reads them back, as every later run does.

    The stored articles are synthetic: Zipf-distributed pseudo-words, two or three on-topic
    names from the gazetteer (Putin, Kurils, gas, …) and a number each, spread over the
    three-day window. They are all different stories, so every merge is a false one.
    """
    import random
    import string

    from monitor.stories.clusters import ENTITIES

    rng = random.Random(7)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10)))
             for _ in range(20_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    names = [forms[0] for forms in ENTITIES.values()]

    def text(n: int) -> str:
        words = rng.choices(vocab, weights=weights, k=n)
        words += rng.sample(names, rng.randint(2, 3)) + [str(rng.randint(10, 9999))]
        rng.shuffle(words)
        return " ".join(words)

    _ = articles
    base = datetime(2026, 11, 26)
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=home, env={})
        with warehouse.writer(settings, publish=False) as con:
            rows = []
            for i in range(window + 2 * new):
                title, body = text(8), text(60)
                at = base + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
                rows.append((f"s{i}", f"s{i}", title, body, "en", "Synthetic", at, at,
                             f"s{i}" if i < window else None))
            con.executemany(
                "INSERT INTO articles (article_id, entry_key, title, body, language, outlet,"
                " published_at, first_seen_at, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows)
            con.execute("BEGIN")
            started = time.perf_counter()
            assign_clusters(con, [f"s{i}" for i in range(window, window + new)])
            cold = time.perf_counter() - started
            started = time.perf_counter()
            assign_clusters(con, [f"s{i}" for i in range(window + new, window + 2 * new)])
            warm = time.perf_counter() - started
            con.execute("COMMIT")
            merged = con.execute(
                "SELECT count(*) FROM articles WHERE article_id >= ? AND cluster_id <> article_id",
                [f"s{window}"]).fetchone()[0]
    return cold, warm, merged


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    ap.add_argument("--show", action="store_true", help="print every pair's outcome")
    ap.add_argument("--window", type=int, action="append",
                    help="time one call against this many stored articles (default 10000)")
    ap.add_argument("--new", type=int, default=1000, help="new articles per timed call")
    ap.add_argument("--no-dev", action="store_true", help="skip the story dev set")
    ap.add_argument("--train", action="store_true",
                    help="refit the pair model on the story dev set (bench/story_dev.py --train)")
    args = ap.parse_args(argv)
    if args.train:
        return story_dev.main(["--train"])
    articles, pairs = load(args.pairs)

    pairwise = evaluate_pairs(articles, pairs)
    print(f"labelled set: {len(articles)} articles, {len(pairs)} pairs ({args.pairs.name})")
    print(f"pairwise match:  precision {pairwise['precision']:.3f}  recall {pairwise['recall']:.3f}")
    for label, s in pairwise["by_label"].items():
        what = "kept apart" if label == "different" else "matched"
        print(f"  {label:<10} {s['correct']:>2}/{s['pairs']:<2} {what}")
    e2e = end_to_end(articles, pairs)
    print(f"assign_clusters: precision {e2e['precision']:.3f}  recall {e2e['recall']:.3f}  "
          f"({e2e['articles']} articles -> {e2e['clusters']} clusters, {e2e['seconds']*1000:.0f} ms)")
    for label in ("reprint", "rewrite", "crosslang", "different"):
        group = [r for r in e2e["rows"] if r["label"] == label]
        ok = sum(1 for r in group if r["merged"] == (label != "different"))
        print(f"  {label:<10} {ok:>2}/{len(group):<2} {'kept apart' if label == 'different' else 'same cluster'}")
    if not args.no_dev:
        path = story_dev.find_dev()
        if path is None:
            print("story dev set (shared/labels/clusters-dev.jsonl) not found: skipped")
        else:
            for line in story_dev.report(story_dev.load_dev(path)):
                print(line)
    for size in args.window or [10_000]:
        cold, warm, merged = scaling(articles, size, args.new)
        print(f"cost: {args.new} new articles against a window of {size} stored: {cold:.2f} s "
              f"cold (window sketched), {warm:.2f} s warm (sketches re-read, as every later "
              f"run): {warm / args.new * 1000:.2f} s per 1,000 new; {merged} false merges "
              "among these unrelated synthetic stories")
    if args.show:
        for r in pairwise["rows"]:
            flag = "ok " if (r["predicted"] is not None) == (r["label"] != "different") else "BAD"
            score = f"{r['score']:.2f}" if r["score"] is not None else "-"
            print(f"  {flag} {r['label']:<9} {r['a']:<24} {r['b']:<24} -> {r['predicted']} {score}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
