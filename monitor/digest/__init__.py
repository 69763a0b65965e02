"""The daily digest email: build data → render HTML and text → write to the outbox → send.

One entry point for callers (the Airflow digest DAG, ``monitor digest``)::

    run_digest(settings, day=None, send=True, force=False) -> dict

Stages, each a module with plain data in and out: :mod:`.build` (what the day holds),
:mod:`.render` (HTML, text, MIME; all escaping lives there), :mod:`.send` (outbox, SMTP,
Airflow connection) and :mod:`.run` (idempotency via the ``digests`` table).
"""

from monitor.digest.build import build_digest, default_day
from monitor.digest.render import compose_message, render_digest, safe_url
from monitor.digest.run import DigestSendError, parse_recipients, preview_digest, run_digest
from monitor.digest.send import choose_transport

__all__ = [
    "run_digest",
    "preview_digest",
    "build_digest",
    "render_digest",
    "compose_message",
    "default_day",
    "parse_recipients",
    "safe_url",
    "choose_transport",
    "DigestSendError",
]
