"""Shared DAG pieces: the digest's day, the ops alert without SMTP, the Airflow environment."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from monitor.airflow_env import admin_password, airflow_env, smtp_connection
from monitor.orchestration import OpsAlert, previous_day, run_time

pytestmark = [pytest.mark.airflow, pytest.mark.xdist_group("airflow")]


@pytest.mark.parametrize(
    ("when", "tz", "expected"),
    [
        (datetime(2026, 3, 10, 7, 0, tzinfo=ZoneInfo("UTC")), "UTC", "2026-03-09"),
        # 23:30 UTC is already the 11th in Tokyo: the digest is for the 10th there.
        (datetime(2026, 3, 10, 23, 30, tzinfo=ZoneInfo("UTC")), "Asia/Tokyo", "2026-03-10"),
        (datetime(2026, 3, 10, 2, 0, tzinfo=ZoneInfo("UTC")), "America/New_York", "2026-03-08"),
    ],
    ids=["utc", "tokyo-ahead", "new-york-behind"],
)
def test_previous_day(when, tz, expected) -> None:
    assert previous_day(when, tz).isoformat() == expected


def test_run_time_without_logical_date() -> None:
    # A manual / REST run: no logical date, no data interval, but run_after is set.
    after = datetime(2026, 5, 1, 12, tzinfo=ZoneInfo("UTC"))
    run = SimpleNamespace(data_interval_end=None, logical_date=None, run_after=after)
    assert run_time(run) == after


def test_ops_alert_without_smtp_goes_to_outbox(settings, monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_HOME", str(settings.home))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    alert = OpsAlert(to="ops@example.org", from_email="monitor@example.org")
    ti = SimpleNamespace(dag_id="monitor_ingest", task_id="store", try_number=2, max_tries=2,
                         run_id="manual__<x>", map_index=-1, log_url="http://x/log")
    alert({"ti": ti, "exception": RuntimeError("disk <full>"), "dag": None})
    files = list((settings.outbox_dir / "alerts").glob("*.eml"))
    assert len(files) == 1
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "ops@example.org"
    assert msg["Subject"] == "[monitor] monitor_ingest.store failed (try 2)"
    html = msg.get_body(("html",)).get_content()
    assert "disk &lt;full&gt;" in html and "manual__&lt;x&gt;" in html


def test_ops_alert_mails_through_smtp_default(settings, monkeypatch, smtp_inbox) -> None:
    inbox, port = smtp_inbox
    mail = settings.with_(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                          mail_from="monitor@example.org")
    monkeypatch.setenv("MONITOR_HOME", str(settings.home))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(smtp_connection(mail)))
    alert = OpsAlert(to="ops@example.org", from_email="monitor@example.org")
    ti = SimpleNamespace(dag_id="monitor_digest", task_id="send_digest", try_number=1,
                         max_tries=3, run_id="scheduled__1", map_index=-1, log_url="http://x")
    alert({"ti": ti, "exception": ValueError("boom"), "dag": None})
    assert len(inbox.messages) == 1
    sender, rcpts, raw = inbox.messages[0]
    assert rcpts == ["ops@example.org"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[monitor] monitor_digest.send_digest failed (try 1)"
    assert not list((settings.outbox_dir / "alerts").glob("*.eml"))


def test_airflow_env(settings) -> None:
    env = airflow_env(settings, base={"PATH": "/usr/bin"})
    assert env["AIRFLOW_HOME"] == str(settings.airflow_home)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:////")
    assert env["MONITOR_HOME"] == str(settings.home)
    assert "AIRFLOW_CONN_SMTP_DEFAULT" not in env  # no SMTP host configured
    # The password is generated once and kept; secrets are stable across calls.
    password = admin_password(settings)
    again = airflow_env(settings, base={})
    assert admin_password(settings) == password
    assert again["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    users = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
    assert users == {"admin": password}
    assert (settings.airflow_home / "admin-password").stat().st_mode & 0o077 == 0


def test_smtp_connection_from_settings(settings) -> None:
    conn = smtp_connection(settings.with_(smtp_host="mail.example.org", smtp_port=465,
                                          smtp_ssl=True, smtp_starttls=False,
                                          smtp_user="u", smtp_password="p"))
    assert conn["host"] == "mail.example.org" and conn["port"] == 465
    assert conn["extra"]["disable_ssl"] is False and conn["extra"]["disable_tls"] is True
    assert conn["login"] == "u" and conn["password"] == "p"
