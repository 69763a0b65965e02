"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, and a free-port helper.

Used by the digest, Airflow and production-topology tests instead of a mocked transport.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Inbox", "free_port", "smtp_server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives; ``reject`` refuses the next N."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    reject: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.reject:
            self.reject -= 1
            return "554 5.0.0 rejected by the test server"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """Run an SMTP server on a free port; yields (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
