"""The digest for one day, end to end: refresh → build → render → outbox → send → record.

``run_digest`` is what the Airflow digest DAG and ``monitor digest --send`` call. It is
idempotent per date and recipient through the ``digests`` table:

* ``sent`` rows are skipped unless ``force``;
* every message is first written to the outbox and recorded as ``pending`` (with its path),
  then delivered outside the warehouse lock (an SMTP server that takes 30 s must not block
  ingestion), then recorded as ``sent`` or ``failed`` with the error and an attempt count;
* a ``pending``/``failed`` row whose ``.eml`` still exists is retried with that same message
  (same Message-ID), so the retry sends what the first attempt meant to send;
* when any recipient failed, :class:`DigestSendError` is raised after recording, so Airflow's
  retries retry just the failed ones. Delivery is at-least-once: a crash between the SMTP
  server's 250 and our record means one duplicate, never a lost digest.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from monitor import trends, warehouse
from monitor.digest.build import build_digest, default_day
from monitor.digest.render import compose_message, header_safe, render_digest
from monitor.digest.send import choose_transport, deliver, read_outbox, write_outbox
from monitor.errors import MonitorError
from monitor.settings import Settings

__all__ = ["run_digest", "preview_digest", "parse_recipients", "DigestSendError"]

log = logging.getLogger(__name__)


class DigestSendError(MonitorError):
    """At least one recipient's digest could not be delivered (recorded; retried next run)."""


def parse_recipients(entries: tuple[str, ...]) -> list[tuple[str, tuple[str, ...] | None]]:
    """``"a@x.org"`` or ``"a@x.org:kurils,energy"`` → (address, topic filter or None).

    Entries without a plausible address (or with control characters) are dropped with a
    warning rather than sent to.
    """
    out: list[tuple[str, tuple[str, ...] | None]] = []
    for entry in entries:
        addr_part, _, topic_part = entry.partition(":")
        addr = parseaddr(addr_part.strip())[1]
        if not addr or "@" not in addr or header_safe(addr) != addr or addr != addr_part.strip():
            log.warning("digest recipient skipped, not an address: %r", entry)
            continue
        topics = tuple(t.strip() for t in topic_part.split(",") if t.strip()) or None
        out.append((addr, topics))
    return out


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _build(con: Any, settings: Settings, day: date) -> dict[str, Any]:
    if trends.is_stale(con):
        trends.refresh_trends(con)
    return build_digest(con, day, settings)


def preview_digest(settings: Settings, day: date | None = None, path: Path | None = None,
                   topics: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Render without sending or recording; write the HTML to ``path`` if given."""
    day = day or default_day(settings)
    with warehouse.writer(settings) as con:
        data = _build(con, settings, day)
    subject, html_body, text_body = render_digest(data, settings, topics)
    if path is not None:
        path.write_text(html_body, encoding="utf-8")
    return {"date": day, "subject": subject, "html": html_body, "text": text_body,
            "articles": data["summary"]["articles"], "stories": len(data["stories"]),
            "path": str(path) if path else None}


def run_digest(settings: Settings, day: date | None = None, send: bool = True,
               force: bool = False) -> dict[str, Any]:
    """Build and deliver the digest of ``day`` (default: yesterday in settings.timezone).

    ``send=False`` builds and renders only (nothing written or sent). Returns a summary:
    date, subject, articles, stories, transport and per-recipient status
    (sent / skipped / failed).
    """
    day = day or default_day(settings)
    settings.ensure_dirs()
    recipients = parse_recipients(settings.recipients)
    transport = choose_transport(settings)
    result: dict[str, Any] = {"date": day.isoformat(), "transport": transport,
                              "recipients": {}, "sent": 0, "skipped": 0, "failed": 0}

    # 1. Under the writer lock, briefly: refresh trends, build, write .eml files, record pending.
    plan: list[tuple[str, Path, EmailMessage, int]] = []
    with warehouse.writer(settings, publish=False) as con:
        data = _build(con, settings, day)
        result.update(articles=data["summary"]["articles"], stories=len(data["stories"]))
        existing = {r[0]: r[1:] for r in con.execute(
            "SELECT recipient, status, path, attempts FROM digests WHERE digest_date = ?",
            [day]).fetchall()}
        if not send:
            result["subject"] = render_digest(data, settings)[0]
            return result
        now = _utcnow()
        for addr, topics in recipients:
            status, old_path, attempts = existing.get(addr, (None, None, 0))
            if status == "sent" and not force:
                result["recipients"][addr] = "skipped"
                result["skipped"] += 1
                continue
            if status in ("pending", "failed") and old_path and Path(old_path).exists() \
                    and not force:
                msg = read_outbox(Path(old_path))
                path = Path(old_path)
            else:
                subject, html_body, text_body = render_digest(data, settings, topics)
                msg = compose_message(subject=subject, html_body=html_body,
                                      text_body=text_body, mail_from=settings.mail_from,
                                      to=addr, day=day)
                path = write_outbox(settings, day, addr, msg)
            con.execute(
                "INSERT INTO digests (digest_date, recipient, status, attempts, subject,"
                " message_id, transport, path, error, created_at)"
                " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, NULL, ?)"
                " ON CONFLICT (digest_date, recipient) DO UPDATE SET status = 'pending',"
                " subject = excluded.subject, message_id = excluded.message_id,"
                " transport = excluded.transport, path = excluded.path",
                [day, addr, attempts, str(msg["Subject"]), str(msg["Message-ID"]), transport,
                 str(path), now],
            )
            plan.append((addr, path, msg, attempts))
            result.setdefault("subject", str(msg["Subject"]))
        if "subject" not in result:
            result["subject"] = render_digest(data, settings)[0]

    # 2. Outside the lock: deliver.
    outcomes: list[tuple[str, str, str | None]] = []
    for addr, _path, msg, _ in plan:
        try:
            deliver(settings, msg, addr, transport)
            outcomes.append((addr, "sent", None))
        except Exception as exc:  # any transport failure is data: recorded, retried
            log.warning("digest send failed day=%s to=%s transport=%s error=%s", day, addr,
                        transport, exc)
            outcomes.append((addr, "failed", f"{type(exc).__name__}: {exc}"[:500]))

    # 3. Record the outcomes (and publish the snapshot with the refreshed trend tables).
    with warehouse.writer(settings) as con:
        for addr, status, error in outcomes:
            con.execute(
                "UPDATE digests SET status = ?, attempts = attempts + 1, error = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ?::TIMESTAMP ELSE sent_at END"
                " WHERE digest_date = ? AND recipient = ?",
                [status, error, status, _utcnow(), day, addr],
            )
            result["recipients"][addr] = status
            result[status] += 1
    result["outbox"] = [str(p) for _, p, _, _ in plan]
    log.info("digest done day=%s sent=%s skipped=%s failed=%s", day, result["sent"],
             result["skipped"], result["failed"])
    if result["failed"]:
        failed = [a for a, s, _ in outcomes if s == "failed"]
        errors = "; ".join(e for _, s, e in outcomes if e)
        raise DigestSendError(
            f"digest {day} not delivered to {', '.join(failed)} via {transport}: {errors}. "
            "Recorded in the digests table; the .eml stays in the outbox and the next run "
            "retries it.")
    return result
