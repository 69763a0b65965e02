"""CPU per request of candidate HTTP clients for the feed fetch (issue 14 §4).

An unchanged poll is a conditional GET answered 304: the client's own overhead is nearly
all the CPU the main process spends on such a feed. A minimal keep-alive server in ANOTHER
process answers every request with 304 (so its CPU is not counted); each client sends N
conditional GETs with the fetcher's headers, C at a time, and we report the client
process's CPU seconds (user + system, ``time.process_time``) per request, best of R rounds.

    PYTHONPATH=$PWD .venv/bin/python bench/http_clients.py [-n 2000] [-c 10] [-r 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

HEADERS = {
    "User-Agent": "RussiaAsiaMonitor/0.1 (+https://github.com/russia-asia-monitor/monitor)",
    "Accept": "application/rss+xml, application/atom+xml, */*;q=0.5",
    "Accept-Encoding": "gzip, deflate",
    "If-None-Match": '"v1"',
    "If-Modified-Since": "Wed, 11 Nov 2026 08:00:00 GMT",
}
_RESPONSE = (b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
             b"Last-Modified: Wed, 11 Nov 2026 08:00:00 GMT\r\n"
             b"Date: Thu, 12 Nov 2026 08:00:00 GMT\r\nServer: bench\r\n\r\n")


# --- the server (its own process) ------------------------------------------------------
_FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
         b"<title>An item</title><link>https://example.org/1</link></item></channel></rss>")
_FULL = (b"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Type: application/rss+xml\r\n"
         b"Content-Length: %d\r\n\r\n%s" % (len(_FEED), _FEED))


class _Http304(asyncio.Protocol):
    """304 to a conditional GET, else a one-item feed with an ETag."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            request, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            conditional = b"if-none-match" in request.lower()
            self.transport.write(_RESPONSE if conditional else _FULL)  # type: ignore[attr-defined]


def serve() -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Http304, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


# --- the clients -------------------------------------------------------------------------
async def _many(n: int, c: int, one: Callable[[], Awaitable[int]]) -> None:
    left = iter(range(n))

    async def lane() -> None:
        for _ in left:
            assert await one() == 304

    await asyncio.gather(*(lane() for _ in range(c)))


#: Set by --fresh: a new connection for every request (a poll of feeds on many hosts).
FRESH = False


async def run_httpx(url: str, n: int, c: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=0 if FRESH else c)
    async with httpx.AsyncClient(limits=limits, trust_env=False,
                                 follow_redirects=False) as client:
        async def one() -> int:
            async with client.stream("GET", url, headers=HEADERS) as r:
                return r.status_code

        await _many(n, c, one)


async def run_aiohttp(url: str, n: int, c: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=c, force_close=FRESH)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                     trust_env=False) as session:
        async def one() -> int:
            async with session.get(url, headers=HEADERS, allow_redirects=False) as r:
                return r.status

        await _many(n, c, one)


async def run_raw(url: str, n: int, c: int) -> None:
    """The floor: asyncio streams, one keep-alive connection per lane, a hand-built request."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items()) + "\r\n").encode()
    per_lane, extra = divmod(n, c)

    async def lane(count: int) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        for i in range(count):
            if FRESH and i:
                writer.close()
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.split(b" ", 2)[1] == b"304"
        writer.close()

    await asyncio.gather(*(lane(per_lane + (i < extra)) for i in range(c)))


def run_urllib3(url: str, n: int, c: int) -> None:
    """A synchronous pool in C threads (what a thread-pool fetcher would cost)."""
    from concurrent.futures import ThreadPoolExecutor

    import urllib3

    pool = urllib3.PoolManager(maxsize=c, retries=False)
    headers = {**HEADERS, "Connection": "close"} if FRESH else HEADERS

    def one(_: int) -> None:
        r = pool.request("GET", url, headers=headers, redirect=False, preload_content=False)
        assert r.status == 304
        r.release_conn()

    with ThreadPoolExecutor(c) as ex:
        list(ex.map(one, range(n)))


def run_pycurl(url: str, n: int, c: int) -> None:
    """libcurl's multi interface, as monitor.ingest.fetch drives it: c transfers at a time,
    one loop, a Python call per header line and per body chunk."""
    import pycurl

    multi = pycurl.CurlMulti()
    headers = [f"{k}: {v}" for k, v in HEADERS.items() if k != "User-Agent"]
    statuses: list[int] = []
    left = iter(range(n))

    def start() -> bool:
        if next(left, None) is None:
            return False
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.HTTPHEADER, headers)
        handle.setopt(pycurl.USERAGENT, HEADERS["User-Agent"])
        handle.setopt(pycurl.PROXY, "")
        handle.setopt(pycurl.HEADERFUNCTION, lambda line: None)
        handle.setopt(pycurl.WRITEFUNCTION, lambda chunk: None)
        if FRESH:
            handle.setopt(pycurl.FRESH_CONNECT, 1)
            handle.setopt(pycurl.FORBID_REUSE, 1)
        multi.add_handle(handle)
        return True

    running = sum(start() for _ in range(c))
    while running:
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, failed = multi.info_read()
            for handle in ok + [f[0] for f in failed]:
                statuses.append(handle.getinfo(pycurl.RESPONSE_CODE))
                multi.remove_handle(handle)
                handle.close()
                running -= 1
                running += start()
            if not queued:
                break
        if running:
            multi.select(1.0)
    multi.close()
    assert statuses == [304] * n, set(statuses)


CLIENTS: dict[str, Callable[[str, int, int], object]] = {
    "httpx": run_httpx, "aiohttp": run_aiohttp, "raw-asyncio": run_raw, "urllib3": run_urllib3,
    "pycurl": run_pycurl,
}


def measure(name: str, url: str, n: int, c: int, loop: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for n requests."""
    fn = CLIENTS[name]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if asyncio.iscoroutinefunction(fn):
        if loop == "uvloop":
            import uvloop

            uvloop.run(fn(url, n, c))
        else:
            asyncio.run(fn(url, n, c))
    else:
        fn(url, n, c)
    return time.process_time() - cpu0, time.perf_counter() - wall0


def poll(base: str, feeds: int) -> None:
    """An unchanged poll of ``feeds`` feeds through the monitor itself: ``fetch_all`` alone,
    then a whole ``run_ingest`` (plan, fetch, store; workers as it chooses), CPU of this
    process only, after a first run that stored the feeds' ETags."""
    import tempfile
    from pathlib import Path

    from monitor.ingest.fetch import FeedState, fetch_all
    from monitor.ingest.run import run_ingest
    from monitor.settings import load_settings
    from monitor.sources import Source

    with tempfile.TemporaryDirectory() as tmp:
        sources_file = Path(tmp) / "sources.toml"
        sources_file.write_text("".join(
            f'[[sources]]\nid = "feed-{i}"\nurl = "{base}/feed-{i}.xml"\noutlet = "o{i}"\n\n'
            for i in range(feeds)), encoding="utf-8")
        settings = load_settings(home=Path(tmp) / "home", env={}, sources_file=sources_file,
                                 extract_enabled=False)
        sources = [Source(id=f"feed-{i}", url=f"{base}/feed-{i}.xml", outlet=f"o{i}")
                   for i in range(feeds)]
        states = {s.id: FeedState(etag='"v1"') for s in sources}
        fetch_all(sources, states, settings)  # warm up
        runs = []
        for _ in range(3):
            cpu0 = time.process_time()
            results = fetch_all(sources, states, settings)
            runs.append(time.process_time() - cpu0)
            assert all(r.outcome == "not_modified" for r in results)
        print(f"  fetch_all, {feeds} unchanged feeds: {min(runs) / feeds * 1000:.2f} ms CPU/feed"
              f" (best of 3; {', '.join(f'{r * 1000:.0f}' for r in runs)} ms per poll)")
        run_ingest(settings)  # the first pass stores the ETags
        for workers in (1, 0):
            runs = []
            for _ in range(3):
                cpu0 = time.process_time()
                summary = run_ingest(settings.with_(ingest_workers=workers))
                runs.append(time.process_time() - cpu0)
                assert summary.sources_not_modified == feeds, summary.describe()
            how = "one process" if workers == 1 else "workers as chosen by default"
            print(f"  run_ingest ({how}), {feeds} unchanged feeds: "
                  f"{min(runs) / feeds * 1000:.2f} ms CPU/feed in the main process (best of 3;"
                  f" {', '.join(f'{r * 1000:.0f}' for r in runs)} ms per run)")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per round")
    parser.add_argument("-c", type=int, default=10, help="requests in flight")
    parser.add_argument("-r", type=int, default=3, help="rounds (best is reported)")
    parser.add_argument("--poll", type=int, default=100, metavar="FEEDS",
                        help="feeds in the unchanged poll through the monitor (0: skip)")
    parser.add_argument("--fresh", action="store_true",
                        help="a new connection per request (feeds on many hosts)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global FRESH
    FRESH = args.fresh
    if args.serve:
        serve()
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE,
                              text=True, env={**os.environ})
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/feed.xml"
        # Import cost is start-up, not per-request: import everything before measuring.
        import aiohttp  # noqa: F401
        import httpx  # noqa: F401
        import pycurl  # noqa: F401
        import urllib3  # noqa: F401

        print(f"{args.n} conditional GETs answered 304, {args.c} in flight, best of {args.r}"
              " rounds; CPU of this process only (the server is another process); "
              + ("a new connection per request" if FRESH else "keep-alive connections"))
        cases = [("httpx", "asyncio"), ("aiohttp", "asyncio"), ("raw-asyncio", "asyncio"),
                 ("urllib3", "threads"), ("httpx", "uvloop"), ("aiohttp", "uvloop"),
                 ("pycurl", "libcurl")]
        for name, loop in cases:
            measure(name, url, min(args.n, 200), args.c, loop)  # warm up
            runs = [measure(name, url, args.n, args.c, loop) for _ in range(args.r)]
            cpu, wall = min(runs)
            print(f"  {name:12} {loop:8} {cpu / args.n * 1000:6.3f} ms CPU/request  "
                  f"({wall / args.n * 1000:6.3f} ms wall/request)")
        if args.poll:
            poll(url.rsplit("/", 1)[0], args.poll)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
