"""What every monitor DAG shares: defaults, the ops failure alert, the articles Asset, dates.

DAG files import this module at parse time, so it imports nothing heavy: only ``airflow.sdk``
(already loaded by the DAG processor), the SMTP provider's notifier and the stdlib. The
monitor's library modules are imported inside task bodies, never here.

Failure alerts go to ``settings.ops_email`` through :class:`OpsAlert`, a task-level
``SmtpNotifier``: with an SMTP server configured (the ``smtp_default`` connection that
``monitor.airflow_env`` builds from the settings, or one defined in Airflow) it mails; without
one (the embedded default) it writes the same message as an ``.eml`` file to
``$MONITOR_HOME/outbox/alerts/``, the way digests go to the outbox, so no alert is lost.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import Asset, BaseNotifier

from monitor.settings import Settings, load_settings

__all__ = [
    "ARTICLES",
    "WRITER_POOL",
    "START_DATE",
    "OpsAlert",
    "dag_settings",
    "default_args",
    "previous_day",
    "run_time",
]

log = logging.getLogger(__name__)

#: Produced by ``monitor_ingest`` whenever its writer stored a batch.
ARTICLES = Asset(name="monitor_warehouse_articles", uri="file:///monitor/warehouse/articles")
#: The one-slot pool every warehouse writer runs in (the launcher creates it).
WRITER_POOL = "duckdb_writer"
#: A fixed, timezone-aware start in the past; with ``catchup=False`` only the latest interval runs.
START_DATE = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))

_SUBJECT = "[monitor] {{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }})"
_HTML = (
    "<p>Task <b>{{ ti.dag_id }}.{{ ti.task_id }}</b> failed.</p>"
    "<table>"
    "<tr><td>Run</td><td>{{ ti.run_id | e }}</td></tr>"
    "<tr><td>Try</td><td>{{ ti.try_number }} of {{ ti.max_tries + 1 }}</td></tr>"
    "<tr><td>Map index</td><td>{{ ti.map_index }}</td></tr>"
    "<tr><td>Error</td><td><pre>{{ (exception | string)[:4000] | e }}</pre></td></tr>"
    "<tr><td>Log</td><td><a href=\"{{ ti.log_url | e }}\">{{ ti.log_url | e }}</a></td></tr>"
    "</table>"
)


class OpsAlert(BaseNotifier):
    """Task failure e-mail to the ops address; an ``.eml`` in the outbox when SMTP is not set.

    Sending is delegated to the SMTP provider's ``SmtpNotifier`` (imported only when an alert
    goes out: the provider and aiosmtplib cost ~30 ms on every parse of every DAG file).
    """

    template_fields = ("to", "from_email", "subject", "html_content")

    def __init__(self, to: str, from_email: str) -> None:
        super().__init__()
        self.to = to
        self.from_email = from_email
        self.subject = _SUBJECT
        self.html_content = _HTML

    def notify(self, context: Any) -> None:
        settings = load_settings()
        if _smtp_available(settings):
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            # Fields are rendered already; SmtpNotifier.notify sends them as they are.
            SmtpNotifier(to=self.to, from_email=self.from_email, subject=self.subject,
                         html_content=self.html_content).notify(context)
            log.info("failure alert mailed to=%s", self.to)
            return
        path = write_alert_eml(settings, self.from_email, self.to, self.subject, self.html_content)
        log.warning("no SMTP configured; failure alert written path=%s", path)


def _smtp_available(settings: Settings) -> bool:
    return bool(
        settings.smtp_host
        or settings.smtp_use_airflow_connection
        or os.environ.get("AIRFLOW_CONN_SMTP_DEFAULT")
    )


def write_alert_eml(settings: Settings, sender: str, to: Any, subject: str, html: str) -> Path:
    """Write one alert as an RFC 5322 file under ``outbox/alerts``; returns its path."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    # Subjects come from templates over task ids; strip CR/LF anyway (no header injection).
    msg["Subject"] = re.sub(r"[\r\n]+", " ", str(subject)).strip()
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="monitor.local")
    msg.set_content("A monitor task failed; see the HTML part or the Airflow UI.")
    msg.add_alternative(str(html), subtype="html")
    folder = settings.outbox_dir / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"alert-{stamp}.eml"
    path.write_bytes(bytes(msg))
    return path


def dag_settings() -> Settings:
    """Settings read at parse time (schedule, timezone, ops address): a small TOML read."""
    return load_settings()


def default_args(settings: Settings, *, retries: int = 2) -> dict[str, Any]:
    """Owner, retries with exponential backoff and the failure alert, for every task."""
    return {
        "owner": "monitor",
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": [OpsAlert(to=settings.ops_email, from_email=settings.mail_from)],
    }


def run_time(dag_run: Any) -> datetime:
    """When this run is "for": the end of its data interval, else when it was asked to run.

    Manual and REST-API runs have no logical date (``{{ ds }}`` fails), and may have no data
    interval; ``run_after`` is always set.
    """
    for attr in ("data_interval_end", "run_after", "logical_date", "start_date"):
        value = getattr(dag_run, attr, None) if dag_run is not None else None
        if value is not None:
            return value
    return datetime.now(ZoneInfo("UTC"))


def previous_day(when: datetime, timezone: str) -> date:
    """The calendar day before ``when`` as seen in ``timezone`` (the digest's day)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo("UTC"))
    return (when.astimezone(ZoneInfo(timezone)) - timedelta(days=1)).date()
