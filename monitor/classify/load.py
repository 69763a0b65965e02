"""Loading the current classifier: the promoted model file, else the shipped seed model, else
one built from the taxonomy (and saved). Kept apart from ``model`` so that the model does not
import its own training (no import circle: load → model, train).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from monitor.classify.model import SHIPPED_MODEL, Classifier, ModelParams
from monitor.classify.topics import load_taxonomy
from monitor.classify.train import build_seed_model
from monitor.settings import Settings

__all__ = ["load_classifier"]

log = logging.getLogger(__name__)


def _current_model_path(settings: Settings) -> Path | None:
    pointer = settings.models_dir / "CURRENT"
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    path = settings.models_dir / f"{version}.json"
    return path if path.exists() else None


#: The classifier this process loaded last, by what it was built from: building one compiles
#: the lexicon (tens of ms), and its per-token cache is what makes later batches cheap.
_LOADED: dict[tuple[Any, ...], Classifier] = {}


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def load_classifier(settings: Settings) -> Classifier:
    """The promoted model from ``MONITOR_HOME/models``, else the shipped seed model, else a
    seed model built now (a few seconds) and saved, so a fresh install just works.

    The same files (unchanged since) give the same, already built classifier."""
    started = time.perf_counter()
    path = _current_model_path(settings)
    if path is None and SHIPPED_MODEL.exists():
        path = SHIPPED_MODEL
    try:  # only a classifier built from files is reused, while they stay unchanged
        key = (_stamp(settings.topics_file), _stamp(path)) if path is not None else None
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    taxonomy = load_taxonomy(settings.topics_file)
    params = None
    if path is not None:
        try:
            params = ModelParams.load(path)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("model file %s unreadable (%s); rebuilding the seed model", path, exc)
    if params is not None and params.taxonomy_digest != taxonomy.digest:
        log.info("model version=%s was trained on another topics.toml (%s != %s)",
                 params.version, params.taxonomy_digest, taxonomy.digest)
    from_file = params is not None
    if params is None:
        params = build_seed_model(taxonomy)
        try:
            saved = params.save(settings.models_dir / f"{params.version}.json")
            (settings.models_dir / "CURRENT").write_text(params.version + "\n", encoding="utf-8")
            log.info("built seed model version=%s path=%s", params.version, saved)
        except OSError as exc:
            log.warning("could not save the seed model: %s", exc)
    clf = Classifier(taxonomy, params)
    if key is not None and from_file:
        _LOADED.clear()
        _LOADED[key] = clf
    log.debug("classifier loaded version=%s seconds=%.3f", clf.version,
              time.perf_counter() - started)
    return clf
