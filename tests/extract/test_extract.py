"""extract_text / extract_metadata on our own pages, each with a golden expected text.

Fixtures live in fixtures/pages/: ``<name>.html`` says in its comment what it tests, and
``<name>.txt`` is the exact text we expect (the article paragraphs, one per line; no menus,
related links, share bars, newsletter prompts, comments, editor lines or footers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.enrich.extract import (
    detect_language,
    extract_metadata,
    extract_text,
    looks_like_js_shell,
    parse_datetime,
    text_size,
)

PAGES = Path(__file__).parent / "fixtures" / "pages"
GOLDEN = ["en_article", "ru_article", "ja_article", "zh_article"]


def page(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", GOLDEN, ids=GOLDEN)
def test_main_text_matches_golden(name: str) -> None:
    expected = (PAGES / f"{name}.txt").read_text(encoding="utf-8").strip()
    assert extract_text(page(name), "https://news.example.org/a") == expected


METADATA = {
    "en_article": {"published_at": datetime(2026, 11, 26, 6, 10, tzinfo=UTC),
                   "author": "Aiko Tanaka", "language": "en",
                   "canonical_url": "https://news.example.org/asia/2026/11/26/japan-russia-salmon-quota"},
    "ru_article": {"published_at": datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
                   "author": "Иван Петров", "language": "ru",
                   "canonical_url": "https://primer-novosti.example.ru/economy/20261126/sila-sibiri-2.html"},
    "ja_article": {"published_at": datetime(2026, 11, 26, 8, 40, tzinfo=UTC),
                   "language": "ja",
                   "canonical_url": "https://www.example.jp/news/20261126/k100001.html"},
    "zh_article": {"published_at": datetime(2026, 11, 26, 12, 15, tzinfo=UTC),
                   "author": "示例记者", "language": "zh", "canonical_url": None},
}


@pytest.mark.parametrize("name", GOLDEN, ids=GOLDEN)
def test_metadata_in_utc(name: str) -> None:
    meta = extract_metadata(page(name), "https://news.example.org/a")
    for key, value in METADATA[name].items():
        assert meta[key] == value, key
    assert meta["published_at"].tzinfo is UTC


def test_relative_canonical_is_made_absolute() -> None:
    html = '<html><head><link rel="canonical" href="/a/b?x=1"></head><body><p>x</p></body></html>'
    meta = extract_metadata(html, "https://outlet.example.com/feed/item")
    assert meta["canonical_url"] == "https://outlet.example.com/a/b?x=1"


def test_a_canonical_link_urllib_cannot_split_gives_none_not_a_failed_extraction() -> None:
    html = '<html><head><link rel="canonical" href="//[oops/a"></head><body><p>x</p></body></html>'
    assert extract_metadata(html, "https://outlet.example.com/feed/item")["canonical_url"] is None


@pytest.mark.parametrize(
    ("html", "why"),
    [
        ("<html><body><div>" + "<div>Russia and Japan resumed talks on a peace treaty today,"
         " officials in Tokyo said, after a pause of four years.</div>" * 3 + "</div></body></html>",
         "text in divs only, no paragraphs"),
        ("<html><body><table><tr><td>Путин провел переговоры с премьер-министром Японии в "
         "Владивостоке и обсудил совместные проекты на Курилах.</td></tr></table></body></html>",
         "text in a table cell"),
        ("<html><body><p>Short item: Lavrov meets Wang Yi.</p></body></html>", "one short line"),
        ("<p>中俄两国外长在莫斯科举行会谈。", "a fragment without html/body"),
    ],
    ids=["divs", "table", "short", "fragment"],
)
def test_never_empty_when_the_page_has_text(html: str, why: str) -> None:
    assert extract_text(html).strip(), why


@pytest.mark.parametrize("html", ["", "   ", "<html></html>", "\x00\x01garbage<<<>>>",
                                  "<?xml version='1.0' encoding='utf-8'?><html><body></body></html>"],
                         ids=["empty", "blank", "no-body", "binary", "xml-decl"])
def test_bad_input_never_raises(html: str) -> None:
    assert isinstance(extract_text(html), str)
    assert isinstance(extract_metadata(html, None), dict)


def test_js_shell_and_paywall_pages_yield_little_text() -> None:
    shell = page("js_shell")
    assert looks_like_js_shell(shell, extract_text(shell))
    article = page("en_article")
    assert not looks_like_js_shell(article, extract_text(article))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Russia and Japan agreed on a salmon quota near the Kuril Islands.", "en"),
        ("Россия и Япония согласовали квоту на вылов лосося у Курил.", "ru"),
        ("日ロ サケ・マス漁獲枠 来年は2050トンで合意", "ja"),
        ("北方領土での演習について", "ja"),
        ("王毅同拉夫罗夫在莫斯科会谈", "zh"),
    ],
    ids=["en", "ru", "ja", "ja-kanji-kana", "zh"],
)
def test_detect_language(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-26T15:10:00+09:00", datetime(2026, 11, 26, 6, 10, tzinfo=UTC)),
        ("2026-11-26T06:10:00Z", datetime(2026, 11, 26, 6, 10, tzinfo=UTC)),
        ("2026-11-26 12:30:00+0300", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("Wed, 26 Nov 2026 06:10:00 GMT", datetime(2026, 11, 26, 6, 10, tzinfo=UTC)),
        ("2026-11-26", datetime(2026, 11, 26, tzinfo=UTC)),
        ("not a date", None),
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_parse_datetime_to_utc(raw: str, expected: datetime | None) -> None:
    assert parse_datetime(raw) == expected


@pytest.mark.parametrize(
    ("text", "size"),
    [("Russia and Japan agreed.", 4), ("ロシアと日本は合意した。", 5), ("", 0),
     ("普京 Putin 会见", 3)],
)
def test_text_size_counts_cjk_by_characters(text: str, size: int) -> None:
    assert text_size(text) == size
