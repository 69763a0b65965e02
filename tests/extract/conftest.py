"""Fixtures of the extraction tests: one local HTTP server shared by a module's tests.

The shared ``http_server`` fixture starts a server per test and its shutdown waits for the
server's poll interval (0.5 s); the refusal tests are many and small, so they share one
server and start each test with an empty route table and request log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.httpserver import LocalHTTPServer


@pytest.fixture(scope="module")
def _module_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        yield server


@pytest.fixture
def server(_module_server: LocalHTTPServer) -> LocalHTTPServer:
    _module_server.routes.clear()
    _module_server.requests.clear()
    return _module_server
