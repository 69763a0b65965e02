"""Story clusters: quality floors on our labelled pairs, and the warehouse side.

The pairs (fixtures/cluster_pairs.toml) are ours: reprints, same-language rewrites,
cross-language reports of one event, and different stories on the same topic the same day.
``bench/clusters.py`` prints the same figures; these tests fail if they regress.
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor import warehouse
from monitor.settings import Settings
from monitor.stories.clusters import assign_clusters, evaluate_pairs, features, match

PAIRS = Path(__file__).parent / "fixtures" / "cluster_pairs.toml"


@pytest.fixture(scope="module")
def labelled() -> tuple[list[dict], list[dict]]:
    data = tomllib.loads(PAIRS.read_text(encoding="utf-8"))
    articles = [dict(a, at=datetime.fromisoformat(a["at"])) for a in data["articles"]]
    return articles, data["pairs"]


@pytest.fixture(scope="module")
def scores(labelled) -> dict:
    return evaluate_pairs(*labelled)


def test_reprints_are_always_caught(scores: dict) -> None:
    s = scores["by_label"]["reprint"]
    assert s["correct"] == s["pairs"]


def test_different_stories_same_topic_same_day_never_merge(scores: dict) -> None:
    s = scores["by_label"]["different"]
    assert s["correct"] == s["pairs"], [r for r in scores["rows"] if r["label"] == "different" and r["predicted"]]


@pytest.mark.parametrize(("label", "floor"), [("rewrite", 0.8), ("crosslang", 0.8)])
def test_rewrite_and_crosslanguage_recall_floors(scores: dict, label: str, floor: float) -> None:
    s = scores["by_label"][label]
    assert s["correct"] / s["pairs"] >= floor, s


def test_overall_precision_and_recall_floors(scores: dict) -> None:
    assert scores["precision"] >= 0.95
    assert scores["recall"] >= 0.9


def test_reprint_outside_the_window_is_a_new_story() -> None:
    text = "Japan and Russia agreed on a 2,050 tonne salmon quota near the southern Kurils."
    a = features("a", "Salmon quota agreed", text, "en", datetime(2026, 11, 1))
    b = features("b", "Salmon quota agreed", text, "en", datetime(2026, 11, 20))
    c = features("c", "Salmon quota agreed", text, "en", datetime(2026, 11, 2))
    assert match(a, b) is None
    assert match(a, c) == ("reprint", 1.0)


# --------------------------------------------------------------------------- warehouse

SOURCES = {  # outlet slug (second part of the article id) -> (source_id, outlet, country)
    "kyodo": ("kyodo", "Kyodo News", "JP"), "japantimes": ("japantimes", "The Japan Times", "JP"),
    "tass": ("tass", "TASS", "RU"), "ria": ("ria", "RIA Novosti", "RU"),
    "nhk": ("nhk", "NHK", "JP"), "eurasiareview": ("eurasiareview", "Eurasia Review", "INT"),
    "xinhua": ("xinhua", "Xinhua", "CN"), "cgtn": ("cgtn", "CGTN", "CN"),
    "scmp": ("scmp", "South China Morning Post", "HK"), "regional": ("regional", "Regional Paper", None),
    "reuters": ("reuters", "Reuters", "INT"), "moscowtimes": ("moscowtimes", "The Moscow Times", "RU"),
    "globaltimes": ("globaltimes", "Global Times", "CN"), "interfax": ("interfax", "Interfax", "RU"),
    "diplomat": ("diplomat", "The Diplomat", "INT"), "reprint": ("reprint", "Reprint Daily", None),
    "nikkei": ("nikkei", "Nikkei Asia", "JP"), "people": ("people", "People's Daily", "CN"),
}


def store(con, articles: list[dict], shift: timedelta = timedelta(0)) -> None:
    for slug, (sid, outlet, country) in SOURCES.items():
        con.execute("INSERT INTO sources (source_id, url, outlet, country) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING", [sid, f"https://{slug}.example/feed", outlet, country])
    for a in articles:
        slug = a["id"].split("-")[1]
        con.execute(
            "INSERT INTO articles (article_id, entry_key, title, body, language, outlet, source_id,"
            " published_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [a["id"], a["id"], a["title"], a["text"], a["language"], SOURCES[slug][1],
             SOURCES[slug][0], a["at"] + shift, a["at"] + shift],
        )


#: Batches go to DuckDB as list parameters when small, as registered numpy columns when
#: large: 0 sends even these small ones the second way.
BOTH_WAYS = pytest.mark.parametrize("register_from", [None, 0], ids=["lists", "registered"])


def _batches_as(monkeypatch: pytest.MonkeyPatch, register_from: int | None) -> None:
    if register_from is not None:
        from monitor.stories import assign

        monkeypatch.setattr(assign, "_REGISTER_FROM", register_from)


@BOTH_WAYS
def test_assign_clusters_in_batches_and_the_stories_view(
        settings: Settings, labelled, monkeypatch: pytest.MonkeyPatch,
        register_from: int | None) -> None:
    _batches_as(monkeypatch, register_from)
    articles, pairs = labelled
    ordered = sorted(articles, key=lambda a: a["at"])
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        store(con, ordered)
        assigned = sum(assign_clusters(con, [a["id"] for a in ordered[i:i + 4]])
                       for i in range(0, len(ordered), 4))
        con.execute("COMMIT")
        assert assigned == len(articles)
        assert assign_clusters(con, [a["id"] for a in articles]) == 0  # idempotent

        cluster = dict(con.execute("SELECT article_id, cluster_id FROM articles").fetchall())
        for p in pairs:
            same = cluster[p["a"]] == cluster[p["b"]]
            assert same == (p["label"] != "different"), p

        events = {a["event"] for a in articles}
        assert len(set(cluster.values())) == len(events)

        row = con.execute(
            "SELECT first_outlet, first_article_id, size, n_outlets, outlets, countries, languages"
            " FROM stories WHERE cluster_id = ?", [cluster["gas-xinhua-en"]]).fetchone()
        assert row[0] == "Xinhua" and row[1] == "gas-xinhua-zh"  # the Chinese wire was first
        assert row[2] == 7 and row[3] == 6
        assert row[4] == sorted(["Xinhua", "CGTN", "South China Morning Post", "TASS",
                                 "Regional Paper", "RIA Novosti"])
        assert row[5] == ["CN", "HK", "RU"] and row[6] == ["en", "ru", "zh"]

        followers = con.execute(
            "SELECT outlet, position, hours_after_first, match_kind FROM story_articles"
            " WHERE cluster_id = ? ORDER BY position", [cluster["fish-kyodo-en"]]).fetchall()
        assert followers[0][:2] == ("Kyodo News", 1) and followers[0][2] == 0
        assert followers[0][3] == "founder"
        assert {f[3] for f in followers[1:]} <= {"reprint", "event"}
        assert [f[2] for f in followers] == sorted(f[2] for f in followers)


def test_same_text_a_week_later_starts_a_new_story(settings: Settings, labelled) -> None:
    articles, _ = labelled
    fish = [a for a in articles if a["id"] == "fish-kyodo-en"]
    later = [dict(fish[0], id="fish-reuters-en")]
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        store(con, fish)
        store(con, later, shift=timedelta(days=7))
        assign_clusters(con, ["fish-kyodo-en"])
        assign_clusters(con, ["fish-reuters-en"])
        con.execute("COMMIT")
        ids = dict(con.execute("SELECT article_id, cluster_id FROM articles").fetchall())
    assert ids["fish-kyodo-en"] != ids["fish-reuters-en"]


def test_outlet_suffix_of_search_feed_titles_is_ignored() -> None:
    lead = "Japan and Russia agreed on a 2,050 tonne salmon quota near the southern Kurils."
    plain = features("a", "Japan, Russia agree on salmon quota", lead, "en", datetime(2026, 11, 26))
    tagged = features("b", "Japan, Russia agree on salmon quota - The Japan Times", lead, "en",
                      datetime(2026, 11, 26))
    assert match(plain, tagged) == ("reprint", 1.0)


def test_minhash_estimates_jaccard_without_bias() -> None:
    """Regression: an affine hash over crc32 made one shared shingle look like 80% overlap."""
    import random

    import numpy as np

    from monitor.stories.clusters import _minhash, _shingles

    rng = random.Random(3)
    errors = []
    for _ in range(200):
        base = [f"w{rng.randrange(10**6)}" for _ in range(80)]
        keep = rng.randrange(0, 80)
        other = base[:keep] + [f"x{rng.randrange(10**6)}" for _ in range(80 - keep)]
        a, b = _shingles(base), _shingles(other)
        true = len(a & b) / len(a | b)
        estimate = float(np.count_nonzero(_minhash(a) == _minhash(b))) / 64
        errors.append(estimate - true)
    assert abs(sum(errors) / len(errors)) < 0.02
    assert max(abs(e) for e in errors) < 0.25


@BOTH_WAYS
def test_sketches_are_stored_and_refreshed_when_the_text_changes(
        settings: Settings, labelled, monkeypatch: pytest.MonkeyPatch,
        register_from: int | None) -> None:
    _batches_as(monkeypatch, register_from)
    articles, _ = labelled
    two = [a for a in articles if a["id"] in ("fish-kyodo-en", "fish-japantimes-en")]
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        store(con, two[:1])
        assign_clusters(con, ["fish-kyodo-en"])
        first = con.execute("SELECT text_hash FROM article_sketches WHERE article_id = 'fish-kyodo-en'").fetchone()
        con.execute("UPDATE articles SET body = 'Completely different text about gas.' WHERE article_id = 'fish-kyodo-en'")
        store(con, two[1:])
        assign_clusters(con, ["fish-japantimes-en"])
        con.execute("COMMIT")
        rows = dict(con.execute("SELECT article_id, text_hash FROM article_sketches").fetchall())
    assert set(rows) == {"fish-kyodo-en", "fish-japantimes-en"}
    assert rows["fish-kyodo-en"] != first[0]  # re-sketched from the new text


# ------------------------------------------------------------------ sketches before the store

SKETCH_COLUMNS = ["article_id", "version", "text_hash", "minhash", "terms", "anchors", "countries",
                  "anticipates", "reacts"]


def _as_input(a: dict, variant: int) -> dict:
    """A labelled article as the fetch worker holds it: the text in body or summary.

    The lead is coalesce(body, summary, ''): a body wins over a summary, even an empty one.
    """
    body, summary = [(None, a["text"]), (a["text"], "A summary the lead must not use."),
                     ("", a["text"])][variant % 3]
    return {"article_id": a["id"], "title": a["title"], "summary": summary, "body": body,
            "language": a["language"], "published_at": a["at"].isoformat(),
            "first_seen_at": a["at"]}


def _store_inputs(con, inputs: list[dict]) -> None:
    for a in inputs:
        con.execute(
            "INSERT INTO articles (article_id, entry_key, title, summary, body, language,"
            " published_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [a["article_id"], a["article_id"], a["title"], a["summary"], a["body"],
             a["language"], a["published_at"], a["first_seen_at"]])


def _cluster_and_read(con, ids: list[str]) -> tuple[list[tuple], dict[str, tuple]]:
    for i in range(0, len(ids), 5):
        assign_clusters(con, ids[i:i + 5])
    members = con.execute(
        "SELECT article_id, cluster_id, matched_article_id, match_kind, score"
        " FROM cluster_members ORDER BY article_id").fetchall()
    sketches = {r[0]: r for r in con.execute(
        f"SELECT {', '.join(SKETCH_COLUMNS)} FROM article_sketches").fetchall()}
    return members, sketches


def test_sketch_rows_are_what_assign_clusters_would_store(settings: Settings, labelled) -> None:
    """Pre-sketched rows are accepted as they are (nothing recomputed): same clusters."""
    from monitor.stories import clusters

    articles, _ = labelled
    ordered = sorted(articles, key=lambda a: a["at"])
    inputs = [_as_input(a, i) for i, a in enumerate(ordered)]
    inputs.append({"article_id": "empty-none-xx", "title": None, "summary": None, "body": None,
                   "language": None, "published_at": None, "first_seen_at": ordered[-1]["at"]})
    ids = [a["article_id"] for a in inputs]

    rows = clusters.sketch_rows(inputs)
    assert [r["article_id"] for r in rows] == ids
    assert all(list(r) == SKETCH_COLUMNS for r in rows)

    with warehouse.writer(settings, publish=False) as con:  # sketched by assign_clusters
        con.execute("BEGIN")
        _store_inputs(con, inputs)
        plain_members, plain_sketches = _cluster_and_read(con, ids)
        con.execute("ROLLBACK")

    for row in rows:  # the very rows assign_clusters stores, the terms JSON aside
        stored = dict(zip(SKETCH_COLUMNS, plain_sketches[row["article_id"]], strict=True))
        assert json.loads(stored.pop("terms")) == json.loads(row["terms"])
        assert stored == {k: v for k, v in row.items() if k != "terms"}

    def no_recompute(*args, **kwargs):
        raise AssertionError(f"sketch recomputed for {args[0]}")

    with warehouse.writer(settings, publish=False) as con, pytest.MonkeyPatch.context() as mp:
        con.execute("BEGIN")
        _store_inputs(con, inputs)
        con.executemany(
            f"INSERT INTO article_sketches ({', '.join(SKETCH_COLUMNS)})"
            " VALUES (?, ?, ?, ?::UBIGINT[], ?::JSON, ?::VARCHAR[], ?::VARCHAR[], ?, ?)",
            [[r[c] for c in SKETCH_COLUMNS] for r in rows])
        before = con.execute("SELECT * FROM article_sketches ORDER BY article_id").fetchall()
        mp.setattr(clusters, "features", no_recompute)
        members, _ = _cluster_and_read(con, ids)
        after = con.execute("SELECT * FROM article_sketches ORDER BY article_id").fetchall()
        con.execute("COMMIT")

    assert after == before
    assert members == plain_members


def test_a_sketch_keeps_its_modality_and_one_made_before_it_did_clusters_the_same(
        settings: Settings, labelled) -> None:
    """Clustering reads the stored modality (no regexes over title and lead again); a sketch
    stored before migration 0092 (modality NULL) has it computed, with the same result."""
    from monitor.stories import assign, clusters

    articles, _ = labelled
    inputs = [_as_input(a, i) for i, a in enumerate(sorted(articles, key=lambda a: a["at"]))]
    ids = [a["article_id"] for a in inputs]
    rows = clusters.sketch_rows(inputs)
    assert any(r["anticipates"] for r in rows) and any(r["reacts"] for r in rows)
    computed: list[str] = []
    modality_of = assign.modality_of

    def counted(title, text):
        computed.append(title)
        return modality_of(title, text)

    results = []
    for kept in (True, False):
        with warehouse.writer(settings, publish=False) as con, \
                pytest.MonkeyPatch.context() as mp:
            mp.setattr(assign, "modality_of", counted)
            con.execute("BEGIN")
            _store_inputs(con, inputs)
            con.executemany(
                f"INSERT INTO article_sketches ({', '.join(SKETCH_COLUMNS)})"
                " VALUES (?, ?, ?, ?::UBIGINT[], ?::JSON, ?::VARCHAR[], ?::VARCHAR[], ?, ?)",
                [[r[c] if kept or c not in ("anticipates", "reacts") else None
                  for c in SKETCH_COLUMNS] for r in rows])
            computed.clear()
            members, _ = _cluster_and_read(con, ids)
            results.append((members, len(computed)))
            con.execute("ROLLBACK")
    (with_modality, computed_then), (without, computed_now) = results
    assert computed_then == 0 and computed_now >= len(rows)
    assert with_modality == without


# ------------------------------------------------------------------------ equivalences


def test_day_number_shortcut_misses_no_case_variant() -> None:
    """The lowered-text hint stands for the IGNORECASE pattern for every letter it uses."""
    import re

    from monitor.stories.clusters import _DAY_HINT, _FOLD_VARIANTS

    letters = {ch.lower() for ch in _DAY_HINT.pattern if ch.isalpha()}
    any_letter = re.compile("[" + "".join(sorted(letters)) + "]", re.IGNORECASE)
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for ch in set(any_letter.findall(everything)):
        for letter in letters:
            if re.fullmatch(letter, ch, re.IGNORECASE):
                assert ch in _FOLD_VARIANTS or ch.lower() == letter, (ch, letter)


def test_numbers_with_and_without_the_shortcut_agree() -> None:
    import random

    from monitor.stories.clusters import _numbers

    pieces = ["26", "5", "123", "1,234", "2,050.5", "2025", " ", "\n", "\u00a0", "日", "号",
              "Nov.", "NOV", "November", "\u017fep", "Sept", "ноября", "НОЯБРЯ", "мая",
              "\u0130", "x", ".", ",", "January", "decision", "may", "7", "08"]
    rng = random.Random(5)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        assert _numbers(text, text.lower()) == _numbers(text), text


def test_pool_finds_what_matching_every_pair_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reprint index (pigeonhole slots, twins) and anchor index lose no candidate
    (with the per-article bound on scored pairs lifted: it is what keeps cost flat)."""
    import random

    from monitor.stories import pairs
    from monitor.stories.clusters import Pool, idf_of

    monkeypatch.setattr(pairs, "_MAX_PAIRS", 1_000_000)

    rng = random.Random(11)
    vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9)))
             for _ in range(3000)]
    names = ["Putin", "Kurils", "salmon", "Gazprom", "Lavrov", "Beijing"]
    base = datetime(2026, 11, 26)

    def article(i: int, like: dict | None) -> dict:
        if like is not None and rng.random() < 0.4:  # a verbatim copy, up to 4 days later
            return dict(like, id=f"a{i}", at=like["at"] + timedelta(hours=rng.randint(0, 96)))
        words = list(like["words"]) if like else rng.choices(vocab, k=30)
        for _ in range(rng.randint(0, 20) if like else 0):  # an edited copy
            words[rng.randrange(len(words))] = rng.choice(vocab[:40])
        extra = rng.sample(names, 2) + [str(rng.randint(10, 99))]
        return {"id": f"a{i}", "words": words, "extra": extra,
                "at": base + timedelta(hours=rng.randint(0, 120)),
                "language": rng.choice(["en", "en", "ru"])}

    made: list[dict] = []
    for i in range(400):
        made.append(article(i, rng.choice(made) if made and rng.random() < 0.6 else None))
    feats = [features(a["id"], " ".join(a["words"][:6]), " ".join(a["words"] + a["extra"]),
                      a["language"], a["at"]) for a in made]
    idf = idf_of(feats)
    rank = {"reprint": 2, "event": 1}
    for f in feats:  # each its own story: the story check is then the pair itself
        f.cluster_id = f.article_id
    pool = Pool(feats[:150], capacity=len(feats))
    kinds = set()
    for new in feats[150:]:
        expected = None
        for other in pool.items:
            found = match(new, other, idf) if other.article_id != new.article_id else None
            if found and (expected is None or (rank[found[0]], found[1]) >
                          (rank[expected[1]], expected[2])):
                expected = (other, *found)
        got = pool.best_match(new, idf)
        assert (got and (got[0].article_id, got[1], got[2])) == \
            (expected and (expected[0].article_id, expected[1], expected[2]))
        kinds.add(got[1] if got else None)
        pool.add(new)
    assert kinds == {"reprint", "event", None}, kinds


def test_pool_reprint_index_is_exact() -> None:
    """Every row agreeing in enough MinHash slots is found, even when only the last
    slots agree (the pigeonhole bound), and no other row is."""
    import numpy as np

    from monitor.stories.clusters import NUM_PERM, REPRINT_JACCARD, Features, Pool

    rng = np.random.default_rng(3)
    signatures = list(rng.integers(0, 1 << 63, size=(40, NUM_PERM), dtype=np.uint64))
    for _ in range(300):
        source = signatures[int(rng.integers(len(signatures)))]
        copy = rng.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)
        agree = int(rng.integers(NUM_PERM - 40, NUM_PERM + 1))
        slots = (np.arange(NUM_PERM - agree, NUM_PERM) if rng.random() < 0.5
                 else rng.choice(NUM_PERM, size=agree, replace=False))
        copy[slots] = source[slots]
        signatures.append(copy)
    items = [Features(article_id=f"s{i}", at=None, language=None, minhash=sig)
             for i, sig in enumerate(signatures)]
    pool = Pool(items[:120], capacity=len(items))
    for item in items[120:]:
        pool.add(item)
    everything = np.array(signatures)
    for query in signatures[::3]:
        equal = (everything == query).sum(axis=1)
        expected = {i: int(e) for i, e in enumerate(equal) if e / NUM_PERM >= REPRINT_JACCARD}
        assert pool.reprints(query) == expected
