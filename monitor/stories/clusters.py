"""Story clusters: one story, however many outlets (and languages) carried it.

Each article gets a ``cluster_id``: the id of the first article of its story (the
"founder"). :func:`assign_clusters` compares new articles with the articles of a bounded
time window (``WINDOW_DAYS`` either side), so its cost follows the window, not the archive.

Three rules, from strict to loose (:func:`match`):

``reprint``
    MinHash (64 permutations, vectorised with numpy) over 3-shingles of title + lead: of
    words, and for CJK text (no spaces) of overlapping character bigrams, so a shingle
    spans four characters. Jaccard >= ``REPRINT_JACCARD``
    anywhere in the window. Catches wire copy reprinted with a new dateline or a cut ending.
``rewrite``
    Same language, published within ``REWRITE_HOURS``: TF-IDF cosine of stemmed content terms
    of title + lead >= ``REWRITE_COSINE``, and at least one shared *specific* anchor (a named
    entity other than a country, or a number). IDF comes from the window itself, so words
    every article of the day shares ("Russia", "Japan", "talks") weigh little.
``crosslang``
    Different languages, within ``REWRITE_HOURS``: shared anchors through a small multilingual
    gazetteer (Putin = Путин = プーチン = 普京, Kurils = Курилы = 千島 …) plus numbers, with
    at least ``CROSSLANG_MIN_SHARED`` shared (one more when none of them is a number: names
    alone recur across a summit's several stories) and overlap >= ``CROSSLANG_OVERLAP``.

Cost: :func:`features` (the per-article part) works from per-token caches and skips
gazetteer and day-number scans that cannot find anything; :class:`Pool` finds reprint
candidates through an exact index instead of scanning every signature. Sketches are kept in
``article_sketches``; :func:`sketch_rows` lets the fetch worker compute them before the
store, so :func:`assign_clusters` only reads them.

Thresholds were set on the labelled pairs in ``tests/extract/fixtures/cluster_pairs.toml``
(``bench/clusters.py`` prints precision and recall); the rule that two different stories on
the same topic and day are never merged is what set them high.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

__all__ = [
    "Features",
    "features",
    "match",
    "Pool",
    "assign_clusters",
    "sketch_rows",
    "evaluate_pairs",
    "WINDOW_DAYS",
]

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
LEAD_CHARS = 600
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

#: Multilingual gazetteer: canonical anchor -> surface forms (prefixes for Latin/Cyrillic,
#: substrings for CJK). Countries are anchors too, but not *specific* ones: every article of
#: the monitor names them. Kept small and on-topic; extend as the feeds teach us.
COUNTRIES: dict[str, tuple[str, ...]] = {
    "RU": ("russia", "russian", "росси", "российск", "рф", "ロシア", "露", "俄罗斯", "俄"),
    "JP": ("japan", "japanese", "япони", "японск", "日本", "日"),
    "CN": ("china", "chinese", "китай", "китая", "китаю", "китайск", "中国", "中国の", "中"),
    "US": ("united states", "washington", "сша", "америк", "米国", "美国"),
    "UA": ("ukrain", "украин", "ウクライナ", "乌克兰"),
    "KP": ("north korea", "pyongyang", "кндр", "северной коре", "北朝鮮", "朝鲜"),
}
ENTITIES: dict[str, tuple[str, ...]] = {
    "putin": ("putin", "путин", "プーチン", "普京"),
    "xi": ("xi jinping", "си цзиньпин", "習近平", "习近平"),
    "lavrov": ("lavrov", "лавров", "ラブロフ", "拉夫罗夫"),
    "wang_yi": ("wang yi", "ван и", "王毅"),
    "japan_pm": ("prime minister takaichi", "takaichi", "такаити", "高市"),
    "ishiba": ("ishiba", "исиба", "石破"),
    "peskov": ("peskov", "песков", "ペスコフ", "佩斯科夫"),
    "shoigu": ("shoigu", "шойгу", "ショイグ", "绍伊古"),
    "mishustin": ("mishustin", "мишустин", "ミシュスチン", "米舒斯京"),
    "li_qiang": ("li qiang", "ли цян", "李強", "李强"),
    "kurils": ("kuril", "курил", "千島", "北方領土", "南千岛", "千岛"),
    "kunashir": ("kunashir", "кунашир", "国後", "国后"),
    "iturup": ("iturup", "итуруп", "択捉", "择捉"),
    "shikotan": ("shikotan", "шикотан", "色丹"),
    "habomai": ("habomai", "хабомаи", "歯舞"),
    "sakhalin": ("sakhalin", "сахалин", "サハリン", "萨哈林"),
    "vladivostok": ("vladivostok", "владивосток", "ウラジオストク", "符拉迪沃斯托克"),
    "hokkaido": ("hokkaido", "хоккайдо", "北海道"),
    "moscow": ("moscow", "москв", "モスクワ", "莫斯科"),
    "beijing": ("beijing", "пекин", "北京"),
    "tokyo": ("tokyo", "токио", "東京", "东京"),
    "kremlin": ("kremlin", "кремл", "クレムリン", "克里姆林"),
    "salmon": ("salmon", "лосос", "サケ", "鮭", "鲑"),
    "fish": ("fisher", "fishing", "рыболов", "рыб", "漁業", "渔业", "捕鱼"),
    "lng": ("lng", "liquefied natural gas", "спг", "液化天然ガス", "液化天然气"),
    "gas": ("natural gas", "gas pipeline", "газопровод", "газ$", "газа", "газом", "ガス", "天然气", "天然氣"),
    "oil": ("crude", "oil$", "нефт", "原油", "石油"),
    "pipeline": ("pipeline", "газопровод", "трубопровод", "パイプライン", "管道"),
    "power_of_siberia": ("power of siberia", "сила сибири", "シベリアの力", "西伯利亚力量"),
    "gazprom": ("gazprom", "газпром", "ガスプロム", "俄气", "俄罗斯天然气工业"),
    "cnpc": ("cnpc", "china national petroleum", "cnpc", "中国石油天然气"),
    "rosneft": ("rosneft", "роснефт", "ロスネフチ", "俄罗斯石油公司"),
    "mitsui": ("mitsui", "мицуи", "三井"),
    "mitsubishi": ("mitsubishi", "мицубиси", "三菱"),
    "sanction": ("sanction", "санкци", "制裁"),
    "asset_freeze": ("asset freeze", "freez", "заморож", "資産凍結", "冻结"),
    "bomber": ("bomber", "бомбардировщик", "ту-95", "tu-95", "爆撃機", "轰炸机"),
    "patrol": ("patrol", "патрул", "パトロール", "巡航", "巡逻"),
    "scramble": ("scrambl", "緊急発進", "スクランブル", "紧急升空"),
    "drill": ("drill", "exercise", "учени", "演習", "演习"),
    "warship": ("warship", "destroyer", "корабл", "эсминц", "艦", "军舰"),
    "trade": ("trade", "товарооборот", "торгов", "貿易", "贸易"),
    "customs": ("customs", "таможн", "税関", "海关"),
    "yuan": ("yuan", "юан", "人民元", "人民币"),
    "ruble": ("ruble", "rouble", "рубл", "ルーブル", "卢布"),
    "ukraine_war": ("war in ukraine", "conflict in ukraine", "конфликт на украин", "特別軍事作戦"),
    "korea_peninsula": ("korean peninsula", "корейск полуостров", "朝鮮半島", "朝鲜半岛"),
    "sco": ("shanghai cooperation", "sco$", "шос$", "上海協力機構", "上海合作组织", "上合"),
    "brics": ("brics", "брикс", "金砖"),
    "visa": ("visa", "виза", "визы", "визов", "безвиз", "ビザ", "签证", "免签"),
    "tourist": ("tourist", "турист", "観光", "游客", "旅游"),
    "nuclear": ("nuclear", "ядерн", "核"),
    "earthquake": ("earthquake", "землетрясени", "地震"),
    "tsunami": ("tsunami", "цунами", "津波", "海啸"),
    "ambassador": ("ambassador", "посол", "посла", "大使"),
    "protest": ("protest", "протест", "抗議", "抗议"),
    "grain": ("grain", "wheat", "зерн", "пшениц", "小麦", "穀物", "粮食"),
    "arctic": ("arctic", "northern sea route", "арктик", "севморпут", "北極", "北极", "北方海航道"),
    "coal": ("coal", "уголь", "угля", "石炭", "煤"),
}


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
                form = raw.rstrip("$").lower()
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


#: The IDF table of a lone comparison (every term weighs 1).
_NO_IDF: dict[str, float] = {}


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").replace("ё", "е").replace("Ё", "Е")


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
            found = ((tok,), (_stem(tok),) if content else (), bool(_OPENS_FORM.match(tok)))
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
        anchors.update(name for name, _pos, _form in _ENTITIES.at(lowered, pos))
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
    title = _OUTLET_SUFFIX.sub("", _normalise(title or ""))
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
    if _DIGIT.search(lowered):
        term_list += [f"#{tok}" for tok in _DIGITS.findall(lowered) if len(tok) >= 2]
        numbers = _numbers(combined, lowered)
    else:
        numbers = set()
    if opening:
        has_cjk = any(_CJK_CHAR.match(tok) for tok in opening)  # CJK runs always open
        anchors, countries = _gazetteer_names(lowered, len(title),
                                              None if has_cjk else set(opening))
    else:
        anchors, countries = set(), set()
    return Features(article_id=article_id, at=at, language=(language or None),
                    minhash=_minhash(_shingles_of_units(units)), terms=Counter(term_list),
                    anchors=anchors | numbers, countries=countries, cluster_id=cluster_id)


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


def match(a: Features, b: Features, idf: dict[str, float] | None = None) -> tuple[str, float] | None:
    """``(kind, score)`` if a and b report the same story, else ``None``."""
    return _match(a, b, idf, None)


def _match(a: Features, b: Features, idf: dict[str, float] | None,
           jaccard: float | None) -> tuple[str, float] | None:
    """:func:`match`, given the MinHash Jaccard when the caller knows it already.

    ``jaccard`` may be any value below ``REPRINT_JACCARD`` when the pair is known not to
    be a reprint: it is only compared with that threshold.
    """
    hours = _hours_apart(a, b)
    if hours > WINDOW_DAYS * 24:
        return None
    jac = _jaccard(a, b) if jaccard is None else jaccard
    if jac >= REPRINT_JACCARD:
        return "reprint", jac
    if hours > REWRITE_HOURS:
        return None
    if a.countries and b.countries and not (a.countries & b.countries):
        return None  # a story about Russia–Japan is not one about Russia–China
    shared = a.anchors & b.anchors
    if _script(a) == _script(b):
        if not shared:
            return None  # a rewrite needs a shared anchor, whatever the cosine
        cos = _cosine(a, b, idf if idf is not None else _NO_IDF)
        if cos >= REWRITE_COSINE:
            return "rewrite", cos
        return None
    has_number = any(x.startswith("#") for x in shared)
    if len(shared) >= CROSSLANG_MIN_SHARED + (0 if has_number else 1):
        overlap = len(shared) / min(len(a.anchors), len(b.anchors))
        if overlap >= CROSSLANG_OVERLAP:
            return "crosslang", overlap
    return None


def idf_of(items: list[Features]) -> dict[str, float]:
    """Smoothed IDF over the window: common words of the day weigh little."""
    df: Counter[str] = Counter()
    for f in items:
        df.update(f.terms.keys())
    n = len(items)
    return {t: math.log((n + 1) / (c + 0.5)) + 1.0 for t, c in df.items()}


#: Fewest equal MinHash slots (of NUM_PERM) that make a reprint. By pigeonhole, a reprint
#: has at least one of them among any NUM_PERM - that + 1 slots: the first _KEY_SLOTS
#: slots are keys of the index that finds reprint candidates.
_REPRINT_SLOTS = next(k for k in range(NUM_PERM + 1) if k / NUM_PERM >= REPRINT_JACCARD)
_KEY_SLOTS = NUM_PERM - _REPRINT_SLOTS + 1
_RANK = {"reprint": 3, "rewrite": 2, "crosslang": 1}


class Pool:
    """The window's articles, indexed so a new article is compared only with plausible ones.

    Reprint candidates are the articles sharing a value in one of the first ``_KEY_SLOTS``
    MinHash slots (pigeonhole: every pair at ``REPRINT_JACCARD`` or above does), looked up
    in a sorted array for the window and a dict for articles added since; their equal slots
    are then counted exactly. A scan of all signatures per new article (the old way) grew
    with the window. Rewrite and cross-language candidates must share an anchor, found
    through an inverted index. Equivalent to calling :func:`match` on every pair.
    """

    def __init__(self, items: list[Features], capacity: int) -> None:
        self.items: list[Features] = []
        self.signatures = np.zeros((max(capacity, 1), NUM_PERM), dtype=np.uint64)
        self.by_anchor: dict[str, list[int]] = {}
        # Key-slot value -> the row (or rows) added after init with that value.
        self.by_slot: dict[int, int | list[int]] = {}
        # Signature -> the first row added after init with it; that row -> later ones.
        self.first_of: dict[bytes, int] = {}
        self.twins: dict[int, list[int]] = {}
        for item in items:
            self._append(item)
        # Slot values of the initial rows, sorted, and the row each came from.
        keys = self.signatures[:len(self.items), :_KEY_SLOTS].ravel()
        order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[order]
        self.sorted_rows = order // _KEY_SLOTS

    def _append(self, item: Features) -> int:
        index = len(self.items)
        if index >= len(self.signatures):
            self.signatures = np.vstack([self.signatures, np.zeros_like(self.signatures)])
        self.items.append(item)
        self.signatures[index] = item.minhash
        for anchor in item.anchors:
            self.by_anchor.setdefault(anchor, []).append(index)
        return index

    def add(self, item: Features) -> None:
        index = self._append(item)
        # A verbatim copy of an added article (the commonest reprint) is only noted as its
        # twin: same signature, so found whenever the first is.
        first = self.first_of.setdefault(item.minhash.tobytes(), index)
        if first != index:
            self.twins.setdefault(first, []).append(index)
            return
        # Dict operations in C: almost every value is new, so it maps to the bare row.
        added = dict.fromkeys(item.minhash[:_KEY_SLOTS].tolist(), index)
        for value in added.keys() & self.by_slot.keys():
            rows = self.by_slot[value]
            if isinstance(rows, list):
                rows.append(index)
            else:
                self.by_slot[value] = [rows, index]
            del added[value]
        self.by_slot.update(added)

    def reprints(self, signature: np.ndarray) -> dict[int, int]:
        """Rows whose signature agrees with ``signature`` in enough slots: row -> slots."""
        keys = signature[:_KEY_SLOTS]
        rows: set[int] = set()
        if len(self.sorted_keys):
            lo = np.searchsorted(self.sorted_keys, keys, "left")
            hi = np.searchsorted(self.sorted_keys, keys, "right")
            if (hi > lo).any():
                for start, stop in zip(lo.tolist(), hi.tolist(), strict=True):
                    if stop > start:
                        rows.update(self.sorted_rows[start:stop].tolist())
        values = keys.tolist()
        if not self.by_slot.keys().isdisjoint(values):  # most articles share no value
            for hit in map(self.by_slot.get, values):
                if hit.__class__ is int:
                    rows.add(hit)
                elif hit is not None:
                    rows.update(hit)
        if not rows:
            return {}
        if self.twins:
            for twins in map(self.twins.get, list(rows)):
                if twins:
                    rows.update(twins)
        candidates = np.fromiter(rows, dtype=np.intp, count=len(rows))
        equal = (self.signatures[candidates] == signature).sum(axis=1)
        keep = equal >= _REPRINT_SLOTS
        return dict(zip(candidates[keep].tolist(), equal[keep].tolist(), strict=True))

    def best_match(self, new: Features,
                   idf: dict[str, float]) -> tuple[Features, str, float] | None:
        """The article ``new`` matches best: reprints beat rewrites beat cross-language."""
        if not self.items:
            return None
        reprints = self.reprints(new.minhash)
        candidates = set(reprints)
        for anchor in new.anchors:
            candidates.update(self.by_anchor.get(anchor, ()))
        best: tuple[Features, str, float] | None = None
        for index in sorted(candidates):
            other = self.items[index]
            if other.article_id == new.article_id:
                continue
            # Not among the reprints: below the threshold, and 0.0 says just that.
            found = _match(new, other, idf, reprints.get(index, 0) / NUM_PERM)
            if found is None:
                continue
            kind, score = found
            if best is None or (_RANK[kind], score) > (_RANK[best[1]], best[2]):
                best = (other, kind, score)
        return best


# ------------------------------------------------------------------------- warehouse

#: Bump when :func:`features` changes, so stored sketches are recomputed.
FEATURE_VERSION = 2

# Only the lead is read: bodies can be long and only their start is compared.
_NEW_SQL = f"""
SELECT a.article_id, a.title, substr(coalesce(a.body, a.summary, ''), 1, {LEAD_CHARS}),
       a.language, coalesce(a.published_at, a.first_seen_at), a.cluster_id,
       s.version, s.text_hash, coalesce(len(s.minhash) = {NUM_PERM}, false),
       s.terms, s.anchors, s.countries
FROM articles a LEFT JOIN article_sketches s USING (article_id)
WHERE a.article_id IN (SELECT unnest(?::VARCHAR[]))
"""

_WINDOW_SQL = f"""
SELECT a.article_id, a.title, substr(coalesce(a.body, a.summary, ''), 1, {LEAD_CHARS}),
       a.language, coalesce(a.published_at, a.first_seen_at), a.cluster_id,
       s.version, s.text_hash, coalesce(len(s.minhash) = {NUM_PERM}, false),
       s.terms, s.anchors, s.countries
FROM articles a LEFT JOIN article_sketches s USING (article_id)
WHERE a.cluster_id IS NOT NULL
  AND coalesce(a.published_at, a.first_seen_at) BETWEEN ? AND ?
  AND a.article_id NOT IN (SELECT unnest(?::VARCHAR[]))
ORDER BY coalesce(a.published_at, a.first_seen_at) DESC
LIMIT ?
"""

# Stored signatures, fetched apart as numpy columns in long form (article, slot, value): as
# lists in the rows above, each of their values became a Python int, which cost more than
# the rest of the read; 64 list-element columns cost more to plan than a small call reads.
_SIGNATURES_SQL = """
SELECT q.i, generate_subscripts(s.minhash, 1) AS j, unnest(s.minhash) AS v
FROM (SELECT unnest(ids) AS article_id, generate_subscripts(ids, 1) AS i
      FROM (SELECT ?::VARCHAR[] AS ids)) q
JOIN article_sketches s USING (article_id)
"""

#: From this many rows on, a batch goes to DuckDB as registered numpy columns; below, as
#: list parameters. Registering costs a millisecond or two whatever the size; binding lists
#: costs per value (the signatures of a few thousand articles as a UBIGINT[][] parameter
#: were 200,000 Python ints converted one by one, slower than sketching them).
_REGISTER_FROM = 200

# Articles with no sketch yet (nearly all) take a plain INSERT, about twice as fast as
# INSERT OR REPLACE, which only stale sketches need.
_STORE_SKETCHES_SQL = """
INSERT {how} INTO article_sketches
    (article_id, version, text_hash, minhash, terms, anchors, countries)
SELECT article_id, version, text_hash, minhash, terms::JSON,
       CASE WHEN anchors = '' THEN [] ELSE string_split(anchors, chr(31)) END,
       CASE WHEN countries = '' THEN [] ELSE string_split(countries, chr(31)) END
FROM {batch}
WHERE {which}stale
"""


@contextlib.contextmanager
def _batch(con: Any, name: str,
           columns: dict[str, tuple[str, Any]]) -> Iterator[tuple[str, list[Any]]]:
    """Parallel columns as one SQL relation: yields (relation, its parameters).

    ``columns``: name -> (DuckDB type, values as a list or numpy array). A UBIGINT[]
    column is a 2-D uint64 array, one row per row. Small batches are list parameters;
    large ones a registered dict of numpy columns, as long as the ``with`` block lasts.
    """
    size = len(next(iter(columns.values()))[1])
    if size < _REGISTER_FROM:
        select = ", ".join(f"unnest(?::{kind}[]) AS {column}"
                           for column, (kind, _values) in columns.items())
        yield f"(SELECT {select})", [
            values.tolist() if isinstance(values, np.ndarray) else list(values)
            for _kind, values in columns.values()]
        return
    frame: dict[str, np.ndarray] = {}
    lists = []
    for column, (kind, values) in columns.items():
        if kind == "UBIGINT[]":  # as one column per element, put together in SQL
            for j in range(values.shape[1]):
                frame[f"{column}_{j}"] = np.ascontiguousarray(values[:, j])
            items = ", ".join(f"{column}_{j}" for j in range(values.shape[1]))
            lists.append(f"[{items}]::UBIGINT[] AS {column}")
        elif isinstance(values, np.ndarray):
            frame[column] = values
        else:
            frame[column] = np.array(values, dtype=object)
    con.register(name, frame)
    try:
        yield f"(SELECT *{''.join(', ' + x for x in lists)} FROM {name})", []
    finally:
        con.unregister(name)


#: Joins a sorted set of names (gazetteer names, "#" numbers, country codes: none holds
#: it) for string_split in SQL: cheaper than a JSON list per row and a cast.
_UNIT_SEPARATOR = "\x1f"
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def _text_hash(title: str | None, lead: str | None) -> str:
    return hashlib.sha1(f"{title or ''}\x00{lead or ''}".encode()).hexdigest()[:20]


def _lead(body: str | None, summary: str | None) -> str:
    """The compared lead, as the SQL reads it: substr(coalesce(body, summary, ''), 1, N)."""
    text = body if body is not None else summary if summary is not None else ""
    return text[:LEAD_CHARS]


def _sketch_row(item: Features, text_hash: str) -> dict[str, Any]:
    """An ``article_sketches`` row of features computed from the text with ``text_hash``."""
    return {"article_id": item.article_id, "version": FEATURE_VERSION, "text_hash": text_hash,
            "minhash": item.minhash.tolist(),
            "terms": _encode_json(item.terms),
            "anchors": sorted(item.anchors), "countries": sorted(item.countries)}


def sketch_rows(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``article_sketches`` rows for articles not stored yet, to insert along with them.

    Lets the fetch worker sketch articles in parallel, before the store: the rows are what
    :func:`assign_clusters` would compute (same lead, same ``text_hash``, current
    ``FEATURE_VERSION``), so it finds them valid and does not recompute them. Each article
    is a dict with article_id, title, summary, body (language, published_at and
    first_seen_at may be present; the sketch does not depend on them).
    """
    rows = []
    for article in articles:
        title = article.get("title")
        lead = _lead(article.get("body"), article.get("summary"))
        item = features(article["article_id"], title, lead)
        rows.append(_sketch_row(item, _text_hash(title, lead)))
    return rows


def _store_sketches(con: Any, fresh: list[tuple[Features, str, bool]]) -> None:
    """Store the sketches of (features, text hash, a stale sketch exists) in one batch."""
    if not fresh:
        return
    columns: dict[str, tuple[str, Any]] = {
        "article_id": ("VARCHAR", [item.article_id for item, _hash, _stale in fresh]),
        "version": ("INTEGER", np.full(len(fresh), FEATURE_VERSION, dtype=np.int32)),
        "text_hash": ("VARCHAR", [text_hash for _item, text_hash, _stale in fresh]),
        "minhash": ("UBIGINT[]", np.stack([item.minhash for item, _hash, _stale in fresh])),
        "terms": ("VARCHAR", [_encode_json(item.terms) for item, _hash, _stale in fresh]),
        "anchors": ("VARCHAR", [_UNIT_SEPARATOR.join(sorted(item.anchors))
                                for item, _hash, _stale in fresh]),
        "countries": ("VARCHAR", [_UNIT_SEPARATOR.join(sorted(item.countries))
                                  for item, _hash, _stale in fresh]),
        "stale": ("BOOLEAN", np.array([stale for _item, _hash, stale in fresh], dtype=bool)),
    }
    with _batch(con, "_cluster_sketch_batch", columns) as (batch, params):
        con.execute(_STORE_SKETCHES_SQL.format(how="", batch=batch, which="NOT "), params)
        if columns["stale"][1].any():
            con.execute(_STORE_SKETCHES_SQL.format(how="OR REPLACE", batch=batch, which=""),
                        params)


def _stored_signatures(con: Any, article_ids: list[str]) -> np.ndarray:
    """The stored MinHash signatures of these articles, one row each, in their order."""
    columns = con.execute(_SIGNATURES_SQL, [article_ids]).fetchnumpy()
    rows = np.asarray(columns["i"], dtype=np.intp) - 1
    slots = np.asarray(columns["j"], dtype=np.intp) - 1
    if len(rows) != len(article_ids) * NUM_PERM:  # lengths were checked when read
        raise RuntimeError("article_sketches changed while clusters read it")
    matrix = np.empty((len(article_ids), NUM_PERM), dtype=np.uint64)
    matrix[rows, slots] = np.asarray(columns["v"], dtype=np.uint64)
    return matrix


def _load_features(con: Any, rows: list[tuple[Any, ...]]) -> list[Features]:
    """Features of article rows: stored sketches where still valid, else computed and stored."""
    out: list[Features] = []
    fresh: list[tuple[Features, str, bool]] = []
    stored_at: list[int] = []  # positions in ``out`` of the features read from sketches
    for (article_id, title, lead, language, at, cluster_id,
         version, stored_hash, has_minhash, terms, anchors, countries) in rows:
        text_hash = _text_hash(title, lead)
        if version == FEATURE_VERSION and stored_hash == text_hash and has_minhash:
            stored_at.append(len(out))
            out.append(Features(
                article_id=article_id, at=at, language=language or None,
                minhash=_EMPTY_SIGNATURE, terms=Counter(json.loads(terms)),
                anchors=set(anchors), countries=set(countries), cluster_id=cluster_id))
            continue
        item = features(article_id, title, lead, language, at, cluster_id)
        out.append(item)
        fresh.append((item, text_hash, version is not None))  # a stale sketch exists
    if stored_at:
        matrix = _stored_signatures(con, [out[i].article_id for i in stored_at])
        for position, signature in zip(stored_at, matrix, strict=True):
            out[position].minhash = signature
    _store_sketches(con, fresh)
    return out


def _store_decisions(con: Any, decided: list[tuple[str, str, str | None, str, float]]) -> None:
    """Write the batch's cluster ids, new clusters and match reasons: three statements."""
    if not decided:
        return
    ids, clusters, matched, kinds, scores = (list(c) for c in zip(*decided, strict=True))
    columns: dict[str, tuple[str, Any]] = {
        "article_id": ("VARCHAR", ids), "cluster_id": ("VARCHAR", clusters),
        "matched_article_id": ("VARCHAR", matched), "match_kind": ("VARCHAR", kinds),
        "score": ("DOUBLE", np.array(scores, dtype=np.float64)),
    }
    with _batch(con, "_cluster_decisions", columns) as (batch, params):
        con.execute(
            "UPDATE articles SET cluster_id = d.cluster_id"
            f" FROM (SELECT article_id, cluster_id FROM {batch}) d"
            " WHERE articles.article_id = d.article_id", params)
        con.execute(
            "INSERT INTO clusters (cluster_id, founder_article_id, created_at)"
            f" SELECT article_id, article_id, now()::TIMESTAMP FROM {batch}"
            " WHERE match_kind = 'founder' ON CONFLICT DO NOTHING", params)
        con.execute(
            "INSERT OR REPLACE INTO cluster_members"
            " (article_id, cluster_id, matched_article_id, match_kind, score, assigned_at)"
            " SELECT article_id, cluster_id, matched_article_id::VARCHAR, match_kind, score,"
            f" now()::TIMESTAMP FROM {batch}", params)


def assign_clusters(con: Any, article_ids: list[str]) -> int:
    """Give each listed article without a cluster a ``cluster_id``; return how many got one.

    Runs inside the caller's (writer's) transaction. Articles are taken oldest first, so the
    founder of a story is its earliest article in this batch or the window. Idempotent: an
    article that already has a cluster keeps it. Sketches of the articles it reads are kept
    in ``article_sketches``, so the next call re-reads rather than recomputes them.
    """
    if not article_ids:
        return 0
    ids = list(dict.fromkeys(article_ids))
    rows = con.execute(_NEW_SQL, [ids]).fetchall()
    todo = [r for r in rows if r[5] is None]
    if not todo:
        return 0
    times = [r[4] for r in todo if r[4] is not None]
    lo = min(times) - timedelta(days=WINDOW_DAYS) if times else datetime(1970, 1, 1)
    hi = max(times) + timedelta(days=WINDOW_DAYS) if times else datetime(2100, 1, 1)
    window = con.execute(_WINDOW_SQL, [lo, hi, ids, MAX_CANDIDATES]).fetchall()
    pool = _load_features(con, window)
    new = _load_features(con, todo)
    new.sort(key=lambda f: (f.at or datetime.max, f.article_id))
    idf = idf_of(pool + new)
    index = Pool(pool, capacity=len(pool) + len(new))
    decided: list[tuple[str, str, str | None, str, float]] = []
    for item in new:
        found = index.best_match(item, idf)
        if found is None:
            item.cluster_id = item.article_id
            decided.append((item.article_id, item.cluster_id, None, "founder", 1.0))
        else:
            other, kind, score = found
            item.cluster_id = other.cluster_id
            decided.append((item.article_id, item.cluster_id, other.article_id, kind,
                            round(score, 4)))
        index.add(item)
    _store_decisions(con, decided)
    assigned = len(decided)
    log.info("clusters assigned articles=%d window=%d", assigned, len(window))
    return assigned


# ------------------------------------------------------------------------ evaluation


def evaluate_pairs(articles: list[dict[str, Any]],
                   pairs: list[dict[str, str]]) -> dict[str, Any]:
    """Precision/recall of :func:`match` on labelled pairs (``bench/clusters.py``, tests).

    ``articles``: dicts with id, title, text, language, at (datetime). ``pairs``: dicts with
    a, b and label (reprint | rewrite | crosslang | different). IDF is computed over all the
    articles, as :func:`assign_clusters` does over its window.
    """
    feats = {a["id"]: features(a["id"], a.get("title"), a.get("text"), a.get("language"),
                               a.get("at")) for a in articles}
    idf = idf_of(list(feats.values()))
    rows = []
    for pair in pairs:
        found = match(feats[pair["a"]], feats[pair["b"]], idf)
        rows.append({**pair, "predicted": found[0] if found else None,
                     "score": found[1] if found else None})
    same = [r for r in rows if r["label"] != "different"]
    predicted = [r for r in rows if r["predicted"]]
    tp = sum(1 for r in predicted if r["label"] != "different")
    by_label = {}
    for label in ("reprint", "rewrite", "crosslang", "different"):
        group = [r for r in rows if r["label"] == label]
        hits = sum(1 for r in group if (r["predicted"] is not None) == (label != "different"))
        by_label[label] = {"pairs": len(group), "correct": hits}
    return {
        "precision": tp / len(predicted) if predicted else 1.0,
        "recall": tp / len(same) if same else 1.0,
        "by_label": by_label,
        "rows": rows,
    }
