"""TLS for the monitor's aiohttp clients (article pages, the GDELT API): one CA bundle per
process, and aiohttp without its own. (Feeds are fetched with libcurl, which is handed
certifi's bundle by path: :mod:`monitor.ingest.fetch`.)

Loading a CA bundle into an ``ssl.SSLContext`` costs 40–55 ms of CPU on the project machine
(parsing some 150 certificates). Importing aiohttp loads the system store twice, for two
default contexts built at import time (``aiohttp.connector._SSL_CONTEXT_VERIFIED`` and
``_UNVERIFIED``), which the monitor never uses: every session it opens is given
:func:`tls_context` (certifi's bundle) by its connector. Those two loads were a sixth of the
start-up of ``monitor ingest`` when it still fetched feeds with aiohttp (issue 14), so :data:`aiohttp` is imported here with the
loading skipped (when no other thread runs yet, as in the CLI; see
:func:`_import_aiohttp`). aiohttp's verified default then trusts no CA: a session opened
without our context would fail its certificate checks, never pass them unchecked.

Every module that talks HTTP through aiohttp imports it from here (``from
monitor.ingest.tls import aiohttp``), so whichever comes first imports it this way.
"""

from __future__ import annotations

import functools
import ssl
import sys
import threading
from types import ModuleType


def _import_aiohttp() -> ModuleType:
    """aiohttp, imported without loading the system CA store into its unused defaults.

    If something imported it before (a plugin, a test), it is returned as it is. With other
    threads running (an Airflow process), it is imported as it comes: the patch below is
    process-wide, and a thread building a default context meanwhile would get no CAs."""
    if "aiohttp" in sys.modules:
        return sys.modules["aiohttp"]
    if threading.active_count() > 1:
        import aiohttp

        return aiohttp
    own = "set_default_verify_paths" in vars(ssl.SSLContext)
    original = ssl.SSLContext.set_default_verify_paths
    ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
    try:
        import aiohttp
    finally:
        if own:
            ssl.SSLContext.set_default_verify_paths = original  # type: ignore[method-assign]
        else:  # inherited from _ssl._SSLContext, as in CPython: inherit it again
            del ssl.SSLContext.set_default_verify_paths
    return aiohttp


aiohttp = _import_aiohttp()


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The TLS context every client of this process shares (certifi's CA bundle), built
    once: a poll of unchanged feeds should not load a bundle on every run."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
