"""Bugs of ours, put in on purpose: the tests that a bug on one feed, file or group costs
that one only. (No input we know of triggers such a bug, so none can be served instead.)"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest


def bug_in_records(monkeypatch: pytest.MonkeyPatch, source_id: str,
                   message: str = "a bug") -> None:
    """Making the article records of ``source_id``'s entries raises ``RuntimeError``."""
    from monitor.ingest import batch

    real = batch._article_record

    def buggy(entry: Any, key: str, source: Any, fetch_id: str | None) -> dict[str, Any]:
        if source.id == source_id:
            raise RuntimeError(message)
        return real(entry, key, source, fetch_id)

    monkeypatch.setattr(batch, "_article_record", buggy)


def bug_in_parsing(monkeypatch: pytest.MonkeyPatch, module: ModuleType, marker: bytes,
                   message: str = "a parse bug") -> None:
    """``module.parse_feed`` raises ``RuntimeError`` on a body holding ``marker``."""
    real = module.parse_feed

    def buggy(body: bytes, *args: Any, **kwargs: Any) -> Any:
        if marker in body:
            raise RuntimeError(message)
        return real(body, *args, **kwargs)

    monkeypatch.setattr(module, "parse_feed", buggy)
