"""Host names of a fetch, looked up in threads of ours and handed to libcurl.

libcurl would resolve names in threads of its own, which nothing outside it can wait for;
the ingest forks its worker processes from the fetch's ``on_done`` callback, and a fork
while another thread holds a lock of the C library's resolver can leave the child stuck.
So :mod:`monitor.ingest.fetch` looks names up here (``getaddrinfo`` in a small pool, once
per host and port per fetch) and passes the addresses with ``CURLOPT_RESOLVE``; libcurl
then starts no thread, and :func:`end_resolver_threads` waits for the look-ups in flight and
ends the pool's threads before a fork.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

__all__ = ["Resolver", "end_resolver_threads", "host_of", "is_address"]


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host``, as ``CURLOPT_RESOLVE`` takes them (IPv6 in brackets)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    return [f"[{a}]" if ":" in a else a for a in addresses]


def host_of(url: str) -> str:
    """The URL's host, lower-cased; "" when there is none or Python cannot split the URL."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket: libcurl says what is wrong
        return ""


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Resolver:
    """The look-ups of one fetch: one per host and port, answers kept for the fetch (a
    failed one is forgotten, so the next attempt asks again)."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        self.found: dict[tuple[str, int], Future[list[str]]] = {}

    def lookup(self, host: str, port: int) -> Future[list[str]]:
        found = self.found.get((host, port))
        if found is None:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="monitor-resolve")
            found = self.found[(host, port)] = self.pool.submit(_resolve, host, port)
        return found

    def forget(self, host: str, port: int) -> None:
        self.found.pop((host, port), None)

    def end_threads(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.shutdown(wait=True)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


#: The resolver of the fetch running in this thread.
_running = threading.local()


@contextlib.contextmanager
def running(resolver: Resolver) -> Iterator[Resolver]:
    """Make ``resolver`` the one :func:`end_resolver_threads` ends, in this thread."""
    _running.resolver = resolver
    try:
        yield resolver
    finally:
        _running.resolver = None
        resolver.close()


def end_resolver_threads() -> None:
    """From an ``on_done`` callback of ``fetch_all``: wait for the host look-ups in flight
    and end the threads that run them, so the caller can fork with no other thread alive.
    Later look-ups start new threads."""
    resolver = getattr(_running, "resolver", None)
    if resolver is not None:
        resolver.end_threads()
