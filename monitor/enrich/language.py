"""Language of a text as an ISO 639-1 code: script heuristics first, py3langid for the rest.

Why both: the languages the monitor cares most about are told apart by their scripts far more
reliably than by a statistical model on short headlines (a Japanese title written mostly in
kanji looks Chinese to langid; a Russian headline of three words is sometimes Bulgarian or
Serbian). Counting characters per script is exact and costs microseconds, so we decide
``ja``/``zh``/``ru``/``ko`` by script and ask py3langid only for Latin and other scripts.

py3langid's model is loaded on the first call that needs it, not at import time, so importing
this module (the ingest pipeline and the classifier both do) stays cheap; and it is loaded from
an uncompressed, memory-mapped copy in the user's cache (a few ms) rather than decompressed
from py3langid's LZMA file (about 0.5 s) in every process, see :func:`_load_identifier`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

__all__ = ["detect_language", "script_profile"]

log = logging.getLogger(__name__)

#: Below this many letters a statistical guess is noise; we answer ``None`` instead.
MIN_LETTERS = 12
#: Only this much text is looked at: the language of a 5 MB page is settled by its start.
#: 1,000 rather than 4,000: on 3,219 real feed entries (title + summary) and 311 real page
#: texts (title + body) not one answer changed, and py3langid's cost grows with the sample.
SAMPLE_CHARS = 1000

_langid_lock = threading.Lock()
_identifier: Any = None


#: One code letter per script in the strings :data:`_script_table` translates text to.
_SCRIPT_CODES = {"latin": "L", "cyrillic": "C", "kana": "K", "han": "H", "hangul": "G",
                 "other": "O"}
#: ASCII text (most English headlines) needs only its letters counted: deleting everything
#: else with ``str.translate`` runs on CPython's cached ASCII fast path.
_ASCII_NON_LETTERS = {c: None for c in range(0x80) if not chr(c).isalpha()}
#: Characters translation leaves alone: only code points above the table (U+10000 and up).
_BEYOND_TABLE = re.compile(r"[^\x00-\x7f]")


def _script_of(code: int) -> str | None:
    """The script a code point is counted under, or ``None`` when it is not counted.

    The reference definition: :func:`script_profile` must count exactly what this says.
    """
    ch = chr(code)
    if code < 0x80:
        return "latin" if ch.isalpha() else None
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "han"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
        return "hangul"
    if code <= 0x024F and ch.isalpha():
        return "latin"
    if ch.isalpha():
        return "other"
    return None


#: Code point ranges counted whole under one script, letters or not.
_SCRIPT_RANGES = sorted([(0x0400, 0x04FF, "cyrillic"), (0x3040, 0x30FF, "kana"),
                         (0x31F0, 0x31FF, "kana"), (0xFF66, 0xFF9D, "kana"),
                         (0x4E00, 0x9FFF, "han"), (0x3400, 0x4DBF, "han"),
                         (0xAC00, 0xD7AF, "hangul"), (0x1100, 0x11FF, "hangul")])


@functools.cache
def _script_table() -> list[str | None]:
    """``str.translate`` table over the Basic Multilingual Plane: code letter or ``None``
    (delete) per code point, as :func:`_script_of` decides. Built on first use (a few ms),
    not at import; letters are looked up only between the whole-script ranges. A list, not
    a dict: indexing by code point is the cheapest lookup ``translate`` can make."""
    latin, other = _SCRIPT_CODES["latin"], _SCRIPT_CODES["other"]
    table: list[str | None] = []
    start = 0
    for lo, hi, script in [*_SCRIPT_RANGES, (0x10000, 0x10000, "")]:
        table += [(latin if code <= 0x024F else other) if ch.isalpha() else None
                  for code, ch in zip(range(start, lo), map(chr, range(start, lo)),
                                      strict=True)]
        table += [_SCRIPT_CODES.get(script)] * (min(hi, 0xFFFF) - lo + 1)
        start = hi + 1
    return table


def script_profile(text: str) -> dict[str, int]:
    """Count letters per script: latin, cyrillic, kana, han, hangul, other.

    Used by :func:`detect_language` and by the ingest pipeline to check a feed's declared
    language. Runs at C speed (one ``str.translate`` to a string of script code letters, then
    ``str.count`` per script) and counts exactly what :func:`_script_of` says per character.
    """
    if text.isascii():
        return {"latin": len(text.translate(_ASCII_NON_LETTERS)), "cyrillic": 0, "kana": 0,
                "han": 0, "hangul": 0, "other": 0}
    codes = text.translate(_script_table())
    counts = {script: codes.count(letter) for script, letter in _SCRIPT_CODES.items()}
    if not codes.isascii():  # code points beyond the table were left as they were
        counts["other"] += sum(map(str.isalpha, _BEYOND_TABLE.findall(codes)))
    return counts


def _langid() -> Any:
    """The shared py3langid identifier, loaded on first use (through the array cache)."""
    global _identifier
    with _langid_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_DIR, MODEL_FILE

            _identifier = _load_identifier(MODEL_DIR / MODEL_FILE)
        return _identifier


# -- the model, decompressed once per user ---------------------------------------------------
# py3langid ships its model as an LZMA-compressed npz (4.5 MB) and decompresses all 68 MB of
# it in every process, about 0.5 s of CPU before the first answer. We keep the decompressed
# arrays as plain .npy files in the user's cache and map them into memory, which costs a few
# milliseconds; the operating system shares the pages between processes. Anything wrong with
# the cache (unwritable, stale, half-written, another numpy) falls back to py3langid's own
# loader: the cache may make us faster, never wrong or broken.

#: The arrays of py3langid's model file, in the order ``modelio.load_model`` returns them.
_MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
_CACHE_PREFIX = "langid-"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "russia-asia-monitor"


def _cache_dir(model_path: Path) -> Path:
    """One directory per model file and version: installs (venvs) never share or fight over
    one, and an upgrade of py3langid or a replaced model file misses the old entry."""
    import py3langid

    st = model_path.stat()
    install = hashlib.sha1(str(model_path.resolve()).encode()).hexdigest()[:10]
    version = re.sub(r"[^\w.]", "_", str(getattr(py3langid, "__version__", "unknown")))
    return _cache_root() / f"{_CACHE_PREFIX}{install}-{version}-{st.st_size}-{st.st_mtime_ns}"


def _read_cache(directory: Path) -> tuple[Any, ...] | None:
    """The model tuple from the cache, memory-mapped, or ``None`` when it is not usable."""
    import numpy as np

    if not directory.is_dir():
        return None
    a = {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
         for name in _MODEL_ARRAYS}
    n_states, n_classes = len(a["nextmove_row"]), len(a["pc"])
    if (a["ptc"].ndim != 2 or a["ptc"].shape[1] != n_classes or len(a["classes"]) != n_classes
            or len(a["out_feat"]) != n_states or a["nextmove"].size % 256
            or a["nextmove"].dtype.kind != "u" or a["nextmove_row"].dtype.kind != "u"):
        raise ValueError(f"inconsistent langid cache {directory}")
    # memoryviews index to plain ints like the stdlib arrays py3langid builds, with no copy.
    return (np.asarray(a["ptc"]), np.asarray(a["pc"]), a["classes"].tolist(),
            memoryview(a["nextmove"]), memoryview(a["nextmove_row"]), a["out_feat"].tolist())


def _write_cache(directory: Path, model: tuple[Any, ...]) -> None:
    """Save the model tuple as .npy files, atomically: a complete directory appears under its
    final name or nothing does (concurrent writers: the first rename wins). Older entries of
    the same install are removed, so an upgrade does not leave 68 MB behind."""
    import numpy as np

    ptc, pc, classes, nextmove, row, out = model
    arrays = {"ptc": np.asarray(ptc), "pc": np.asarray(pc), "classes": np.array(classes),
              "nextmove": np.frombuffer(nextmove, dtype=nextmove.typecode),
              "nextmove_row": np.frombuffer(row, dtype=row.typecode),
              "out_feat": np.asarray(out, dtype=np.int32)}
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for name, array in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, array, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        os.rename(tmp, directory)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not directory.is_dir():
            raise
        return  # another process got there first
    install = directory.name.split("-")[1]
    for old in directory.parent.glob(f"{_CACHE_PREFIX}{install}-*"):
        if old != directory:
            shutil.rmtree(old, ignore_errors=True)
    for old in directory.parent.glob(f".{_CACHE_PREFIX}{install}-*"):  # crashed writers'
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)


def _load_identifier(model_path: Path) -> Any:
    """py3langid's identifier (probabilities normalised) from the cache when it can, else
    the way py3langid loads it, filling the cache for the next process."""
    from py3langid.langid import LanguageIdentifier

    directory = None
    try:
        directory = _cache_dir(model_path)
        model = _read_cache(directory)
        if model is not None:
            ptc, pc, classes, nextmove, row, out = model
            return LanguageIdentifier(ptc, pc, classes, nextmove, out, norm_probs=True,
                                      tk_row=row)
    except Exception:  # a damaged entry is removed and written again below
        log.debug("langid model cache unusable; loading the model file", exc_info=True)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
    identifier = LanguageIdentifier.from_modelpath(model_path, norm_probs=True)
    if directory is not None:
        try:
            _write_cache(directory, (identifier.nb_ptc, identifier.nb_pc, identifier.nb_classes,
                                     identifier.tk_nextmove, identifier.tk_row,
                                     identifier.tk_output))
        except Exception:
            log.debug("could not write the langid model cache", exc_info=True)
    return identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (``"en"``, ``"ru"``, ``"ja"``, ``"zh"``, …) or ``None``.

    ``None`` when there is too little text to tell, or for binary junk; never raises.
    The answer depends on the first SAMPLE_CHARS characters only, and is remembered for
    them: the same headline comes from several feeds (four in ten of an ingest pass's
    detections repeat one made before).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    raw = text[:SAMPLE_CHARS]
    answer = _answers.get(raw, _UNKNOWN)
    if answer is _UNKNOWN:
        answer, certain = _detect(raw)
        if certain:  # a py3langid failure is not remembered: the next call tries again
            if len(_answers) >= _ANSWERS_MAX:
                _answers.clear()
            _answers[raw] = answer
    return answer  # type: ignore[return-value]


#: Answers per sample (at most SAMPLE_CHARS characters each, so at most a few MB).
_answers: dict[str, str | None] = {}
_ANSWERS_MAX = 4096
_UNKNOWN = object()


def _detect(raw: str) -> tuple[str | None, bool]:
    """The answer for a sample, and whether it is certain to be the same next time."""
    sample = unicodedata.normalize("NFC", raw)
    counts = script_profile(sample)
    letters = sum(counts.values())
    if letters < 3:
        return None, True
    # Any kana at all means Japanese: Chinese text never uses it, Japanese text always does.
    if counts["kana"] >= 2 and counts["kana"] + counts["han"] >= 0.3 * letters:
        return "ja", True
    if counts["han"] >= 0.3 * letters:
        return "zh", True
    if counts["hangul"] >= 0.3 * letters:
        return "ko", True
    if counts["cyrillic"] >= 0.5 * letters:
        # Ukrainian, Belarusian, Bulgarian… share the script; their own letters tell them apart.
        if any(ch in sample for ch in "іїєґ"):
            return "uk", True
        if "ў" in sample:
            return "be", True
        if letters < MIN_LETTERS:
            return "ru", True
        return _classify(sample, prefer="ru")
    if letters < MIN_LETTERS:
        return None, True
    return _classify(sample)


def _classify(sample: str, prefer: str | None = None) -> tuple[str | None, bool]:
    try:
        lang, prob = _langid().classify(sample)
    except Exception:  # a broken model file must not break ingestion
        log.warning("py3langid failed; language left unknown", exc_info=True)
        return prefer, False
    if prefer and lang not in {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn"}:
        return prefer, True
    if prob < 0.5 and prefer:
        return prefer, True
    return lang, True
