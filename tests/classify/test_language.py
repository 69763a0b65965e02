"""detect_language: scripts decide ru/ja/zh/ko; py3langid the rest; junk gives None."""

from __future__ import annotations

import pytest

from monitor.language import detect_language


@pytest.mark.parametrize(("text", "expected"), [
    ("Россия и Япония провели переговоры о мирном договоре", "ru"),
    ("日本とロシアは平和条約の交渉を続けている", "ja"),
    ("北方領土問題", "zh"),  # kanji only: indistinguishable, Chinese is the honest guess
    ("中俄两国领导人在北京举行会谈", "zh"),
    ("한국과 러시아의 관계", "ko"),
    ("Japan and Russia held talks on the disputed islands on Tuesday", "en"),
    ("Україна і Росія провели переговори", "uk"),
    ("", None), ("   ", None), ("\x00\x01\x02\xff", None), ("ok", None),
], ids=["ru", "ja", "kanji-only", "zh", "ko", "en", "uk", "empty", "blank", "binary", "short"])
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_never_raises_on_odd_input():
    assert detect_language(None) is None  # type: ignore[arg-type]
    result = detect_language("Moscow and Tokyo. " * 300_000)  # 5 MB: only the start is read
    assert result is None or isinstance(result, str)
