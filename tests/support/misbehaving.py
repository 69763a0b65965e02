"""Misbehaving feed servers on the loopback network, next to one good feed.

Each behaviour is its own "host": a server on its own loopback address (127.0.0.2,
127.0.0.3, …; Linux routes all of 127.0.0.0/8 to the loopback device), as each bad server
is in the wild, so the fetcher's per-host limit does not queue the sources behind each
other. Bodies are generated while they are sent, so a 300 MB body costs the server no
memory. Used by tests/ingest/test_misbehaving.py (in a thread) and bench/misbehaving.py
(``python -m tests.support.misbehaving``: another process, which prints its URLs as JSON
and serves until its standard input closes).

    behaviour      what the server does                         what the fetcher should record
    good           a small RSS feed                             ok, its articles stored
    hang           reads the request, never answers             time cap (or run deadline)
    drip           200, then one byte of the body at a time     time cap (or run deadline)
    too-many       429 with Retry-After, every time             HTTP 429
    broken         500, every time                              HTTP 500
    gone           410                                          HTTP 410 Gone, source disabled
    gzip-bomb      200 MB of spaces as 200 KB of gzip           exceeds the cap after decompression
    huge           300 MB body, Content-Length declared         exceeds the cap
    huge-chunked   300 MB body, chunked, no Content-Length      exceeds the cap
    entity-bomb    an XML "billion laughs" document             parsed without expanding it
    redirect-loop  /a → /b → /a                                 redirect loop
"""

from __future__ import annotations

import json
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BEHAVIOURS", "GOOD_TITLES", "MisbehavingServers"]

#: Written for these tests: three items about nothing in particular.
GOOD_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Good feed</title><link>https://good.example.org/</link>
<item><title>Harbour cranes repainted in the spring</title>
<link>https://good.example.org/1</link><guid>good-1</guid>
<pubDate>Mon, 02 Nov 2026 08:00:00 GMT</pubDate>
<description>The port authority repainted six cranes.</description></item>
<item><title>Night train timetable changes next month</title>
<link>https://good.example.org/2</link><guid>good-2</guid>
<pubDate>Tue, 03 Nov 2026 08:00:00 GMT</pubDate>
<description>Two stops are added to the night service.</description></item>
<item><title>Library extends weekend opening hours</title>
<link>https://good.example.org/3</link><guid>good-3</guid>
<pubDate>Wed, 04 Nov 2026 08:00:00 GMT</pubDate>
<description>The city library now opens on Sundays.</description></item>
</channel></rss>
"""
GOOD_TITLES = ["Harbour cranes repainted in the spring", "Library extends weekend opening hours",
               "Night train timetable changes next month"]

ENTITY_BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY a "' + "a" * 80 + '">\n'
    + "".join(f'  <!ENTITY {n} "{("&" + p + ";") * 20}">\n'
              for p, n in zip("abcdefg", "bcdefgh", strict=True))
    + ']>\n<rss version="2.0"><channel><title>Bomb</title>\n'
    '<item><title>&h;</title><link>https://bomb.example.com/1</link></item>\n'
    "</channel></rss>\n").encode()

#: The behaviours, in the order their addresses are given out.
BEHAVIOURS = ("good", "hang", "drip", "too-many", "broken", "gone", "gzip-bomb", "huge",
              "huge-chunked", "entity-bomb", "redirect-loop")

_HUGE = 300 * 1024 * 1024
_BLOCK = b"<item>" + b"x" * (64 * 1024 - 13) + b"</item>"


def _gzip_bomb(size: int) -> bytes:
    """``size`` bytes of an RSS document that is mostly spaces, gzip-compressed (≈1000:1)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [z.compress(b"<rss><channel><title>")]
    block = b" " * (1024 * 1024)
    parts += [z.compress(block) for _ in range(size // len(block))]
    parts.append(z.flush())
    return b"".join(parts)


class MisbehavingServers:
    """One server per behaviour, each on its own loopback address, all in this process.

    ``drip_interval``: seconds between the drip's bytes (below any read timeout, so only the
    total-time cap or the run deadline can end it); ``retry_after``: what the 429 asks for.
    """

    def __init__(self, drip_interval: float = 0.2, retry_after: int = 1,
                 gzip_bomb_bytes: int = 200 * 1024 * 1024, first_address: int = 2) -> None:
        self.drip_interval = drip_interval
        self.retry_after = retry_after
        self._bomb = _gzip_bomb(gzip_bomb_bytes)
        self._stop = threading.Event()
        self.hits: dict[str, int] = dict.fromkeys(BEHAVIOURS, 0)
        self._servers: list[tuple[str, ThreadingHTTPServer]] = []
        for offset, behaviour in enumerate(BEHAVIOURS):
            server = _Server((f"127.0.0.{first_address + offset}", 0), _handler(self, behaviour))
            self._servers.append((behaviour, server))

    def urls(self) -> dict[str, str]:
        """behaviour → the URL a source should poll."""
        out = {}
        for behaviour, server in self._servers:
            host, port = server.server_address[:2]
            path = "/a" if behaviour == "redirect-loop" else f"/{behaviour}.xml"
            out[behaviour] = f"http://{host}:{port}{path}"
        return out

    def start(self) -> MisbehavingServers:
        for behaviour, server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True,
                             name=f"misbehaving-{behaviour}").start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for _behaviour, server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> MisbehavingServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the behaviours ------------------------------------------------------------------
    def serve(self, behaviour: str, h: BaseHTTPRequestHandler) -> None:
        self.hits[behaviour] += 1
        if behaviour == "good":
            _send(h, 200, {"Content-Type": "application/rss+xml"}, GOOD_FEED)
        elif behaviour == "hang":
            self._stop.wait(600)
        elif behaviour == "drip":
            _head(h, 200, {"Content-Type": "application/rss+xml", "Content-Length": "100000"})
            for byte in _repeat(GOOD_FEED):
                if self._stop.wait(self.drip_interval):
                    return
                h.wfile.write(byte)
                h.wfile.flush()
        elif behaviour == "too-many":
            _send(h, 429, {"Retry-After": str(self.retry_after)}, b"slow down")
        elif behaviour == "broken":
            _send(h, 500, {"Content-Type": "text/plain"}, b"internal error")
        elif behaviour == "gone":
            _send(h, 410, {"Content-Type": "text/plain"}, b"gone")
        elif behaviour == "gzip-bomb":
            _send(h, 200, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
                  self._bomb)
        elif behaviour == "huge":
            _head(h, 200, {"Content-Type": "application/rss+xml",
                           "Content-Length": str(_HUGE)})
            for block in self._huge():
                h.wfile.write(block)
        elif behaviour == "huge-chunked":
            _head(h, 200, {"Content-Type": "application/rss+xml",
                           "Transfer-Encoding": "chunked"})
            for block in self._huge():
                h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            h.wfile.write(b"0\r\n\r\n")
        elif behaviour == "entity-bomb":
            _send(h, 200, {"Content-Type": "application/rss+xml"}, ENTITY_BOMB)
        elif behaviour == "redirect-loop":
            target = "/b" if h.path.startswith("/a") else "/a"
            _send(h, 302, {"Location": target}, b"")

    def _huge(self) -> Iterator[bytes]:
        yield b"<rss><channel><title>huge</title>"
        for _ in range(_HUGE // len(_BLOCK)):
            if self._stop.is_set():
                return
            yield _BLOCK


def _repeat(data: bytes) -> Iterator[bytes]:
    while True:
        for i in range(len(data)):
            yield data[i : i + 1]


def _head(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.end_headers()


def _send(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
          body: bytes) -> None:
    _head(h, status, {**headers, "Content-Length": str(len(body))})
    h.wfile.write(body)


def _handler(servers: MisbehavingServers, behaviour: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            try:
                servers.serve(behaviour, self)
            except OSError:  # the client hung up (caps, timeouts): that is the point
                self.close_connection = True

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def main() -> None:
    """Serve in this process until standard input closes; print the URLs as one JSON line."""
    with MisbehavingServers(retry_after=int(sys.argv[1]) if len(sys.argv) > 1 else 5) as s:
        print(json.dumps(s.urls()), flush=True)
        sys.stdin.read()
        time.sleep(0)


if __name__ == "__main__":
    main()
