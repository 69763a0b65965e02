"""``monitor.production``: the Celery deployment's environment and its ``init`` command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from monitor.production import Services, production_env, worker_hostname
from monitor.settings import REPO_ROOT, load_settings

SERVICES = Services("postgresql+psycopg2://airflow:pw@db:5432/airflow", "redis://redis:6379/7")


@pytest.mark.parametrize(
    ("database_url", "explicit", "expected"),
    [
        ("postgresql+psycopg2://a:b@h:5432/d", "", "db+postgresql://a:b@h:5432/d"),
        ("postgresql://a@h/d", "", "db+postgresql://a@h/d"),
        ("postgresql://a@h/d", "redis://r:6379/1", "redis://r:6379/1"),
    ],
    ids=["psycopg2-driver-dropped", "plain-url", "explicit-backend-kept"],
)
def test_result_backend(database_url: str, explicit: str, expected: str) -> None:
    assert Services(database_url, "redis://r", explicit).celery_result_backend == expected


def test_production_env_replaces_what_differs_from_embedded(settings) -> None:
    env = production_env(settings, SERVICES, base={})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == SERVICES.database_url
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/7"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://airflow:pw@db:5432/airflow"
    # Shared with the embedded configuration: secrets, auth, DAGs, execution API.
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY",
                "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                "AIRFLOW__CORE__DAGS_FOLDER", "MONITOR_HOME"):
        assert env[key], key
    # Same secrets on every call: all components started from it agree.
    assert production_env(settings, SERVICES, base={})["AIRFLOW__API_AUTH__JWT_SECRET"] == \
        env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in env
    assert "AIRFLOW__OPERATORS__DEFAULT_QUEUE" not in env
    assert env["MONITOR_SMTP_USE_AIRFLOW_CONNECTION"] == "false"  # no SMTP configured


def test_worker_name_and_queue(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    env = production_env(settings.with_(smtp_host="127.0.0.1"), SERVICES, base={},
                         queue="q1", worker_name="worker-a", concurrency=2)
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "q1"
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "2"
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "monitor.production.worker_hostname"
    assert env["MONITOR_SMTP_USE_AIRFLOW_CONNECTION"] == "true"
    monkeypatch.setenv("MONITOR_WORKER_HOSTNAME", env["MONITOR_WORKER_HOSTNAME"])
    assert worker_hostname() == "worker-a"
    monkeypatch.delenv("MONITOR_WORKER_HOSTNAME")
    assert worker_hostname()  # the FQDN


def _init(home, passwords, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MONITOR_"))}
    env.update({"MONITOR_HOME": str(home),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords), **extra})
    return subprocess.run([sys.executable, "-m", "monitor.production", "init"], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_init_creates_warehouse_and_admin_login(tmp_path) -> None:
    home, passwords = tmp_path / "data", tmp_path / "config" / "passwords.json"
    refused = _init(home, passwords)
    assert refused.returncode == 2
    assert "MONITOR_ADMIN_PASSWORD" in refused.stderr

    done = _init(home, passwords, MONITOR_ADMIN_PASSWORD="s3cret")
    assert done.returncode == 0, done.stderr
    assert json.loads(passwords.read_text()) == {"admin": "s3cret"}
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    settings = load_settings(home=home, env={})
    assert settings.warehouse_path.exists() and settings.snapshot_path.exists()

    # Run again without the password (a restart): the login is kept, not an error.
    again = _init(home, passwords)
    assert again.returncode == 0, again.stderr
    assert json.loads(passwords.read_text()) == {"admin": "s3cret"}
