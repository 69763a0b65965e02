"""detect_language: scripts decide ru/ja/zh/ko; py3langid the rest; junk gives None."""

from __future__ import annotations

import pytest

from monitor.enrich.language import detect_language


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


def _reference_profile(text: str) -> dict[str, int]:
    """The original per-character loop: script_profile must count exactly like it."""
    counts = {"latin": 0, "cyrillic": 0, "kana": 0, "han": 0, "hangul": 0, "other": 0}
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            if ch.isalpha():
                counts["latin"] += 1
            continue
        if 0x0400 <= code <= 0x04FF:
            counts["cyrillic"] += 1
        elif 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
            counts["kana"] += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            counts["han"] += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
            counts["hangul"] += 1
        elif code <= 0x024F and ch.isalpha():
            counts["latin"] += 1
        elif ch.isalpha():
            counts["other"] += 1
    return counts


#: Range edges of every script class, and a few planes beyond the table.
_EDGES = [0x0, 0x7F, 0x80, 0xAA, 0xB5, 0xBF, 0xC0, 0xD7, 0x24F, 0x250, 0x3FF, 0x400, 0x4FF,
          0x500, 0x10FF, 0x1100, 0x11FF, 0x1200, 0x303F, 0x3040, 0x30FF, 0x3100, 0x31EF,
          0x31F0, 0x31FF, 0x3200, 0x33FF, 0x3400, 0x4DBF, 0x4DC0, 0x4DFF, 0x4E00, 0x9FFF,
          0xA000, 0xABFF, 0xAC00, 0xD7AF, 0xD7B0, 0xD800, 0xDFFF, 0xE000, 0xFF65, 0xFF66,
          0xFF9D, 0xFF9E, 0xFFFF, 0x10000, 0x1D400, 0x20000, 0x2A6DF, 0x10FFFF]


def test_script_profile_every_code_point():
    from monitor.enrich.language import script_profile

    everything = "".join(map(chr, range(0x110000)))
    for start in range(0, len(everything), 0x8000):
        chunk = everything[start:start + 0x8000]
        assert script_profile(chunk) == _reference_profile(chunk), hex(start)


def test_script_profile_equals_reference_on_random_text():
    import random

    from monitor.enrich.language import script_profile

    rng = random.Random(20261127)
    pools = [range(0x80), range(0x80, 0x250), range(0x400, 0x500), range(0x3040, 0x3100),
             range(0x4E00, 0xA000), range(0xAC00, 0xD7B0), range(0x250, 0x10000),
             range(0x10000, 0x110000)]
    for _ in range(2000):
        n = rng.choice([0, 1, 5, 40, 400])
        chosen = rng.sample(pools, rng.randint(1, 3))
        text = "".join(chr(rng.choice(_EDGES) if rng.random() < 0.1
                           else rng.choice(rng.choice(chosen))) for _ in range(n))
        assert script_profile(text) == _reference_profile(text), repr(text)


def test_model_cache_gives_identical_answers(tmp_path, monkeypatch):
    """The memory-mapped cache is written on first load, used on the next, and a damaged
    entry is replaced; answers are those of py3langid's own loader throughout."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    from monitor.enrich import language

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = MODEL_DIR / MODEL_FILE
    reference = LanguageIdentifier.from_modelpath(model, norm_probs=True)
    texts = ["Japan and Russia held talks on the disputed islands on Tuesday",
             "La Russie et le Japon ont discuté des îles Kouriles", "Россия и Китай", "x" * 50,
             "Die Gespräche zwischen Moskau und Tokio wurden fortgesetzt", "", "!!!"]

    first = language._load_identifier(model)  # writes the cache
    directory = language._cache_dir(model)
    assert directory.is_dir() and directory.parent.parent == tmp_path
    second = language._load_identifier(model)  # maps it
    assert isinstance(second.tk_nextmove, memoryview)
    for ident in (first, second):
        for text in texts:
            assert np.array_equal(ident._decide(text), reference._decide(text))
            assert ident.classify(text) == reference.classify(text)

    (directory / "ptc.npy").write_bytes(b"damaged")
    third = language._load_identifier(model)  # falls back, rewrites
    assert third.classify(texts[0]) == reference.classify(texts[0])
    assert isinstance(language._load_identifier(model).tk_nextmove, memoryview)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a directory")
    assert language._load_identifier(model).classify(texts[0]) == reference.classify(texts[0])


def test_answers_are_remembered_but_not_failures(monkeypatch):
    from monitor.enrich import language

    text = "Die Gespräche zwischen Moskau und Tokio wurden am Dienstag fortgesetzt"
    monkeypatch.setattr(language, "_answers", {})
    real = language._langid

    def broken():
        raise RuntimeError("model file damaged")

    monkeypatch.setattr(language, "_langid", broken)
    assert detect_language(text) is None  # py3langid failed: unknown, and not remembered
    assert language._answers == {}
    monkeypatch.setattr(language, "_langid", real)
    assert detect_language(text) == "de"
    assert language._answers == {text: "de"}
    padded = text.ljust(language.SAMPLE_CHARS)
    assert detect_language(padded + " Ende") == "de"
    assert detect_language(padded + " Schluss") == "de"  # same sample: answered from memory
    assert len(language._answers) == 2
