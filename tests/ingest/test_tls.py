"""aiohttp imported through monitor.ingest.tls: its unused default contexts load no CA store
(a sixth of `monitor ingest`'s start-up), ours does, and the ssl module is left as it was."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import ssl
from monitor.ingest import client as fetch  # imports aiohttp through monitor.ingest.tls
import aiohttp.connector as connector

assert "set_default_verify_paths" not in vars(ssl.SSLContext), "ssl.SSLContext left patched"
assert connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"] == 0
assert connector._SSL_CONTEXT_VERIFIED.verify_mode == ssl.CERT_REQUIRED  # fails closed
assert fetch.tls_context().cert_store_stats()["x509_ca"] > 50  # certifi's bundle
assert fetch.tls_context() is fetch.tls_context()
assert ssl.create_default_context().verify_mode == ssl.CERT_REQUIRED
print("ok")
"""


def _in_new_process(code: str) -> None:
    """Run ``code`` in a new Python: in this one, another test may have imported aiohttp."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_aiohttp_defaults_skip_the_ca_store_and_ours_loads_it() -> None:
    _in_new_process(CHECK)


THREADED = """
import ssl, threading, time
threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
from monitor.ingest import client
import aiohttp.connector as connector

# Another thread could build a default context meanwhile: aiohttp is imported as it comes.
system = ssl.create_default_context().cert_store_stats()["x509_ca"]
assert connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"] == system
assert "set_default_verify_paths" not in vars(ssl.SSLContext)
print("ok")
"""


def test_with_other_threads_aiohttp_is_imported_as_it_comes() -> None:
    _in_new_process(THREADED)


def test_sessions_get_our_context() -> None:
    import asyncio

    from monitor.ingest.client import build_async_client, tls_context
    from monitor.settings import load_settings

    async def connector_ssl() -> object:
        async with build_async_client(load_settings(env={})) as client:
            return client.connector._ssl  # type: ignore[union-attr]

    assert asyncio.run(connector_ssl()) is tls_context()
