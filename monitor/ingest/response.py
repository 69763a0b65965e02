"""One HTTP response as libcurl hands it over: the head line by line, the body chunk by
chunk, decompressed as it arrives and stopped at a cap.

A body is read only for a 200: a redirect's or an error's status says all the fetch needs,
and a 500 with a 300 MB body must cost nothing. The body cap holds *after* decompression
(``max_length`` bounds each step), so a gzip bomb stops at the cap instead of filling
memory; a declared Content-Length over the cap stops the transfer before any of it.
"""

from __future__ import annotations

import contextlib
import zlib

__all__ = ["Body", "BodyTooLarge", "Response"]


class BodyTooLarge(Exception):
    """The (decompressed) body passed the configured cap."""


class Body:
    """A response body, decompressed as it arrives and stopped as soon as it passes ``cap``
    bytes (a gzip bomb costs at most the cap)."""

    __slots__ = ("cap", "decoder", "out")

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.out = bytearray()
        if encoding in ("gzip", "x-gzip"):
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.decoder = zlib.decompressobj()
        else:
            self.decoder = None

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk as received; False once the body has passed the cap."""
        out, cap = self.out, self.cap
        if self.decoder is None:
            out += chunk
            return len(out) <= cap
        data = chunk
        while data:
            # max_length bounds the memory of one step; unconsumed_tail carries the rest.
            out += self.decoder.decompress(data, cap + 1 - len(out) if len(out) <= cap else 1)
            if len(out) > cap:
                return False
            data = self.decoder.unconsumed_tail
        return True

    def too_large(self) -> str:
        unit = " after decompression" if self.decoder is not None else ""
        return f"body exceeds the cap of {self.cap} bytes{unit}"

    def finish(self) -> bytes:
        if self.decoder is not None:
            with contextlib.suppress(zlib.error):
                self.out += self.decoder.flush()
        if len(self.out) > self.cap:
            raise BodyTooLarge(self.too_large())
        return bytes(self.out)


class Response:
    """The head and body of one request's response, filled by libcurl's header and write
    callbacks (:meth:`on_header`, :meth:`on_body`)."""

    __slots__ = ("body", "cap", "headers", "status", "stop")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: Body | None = None
        #: Why the callbacks stopped the transfer: "status" (a response whose body is not
        #: read), or the error to record (the cap, a body that does not decompress).
        self.stop: str | None = None

    def on_header(self, line: bytes) -> int | None:
        if line.startswith(b"HTTP/"):  # a status line: a new response (after a 1xx)
            parts = line.split(None, 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            self.headers = {}
            self.body = None
            return None
        if line.strip():
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()
            return None
        # The end of a header block.
        status = self.status
        if status < 200 or status == 304:
            return None  # an interim response (another block follows), or no body
        if status != 200:
            self.stop = "status"  # redirects and errors: the status says it all
            return 0  # (a length other than the line's ends the transfer)
        encoding = self.headers.get("content-encoding", "").lower().strip()
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and not encoding and int(declared) > self.cap:
            self.stop = f"Content-Length {declared} exceeds the cap of {self.cap} bytes"
            return 0
        self.body = Body(encoding, self.cap)
        return None

    def on_body(self, chunk: bytes) -> int | None:
        body = self.body
        if body is None:  # a 304's or 1xx's stray bytes
            return None
        try:
            if body.feed(chunk):
                return None
            self.stop = body.too_large()
        except zlib.error as exc:
            self.stop = f"body could not be decompressed: {exc}"
        return 0
