"""With ``smtp_use_airflow_connection`` the digest goes through the SMTP provider's SmtpHook
and Airflow's ``smtp_default`` connection (here from AIRFLOW_CONN_SMTP_DEFAULT, pointing at
aiosmtpd on 127.0.0.1). Run in a child process: importing Airflow reconfigures logging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes
from email.policy import default

import pytest

from tests.digest.conftest import DAY

pytest.importorskip("airflow.providers.smtp.hooks.smtp")

CHILD = """
import sys
from datetime import date
from monitor.digest import run_digest
from monitor.settings import load_settings
settings = load_settings(home=sys.argv[1], env={}, smtp_use_airflow_connection=True,
                         recipients=("alice@example.org",), mail_from="monitor@example.org")
result = run_digest(settings, date.fromisoformat(sys.argv[2]))
print(result["transport"], result["sent"])
"""


def test_digest_through_airflow_smtp_connection(digest_settings, smtp_server, tmp_path):
    inbox, port = smtp_server
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True,
                      "from_email": "airflow@example.org"}}),
    })
    done = subprocess.run([sys.executable, "-c", CHILD, str(digest_settings.home),
                           DAY.isoformat()], env=env, capture_output=True, text=True,
                          timeout=120, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "airflow 1"
    assert len(inbox.messages) == 1
    mail_from, rcpts, raw = inbox.messages[0]
    assert (mail_from, rcpts) == ("airflow@example.org", ["alice@example.org"])
    msg = message_from_bytes(raw, policy=default)
    assert msg.get_content_type() == "multipart/alternative"
    assert "11 articles" in msg["Subject"]
