"""What story clustering compares: the features of one article.

:func:`features` reads the title and lead (``LEAD_CHARS``) once and keeps:

* a MinHash signature (64 permutations, vectorised with numpy) over 3-shingles of words,
  and for CJK text of overlapping character bigrams: the ``reprint`` rule;
* content terms for TF-IDF (stems; Cyrillic and katakana words as transliterated sound
  keys, CJK as simplified-character bigrams: see :mod:`monitor.stories.script`);
* anchors: lexicon names (:mod:`monitor.stories.lexicon`), numbers as values and calendar
  dates, which carry across scripts; and the countries named (a gate, not an anchor).

The pair decision is in :mod:`monitor.stories.pairs`, the warehouse side in
:mod:`monitor.stories.assign`. Cost: per-token caches, and gazetteer and date scans skipped
when they cannot find anything.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from monitor.stories.lexicon import COUNTRIES, ENTITIES, EXCLUDES
from monitor.stories.modality import HEAD_CHARS, markers
from monitor.stories.names import _vetoed
from monitor.stories.script import date_anchors, fold_han, katakana_runs, number_values, sound_key

log = logging.getLogger(__name__)

#: How far back (and forward) new articles are compared. Cost grows with this window.
WINDOW_DAYS = 3
#: Rewrites and cross-language matches must be this close in time.
REWRITE_HOURS = 36
#: MinHash Jaccard (3-shingles of title + lead) above which two articles are one text.
REPRINT_JACCARD = 0.45
#: TF-IDF cosine of content terms for same-language rewrites.
REWRITE_COSINE = 0.30
#: Cross-language: shared specific anchors needed, and their overlap coefficient.
CROSSLANG_MIN_SHARED = 3
CROSSLANG_OVERLAP = 0.5
#: Title + this many characters of the body/summary make the "lead" we compare.
LEAD_CHARS = 800
NUM_PERM = 64
#: Upper bound on window articles read per call, as a guard against a flood.
MAX_CANDIDATES = 50_000

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[^\W\d_{_CJK}]+|[{_CJK}]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z]+")  # _WORD on lowered ASCII text
_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d{3})*(?:[.,]\d+)?")

#: Function words of en/ru (CJK uses bigrams, where they matter less).
_STOPWORDS = frozenset("""
a an the and or but of to in on at for from by with as is are was were be been has have had
it its this that these those he she they we you his her their our not no will would can
could may might said says say also after before over under about into than then there here
new more most other such up out what which who whom when where while per via amid
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее
мне было вот от меня еще нет о из ему теперь когда даже ну ли если уже или ни быть был него
до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для
мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того
потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем
всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про
всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том
нельзя такой им более всегда конечно всю между также заявил сообщил году года
""".split())  # noqa: SIM905  (a word list reads better as text)

class _Gazetteer:
    """Finds a table's surface forms in a text, indexed by their first letters.

    Which positions can hold a form at all is decided by one compiled regex over both
    tables (:func:`_form_starts`), run in C; only at those few positions does Python look
    up candidate forms by their first two characters. The per-word-start Python loop this
    replaces was the largest single cost of :func:`features`.
    """

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        self.index: dict[str, list[tuple[str, bool, str]]] = {}
        for name, forms in table.items():
            for raw in forms:
                form = fold_han(raw.rstrip("$").lower())
                self.index.setdefault(form[:2], []).append((form, raw.endswith("$"), name))
        for entries in self.index.values():
            entries.sort(key=lambda e: -len(e[0]))

    def forms(self) -> Iterator[str]:
        """Every surface form, lowered and without its ``$`` whole-word mark."""
        for entries in self.index.values():
            for form, _whole, _name in entries:
                yield form

    def at(self, lowered: str, pos: int) -> Iterator[tuple[str, int, str]]:
        """(name, pos, form) of every form starting at ``pos`` of the lowered text.

        A ``$`` form counts only when no letter follows it.
        """
        for key in (lowered[pos:pos + 2], lowered[pos:pos + 1]):
            for form, whole, name in self.index.get(key, ()):
                if lowered.startswith(form, pos):
                    end = pos + len(form)
                    if whole and end < len(lowered) and _LETTER.match(lowered, end):
                        continue
                    yield name, pos, form

    def find(self, text: str) -> Iterator[tuple[str, int, str]]:
        """(name, position, form) of every form at a word start (CJK: any position)."""
        lowered = text.lower()
        for pos in _form_starts(lowered):
            yield from self.at(lowered, pos)


def _trie(forms: set[str]) -> dict[str, Any]:
    """Forms as a character trie, pruned where a shorter form ends ("" marks an end).

    Only *whether* some form starts at a position matters to the scan (the gazetteer then
    checks which), so a form with a shorter form as its prefix adds nothing.
    """
    trie: dict[str, Any] = {}
    for form in sorted(forms, key=len):
        node = trie
        for ch in form:
            if "" in node:
                break  # a shorter form already ends here
            node = node.setdefault(ch, {})
        else:
            node.clear()
            node[""] = {}
    return trie


def _trie_pattern(node: dict[str, Any]) -> str:
    """A regex for a trie: one branch per character, as Python's engine tries them in turn."""
    if "" in node:
        return ""
    branches = [re.escape(ch) + _trie_pattern(child) for ch, child in sorted(node.items())]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _word_head(form: str) -> str:
    """The letters a form opens with, up to its first non-letter or CJK character."""
    head = _HEAD.match(form)
    return head.group() if head else ""


_CJK_CHAR = re.compile(rf"[{_CJK}]")
_LETTER = re.compile(r"[^\W\d_]")
_HEAD = re.compile(rf"[^\W\d_{_CJK}]+")
_COUNTRIES = _Gazetteer(COUNTRIES)
_ENTITIES = _Gazetteer(ENTITIES)
_ALL_FORMS = set(_COUNTRIES.forms()) | set(_ENTITIES.forms())
#: Where a form of either table may start: a word start (no letter before) or any CJK
#: character, followed by some form. Zero-width, so overlapping forms are all seen; every
#: form begins with a letter, so this is the old word-start scan narrowed to its hits.
_FORM_START = re.compile(
    rf"(?:(?<![^\W\d_])|(?=[{_CJK}]))(?={_trie_pattern(_trie(_ALL_FORMS))})")
#: What a word must start with to open a non-CJK form. A form at a word start lies at the
#: start of a token of :data:`_WORD`, which then starts with the form's head: a text none
#: of whose tokens does (and without CJK) holds no form, and skips the scan.
#: Whether a form could start where a (non-CJK) token starts. A form at a word start lies
#: at the start of a :data:`_WORD` token, which then starts with the form's head (its
#: leading non-CJK letters): a text none of whose tokens opens a form, and which has no CJK
#: run, holds no form and skips the scan.
_OPENS_FORM = re.compile(
    _trie_pattern(_trie({_word_head(f) for f in _ALL_FORMS if not _CJK_CHAR.match(f)})))
assert all(_LETTER.match(f) for f in _ALL_FORMS), "the scan assumes forms begin with a letter"


def _form_starts(lowered: str) -> list[int]:
    """Positions of the lowered text where a gazetteer form (of either table) may start."""
    return [m.start() for m in _FORM_START.finditer(lowered)]


#: Single-character CJK country forms are too ambiguous alone; they count only in titles.
_SHORT_CJK = {"露", "日", "中", "俄"}


@dataclass
class Features:
    """What we compare, computed once per article per call."""

    article_id: str
    at: datetime | None
    language: str | None
    minhash: np.ndarray
    terms: Counter[str] = field(default_factory=Counter)
    anchors: set[str] = field(default_factory=set)  # specific entities and numbers
    countries: set[str] = field(default_factory=set)
    cluster_id: str | None = None
    vector: dict[str, float] = field(default_factory=dict, repr=False)
    norm: float = 0.0
    vector_for: dict[str, float] | None = field(default=None, repr=False)
    # Tense and modality of the headline and first sentence (monitor.stories.modality):
    # 1.0 when the article looks ahead (a preview) / reacts to an earlier event (a follow-up).
    anticipates: float = 0.0
    reacts: float = 0.0


#: Anchors share the IDF table with terms under this prefix (no term starts with it).
ANCHOR_PREFIX = "\x02"

#: The IDF table of a lone comparison (every term weighs 1).
_NO_IDF: dict[str, float] = {}


def _normalise(text: str) -> str:
    """NFKC, ё as е, and Chinese characters folded to simplified (see script.fold_han)."""
    text = unicodedata.normalize("NFKC", text or "").replace("ё", "е").replace("Ё", "Е")
    return fold_han(_DASH.sub(" ", text))


#: Dashes read as spaces, as the lexicon's forms are written ("ту 95" finds Ту-95).
_DASH = re.compile("[-\u2010-\u2015\u2212]")


def _stem(word: str) -> str:
    """A crude stem good enough for en/ru matching: the first six letters."""
    return word[:6]


#: What one distinct token contributes, worked out once and cached (words recur): its
#: shingle units (the word, or a CJK run's character bigrams), its content terms (its stem;
#: none for short and stop words; a CJK run's bigrams) and whether a gazetteer form could
#: start there (see _opens_form). A plain tuple: building it is most of a cache miss.
_Token = tuple[tuple[str, ...], tuple[str, ...], bool]

#: Distinct tokens seen so far; cleared when it grows past the bound (a day's vocabulary
#: fits many times over).
_TOKENS: dict[str, _Token] = {}
_TOKENS_MAX = 200_000


def _token(tok: str) -> _Token:
    """The cached :data:`_Token` of a :data:`_WORD` token (all CJK, or none of it)."""
    found = _TOKENS.get(tok)
    if found is None:
        if _CJK_CHAR.match(tok):
            bigrams = tuple([tok[i:i + 2] for i in range(max(1, len(tok) - 1))])
            found = (bigrams, bigrams, True)
        else:
            content = len(tok) >= 3 and tok not in _STOPWORDS
            # Terms are sound keys, so a name transliterated from Cyrillic meets its Latin form.
            term = (_stem(sound_key(tok)),) if content else ()
            found = ((tok,), term, bool(_OPENS_FORM.match(tok)))
        if len(_TOKENS) >= _TOKENS_MAX:
            _TOKENS.clear()
        _TOKENS[tok] = found
    return found


def _units(tokens: list[str]) -> list[str]:
    """Shingle units of tokens: words, and overlapping character bigrams of CJK runs."""
    units: list[str] = []
    for tok in tokens:
        units += _token(tok)[0]
    return units


def _shingles_of_units(units: list[str]) -> set[str]:
    if len(units) < 3:
        return {" ".join(units)} if units else set()
    return set(map(" ".join, zip(units, units[1:], units[2:], strict=False)))


def _shingles(tokens: list[str]) -> set[str]:
    """3-shingles of units: words, and overlapping character bigrams of CJK runs."""
    return _shingles_of_units(_units(tokens))


_PERM_RNG = np.random.default_rng(7)
#: 64 multiply-add hash functions over 64-bit shingle hashes (odd multipliers, arithmetic
#: mod 2**64), drawn once with a fixed seed so signatures compare across runs. The input
#: is a keyed BLAKE2b hash, uniformly spread; an affine map mod 2**61-1 over crc32 values
#: (tried first) kept a shingle with a small hash smallest under every permutation, so
#: two unrelated texts sharing that one shingle looked 80% alike.
_PERM_A = _PERM_RNG.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _PERM_RNG.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)
_EMPTY_SIGNATURE = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
#: The unkeyed 8-byte BLAKE2b every shingle is hashed with, copied per shingle.
_BLAKE2B_8 = hashlib.blake2b(digest_size=8)


def _minhash(shingles: set[str]) -> np.ndarray:
    """MinHash signature of a shingle set: for each hash function, the smallest value.

    The shingles' BLAKE2b digests are joined and read as one little-endian uint64 array
    (no Python int per shingle), then permuted all at once; numpy array arithmetic wraps
    mod 2**64 without a warning.
    """
    if not shingles:
        return _EMPTY_SIGNATURE.copy()
    digests = []
    for shingle in shingles:
        state = _BLAKE2B_8.copy()  # a third cheaper than a new blake2b(..., digest_size=8)
        state.update(shingle.encode("utf-8"))
        digests.append(state.digest())
    hashes = np.frombuffer(b"".join(digests), dtype="<u8").astype(np.uint64, copy=False)
    return (hashes[:, None] * _PERM_A + _PERM_B).min(axis=0)


#: Day-of-month numbers ("26日", "26 ноября", "Nov. 26") say when, not what: dropped.
_DAY_NUMBER = re.compile(
    r"(?<!\d)\d{1,2}(?=\s*[日号號])|"
    r"(?<!\d)\d{1,2}(?=\s+(?:января|февраля|марта|апреля|мая|июня|июля|августа|"
    r"сентября|октября|ноября|декабря)\b)|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+")
_GROUP_SEPARATOR = re.compile(r"[\u00a0\u202f ,.](?=\d{3}\b)")
_YEAR = re.compile(r"20[12]\d|19\d\d")
#: What any match of _DAY_NUMBER implies in the *lowered* text: a digit next to 日/号/號 or
#: a Russian month, or an English month followed by a number. Found without IGNORECASE
#: (several times cheaper than the day-number pattern itself), it rules most texts out.
_DAY_HINT = re.compile(
    r"\d\s*[日号號]|\d\s+(?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября"
    r"|октября|ноября|декабря)|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\S*\s+\d")
#: Letters IGNORECASE matches to a month's letter that str.lower() does not map to it
#: (long s, the old Cyrillic variants of в д о с т); with one of them, no shortcut.
_FOLD_VARIANTS = "\u017f\u1c80\u1c81\u1c82\u1c83\u1c84\u1c85"


def _numbers(text: str, lowered: str | None = None) -> set[str]:
    """Normalised numbers (at least two digits, not a year nor a day of the month).

    ``lowered``, if given, is ``text.lower()``: it lets most texts skip the day-number
    pattern.
    """
    found: set[str] = set()
    if not _DIGIT.search(text):
        return found  # every pattern below needs a digit; most texts have none
    if (lowered is None or _DAY_HINT.search(lowered)
            or any(ch in text for ch in _FOLD_VARIANTS)):
        text = _DAY_NUMBER.sub(" ", text)
    for raw in _NUMBER.findall(text):
        digits = _GROUP_SEPARATOR.sub("", raw).replace(",", ".")
        if len(digits.replace(".", "")) >= 2 and not _YEAR.fullmatch(digits):
            found.add(f"#{digits}")
    return found


#: " - The Japan Times", " | Reuters", " — ТАСС", "｜日経": search feeds (Google News)
#: append the outlet to titles; left in, it would make every article of an outlet alike.
_OUTLET_SUFFIX = re.compile(r"\s+[-–—|｜]\s+[^-–—|｜]{2,40}$|｜[^｜]{2,20}$")


def _word_starts_of(lowered: str, tokens: set[str]) -> list[int]:
    """Word-start positions of the given tokens in a text without CJK, in order.

    Without CJK, every word start opens a :data:`_WORD` token, so a form can only start
    where a token that opens one does: finding those few tokens with ``str.find`` is
    cheaper than running the gazetteer regex over every position.
    """
    starts: set[int] = set()
    for tok in tokens:
        pos = lowered.find(tok)
        while pos >= 0:
            if pos == 0 or not _LETTER.match(lowered, pos - 1):
                starts.add(pos)
            pos = lowered.find(tok, pos + 1)
    return sorted(starts)


def _gazetteer_names(lowered: str, title_length: int,
                     opening: set[str] | None) -> tuple[set[str], set[str]]:
    """(entity anchors, countries) named in the lowered title + lead.

    ``opening``: the tokens that may open a form, when the text has no CJK (else None:
    scan every position). A single-character CJK country form counts only in the title.
    """
    anchors: set[str] = set()
    countries: set[str] = set()
    starts = _form_starts(lowered) if opening is None else _word_starts_of(lowered, opening)
    for pos in starts:
        for name, _pos, form in _ENTITIES.at(lowered, pos):
            if name in EXCLUDES and any(_vetoed(lowered, pos, form, fold_han(ex))
                                        for ex in EXCLUDES[name]):
                continue  # 国後 inside 帰国後 ("after returning home")
            anchors.add(name)
        countries.update(name for name, _pos, form in _COUNTRIES.at(lowered, pos)
                         if not (form in _SHORT_CJK and pos > title_length))
    return anchors, countries


def features(article_id: str, title: str | None, text: str | None,
             language: str | None = None, at: datetime | None = None,
             cluster_id: str | None = None) -> Features:
    """Comparable features of one article from its title and the lead of its text.

    Per-token work (units, stems, whether a place or name may start there) comes from a
    cache; the gazetteer scan runs only when some token could open a form.
    """
    title = _normalise(_OUTLET_SUFFIX.sub("", title or ""))
    lead = _normalise((text or "")[:LEAD_CHARS])
    combined = f"{title}\n{lead}"
    lowered = combined.lower()
    units: list[str] = []
    term_list: list[str] = []
    opening: list[str] = []  # tokens where a gazetteer form may start
    # In ASCII text (most English) a letter is a-z: the same tokens, twice as fast.
    tokens = (_ASCII_WORD if lowered.isascii() else _WORD).findall(lowered)
    for tok in tokens:
        tok_units, tok_terms, tok_opens = _TOKENS.get(tok) or _token(tok)
        units += tok_units
        term_list += tok_terms
        if tok_opens:
            opening.append(tok)
    if opening and not lowered.isascii():
        term_list += [_stem(sound_key(run)) for run in katakana_runs(lowered)]
    if _DIGIT.search(lowered):
        term_list += [f"#{tok}" for tok in _DIGITS.findall(lowered) if len(tok) >= 2]
        numbers = number_values(lowered) | date_anchors(lowered)
    else:
        numbers = set()
    if opening:
        has_cjk = any(_CJK_CHAR.match(tok) for tok in opening)  # CJK runs always open
        anchors, countries = _gazetteer_names(lowered, len(title),
                                              None if has_cjk else set(opening))
    else:
        anchors, countries = set(), set()
    anticipates, reacts = markers(title.lower(), lead.lower())
    return Features(article_id=article_id, at=at, language=(language or None),
                    minhash=_minhash(_shingles_of_units(units)), terms=Counter(term_list),
                    anchors=anchors | numbers, countries=countries, cluster_id=cluster_id,
                    anticipates=anticipates, reacts=reacts)


def modality_of(title: str | None, text: str | None) -> tuple[float, float]:
    """(anticipates, reacts) of an article, as :func:`features` finds them.

    Regexes only, no sketch needed: a sketch stored before migration 0092 (which did not
    keep them) is completed with this from the title and lead the window query reads anyway.
    """
    title = _normalise(_OUTLET_SUFFIX.sub("", title or ""))
    lead = _normalise((text or "")[:HEAD_CHARS + 40])  # markers read HEAD_CHARS of it
    return markers(title.lower(), lead.lower())


def _jaccard(a: Features, b: Features) -> float:
    return float(np.count_nonzero(a.minhash == b.minhash)) / NUM_PERM


def _weighted(f: Features, idf: dict[str, float]) -> tuple[dict[str, float], float]:
    """The article's TF-IDF vector and its norm, cached per IDF table."""
    if f.vector_for is not idf:
        f.vector = {t: c * idf.get(t, 1.0) for t, c in f.terms.items()}
        f.norm = math.sqrt(sum(w * w for w in f.vector.values()))
        f.vector_for = idf
    return f.vector, f.norm


def _cosine(a: Features, b: Features, idf: dict[str, float]) -> float:
    va, na = _weighted(a, idf)
    vb, nb = _weighted(b, idf)
    if not na or not nb:
        return 0.0
    if len(va) > len(vb):
        va, vb = vb, va
    dot = sum(w * vb[t] for t, w in va.items() if t in vb)
    return dot / (na * nb)


def _hours_apart(a: Features, b: Features) -> float:
    if a.at is None or b.at is None:
        return 0.0
    return abs((a.at - b.at).total_seconds()) / 3600


def _script(f: Features) -> str:
    return f.language or "?"


def idf_of(items: list[Features]) -> dict[str, float]:
    """Smoothed IDF over the window: common words of the day weigh little."""
    df: Counter[str] = Counter()
    for f in items:
        df.update(f.terms.keys())
        df.update([ANCHOR_PREFIX + x for x in f.anchors])
    n = len(items)
    return {t: math.log((n + 1) / (c + 0.5)) + 1.0 for t, c in df.items()}

