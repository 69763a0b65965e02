"""The lexicon of name forms (seeds/names.toml): it loads, it refuses bad entries with a
message that says which entity and what is wrong, every entity has a form in each language,
and the reference matcher finds the expected entities in sentences we wrote ourselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.stories.names import (
    KINDS,
    LANGS,
    Matcher,
    find_entities,
    load_names,
    normalise,
    to_simplified,
)


def test_the_lexicon_loads_with_unique_ids_and_known_kinds() -> None:
    names = load_names()
    ids = [e.id for e in names]
    assert len(ids) == len(set(ids))
    assert {e.kind for e in names} <= KINDS
    assert {"putin", "iturup", "power_of_siberia", "russia"} <= set(ids)
    assert load_names() == names  # cached, same content


def test_every_entity_has_all_four_languages_or_a_reason() -> None:
    missing = [
        (e.id, lang) for e in load_names() for lang in LANGS if not e.forms[lang] and not e.reason
    ]
    assert missing == []


def test_countries_are_not_specific_and_carry_their_code() -> None:
    countries = [e for e in load_names() if e.kind == "country"]
    assert countries and all(not e.specific and len(e.code) == 2 for e in countries)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "names.toml"
    path.write_text(body, encoding="utf-8")
    return path


_OK = '[[entity]]\nid = "x"\nkind = "person"\nen = ["xname"]\nru = ["иксов"]\nja = ["エックス"]\nzh = ["艾克斯"]\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_OK + _OK, "id 'x' appears twice"),
        (_OK.replace('"person"', '"planet"'), "kind 'planet' is not one of"),
        (_OK.replace('"x"', '"Bad Id"'), "id must be a lower_snake string"),
        (_OK.replace('["xname"]', '["XName"]'), "form 'XName' must be lower case"),
        (_OK.replace('["иксов"]', '["ikcov"]'), "ru form 'ikcov' is not in the ru script"),
        (_OK.replace('["xname"]', '["xn"]'), "short en form 'xn' must end in $"),
        (_OK.replace('["艾克斯"]', '["艾"]'), "one-character zh form"),
        (_OK.replace('ja = ["エックス"]\n', ""), "no ja forms (add them, or a reason"),
        (_OK.replace('kind = "person"', 'kind = "person"\ncolour = "red"'), "unknown key(s) ['colour']"),
        (_OK + _OK.replace('"x"', '"y"'), "form 'xname' belongs to x, y"),
        (_OK.replace('zh = ', 'shared = ["xname"]\nzh = '), "shared form 'xname' is in no other entity"),
        (_OK.replace('zh = ', 'exclude = ["abc"]\nzh = '), "exclude 'abc' holds none of its forms"),
        ("[[entity]\n", "names.toml"),
        ("title = 'no entities'\n", "no [[entity]] tables"),
    ],
    ids=["duplicate-id", "unknown-kind", "bad-id", "upper-case", "wrong-script", "short-prefix",
         "one-cjk-char", "missing-language", "unknown-key", "shared-form", "stray-shared",
         "stray-exclude", "toml-syntax", "no-tables"],
)
def test_validation_errors_say_what_is_wrong(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_names(_write(tmp_path, body))
    assert message in str(info.value)


def test_a_reason_allows_an_empty_language_and_shared_forms_may_be_declared(tmp_path: Path) -> None:
    first = _OK.replace('ja = ["エックス"]', 'ja = []\nreason = "no Japanese name"')
    second = _OK.replace('"x"', '"y"').replace('zh = ["艾克斯"]', 'zh = ["艾克斯二"]')
    second = second.replace('ru = ["иксов"]', 'ru = ["игрек"]').replace("エックス", "ワイ")
    body = (first + second).replace('en = ["xname"]', 'en = ["xname"]\nshared = ["xname"]')
    names = load_names(_write(tmp_path, body))
    assert [e.id for e in names] == ["x", "y"] and names[0].forms["ja"] == ()
    assert Matcher(names).find("Mr Xname spoke", "en") == {"x", "y"}


def test_normalise_and_traditional_chinese() -> None:
    assert normalise("Ту‑95МС и Королёв") == "ту 95мс и королев"
    assert to_simplified("習近平與普京會談") == "习近平与普京会谈"


# Sentences written for these tests (not taken from any feed): (language, text, expected ids).
SENTENCES = [
    ("en", "Putin and Xi Jinping met in Vladivostok to discuss LNG and the Power of Siberia.",
     {"putin", "xi_jinping", "vladivostok", "lng", "power_of_siberia"}),
    ("ru", "Путину доложили о визите Лаврова на Итуруп и Кунашир.",
     {"putin", "lavrov", "iturup", "kunashir"}),
    ("ja", "プーチン大統領は択捉島を訪れ、高市首相は帰国後に抗議した。",
     {"putin", "iturup", "takaichi", "protest"}),
    ("zh", "習近平與普京在上海合作組織峰會上會談。",
     {"xi_jinping", "putin", "sco"}),
]


@pytest.mark.parametrize(("lang", "text", "expected"), SENTENCES, ids=[s[0] for s in SENTENCES])
def test_invented_sentences_hit_the_expected_entities(lang: str, text: str, expected: set[str]) -> None:
    assert expected <= find_entities(text, lang)


def test_short_forms_do_not_fire_inside_other_words() -> None:
    assert "kunashir" not in find_entities("首相は帰国後、記者団に語った。", "ja")
    assert find_entities("Aberdeen sugar prices", "en") == set()
