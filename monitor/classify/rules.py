"""Interpretable evidence: who deals with whom, sentence by sentence, and what about.

The labelling conventions say a dyad needs *dealings* between the two countries, not just both
names in one story, and a topic needs about two sentences or to be the reason the story
exists. So everything here counts **sentences**:

* a dyad sentence names actors of both countries (countries, capitals, leaders, ministries,
  armed forces, state companies, in four languages); it counts fully when it also holds an
  interaction cue (talks, protest, sanctions, drills, deal …) and extra when the two actors
  stand side by side ("Russia–Japan", "Moscow and Beijing"); the headline counts double;
* a topic sentence holds one of the topic's terms and none of its exclusion cues (a Kuril
  earthquake is not the Kuril dispute; UN sanctions on North Korea are not sanctions on
  Russia); generic words count half.

:func:`analyse` turns one article into an :class:`Analysis` (sentences, hits, features);
:func:`rule_scores` turns the features into one evidence score per label, with thresholds in
:data:`RULE_THRESHOLDS`. The learned model (``model.py``) takes the same features as input.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np

from monitor.classify.lexicon import Lexicon, Match
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS

__all__ = [
    "MAX_CHARS",
    "Analysis",
    "prepare_text",
    "split_sentences",
    "analyse",
    "rule_scores",
    "rule_score_matrix",
    "RULE_THRESHOLDS",
    "FEATURE_NAMES",
    "sport_veto",
]

#: Only the start of a very long text is analysed: news puts the story first, and a 5 MB page
#: must not stall a batch. 12,000 characters is several times a typical article.
MAX_CHARS = 12_000
#: Tokens between two actors' mentions for them to count as a pair ("Russia-Japan",
#: "Moscow and Tokyo", "Chinese and Russian warships").
PAIR_TOKENS = 4
ACTORS = ("russia", "japan", "china", "north_korea")
DYAD_ACTORS = {"russia_japan": ("russia", "japan"), "russia_china": ("russia", "china")}
NEGATIVE_KINDS = ("sports", "disaster", "elsewhere", "source")

#: Sentences at the start of the body that make the lead.
LEAD_SENTENCES = 3

_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]{0,500}>", re.S | re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]+")
#: Only runs that need changing (a lone ASCII space is left alone: matching every space
#: made this the slowest step of text preparation).
_SPACES = re.compile(r"[ \t\u00a0\u3000]{2,}|[\t\u00a0\u3000]")
#: Wire datelines ("MOSCOW, March 3 (Sputnik) -", "TOKYO (Reuters) --") say where a story
#: was filed, not who acts in it; they are cut before matching.
_DATELINE = re.compile(r"^[A-Z]{3}[A-Z .'\-]{0,28}(?:,[^\n(]{0,30}?)?\s*(?:\([^)\n]{1,40}\)\s*)?"
                       r"(?:--|[-\u2013\u2014])\s+")
_SENTENCE_END = re.compile(r"([.!?…][\"'”’»)]*)\s+|([。！？])|\n+")

#: A topic term in the headline: "the reason the story exists", enough on its own (2.0) for a
#: feed summary of one sentence.
TITLE_TOPIC = 2.0
#: Share of the gap to the strongest topic deducted from a weaker topic's score.
SECONDARY_PENALTY = 0.4
#: Evidence needed for a label, in the units of :func:`rule_scores`.
RULE_THRESHOLDS: dict[str, float] = {
    "russia_japan": 2.0,
    "russia_china": 2.0,
    **{t: 2.0 for t in TOPIC_IDS},
}


def prepare_text(text: object, limit: int = MAX_CHARS) -> str:
    """Plain text from whatever we were given: HTML tags and entities removed, control and
    binary junk dropped, whitespace normalised, cut to ``limit`` characters."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[: limit * 4]
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    # Each substitution only where it can match (most text is printable and single-spaced;
    # a scan for a character is far cheaper than a regular expression over the text).
    if not text.isprintable() or "\ufffd" in text:
        text = _CONTROL.sub(" ", text)
    if "  " in text or "\t" in text or "\u00a0" in text or "\u3000" in text:
        text = _SPACES.sub(" ", text)
    return text[:limit].strip()


def _cut_dateline(body: str) -> str:
    """``body`` without a wire dateline at its start (the only place one can match)."""
    m = _DATELINE.match(body)
    return body[m.end():] if m else body


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``; good enough for news prose in the
    four languages (a wrong split on "U.S." merely splits one sentence in two)."""
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group(1) is not None:
            end = match.end(1)
        elif match.group(2) is not None:
            end = match.end(2)
        else:
            end = match.start()
        if end > start:
            spans.append((start, end))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped: ``[text[s:e].strip() for s, e in
    split_sentences(text)]`` by one ``re.split`` instead of a Python loop over the matches.

    ``split`` yields each sentence's text followed by the two groups of the match that ends
    it: the final punctuation (kept with the sentence) or ``None``; a bare line break adds
    nothing. A split leaving only blanks is dropped, as :func:`split_sentences` drops it.
    """
    parts = _SENTENCE_END.split(text)
    found = [chunk + (stop or cjk_stop or "")
             for chunk, stop, cjk_stop in zip(parts[:-1:3], parts[1::3], parts[2::3],
                                              strict=True)]
    found.append(parts[-1])
    return [s for s in map(str.strip, found) if s]


@dataclass
class Analysis:
    """One article seen through the lexicon. Sentence 0 is the title when there is one."""

    sentences: list[str]
    has_title: bool
    #: category -> {sentence index -> first matched term}
    hits: dict[str, dict[int, str]] = field(default_factory=dict)
    #: (sentence index) of sentences with two actors of a dyad close together, per dyad
    pairs: dict[str, set[int]] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)

    def sentence_set(self, category: str) -> set[int]:
        return set(self.hits.get(category, ()))


def analyse(lexicon: Lexicon, title: str, text: str) -> Analysis:
    """Sentences, per-category hits and the numeric features of one article."""
    title = prepare_text(title, 500)
    body = _cut_dateline(prepare_text(text))
    body_sentences = _sentences(body)
    # Pages often repeat the headline as the first line of the text; count it once.
    if title and body_sentences and _same_line(body_sentences[0], title):
        body_sentences = body_sentences[1:]
    sentences = ([title] if title else []) + body_sentences
    result = Analysis(sentences=sentences, has_title=bool(title))
    body_first = 1 if title else 0

    matches = lexicon.match(sentences)
    hits: dict[str, dict[int, str]] = {}
    for cat, found in matches.items():
        sub: dict[int, str] = {}
        for si, _ti, _length, term in found:
            if si not in sub:
                sub[si] = term
        hits[cat] = sub
    actor_tokens = _actor_tokens(matches, hits) if not _ACTOR_CATEGORIES.isdisjoint(matches) \
        else {}
    if not _EXCLUDE_CATEGORIES.isdisjoint(hits):
        _exclude(hits)
    result.hits = hits

    result.features = _features(result, actor_tokens, bool(title), body_first)
    return result


def _actor_tokens(matches: dict[str, list[Match]],
                  hits: dict[str, dict[int, str]]) -> dict[str, list[tuple[int, int, str]]]:
    """Actor mentions, minus those inside a mask ("South China Sea" is not China acting);
    ``hits`` of a masked actor are narrowed to the sentences left."""
    actor_tokens: dict[str, list[tuple[int, int, str]]] = {}
    for actor, category, mask_category in _ACTOR_MATCH_SPECS:
        found = matches.get(category)
        if not found:
            continue
        masks = matches.get(mask_category)
        if masks:
            masked = {(si, ti + k) for si, ti, length, _ in masks if ti >= 0
                      for k in range(length)}
            cjk_masks: dict[int, list[str]] = {}
            for si, ti, _length, term in masks:
                if ti < 0:
                    cjk_masks.setdefault(si, []).append(term)
            found = [m for m in found
                     if not ((m[0], m[1]) in masked
                             or (m[1] < 0 and any(m[3] in t for t in cjk_masks.get(m[0], ()))))]
            sub: dict[int, str] = {}
            for si, _ti, _length, term in found:
                sub.setdefault(si, term)
            hits[category] = sub
        actor_tokens[actor] = [(si, ti, term) for si, ti, _length, term in found]
    return actor_tokens


def _exclude(hits: dict[str, dict[int, str]]) -> None:
    """Drop topic sentences that hold one of the topic's exclusion cues."""
    for exclude_category, categories in _EXCLUDE_SPECS:
        excluded = hits.get(exclude_category, {})
        for key in categories:
            if key in hits and excluded:
                hits[key] = {i: w for i, w in hits[key].items() if i not in excluded}


def _features(result: Analysis, actor_tokens: dict[str, list[tuple[int, int, str]]],
              has_title: bool, body_first: int) -> dict[str, float]:
    """The numeric features of an analysed article, in :data:`FEATURE_NAMES` order.

    Every feature of an actor, dyad or topic without a single hit is 0.0 (counts of empty
    sets, 0 / n shares), so those start from :data:`_ZERO_FEATURES` and only categories with
    hits are computed: most articles name no actor and no topic term at all, and the loops
    over every category used to cost more than matching the text.
    """
    f = dict(_ZERO_FEATURES)
    hits = result.hits
    n = len(result.sentences)
    f["n_sentences"] = float(n)
    any_dyad: set[int] = set()
    if _ACTOR_CATEGORIES.isdisjoint(hits):  # no country named: no pair, no dyad feature
        result.pairs.update((dyad, set()) for dyad in DYAD_ACTORS)
    else:
        any_dyad = _actor_features(f, result, actor_tokens, has_title, body_first, n)
    for category, key in _NEGATIVE_SPECS:
        found = hits.get(category)
        if found:
            f[key] = float(len(found))
    if not _TOPIC_CATEGORIES.isdisjoint(hits):
        _topic_features(f, hits, any_dyad, has_title, n)
    return f


def _actor_features(f: dict[str, float], result: Analysis,
                    actor_tokens: dict[str, list[tuple[int, int, str]]], has_title: bool,
                    body_first: int, n: int) -> set[int]:
    """Actor and dyad features; returns the sentences naming an actor of either dyad."""
    hits = result.hits
    actor_sets: dict[str, set[int]] = {}
    for a, category, (k_sents, k_title, k_mentions) in _ACTOR_SPECS:
        found = hits.get(category)
        s = set(found) if found else set()
        actor_sets[a] = s
        if s:
            f[k_sents] = float(len(s))
            f[k_title] = float(has_title and 0 in s)
        if actor_tokens.get(a):
            f[k_mentions] = float(len(actor_tokens[a]))
    inter = set(hits.get("interaction", ()))
    lead = set(range(body_first, body_first + LEAD_SENTENCES))
    any_dyad: set[int] = set()
    for dyad, (a, b) in DYAD_ACTORS.items():
        sa, sb = actor_sets[a], actor_sets[b]
        result.pairs[dyad] = _pairs(actor_tokens.get(a, []), actor_tokens.get(b, []))
        if sa or sb:
            any_dyad |= sa | sb
            _dyad_features(f, dyad, sa, sb, inter, lead, result.pairs[dyad], has_title, n)
    return any_dyad


def _topic_features(f: dict[str, float], hits: dict[str, dict[int, str]], any_dyad: set[int],
                    has_title: bool, n: int) -> None:
    """Features of the topics with strong or weak sentences (the others stay 0.0)."""
    strong_sets = {t: set(found) for t, category, _w, _k in _TOPIC_SPECS
                   if (found := hits.get(category))}
    top = max(map(len, strong_sets.values()), default=0) or 1
    for t, _s, weak_category, keys in _TOPIC_SPECS:
        strong = strong_sets.get(t)
        weak_hits = hits.get(weak_category)
        if strong or weak_hits:
            strong = strong or set()
            weak = set(weak_hits) - strong if weak_hits else set()
            k_strong, k_weak, k_title, k_actor, k_share, k_rel = keys
            f[k_strong] = float(len(strong))
            f[k_weak] = float(len(weak))
            f[k_title] = float(has_title and 0 in strong)
            f[k_actor] = float(len(strong & any_dyad))
            f[k_share] = len(strong) / n if n else 0.0
            f[k_rel] = len(strong) / top


def _dyad_features(f: dict[str, float], dyad: str, sa: set[int], sb: set[int], inter: set[int],
                   lead: set[int], pairs: set[int], has_title: bool, n: int) -> None:
    """The features of one dyad of which at least one country is named."""
    co = sa & sb
    f[f"{dyad}_co"] = float(len(co))
    f[f"{dyad}_co_int"] = float(len(co & inter))
    f[f"{dyad}_pairs"] = float(len(pairs))
    f[f"{dyad}_title"] = float(has_title and 0 in co)
    f[f"{dyad}_title_one"] = float(has_title and (0 in sa or 0 in sb))
    f[f"{dyad}_lead"] = float(len(co & lead))
    f[f"{dyad}_min_sents"] = float(min(len(sa), len(sb)))
    f[f"{dyad}_co_share"] = len(co) / n if n else 0.0
    # Neighbouring sentences: "Vostok kicked off in Russia. China sent troops to it."
    near = {i for i in sa if (i + 1) in sb or (i - 1) in sb}
    f[f"{dyad}_near"] = float(len(near - co))


def _same_line(first: str, title: str) -> bool:
    a, b = first.casefold().strip(" .:"), title.casefold().strip(" .:")
    return bool(b) and (a == b or (len(b) > 20 and a.startswith(b)))


def _pairs(a: list[tuple[int, int, str]], b: list[tuple[int, int, str]]) -> set[int]:
    """Sentences where the two actors stand within PAIR_TOKENS tokens of each other, or one
    Japanese/Chinese compound names both (日露, 中俄)."""
    found: set[int] = set()
    if not a or not b:
        return found
    by_sentence: dict[int, list[tuple[int, str]]] = {}
    for s, t, text in b:
        by_sentence.setdefault(s, []).append((t, text))
    for s, t, text in a:
        for t2, text2 in by_sentence.get(s, ()):
            if (t >= 0 and t2 >= 0 and abs(t - t2) <= PAIR_TOKENS) or (t < 0 and text == text2):
                found.add(s)
                break
    return found


#: A story is a sports story when its headline holds a sports cue and so does another
#: sentence (or it has at most SPORT_SHORT sentences), or when this share of all its
#: sentences hold one. (Two stories run together, drills and a volleyball match, are not.)
SPORT_SHARE = 0.5
SPORT_SHORT = 3


#: Terms of these topics are specific enough to Russia's dealings in Asia that a text naming
#: one is worth a closer look even without a second country (Kurils, Power of Siberia…).
SPECIFIC_TOPICS = ("kurils", "eaeu_bri", "energy", "military", "sanctions")


def possibly_relevant(result: Analysis) -> bool:
    """Might this text concern Russia with Japan or China? Errs towards yes: Russia plus
    Japan or China anywhere, the Kurils alone, or Russia plus a specific topic term.

    The recall-oriented gate before the work only such articles need: fetching the full
    page (:func:`monitor.classify.is_candidate`) and story clustering (``articles.candidate``).
    """
    f = result.features
    russia = f["russia_sentences"] > 0
    if russia and (f["japan_sentences"] > 0 or f["china_sentences"] > 0):
        return True
    if f["kurils_strong"] > 0:
        return True
    return russia and any(f[f"{t}_strong"] > 0 for t in SPECIFIC_TOPICS)


def sport_veto(result: Analysis) -> str | None:
    """Why a story is sport, not relations news, or None.

    A match between national teams (a Japan–Russia volleyball game, a Russian team at the
    Beijing Olympics) names both countries and often "meets", "beats", "talks" — the dyad
    evidence looks strong. It is not relations news unless it is about the relations (a ban,
    a boycott, visas, a diplomatic protest): the ``sports_relations`` cues of topics.toml.
    """
    sport = result.hits.get("neg:sports")
    if not sport or result.hits.get("neg:sports_relations"):
        return None
    n = len(result.sentences)
    in_title = result.has_title and 0 in sport
    if (in_title and (len(sport) >= 2 or n <= SPORT_SHORT)) or len(sport) / n >= SPORT_SHARE:
        first = min(sport)
        return f"[{sport[first]}] {result.sentences[first][:200]}"
    return None


def rule_scores(f: dict[str, float]) -> dict[str, float]:
    """Evidence per label in "sentence units"; compare with :data:`RULE_THRESHOLDS`.

    Dyads: an interacting sentence 1, a co-mention without interaction 0.5, a side-by-side
    pair +0.5, the headline +1.5; stories dominated by sports or disaster cues lose points.
    Topics: strong sentences 1, weak ones 0.25, the headline +TITLE_TOPIC, sentences that
    also name a dyad actor +0.25, minus SECONDARY_PENALTY of the gap to the main topic.
    """
    scores: dict[str, float] = {}
    penalty = 0.9 * min(f.get("neg_sports", 0.0), 6) + 0.75 * min(f.get("neg_disaster", 0.0), 4)
    for dyad in DYAD_IDS:
        co, co_int = f[f"{dyad}_co"], f[f"{dyad}_co_int"]
        s = co_int + 0.5 * (co - co_int) + 0.5 * min(f[f"{dyad}_pairs"], 3)
        s += 1.5 * f[f"{dyad}_title"] + 0.5 * f[f"{dyad}_lead"]
        s += 0.25 * min(f[f"{dyad}_near"], 4)
        scores[dyad] = s - penalty
    topic = {}
    for t in TOPIC_IDS:
        s = f[f"{t}_strong"] + 0.25 * min(f[f"{t}_weak"], 4) + TITLE_TOPIC * f[f"{t}_title"]
        s += 0.25 * min(f[f"{t}_with_actor"], 4)
        topic[t] = s
    # Most stories are about one thing: a secondary topic must hold its own against the main
    # one (SECONDARY_PENALTY of the gap is deducted), so background clauses add no topic.
    top = max(topic.values())
    for t, s in topic.items():
        scores[t] = s - SECONDARY_PENALTY * (top - s)
    return scores


def rule_score_matrix(x: np.ndarray) -> np.ndarray:
    """:func:`rule_scores` for a batch: ``x`` holds raw features (rows of articles, columns in
    :data:`FEATURE_NAMES` order); the result has one column per label, dyads then topics.

    The same arithmetic in the same order on float64 columns, so every score equals the one
    :func:`rule_scores` gives bit for bit (tests/classify/test_speed.py checks it), at the cost
    of a few array operations per batch instead of ~60 dictionary operations per article.
    """
    col = {name: x[:, i] for i, name in enumerate(FEATURE_NAMES)}
    penalty = (0.9 * np.minimum(col["neg_sports"], 6)
               + 0.75 * np.minimum(col["neg_disaster"], 4))
    out = np.empty((x.shape[0], len(DYAD_IDS) + len(TOPIC_IDS)))
    for j, dyad in enumerate(DYAD_IDS):
        co, co_int = col[f"{dyad}_co"], col[f"{dyad}_co_int"]
        s = co_int + 0.5 * (co - co_int) + 0.5 * np.minimum(col[f"{dyad}_pairs"], 3)
        s += 1.5 * col[f"{dyad}_title"] + 0.5 * col[f"{dyad}_lead"]
        s += 0.25 * np.minimum(col[f"{dyad}_near"], 4)
        out[:, j] = s - penalty
    topic = np.empty((x.shape[0], len(TOPIC_IDS)))
    for j, t in enumerate(TOPIC_IDS):
        s = (col[f"{t}_strong"] + 0.25 * np.minimum(col[f"{t}_weak"], 4)
             + TITLE_TOPIC * col[f"{t}_title"])
        s += 0.25 * np.minimum(col[f"{t}_with_actor"], 4)
        topic[:, j] = s
    top = topic.max(axis=1, keepdims=True)
    out[:, len(DYAD_IDS):] = topic - SECONDARY_PENALTY * (top - topic)
    return out


def _feature_names() -> list[str]:
    names = ["n_sentences"]
    for a in ("russia", "japan", "china", "north_korea"):
        names += [f"{a}_sentences", f"{a}_title", f"{a}_mentions"]
    for d in DYAD_IDS:
        names += [f"{d}_{k}" for k in ("co", "co_int", "pairs", "title", "title_one", "lead",
                                       "min_sents", "co_share", "near")]
    names += [f"neg_{k}" for k in ("sports", "disaster", "elsewhere", "source")]
    for t in TOPIC_IDS:
        names += [f"{t}_{k}" for k in ("strong", "weak", "title", "with_actor", "share", "rel")]
    return names


#: The order of features in the model's input vector (fixed so saved models stay readable).
FEATURE_NAMES: list[str] = _feature_names()
#: An article without a single hit; :func:`_features` fills in the rest.
_ZERO_FEATURES: dict[str, float] = dict.fromkeys(FEATURE_NAMES, 0.0)
#: (actor, its hit category, its feature names) and the like, so no key is built per article.
_ACTOR_SPECS = [(a, f"actor:{a}", (f"{a}_sentences", f"{a}_title", f"{a}_mentions"))
                for a in ACTORS]
_NEGATIVE_SPECS = [(f"neg:{k}", f"neg_{k}") for k in NEGATIVE_KINDS]
_ACTOR_MATCH_SPECS = [(a, f"actor:{a}", f"mask:{a}") for a in ACTORS]
_ACTOR_CATEGORIES = frozenset(f"actor:{a}" for a in ACTORS)
_EXCLUDE_SPECS = [(f"exclude:{t}", (f"topic:{t}", f"weak:{t}")) for t in TOPIC_IDS]
_EXCLUDE_CATEGORIES = frozenset(f"exclude:{t}" for t in TOPIC_IDS)
_TOPIC_CATEGORIES = frozenset(c for t in TOPIC_IDS for c in (f"topic:{t}", f"weak:{t}"))
_TOPIC_SPECS = [(t, f"topic:{t}", f"weak:{t}",
                 tuple(f"{t}_{k}" for k in ("strong", "weak", "title", "with_actor", "share",
                                            "rel"))) for t in TOPIC_IDS]
