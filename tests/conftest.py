"""Fixtures every test package shares: a temporary data directory and a local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.settings import Settings, load_settings
from tests.support.httpserver import LocalHTTPServer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    """Settings on a fresh data directory; fast timeouts so failure tests stay quick."""
    return load_settings(
        home=home,
        env={},
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=5.0,
        retries=1,
        backoff_base=0.05,
        max_retry_after=1.0,
        writer_lock_timeout=20.0,
        reader_lock_timeout=5.0,
        allow_hosts=("127.0.0.1", "localhost"),
    )


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        yield server
