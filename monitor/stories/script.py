"""Cross-script normalisation: what lets a Russian, Japanese or Chinese report meet an English one.

No translation, only what carries across scripts by itself:

* Chinese characters: Japanese shinjitai and traditional Chinese are folded to simplified
  (``opencc``: 択捉 → 擇捉 → 择捉), so a Japanese and a Chinese report share their kanji/hanzi
  names and places;
* names in Cyrillic and katakana: transliterated to Latin (``anyascii``) and reduced to a
  rough sound key (sh→s, ch→t, kh→h …), so Путин, プーチン and Putin give one term;
* numbers: their value, whatever the script's multiplier (38 billion = 380億 = 380亿 =
  38 млрд → ``#3.8e+10``);
* calendar dates: ``@d15`` for the 15th and ``@m12d15`` for 15 December, in en/ru/ja/zh.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc
from anyascii import anyascii

_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KATAKANA_RUN = re.compile(r"[\u30a0-\u30ff]{3,}")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")

_JP_TO_TRAD = opencc.OpenCC("jp2t")
_TRAD_TO_SIMP = opencc.OpenCC("t2s")


def fold_han(text: str) -> str:
    """Chinese characters as simplified Chinese, from Japanese or traditional forms.

    Only texts with Chinese characters pay for it; shinjitai go through traditional first
    (opencc has no direct Japanese → simplified table).
    """
    if not _HAN.search(text):
        return text
    # Always through the Japanese table: a lexicon form (択捉) has no kana to tell it is
    # Japanese, and simplified text passes it unchanged (国 → 國 → 国).
    return _TRAD_TO_SIMP.convert(_JP_TO_TRAD.convert(text))


#: Spelling differences between transliteration systems, to one rough sound key. Applied in
#: order to lowered Latin text.
_SOUND_RULES = (
    (re.compile(r"(?<=[sc]h)iy|(?<=j)iy"), ""),  # katakana ショ → "shiyo": the small kana
    (re.compile(r"kh"), "h"), (re.compile(r"sch|shch|sh"), "s"), (re.compile(r"tch|ch"), "t"),
    (re.compile(r"ts|tz"), "t"), (re.compile(r"zh|dzh|dj"), "j"), (re.compile(r"w"), "v"),
    (re.compile(r"y"), "i"), (re.compile(r"[^a-z]"), ""), (re.compile(r"(.)\1+"), r"\1"),
)


@lru_cache(maxsize=100_000)
def sound_key(word: str) -> str:
    """A rough, script-free key of a name: Путин, プーチン and Putin all give ``putin``."""
    latin = anyascii(word).lower() if not word.isascii() else word.lower()
    for pattern, repl in _SOUND_RULES:
        latin = pattern.sub(repl, latin)
    return latin


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC.match(word))


def katakana_runs(text: str) -> list[str]:
    """Katakana words of three or more characters (foreign names and places in Japanese)."""
    return _KATAKANA_RUN.findall(text)


# ------------------------------------------------------------------------------ numbers

_SCALE_WORDS = {
    "thousand": 1e3, "тыс": 1e3, "million": 1e6, "mln": 1e6, "mn": 1e6, "млн": 1e6,
    "миллион": 1e6, "billion": 1e9, "bln": 1e9, "bn": 1e9, "млрд": 1e9, "миллиард": 1e9,
    "trillion": 1e12, "трлн": 1e12, "триллион": 1e12,
    "万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8, "兆": 1e12, "千": 1e3, "百万": 1e6,
}
_NUMBER_SCALED = re.compile(
    r"(?<![\d.,])(\d+(?:[,\u00a0\u202f ]\d{3})*(?:[.,]\d+)?)\s*"
    r"(百万|万|萬|亿|億|兆|千|(?:thousand|million|billion|trillion|mln|bln|mn|bn|тыс|млн|млрд"
    r"|трлн|миллион|миллиард|триллион)[a-zа-я]*)?", re.IGNORECASE)
_GROUPS = re.compile(r"[,\u00a0\u202f ](?=\d{3}(?!\d))")
_YEAR = re.compile(r"(?:19|20)\d\d")


def _scale(word: str) -> float:
    word = word.lower()
    for head, value in _SCALE_WORDS.items():
        if word.startswith(head):
            return value
    return 1.0


def number_values(text: str) -> set[str]:
    """Numbers as ``#value`` (scaled by a following multiplier word); years and single digits
    are left out (every report of the day has them)."""
    found: set[str] = set()
    for raw, scale in _NUMBER_SCALED.findall(text):
        digits = _GROUPS.sub("", raw)
        if "," in digits and "." not in digits:
            digits = digits.replace(",", ".")
        digits = digits.replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            continue
        if not scale and (value < 10 or (_YEAR.fullmatch(digits))):
            continue
        value *= _scale(scale) if scale else 1.0
        found.add(f"#{value:.4g}")
    return found


# -------------------------------------------------------------------------------- dates

_MONTHS_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS_RU = ("январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр",
              "октябр", "ноябр", "декабр")
_EN_DATE = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})\b"
    r"|\b(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")
_RU_DATE = re.compile(
    r"(?<!\d)(\d{1,2})\s+(января|февраля|марта|апреля|мая|июня|июля|августа|сентября"
    r"|октября|ноября|декабря)")
_CJK_DATE = re.compile(r"(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*[日号號]")


def _ru_month(word: str) -> int:
    for i, head in enumerate(_MONTHS_RU):
        if word.startswith(head) and (head != "ма" or word == "мая"):
            return i + 1
    return 0


def date_anchors(lowered: str) -> set[str]:
    """Calendar dates named in a lowered text: ``@d<day>`` and, with a month, ``@m<m>d<day>``."""
    found: set[str] = set()

    def add(month: int, day: int) -> None:
        if 1 <= day <= 31:
            found.add(f"@d{day}")
            if month:
                found.add(f"@m{month}d{day}")

    for m in _EN_DATE.finditer(lowered):
        month = m.group(1) or m.group(4)
        add(_MONTHS_EN.index(month) + 1, int(m.group(2) or m.group(3)))
    for m in _RU_DATE.finditer(lowered):
        add(_ru_month(m.group(2)), int(m.group(1)))
    for m in _CJK_DATE.finditer(lowered):
        add(int(m.group(1)) if m.group(1) else 0, int(m.group(2)))
    return found
