"""A real HTTP server on 127.0.0.1 for tests: a table of routes, each with a behaviour.

Used by the fetcher, extraction, Airflow and backfill tests instead of mocking the transport.
Every request is recorded (method, path, headers) so tests can assert on what we sent, e.g.
``If-None-Match`` or the User-Agent.

    with LocalHTTPServer() as server:
        server.route("/feed.xml", body=xml, headers={"ETag": '"v1"'})
        url = server.url("/feed.xml")
"""

from __future__ import annotations

import contextlib
import multiprocessing
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LocalHTTPServer", "Route", "Request", "served_elsewhere"]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering.
    delay: float = 0.0
    #: Accept the connection and never answer (until the server stops).
    hang: bool = False
    #: Send the body in chunks with this pause between them (a slow, trickling server).
    trickle: float = 0.0
    #: Full control: called with (request, handler); returns (status, headers, body).
    handler: Callable[[Request], tuple[int, dict[str, str], bytes]] | None = None
    #: Honour If-None-Match / If-Modified-Since against the ETag / Last-Modified headers.
    conditional: bool = True


class LocalHTTPServer:
    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        """``tls``: serve HTTPS with this (server) context."""
        self.host = host
        self.scheme = "https" if tls is not None else "http"
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                path = self.path.split("?", 1)[0]
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                outer.requests.append(req)
                route = outer.routes.get(self.path) or outer.routes.get(path)
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found", head)
                    return
                if route.hang:
                    outer._stop.wait(120)
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.handler is not None:
                    status, headers, body = route.handler(req)
                    self._send(status, headers, body, head)
                    return
                headers = dict(route.headers)
                if route.conditional and route.status == 200:
                    etag = headers.get("ETag")
                    lm = headers.get("Last-Modified")
                    if (etag and req.headers.get("if-none-match") == etag) or (
                        lm and not etag and req.headers.get("if-modified-since") == lm
                    ):
                        self._send(304, {k: v for k, v in headers.items()
                                         if k in ("ETag", "Last-Modified")}, b"", head)
                        return
                if route.trickle:
                    self.send_response(route.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    for i in range(0, len(route.body), 64):
                        if outer._stop.is_set():
                            return
                        try:
                            self.wfile.write(route.body[i : i + 64])
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(route.trickle)
                    return
                self._send(route.status, headers, route.body, head)

            def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head and status not in (204, 304):
                        self.wfile.write(body)
                except OSError:
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # Clients hang up on purpose in tests (timeouts, size caps, killed
                # workers): not worth a traceback on stderr. Anything else still gets one.
                if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    return
                super().handle_error(request, client_address)

        self._server = Server((host, 0), Handler)
        if tls is not None:  # (each connection's handshake runs in the accepting thread)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def route(self, path: str, body: bytes | str = b"", **kwargs: Any) -> str:
        """Add (or replace) a route; returns its full URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **kwargs)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(serve: Callable[[], AbstractContextManager[Any]], conn: Any) -> None:
    with serve() as value:
        conn.send(value)
        conn.recv()  # until the caller is done


@contextlib.contextmanager
def served_elsewhere(serve: Callable[[], AbstractContextManager[Any]]) -> Iterator[Any]:
    """Run ``serve()`` (servers set up, as a context manager) in a forked process and yield
    what it yields (URLs): the measured or inspected process then has no server threads of
    ours competing for its GIL or showing up among its threads."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(serve, child), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)
