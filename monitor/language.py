"""Language of a text as an ISO 639-1 code: script heuristics first, py3langid for the rest.

Why both: the languages the monitor cares most about are told apart by their scripts far more
reliably than by a statistical model on short headlines (a Japanese title written mostly in
kanji looks Chinese to langid; a Russian headline of three words is sometimes Bulgarian or
Serbian). Counting characters per script is exact and costs microseconds, so we decide
``ja``/``zh``/``ru``/``ko`` by script and ask py3langid only for Latin and other scripts.

py3langid loads its model (about 0.7 s) on the first call that needs it, not at import time,
so importing this module (the ingest pipeline and the classifier both do) stays cheap.
"""

from __future__ import annotations

import logging
import threading
import unicodedata

__all__ = ["detect_language", "script_profile"]

log = logging.getLogger(__name__)

#: Below this many letters a statistical guess is noise; we answer ``None`` instead.
MIN_LETTERS = 12
#: Only this much text is looked at: the language of a 5 MB page is settled by its start.
SAMPLE_CHARS = 4000

_langid_lock = threading.Lock()
_identifier = None


def script_profile(text: str) -> dict[str, int]:
    """Count letters per script: latin, cyrillic, kana, han, hangul, other.

    Used by :func:`detect_language` and by the classifier to pick per-script term lists.
    """
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


def _langid():
    global _identifier
    with _langid_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_modelpath(
                MODEL_DIR / MODEL_FILE, norm_probs=True
            )
        return _identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (``"en"``, ``"ru"``, ``"ja"``, ``"zh"``, …) or ``None``.

    ``None`` when there is too little text to tell, or for binary junk; never raises.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    sample = unicodedata.normalize("NFC", text[:SAMPLE_CHARS])
    counts = script_profile(sample)
    letters = sum(counts.values())
    if letters < 3:
        return None
    # Any kana at all means Japanese: Chinese text never uses it, Japanese text always does.
    if counts["kana"] >= 2 and counts["kana"] + counts["han"] >= 0.3 * letters:
        return "ja"
    if counts["han"] >= 0.3 * letters:
        return "zh"
    if counts["hangul"] >= 0.3 * letters:
        return "ko"
    if counts["cyrillic"] >= 0.5 * letters:
        # Ukrainian, Belarusian, Bulgarian… share the script; their own letters tell them apart.
        if any(ch in sample for ch in "іїєґ"):
            return "uk"
        if "ў" in sample:
            return "be"
        if letters < MIN_LETTERS:
            return "ru"
        return _classify(sample, prefer="ru")
    if letters < MIN_LETTERS:
        return None
    return _classify(sample)


def _classify(sample: str, prefer: str | None = None) -> str | None:
    try:
        lang, prob = _langid().classify(sample)
    except Exception:  # a broken model file must not break ingestion
        log.warning("py3langid failed; language left unknown", exc_info=True)
        return prefer
    if prefer and lang not in {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn"}:
        return prefer
    if prob < 0.5 and prefer:
        return prefer
    return lang
