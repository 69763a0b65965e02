"""Fixtures for the Airflow tests: a real, migrated Airflow on SQLite in a temp dir.

Airflow reads ``AIRFLOW_HOME`` and the metadata DB URL when it is first imported, so this
module sets them at import time, before any test imports ``airflow``: every xdist worker gets
its own temporary ``AIRFLOW_HOME`` (all Airflow tests run in one worker: they are marked
``xdist_group("airflow")`` and the suite runs ``--dist loadgroup``).

The environment is the one ``monitor.airflow_env`` builds for the real deployment, so the
tests exercise the same configuration users run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.settings import load_settings
from tests.support.smtp import Inbox, smtp_server

_ROOT = Path(tempfile.mkdtemp(prefix="monitor-airflow-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def _configure_airflow_env() -> dict[str, str]:
    from monitor.airflow_env import airflow_env

    home = _ROOT / "monitor-home"
    env = airflow_env(load_settings(home=home, env={}), base={})
    # The unit-test process never talks to an API server; keep a quiet, fast configuration.
    env.pop("PATH", None)
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    return env


_AIRFLOW_ENV = _configure_airflow_env()
for _key, _value in _AIRFLOW_ENV.items():
    if _key.startswith("AIRFLOW") or _key in ("SCARF_ANALYTICS",):
        os.environ[_key] = _value


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A migrated metadata DB (first use ~20 s; every later test reuses it)."""
    from airflow.utils import db

    db.resetdb(skip_init=False)
    _ensure_pool()
    yield Path(os.environ["AIRFLOW_HOME"])


def _ensure_pool() -> None:
    from airflow.models.pool import Pool

    from monitor.airflow_env import WRITER_POOL

    Pool.create_or_update_pool(WRITER_POOL, slots=1, description="DuckDB single writer",
                               include_deferred=False)


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path):
    from airflow.dag_processing.dagbag import DagBag

    from monitor.airflow_env import DAGS_FOLDER

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture
def monitor_env(settings, monkeypatch: pytest.MonkeyPatch):
    """Point task code (``load_settings()`` inside task bodies) at the test's data dir.

    The ``settings`` fixture's fast timeouts and loopback allowance are passed as
    ``MONITOR_*`` variables, since tasks build their settings from the environment.
    """
    values = {
        "HOME": str(settings.home),
        "CONNECT_TIMEOUT": "2",
        "READ_TIMEOUT": "2",
        "TOTAL_TIMEOUT": "5",
        "RETRIES": "1",
        "BACKOFF_BASE": "0.05",
        "MAX_RETRY_AFTER": "1",
        "ALLOW_HOSTS": "127.0.0.1;localhost",
        "EXTRACT_ENABLED": "false",
    }
    for key, value in values.items():
        monkeypatch.setenv(f"MONITOR_{key}", value)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return load_settings()


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; yields (inbox, port)."""
    with smtp_server() as server:
        yield server
