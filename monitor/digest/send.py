"""Deliver a composed digest: outbox file, SMTP, or Airflow's ``smtp_default`` connection.

Which one follows from the settings (:func:`choose_transport`):

``airflow``  ``smtp_use_airflow_connection`` is set (the digest DAG): the SMTP provider's
             ``SmtpHook`` opens the connection configured in Airflow (host, port, TLS, login).
``smtp``     ``smtp_host`` is set: ``smtplib`` with STARTTLS or implicit SSL and a login as
             configured, bounded by ``smtp_timeout``.
``outbox``   neither: the ``.eml`` file written to ``$MONITOR_HOME/outbox/`` *is* the delivery.

Every message is written to the outbox before any network transport is tried
(:func:`write_outbox`), so a failed send never loses a digest: the retry sends that file.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from datetime import date
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from monitor.settings import Settings

__all__ = ["choose_transport", "write_outbox", "read_outbox", "deliver"]

log = logging.getLogger(__name__)

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+-]")


def choose_transport(settings: Settings) -> str:
    """'airflow', 'smtp' or 'outbox' (see the module docstring)."""
    if settings.smtp_use_airflow_connection:
        return "airflow"
    if settings.smtp_host:
        return "smtp"
    return "outbox"


def outbox_path(settings: Settings, day: date, recipient: str) -> Path:
    name = _UNSAFE_NAME.sub("_", recipient)[:120] or "recipient"
    return settings.outbox_dir / day.isoformat() / f"{name}.eml"


def write_outbox(settings: Settings, day: date, recipient: str, msg: EmailMessage) -> Path:
    """Write the message atomically as ``outbox/<day>/<recipient>.eml``; returns the path."""
    path = outbox_path(settings, day, recipient)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(msg.as_bytes(policy=SMTP))
    os.replace(tmp, path)
    return path


def read_outbox(path: Path) -> EmailMessage:
    """A stored message, for a retry of a failed send."""
    return message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=SMTP)


def deliver(settings: Settings, msg: EmailMessage, recipient: str, transport: str) -> None:
    """Send one message to one recipient; raises on failure (the caller records it)."""
    if transport == "outbox":
        return
    if transport == "smtp":
        _send_smtp(settings, msg, recipient)
    elif transport == "airflow":
        _send_airflow(settings, msg, recipient)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    log.info("digest sent transport=%s to=%s message_id=%s", transport, recipient,
             msg["Message-ID"])


def _send_smtp(settings: Settings, msg: EmailMessage, recipient: str) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_ssl:
        client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                  timeout=settings.smtp_timeout, context=context)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                              timeout=settings.smtp_timeout)
    with client:
        client.ehlo()
        if settings.smtp_starttls and not settings.smtp_ssl:
            client.starttls(context=context)
            client.ehlo()
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(msg, from_addr=settings.mail_from, to_addrs=[recipient])


def _send_airflow(settings: Settings, msg: EmailMessage, recipient: str) -> None:
    # Imported here: Airflow is heavy and only present where the DAG runs.
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id="smtp_default") as hook:
        # The hook's send_email_smtp() rebuilds the message as HTML-only multipart/mixed; we
        # keep our multipart/alternative and use the client it opened (host, TLS, login from
        # the connection). Provider 3.2 keeps it on ``_smtp_client``.
        client = getattr(hook, "_smtp_client", None) or getattr(hook, "smtp_client", None)
        if client is None:
            raise RuntimeError("SmtpHook did not open an SMTP client")
        sender = hook.from_email or settings.mail_from
        client.sendmail(sender, [recipient], msg.as_bytes(policy=SMTP))
