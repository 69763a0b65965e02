"""The monitor's small exception tree (after httpx ``_exceptions.py``).

::

    MonitorError
     ├── ConfigError            bad settings or sources file; the message says which line/key
     ├── WarehouseError
     │    ├── WarehouseBusy     the DuckDB file stayed locked past the timeout; retry later
     │    └── ReadOnlyViolation a write statement sent to a read-only path (``monitor sql``)
     ├── FetchError             one source could not be fetched (carries source_id, url)
     │    └── UnsafeURL         a link points to a scheme or address we refuse to fetch
     └── ParseError             a document is not a feed at all (HTML error page, empty body)

Failures of single sources are *data*: the pipeline catches ``FetchError``/``ParseError``,
records them in ``fetches`` and ``feed_state`` and goes on with the other sources.
"""

from __future__ import annotations

__all__ = [
    "MonitorError",
    "ConfigError",
    "WarehouseError",
    "WarehouseBusy",
    "ReadOnlyViolation",
    "FetchError",
    "UnsafeURL",
    "ParseError",
]


class MonitorError(Exception):
    """Base class: every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """Settings, sources or topics files that cannot be used as they are."""


class WarehouseError(MonitorError):
    """Problems opening or migrating the DuckDB warehouse."""


class WarehouseBusy(WarehouseError):
    """The warehouse file stayed locked by another process longer than we wait."""


class ReadOnlyViolation(WarehouseError):
    """A statement that would change data was sent through a read-only path."""


class FetchError(MonitorError):
    """One source or page could not be fetched; carries what and where."""

    def __init__(self, message: str, *, url: str | None = None, source_id: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.source_id = source_id
        self.status = status


class UnsafeURL(FetchError):
    """A URL we refuse to fetch (scheme, private/loopback/metadata address)."""


class ParseError(MonitorError):
    """A document that is not a feed at all (not just a bozo feed)."""
