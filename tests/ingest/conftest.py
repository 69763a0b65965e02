"""Fixtures for ingest tests: feeds served by a real HTTP server, a sources file pointing at it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.settings import Settings
from tests.conftest import FIXTURES
from tests.support.httpserver import LocalHTTPServer

FEEDS = FIXTURES / "feeds"


@dataclass
class FeedEnv:
    """Serve feeds and keep a sources file in step with what is served."""

    server: LocalHTTPServer
    settings: Settings
    sources: list[dict[str, Any]] = field(default_factory=list)

    def serve(self, source_id: str, body: bytes | str = b"", *, path: str | None = None,
              outlet: str | None = None, language: str | None = None, kind: str = "feed",
              **route: Any) -> str:
        path = path or f"/{source_id}.xml"
        url = self.server.route(path, body, **route)
        self.add_source(source_id, url, outlet=outlet, language=language, kind=kind)
        return url

    def serve_fixture(self, source_id: str, name: str, **route: Any) -> str:
        headers = route.pop("headers", {"Content-Type": "application/rss+xml; charset=utf-8"})
        return self.serve(source_id, (FEEDS / name).read_bytes(), headers=headers, **route)

    def add_source(self, source_id: str, url: str, outlet: str | None = None,
                   language: str | None = None, kind: str = "feed") -> None:
        self.sources = [s for s in self.sources if s["id"] != source_id]
        entry = {"id": source_id, "url": url, "outlet": outlet or source_id.title(),
                 "kind": kind}
        if language:
            entry["language"] = language
        self.sources.append(entry)
        self._write()

    def _write(self) -> None:
        lines = []
        for s in self.sources:
            lines.append("[[sources]]")
            for key, value in s.items():
                lines.append(f'{key} = "{value}"')
            lines.append("")
        self.settings.sources_file.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def ingest_settings(settings: Settings, tmp_path: Path) -> Settings:
    # Full-text fetching has its own tests (tests/extract); here feeds are the subject.
    return settings.with_(sources_file=tmp_path / "sources.toml", extract_enabled=False)


@pytest.fixture
def feeds(ingest_settings: Settings, http_server: LocalHTTPServer) -> FeedEnv:
    return FeedEnv(server=http_server, settings=ingest_settings)


@pytest.fixture
def query(ingest_settings: Settings) -> Callable[..., list[tuple]]:
    """Run SQL against the published snapshot (what analysts see)."""
    from monitor import warehouse

    def run(sql: str, params: list[Any] | None = None) -> list[tuple]:
        with warehouse.reader(ingest_settings) as con:
            return con.execute(sql, params or []).fetchall()

    return run
