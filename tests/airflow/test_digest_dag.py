"""``monitor_digest`` end to end with ``dag.test()``, mailing through Airflow's SMTP connection
to a real aiosmtpd server on 127.0.0.1; a second run for the same day sends nothing."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.airflow_env import smtp_connection
from tests.airflow.feeds import serve_feeds, write_sources

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.xdist_group("airflow")]


def test_digest_sent_once_through_airflow_smtp(dagbag, monitor_env, http_server, tmp_path,
                                               monkeypatch, smtp_inbox) -> None:
    from airflow.utils.state import DagRunState

    inbox, port = smtp_inbox
    urls = serve_feeds(http_server)
    monkeypatch.setenv("MONITOR_SOURCES_FILE", str(write_sources(tmp_path / "s.toml", urls)))
    assert dagbag.dags["monitor_ingest"].test().state == DagRunState.SUCCESS

    # The smtp_default connection exactly as the launcher builds it from the settings.
    mail = monitor_env.with_(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                             smtp_ssl=False, mail_from="monitor@example.org")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(smtp_connection(mail)))
    monkeypatch.setenv("MONITOR_SMTP_USE_AIRFLOW_CONNECTION", "true")
    monkeypatch.setenv("MONITOR_MAIL_FROM", "monitor@example.org")
    monkeypatch.setenv("MONITOR_RECIPIENTS", "reader@example.org")

    dag = dagbag.dags["monitor_digest"]
    run = dag.test()  # no logical date needed: the day comes from the run's own time
    assert run.state == DagRunState.SUCCESS
    assert len(inbox.messages) == 1
    sender, rcpts, raw = inbox.messages[0]
    assert rcpts == ["reader@example.org"]
    msg = email.message_from_bytes(raw)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    assert yesterday.isoformat() in msg["Subject"] or yesterday.strftime("%d") in msg["Subject"]
    assert msg.is_multipart()

    # Same day again (a retry, a second trigger): recorded as sent, so nothing is re-sent.
    assert dag.test().state == DagRunState.SUCCESS
    assert len(inbox.messages) == 1
