"""Does an article anticipate an event, report it, or react to it afterwards?

A preview ("Abe will present a plan in Sochi on Friday", published the day before) and a
follow-up ("Tokyo keeps its position, the PM said two days later") share an event's names,
places and numbers, so the pair features alone join them to the event's story. What sets
them apart is the tense and modality of the headline and first sentence: a preview speaks
of what *will* happen, a follow-up *reacts* to what happened. Neither marker alone says
"another event" (a report may quote a plan), so the pair model sees them only together with
the time order (:func:`monitor.stories.pairs.pair_vector`): one side anticipates and the
other does not, and they lie a day or more apart.

Markers are read in the title and the first ``HEAD_CHARS`` of the lead, in the four
languages the monitor reads (en, ru, ja, zh). Regexes are compiled once; the text is the
normalised, lowered title + lead of :func:`monitor.stories.features.features`
(simplified Chinese, ё as е).
"""

from __future__ import annotations

import re

#: Characters of the lead read after the title: the first sentence or two.
HEAD_CHARS = 240

#: Verbs of the events the monitor reports (meetings, visits, signings, drills, patrols).
_EN_EVENT_VERBS = (
    r"(?:hold|meet|visit|present|sign|travel|attend|discuss|propose|launch|begin|start|"
    r"conduct|host|unveil|open|stage|make|take part|participate|head|fly|arrive|kick off)"
)

def _by_script(en: tuple[str, ...], ru: tuple[str, ...], cjk: tuple[str, ...],
               ) -> dict[str, re.Pattern[str]]:
    """One compiled alternation per script: a text is searched only with the patterns of
    the scripts it holds (an English lead never runs the Russian or CJK branches). The text
    is lowered already, so no IGNORECASE (several times slower on long alternations)."""
    return {"en": re.compile("|".join(en)), "ru": re.compile("|".join(ru)),
            "cjk": re.compile("|".join(cjk))}


#: Anticipation: future, plan, intent, schedule, "ahead of", preview.
_ANTICIPATION = _by_script(
    en=(
        rf"\b(?:will|would|shall)\s+(?:\w+\s+)?{_EN_EVENT_VERBS}\b",
        r"\b(?:is|are|was|were)\s+(?:expected|scheduled|set|due|slated|poised|planning|"
        r"preparing|going)\s+to\b",
        r"\bplans?\s+to\b", r"\bintends?\s+to\b", r"\bahead\s+of\b", r"\bon\s+the\s+eve\s+of\b",
        r"\bpreview\b", r"\bupcoming\b", r"\bforthcoming\b", r"\bnext\s+week\b",
    ),
        ru=(
        r"намерен", r"планиру", r"запланирован", r"предстоящ", r"в\s+преддверии", r"собира[ею]тся",
        r"\bбуд(?:ет|ут)\b", r"ожида[ею]тся", r"\bпроведут\b", r"\bпосетит\b", r"\bподпишут\b",
        r"\bпредставит\b", r"\bпроведет\b", r"\bпримет\s+участие\b", r"\bпродолжит\b",
        r"\bпродолжат\b", r"в\s+ближайш",
    ),
    cjk=(
        r"予定", r"方針", r"見通し", r"見込み", r"意向", r"する考え", r"調整して", r"へ調整",
        # a Sino-Japanese verb in the plain non-past at a sentence end: news reports an event
        # in the past (した), so 提示する。/ 訪問する。 tells what is to come
        r"[\u4e00-\u9fff]{2}する(?:。|方向)",
        r"即将", r"将于", r"拟于", r"拟将", r"前瞻", r"预计", r"筹备", r"计划于", r"届时",
        r"下周", r"将(?:出席|举行|访问|会见|会晤|签署|开展|进行|参加)",
    ),
)

#: A headline in the infinitive ("Abe to hold talks with Putin"): English headlines' future.
_EN_TITLE_TO = re.compile(rf"\bto\s+{_EN_EVENT_VERBS}\b")

#: A headline ending in へ ("首脳会談へ", "in the direction of"): a Japanese preview.
_JA_TITLE_TOWARD = re.compile(r"へ\s*$|へ[\s　、]")

#: Reaction / follow-up: the article answers, comments on or draws on an earlier event.
_REACTION = _by_script(
    en=(
        r"\breiterat", r"\bin\s+response\s+to\b", r"\bresponded\b", r"\breacted\b",
        r"\bin\s+the\s+wake\s+of\b", r"\bdays\s+after\b", r"\bfollowing\s+(?:the|his|her|their|"
        r"last)\s+(?:talks|meeting|summit|visit|proposal|remarks|statement)",
        r"\bafter\s+(?:the|his|her|their|last)\s+(?:talks|meeting|summit|visit|proposal)",
        r"\bcommented\s+on\b", r"\bremains?\s+committed\b",
        # a stance kept or restated: the answer to an event, not the event
        r"\b(?:maintains?|keeps?|sticks?\s+to|stands?\s+by)\s+(?:its|his|her|their)\s+"
        r"(?:position|stance)\b", r"\bposition\s+(?:remains|is)\s+unchanged\b",
    ),
        ru=(
        r"по\s+итогам", r"после\s+(?:переговоров|встречи|саммита|визита)", r"в\s+ответ\s+на",
        r"прокомментировал", r"отреагировал", r"\bвновь\b",
        r"придерживат\w*\s+(?:\w+\s+)?позиции", r"сохраня\w*\s+(?:\w+\s+)?позици",
        r"позици\w\s+(?:\w+\s+)?не\s+измен", r"неизменн",
        r"ранее\s+(?:заявил|предложил)",
    ),
    cjk=(
        r"を受け", r"会談後", r"改めて", r"反論", r"について問われ", r"に反応",
        r"立場(?:は|に)?変わ(?:り|ら)", r"従来の立場", r"立場を堅持",
        r"会谈后", r"会晤后", r"回应", r"重申", r"对此", r"再次表示", r"驳斥",
        r"立场不变", r"一贯立场", r"坚持\S{0,6}立场",
    ),
)


def markers(title: str, lead: str) -> tuple[float, float]:
    """(anticipation, reaction) of an article, each 0.0 or 1.0.

    ``title`` and ``lead`` are the lowered, normalised texts; only the title and the first
    ``HEAD_CHARS`` of the lead are read (a report's later paragraphs often look ahead).
    """
    head = f"{title}\n{lead[:HEAD_CHARS]}"
    if head.isascii():
        scripts = ("en",)
    else:
        scripts = tuple(k for k, found in (("en", _LATIN), ("ru", _CYRILLIC), ("cjk", _CJK))
                        if found.search(head))
    anticipates = any(_ANTICIPATION[k].search(head) for k in scripts) or bool(
        ("cjk" in scripts and _JA_TITLE_TOWARD.search(title))
        or ("en" in scripts and _EN_TITLE_TO.search(title)))
    reacts = any(_REACTION[k].search(head) for k in scripts)
    return float(anticipates), float(reacts)


_LATIN = re.compile("[a-z]")
_CYRILLIC = re.compile("[а-я]")
_CJK = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
