"""The lexicon of name forms: one entity, its names in English, Russian, Japanese and Chinese.

Independent reports of one event share few words across languages but the same names:
Путин = プーチン = 普京, Итуруп = 択捉島 = 择捉岛, Сила Сибири = 西伯利亚力量. The lexicon
lives in ``seeds/names.toml`` (its header states the format and matching rules); this
module loads and validates it once (:func:`load_names`, cached) and offers a small matcher,
:func:`find_entities`, that follows those rules so other code need not re-implement them:

* text and forms are normalised alike (:func:`normalise`): NFKC, lower case, ё → е,
  Latin diacritics, quote marks and brackets dropped, middle dots made one, hyphens,
  dashes and slashes → space, runs of white space → one space;
* Latin and Cyrillic forms match at word starts as prefixes (``путин`` finds ``путину``);
  a form ending in ``$`` matches a whole word only (no letter or digit may follow);
* Japanese and Chinese forms match anywhere (no spaces in those scripts);
* at one position only the longest form counts ("Power of Siberia 2" is not also
  "Power of Siberia");
* a form ending in a digit never matches when another digit follows ("g7" in "g70");
* ``exclude`` strings veto a match they contain (国後 inside 帰国後 "after returning home");
* Chinese text and forms are both read in simplified characters, so 習近平 meets 习近平:
  through ``opencc`` when it is installed, else through a small table of the characters
  the lexicon's names use.

Code with its own scanner (story features) can take the forms from :func:`load_names` or
:func:`flat_tables`, but must pass its text through :func:`normalise` first and apply the
rules above itself; :meth:`Matcher.hits` gives (id, position, form) for code that wants
positions without re-implementing them.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.settings import REPO_ROOT

__all__ = [
    "NameEntity",
    "KINDS",
    "LANGS",
    "load_names",
    "normalise",
    "to_simplified",
    "Matcher",
    "matcher",
    "find_entities",
    "flat_tables",
    "DEFAULT_PATH",
]

DEFAULT_PATH = REPO_ROOT / "seeds" / "names.toml"
#: Languages with a form list in every entity (``reason`` explains a genuinely empty one).
LANGS = ("en", "ru", "ja", "zh")
#: What an entity is; ``topic`` holds the few generic subject words (gas, sanctions) the
#: story matcher used before the lexicon, ``equipment`` aircraft and ship types.
KINDS = frozenset({
    "person", "place", "project", "exercise", "org", "ship", "document", "event",
    "country", "equipment", "topic",
})
#: Latin/Cyrillic forms shorter than this must be whole words (``$``): "рф", "sco", "lng".
MIN_PREFIX_LEN = 4

_KEYS = frozenset({
    "id", "kind", "specific", "code", "reason", "shared", "exclude", "note", *LANGS,
})
_ID = re.compile(r"[a-z][a-z0-9_]*\Z")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_LATIN = re.compile("[a-z]")
#: A letter or digit of an alphabet (not CJK): what may not precede a Latin/Cyrillic form,
#: nor follow a whole-word one ("lng" counts in "ロシアのLNG"; "abe$" not in "aberdeen",
#: nor in the hex of "4abe-965b", "g7$" not in "g751").
_WORDCHAR = re.compile(f"[^\\W_{_CJK}]")
_DASH = re.compile("[-\u2010-\u2015\u2212/]")
_PUNCT_TABLE = str.maketrans({
    "ё": "е", "’": "'", "‘": "'",
    # middle dots made one (阿列克谢·米勒 = 阿列克谢・米勒); kept, as matchers that do not use
    # normalise() still find "パワー・オブ・シベリア" (the lexicon lists dotless variants too)
    **{dot: "・" for dot in "·•‧"},
    # Latin diacritics (Kōno, La Pérouse); Cyrillic й and CJK are left alone
    **{c: "a" for c in "áàâäãåā"}, **{c: "e" for c in "éèêëē"}, **{c: "i" for c in "íìîïī"},
    **{c: "o" for c in "óòôöõøō"}, **{c: "u" for c in "úùûüū"}, "ç": "c", "ñ": "n",
    "ý": "y", "ÿ": "y", "š": "s", "ž": "z", "č": "c",
    **{q: None for q in "「」『』“”\"«»《》〈〉【】"},
})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class NameEntity:
    """One named thing and its surface forms per language (normalised, ``$`` kept)."""

    id: str
    kind: str
    specific: bool
    forms: dict[str, tuple[str, ...]]
    reason: str = ""
    code: str = ""
    exclude: tuple[str, ...] = ()
    shared: tuple[str, ...] = field(default=(), repr=False)

    def all_forms(self) -> Iterator[tuple[str, str]]:
        """(language, form) of every form."""
        for lang, forms in self.forms.items():
            for form in forms:
                yield lang, form


def normalise(text: str) -> str:
    """Text as forms are stored: NFKC, lower case, ё → е, Latin diacritics dropped, quote
    marks and brackets dropped (護衛艦「かが」 = 護衛艦かが), middle dots made one (·•‧ → ・),
    ’ → ', dashes and slashes → space (Sakhalin-2 = Sakhalin 2, Север/Взаимодействие),
    spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT_TABLE)
    return _SPACE.sub(" ", _DASH.sub(" ", text)).strip()


# Traditional → simplified for the characters that occur in the lexicon's Chinese names
# and their usual neighbours; enough for matching names, not a converter (opencc is).
_T2S_PAIRS = (
    "習习 國国 羅罗 爾尔 軍军 艦舰 島岛 東东 蘭兰 臺台 灣湾 歐欧 亞亚 義义 維维 諾诺 蘇苏 聯联 華华"
    " 協协 會会 議议 組组 織织 線线 氣气 達达 薩萨 納纳 謝谢 圖图 魯鲁 馬马 烏乌 韋韦 賴赖 劉刘"
    " 張张 陳陈 趙赵 鄧邓 葉叶 楊杨 龍龙 長长 門门 開开 關关 區区 際际 貿贸 運运 遠远 邊边 濟济"
    " 經经 鐵铁 銀银 號号 戰战 機机 轟轰 飛飞 彈弹 導导 衛卫 隊队 記记 員员 發发 報报 紀纪 約约"
    " 條条 統统 總总 領领 鮮鲜 韓韩 倫伦 廣广 黃黄 麗丽 勞劳 萊莱 紐纽 費费 賓宾 頓顿 貝贝 濱滨"
    " 雙双 齊齐 雲云 陽阳 層层 邁迈 寶宝 參参 勢势 斷断 擇择 後后 羣群 齒齿 納纳 畫画 測测 幹干"
    " 裡里 裏里 閣阁 務务 長长 黨党 權权 選选 舉举 亂乱 萬万 億亿 單单 專专 庫库 電电 陸陆 實实"
    " 盧卢 澤泽 嶼屿 灘滩 灣湾 礦矿 鋼钢 煉炼 傳传 漁渔 業业 獵猎 捕捕 鮭鲑 險险 網网 點点 頭头"
    " 車车 輪轮 艘艘 驅驱 逐逐 護护 潛潜 艇艇 聲声 明明 宣宣 條条 約约 簽签 訪访 問问 談谈 並并"
    " 與与 為为 對对 於于 這这 們们 來来 時时 間间 個个 說说 讓让 過过 還还 將将 從从 進进 週周"
    " 鬥斗 擊击 戶户 夥伙 伴伴 線线 佈布 內内 閃闪 齋斋 廳厅 處处 滿满 漢汉 傑杰 貴贵 偉伟 紅红"
    " 剛刚 強强 蔣蒋 鳳凤 愛爱 瑪玛 蓮莲 頌颂 賀贺 貫贯 潔洁 聖圣 燈灯 鎮镇 縣县 應应 觀观 塊块"
)
_T2S = {pair[0]: pair[1] for pair in _T2S_PAIRS.split()}
_T2S_TABLE = str.maketrans(_T2S)


def _table_simplified(text: str) -> str:
    """Traditional characters of the table above replaced by their simplified forms."""
    return text.translate(_T2S_TABLE)


def _converter() -> Callable[[str], str]:
    """opencc's full traditional → simplified converter when installed, else the table."""
    try:
        import opencc
    except ImportError:
        return _table_simplified
    convert = opencc.OpenCC("t2s").convert
    return lambda text: convert(text.translate(_T2S_TABLE))


to_simplified: Callable[[str], str] = _converter()
to_simplified.__doc__ = "Chinese text in simplified characters (opencc if installed, else a table)."


def _script_ok(lang: str, form: str) -> bool:
    """Whether a (normalised) form is written in its language's script."""
    if lang == "en":
        return bool(_LATIN.search(form)) and not _CYRILLIC.search(form) and not _CJK_CHAR.search(form)
    if lang == "ru":  # no Latin letters: a Latin "o" in a Cyrillic word never matches
        return bool(_CYRILLIC.search(form)) and not _LATIN.search(form) and not _CJK_CHAR.search(form)
    return bool(_CJK_CHAR.search(form))


def _entity(table: dict[str, Any], where: str) -> NameEntity:
    """One ``[[entity]]`` table checked and normalised; ConfigError says what is wrong."""
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    ident = table.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise ConfigError(f"{where}: id must be a lower_snake string, got {ident!r}")
    where = f"{where} (id={ident})"
    kind = table.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {kind!r} is not one of {sorted(KINDS)}")
    specific = table.get("specific", kind != "country")
    if not isinstance(specific, bool):
        raise ConfigError(f"{where}: specific must be true or false")
    reason = table.get("reason", "")
    forms: dict[str, tuple[str, ...]] = {}
    for lang in LANGS:
        raw = table.get(lang, [])
        if not isinstance(raw, list) or not all(isinstance(f, str) and f.strip() for f in raw):
            raise ConfigError(f"{where}: {lang} must be a list of non-empty strings")
        out: list[str] = []
        for form in raw:
            if lang in ("en", "ru") and form != form.lower():
                raise ConfigError(f"{where}: {lang} form {form!r} must be lower case")
            if "ё" in form:
                raise ConfigError(f"{where}: {lang} form {form!r}: write е, not ё")
            norm = normalise(form.rstrip("$")) + ("$" if form.endswith("$") else "")
            bare = norm.rstrip("$")
            if not _script_ok(lang, bare):
                raise ConfigError(f"{where}: {lang} form {form!r} is not in the {lang} script")
            if lang in ("en", "ru") and len(bare) < MIN_PREFIX_LEN and not norm.endswith("$"):
                raise ConfigError(
                    f"{where}: short {lang} form {form!r} must end in $ (whole word only)")
            if lang in ("ja", "zh") and norm.endswith("$"):
                raise ConfigError(f"{where}: $ means nothing for {lang} form {form!r}")
            if lang in ("ja", "zh") and len(bare) == 1 and specific:
                raise ConfigError(
                    f"{where}: one-character {lang} form {form!r} only for specific = false")
            if norm not in out:
                out.append(norm)
        if not out and not reason:
            raise ConfigError(f"{where}: no {lang} forms (add them, or a reason = \"...\")")
        forms[lang] = tuple(out)
    if not any(forms.values()):
        raise ConfigError(f"{where}: no forms at all")
    exclude = tuple(normalise(e) for e in table.get("exclude", []))
    shared = tuple(normalise(s.rstrip("$")) for s in table.get("shared", []))
    code = table.get("code", "")
    if not isinstance(code, str) or (code and not re.fullmatch(r"[A-Z]{2}", code)):
        raise ConfigError(f"{where}: code must be an ISO 3166 alpha-2 code like \"RU\"")
    return NameEntity(ident, kind, specific, forms, reason, code, exclude, shared)


def _check_lexicon(entities: list[NameEntity], where: str) -> None:
    """Unique ids; a form in two entities only where both mark it ``shared``; excludes fit."""
    seen: dict[str, str] = {}
    owners: dict[str, list[NameEntity]] = {}
    for ent in entities:
        if ent.id in seen:
            raise ConfigError(f"{where}: id {ent.id!r} appears twice")
        seen[ent.id] = ent.kind
        for _lang, form in ent.all_forms():
            bucket = owners.setdefault(form.rstrip("$"), [])
            if ent not in bucket:
                bucket.append(ent)
        for ex in ent.exclude:
            simple = to_simplified(ex)
            if not any(f.rstrip("$") in ex or to_simplified(f.rstrip("$")) in simple
                       for _l, f in ent.all_forms()):
                raise ConfigError(f"{where} (id={ent.id}): exclude {ex!r} holds none of its forms")
    for ent in entities:
        for form in ent.shared:
            if len(owners.get(form, ())) < 2:
                raise ConfigError(
                    f"{where} (id={ent.id}): shared form {form!r} is in no other entity")
    for form, ents in owners.items():
        if len(ents) > 1 and not all(form in e.shared for e in ents):
            ids = ", ".join(e.id for e in ents)
            raise ConfigError(
                f"{where}: form {form!r} belongs to {ids}; list it in `shared` of each "
                "if that is deliberate")


def load_names(path: Path | str | None = None) -> list[NameEntity]:
    """The validated lexicon (cached per path); ConfigError names the entity and the fault."""
    return list(_load(Path(path) if path is not None else DEFAULT_PATH))


@lru_cache(maxsize=8)
def _load(path: Path) -> tuple[NameEntity, ...]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    tables = data.get("entity")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[entity]] tables")
    entities = [_entity(t, f"{path.name} entity #{i + 1}") for i, t in enumerate(tables)]
    _check_lexicon(entities, path.name)
    return tuple(entities)


class Matcher:
    """Finds the lexicon's entities in text by the rules in the module docstring.

    Candidate positions come from one regex per language built as a character trie (the
    engine runs it in C, and its greedy optionals try the longest form first); Python then
    checks ``$`` and ``exclude`` only where something matched.
    """

    def __init__(self, entities: Iterable[NameEntity]) -> None:
        self.entities = {e.id: e for e in entities}
        self._zh_exclude = {
            e.id: tuple(to_simplified(x) for x in e.exclude) for e in self.entities.values()
        }
        self._forms: dict[str, dict[str, list[tuple[str, bool, NameEntity]]]] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        for lang in LANGS:
            index: dict[str, list[tuple[str, bool, NameEntity]]] = {}
            for ent in self.entities.values():
                for form in ent.forms.get(lang, ()):
                    bare = form.rstrip("$")
                    if lang == "zh":
                        bare = to_simplified(bare)
                    entry = (bare, form.endswith("$"), ent)
                    bucket = index.setdefault(bare[0], [])
                    if entry not in bucket:  # 聯合 and 联合 are one form once simplified
                        bucket.append(entry)
            for entries in index.values():
                entries.sort(key=lambda e: -len(e[0]))
            self._forms[lang] = index
            trie = _trie(f for entries in index.values() for f, _w, _e in entries)
            body = _trie_pattern(trie)
            if lang in ("en", "ru"):
                body = f"(?<![^\\W_{_CJK}])" + body  # at a word start
            self._regex[lang] = re.compile(body or r"(?!x)x")

    def find(self, text: str, lang: str | None = None) -> set[str]:
        """Ids of entities named in ``text``; ``lang`` picks the forms (None: all).

        Latin forms are also looked for in ru/ja/zh text (a Latin word there is nearly
        always a name or an acronym: LNG, APEC, Sakhalin-2).
        """
        return {ident for ident, _pos, _form in self.hits(text, lang)}

    def hits(self, text: str, lang: str | None = None) -> list[tuple[str, int, str]]:
        """(entity id, position, form) of every match, positions in :func:`normalise`'d
        text (for Chinese, its simplified form); the same ``lang`` rule as :meth:`find`."""
        langs = LANGS if lang is None else ((lang,) if lang == "en" else ("en", lang))
        norm = normalise(text)
        out: list[tuple[str, int, str]] = []
        for each in langs:
            src = to_simplified(norm) if each == "zh" else norm
            out += [(e.id, pos, form) for e, pos, form in self._scan(src, each)]
        return out

    def _scan(self, text: str, lang: str) -> Iterator[tuple[NameEntity, int, str]]:
        index = self._forms[lang]
        regex = self._regex[lang]
        start = 0
        while (m := regex.search(text, start)) is not None:
            pos = m.start()
            best: str | None = None
            for form, whole, ent in index.get(text[pos], ()):
                if not text.startswith(form, pos):
                    continue
                end = pos + len(form)
                if end < len(text) and (
                        (whole and _WORDCHAR.match(text, end))
                        or (form[-1].isdigit() and text[end].isdigit())):
                    continue  # "abe$" in "aberdeen"; "tu 95" in "tu 950"
                excludes = self._zh_exclude[ent.id] if lang == "zh" else ent.exclude
                if any(_vetoed(text, pos, form, ex) for ex in excludes):
                    continue
                if best is not None and form != best:
                    break  # only the longest form counts (with all who share it)
                best = form
                yield ent, pos, form
            # after the form taken (not the regex's longest candidate, which a veto may
            # have refused: 日本海上自衛隊 is 日本 + 海上自衛隊 once 日本海 is excluded)
            start = pos + (len(best) if best else 1)


def _vetoed(text: str, pos: int, form: str, exclude: str) -> bool:
    """Whether ``exclude`` (which contains ``form``) surrounds the match at ``pos``."""
    start = exclude.find(form)
    while start >= 0:
        if pos - start >= 0 and text.startswith(exclude, pos - start):
            return True
        start = exclude.find(form, start + 1)
    return False


def _trie(forms: Iterable[str]) -> dict[str, Any]:
    """Forms as a character trie; the key "" marks where a form ends."""
    trie: dict[str, Any] = {}
    for form in forms:
        node = trie
        for ch in form:
            node = node.setdefault(ch, {})
        node[""] = {}
    return trie


def _trie_pattern(node: dict[str, Any]) -> str:
    """A regex for a trie; an ending node makes its continuations a greedy optional."""
    children = [(ch, child) for ch, child in sorted(node.items()) if ch]
    if not children:
        return ""
    branches = [re.escape(ch) + _trie_pattern(child) for ch, child in children]
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


@lru_cache(maxsize=8)
def _matcher(path: Path) -> Matcher:
    return Matcher(_load(path))


def matcher(path: Path | str | None = None) -> Matcher:
    """The cached :class:`Matcher` of a lexicon file (default ``seeds/names.toml``)."""
    return _matcher(Path(path) if path is not None else DEFAULT_PATH)


def find_entities(text: str, lang: str | None = None) -> set[str]:
    """Ids of the default lexicon's entities named in ``text`` (see :class:`Matcher`)."""
    return matcher().find(text, lang)


def flat_tables(path: Path | str | None = None,
                ) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(countries by ISO code, other entities by id) → all their forms, ``$`` kept.

    For code with its own gazetteer in the old ``COUNTRIES`` / ``ENTITIES`` shape. Such code
    must :func:`normalise` its text first (forms are stored normalised: "ту 95"), and it
    loses ``exclude`` and the longest-form rule: :class:`Matcher` keeps them.
    """
    countries: dict[str, tuple[str, ...]] = {}
    others: dict[str, tuple[str, ...]] = {}
    for ent in load_names(path):
        forms = tuple(dict.fromkeys(form for _lang, form in ent.all_forms()))
        if ent.kind == "country" and ent.code:
            countries[ent.code] = forms
        else:
            others[ent.id] = forms
    return countries, others
