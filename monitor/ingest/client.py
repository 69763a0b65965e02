"""The aiohttp client configuration for JSON APIs (the GDELT DOC API): timeouts, pool
limits, the honest User-Agent, TLS from :mod:`monitor.ingest.tls`, and a body read that
stops at a cap after decompression.

Feeds are fetched by :mod:`monitor.ingest.fetch`; article pages by
:mod:`monitor.enrich.pages`.
"""

from __future__ import annotations

from monitor.ingest.response import Body, BodyTooLarge
from monitor.ingest.tls import aiohttp, tls_context
from monitor.settings import Settings

__all__ = ["build_async_client", "read_body"]

_CHUNK = 64 * 1024


def build_async_client(settings: Settings) -> aiohttp.ClientSession:
    """The API client configuration: timeouts, pool limits, UA; redirects and decompression
    handled by the caller (:func:`read_body`). Call it inside the event loop that will use
    it. A request's total time cap is the caller's to pass (the GDELT client does)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=tls_context(), limit=settings.concurrency,
                                       limit_per_host=0, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=None, connect=settings.connect_timeout,
                                      sock_read=settings.read_timeout),
        auto_decompress=False,
        raise_for_status=False,
        headers={
            "User-Agent": settings.http_user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5",
            # We decompress ourselves (bounded); brotli/zstd are not offered.
            "Accept-Encoding": "gzip, deflate",
        },
        trust_env=False,
    )



async def read_body(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """Read and decompress the body, stopping as soon as it passes ``cap`` bytes."""
    encoding = response.headers.get("content-encoding", "").lower().strip()
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and not encoding and int(declared) > cap:
        raise BodyTooLarge(f"Content-Length {declared} exceeds the cap of {cap} bytes")
    body = Body(encoding, cap)
    async for chunk in response.content.iter_chunked(_CHUNK):
        if not body.feed(chunk):
            raise BodyTooLarge(body.too_large())
    return body.finish()
