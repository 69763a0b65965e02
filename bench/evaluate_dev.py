"""Dev-set scores of the classifier next to the keyword baseline, in the same run.

Reads ../shared/labels/dev.jsonl (or $MONITOR_DEV_SET); skips with a message when absent.
The dev text never enters the repository: it is read here and only scores are printed.

Rows printed:
  keyword baseline   Russia AND Japan/China anywhere, one regex per topic
  rules only         the sentence-level rules with their hand-set thresholds
  shipped model      seeds/model/seed-model.json: rules + a model trained on synthetic
                     articles AND every dev label (so its dev score is in-sample: read the
                     CV rows for what to expect on unseen articles)
  seed model, synthetic only
                     the model a fresh install builds if no model file ships: never saw a
                     dev label
  CV: model only     5-fold cross-validation: the logistic model trained on synthetic +
                     4 folds of dev, scored on the held-out fold (what human labels buy)
  CV: blended        the same folds, rules and that model blended as in production

Run: .venv/bin/python bench/evaluate_dev.py [--errors] [--write-shipped]
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.classify.evaluate import score, summary_line  # noqa: E402
from monitor.classify.lexicon import build_lexicon  # noqa: E402
from monitor.classify.model import SHIPPED_MODEL, Classifier, ModelParams  # noqa: E402
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS, load_taxonomy  # noqa: E402
from monitor.classify.train import (  # noqa: E402
    _analyse_all,
    fit_params,
    seed_training_items,
    synthetic_weights,
)

#: Weight of the learned model against the rules in the shipped model (best in 5-fold CV).
SHIPPED_BLEND = 0.85
DEV = Path(os.environ.get("MONITOR_DEV_SET", REPO.parent / "shared" / "labels" / "dev.jsonl"))

# The keyword alert people write first: country names anywhere, one regex per topic.
_RU = re.compile(r"\bRussia|\bRussian|\bMoscow|\bKremlin|\bPutin", re.I)
_JP = re.compile(r"\bJapan|\bTokyo", re.I)
_CN = re.compile(r"\bChina|\bChinese|\bBeijing", re.I)
BASELINE_TOPICS = {
    "kurils": re.compile(r"Kuril|Northern Territor|Kunashir|Iturup|Shikotan|Habomai", re.I),
    "eaeu_bri": re.compile(r"Eurasian Economic Union|Belt and Road|Central Asia", re.I),
    "sanctions": re.compile(r"sanction", re.I),
    "energy": re.compile(r"\bgas\b|\boil\b|pipeline|LNG", re.I),
    "military": re.compile(r"military|exercise|drill|bomber|warship", re.I),
    "maritime": re.compile(r"South China Sea|Senkaku|Diaoyu|ADIZ|airspace", re.I),
    "korea": re.compile(r"North Korea|Pyongyang|THAAD", re.I),
    "investment": re.compile(r"invest|trade", re.I),
}


def keyword_baseline(item: dict) -> dict:
    text = f"{item.get('title', '')} {item.get('text', '')}"
    ru = bool(_RU.search(text))
    dyads = [d for d, pat in (("russia_japan", _JP), ("russia_china", _CN))
             if ru and pat.search(text)]
    topics = [t for t in TOPIC_IDS if dyads and BASELINE_TOPICS[t].search(text)]
    return {"relevant": bool(dyads), "dyads": dyads, "topics": topics}


def main() -> int:
    if not DEV.exists():
        print(f"SKIP: dev set not found at {DEV} (set MONITOR_DEV_SET); nothing to report")
        return 0
    gold = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    taxonomy = load_taxonomy(REPO / "seeds" / "topics.toml")
    lexicon = build_lexicon(taxonomy)
    print(f"dev set: {len(gold)} items from {DEV}\n")

    rows = [("keyword baseline", [keyword_baseline(g) for g in gold])]
    rules = Classifier(taxonomy, None, lexicon)
    rows.append(("rules only", [p.to_json() for p in rules.classify(gold)]))
    shipped = Classifier(taxonomy, ModelParams.load(SHIPPED_MODEL), lexicon)
    rows.append((f"shipped model ({shipped.version})",
                 [p.to_json() for p in shipped.classify(gold)]))

    # Cross-validation of the learned part: never scored on what it was trained on.
    base = seed_training_items(taxonomy, lexicon)
    base_an = _analyse_all(lexicon, base)
    # What a fresh install builds when no shipped model exists: no dev label involved at all.
    synthetic_only = fit_params(base_an, base, version="synthetic-only", taxonomy=taxonomy)
    rows.append(("seed model, synthetic only",
                 [p.to_json() for p in Classifier(taxonomy, synthetic_only,
                                                  lexicon).classify(gold)]))
    gold_an = _analyse_all(lexicon, gold)
    folds = 5
    blends = (1.0, 0.85, 0.7, 0.5)
    cv = {b: [None] * len(gold) for b in blends}
    for k in range(folds):
        train = [i for i in range(len(gold)) if i % folds != k]
        params = fit_params(base_an + [gold_an[i] for i in train],
                            base + [gold[i] for i in train], version=f"cv{k}",
                            taxonomy=taxonomy,
                            sample_weight=synthetic_weights(len(base), len(train)))
        for blend, sink in cv.items():
            params.blend = blend
            clf = Classifier(taxonomy, params, lexicon)
            for i in range(len(gold)):
                if i % folds == k:
                    sink[i] = clf.predict_one(gold[i]).to_json()
    for blend, preds in cv.items():
        name = "CV: model only (5-fold)" if blend == 1.0 else f"CV: blend {blend}"
        rows.append((name, preds))

    if "--write-shipped" in sys.argv:
        # The shipped model: synthetic + prototypes + every dev label, at the blend that
        # cross-validated best. Only feature weights (about 60 numbers per label) are kept;
        # no dev text enters the file.
        params = fit_params(base_an + gold_an, base + gold,
                            version=f"seed-{taxonomy.digest}-dev{len(gold)}",
                            taxonomy=taxonomy, blend=SHIPPED_BLEND,
                            sample_weight=synthetic_weights(len(base), len(gold)),
                            note=f"synthetic+prototypes+dev labels ({len(gold)}); "
                                 f"blend {SHIPPED_BLEND} chosen by 5-fold CV on dev")
        params.save(SHIPPED_MODEL)
        print(f"wrote {SHIPPED_MODEL} version {params.version}")

    width = max(len(name) for name, _ in rows)
    for name, preds in rows:
        print(f"{name:<{width}}  {summary_line(score(gold, preds))}")
    print("\ntargets on unseen articles: relevance 0.97, dyad 0.95, topic micro 0.88, macro 0.85")

    report = score(gold, rows[2][1])  # the shipped model, as loaded at the start
    print(f"\nper label, {rows[2][0]}:")
    for label, tp, fp, fn, p, r, f in report.table():
        print(f"  {label:<16} tp {tp:>3} fp {fp:>3} fn {fn:>3}  P {p:.2f} R {r:.2f} F1 {f:.2f}")
    if "--errors" in sys.argv:
        # Errors of the cross-validated blend: the shipped model has seen every dev label.
        notes = {g["id"]: g.get("note", "") for g in gold}
        print(f"\nconfusions of CV: blend {SHIPPED_BLEND} (held-out folds):")
        for c in score(gold, cv[SHIPPED_BLEND]).confusions:
            print(f"  {c['id']}: {', '.join(c['wrong'])} | {notes[c['id']][:100]}")
    _ = DYAD_IDS
    return 0


if __name__ == "__main__":
    sys.exit(main())
