"""The environment Airflow runs in, built from the monitor's settings.

Airflow is configured entirely through ``AIRFLOW__SECTION__KEY`` variables so that the
generated ``airflow.cfg`` never matters: every component the launcher starts, every test and
every ``airflow`` command a person runs by hand (``eval "$(monitor airflow-env)"``) sees the
same configuration. What it sets, and why:

- ``AIRFLOW_HOME`` under the data directory (``$MONITOR_HOME/airflow``): one folder holds all
  state; deleting the data directory resets everything.
- SQLite metadata DB with LocalExecutor: the embedded default needs no server. SQLite has one
  writer at a time, so connections wait up to 30 s for its lock (``?timeout=30``) rather than
  failing. Parallelism is small: each worker is a full Python process.
- ``load_examples`` off, DAGs folder = the repo's ``dags/``, DAGs unpaused at creation (the
  monitor runs without anyone clicking "unpause").
- SimpleAuthManager with one fixed admin user; the password comes from settings or is
  generated once and kept in ``$MONITOR_HOME/airflow/admin-password`` (mode 0600).
- ``jwt_secret``/``secret_key``/``fernet_key`` generated once and kept in
  ``$MONITOR_HOME/airflow/secrets.json``: every component must share them (tokens issued by
  the API server are checked by workers) and they must survive restarts.
- ``execution_api_server_url`` pointing at our own API server port.
- an ``smtp_default`` connection built from the SMTP settings (plain, STARTTLS or SSL).
- ``MONITOR_HOME`` passed through so task code finds the same data directory, and the venv's
  ``bin`` first on ``PATH`` (Airflow components start ``airflow`` subprocesses by name).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shlex
import sys
from pathlib import Path

from monitor.settings import REPO_ROOT, Settings

__all__ = [
    "airflow_env",
    "admin_password",
    "api_url",
    "smtp_connection",
    "shell_exports",
    "DAGS_FOLDER",
    "WRITER_POOL",
]

log = logging.getLogger(__name__)

#: The repo's DAG files; Airflow parses this folder.
DAGS_FOLDER = REPO_ROOT / "dags"
#: One-slot pool every warehouse-writing task runs in (DuckDB has a single writer).
WRITER_POOL = "duckdb_writer"
#: Worker processes LocalExecutor starts; small on purpose (2 cores, shared machine).
PARALLELISM = 4
_SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def _write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only (created with 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def admin_password(settings: Settings) -> str:
    """The admin's password: from settings, else generated once and kept under the data dir."""
    if settings.admin_password:
        return settings.admin_password
    path = settings.airflow_home / "admin-password"
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    password = secrets.token_urlsafe(12)
    _write_private(path, password + "\n")
    log.info("generated admin password path=%s", path)
    return password


def _secrets(settings: Settings) -> dict[str, str]:
    """Keys every component must share; generated on first use and kept."""
    path = settings.airflow_home / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("unreadable secrets file, regenerating path=%s", path)
    wanted = {
        "jwt_secret": lambda: secrets.token_urlsafe(32),
        "secret_key": lambda: secrets.token_urlsafe(32),
        # Fernet keys are 32 url-safe base64-encoded bytes.
        "fernet_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    missing = {name: make() for name, make in wanted.items() if not stored.get(name)}
    if missing:
        stored.update(missing)
        _write_private(path, json.dumps(stored, indent=2))
    return stored


def api_url(settings: Settings) -> str:
    """Where the API server (and the UI) answers."""
    return f"http://{settings.airflow_host}:{settings.airflow_port}"


def smtp_connection(settings: Settings) -> dict | None:
    """The ``smtp_default`` connection as Airflow's JSON form, or None without an SMTP host."""
    if not settings.smtp_host:
        return None
    conn: dict = {
        "conn_type": "smtp",
        "host": settings.smtp_host,
        "port": settings.smtp_port,
        "extra": {
            "from_email": settings.mail_from,
            "disable_ssl": not settings.smtp_ssl,
            "disable_tls": not settings.smtp_starttls,
            "timeout": int(settings.smtp_timeout),
            "retry_limit": 2,
        },
    }
    if settings.smtp_user:
        conn["login"] = settings.smtp_user
        conn["password"] = settings.smtp_password
    return conn


def airflow_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The full environment for Airflow components and ``airflow`` commands.

    ``base`` defaults to the current process environment; stale ``AIRFLOW__*`` variables in it
    are overwritten by ours, other variables are kept.
    """
    env = dict(os.environ if base is None else base)
    # Absolute paths: Airflow refuses relative SQLite URLs, and components may change cwd.
    home = settings.airflow_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    keys = _secrets(settings)

    passwords_file = home / "simple_auth_manager_passwords.json"
    _write_private(passwords_file, json.dumps({settings.admin_user: admin_password(settings)}))

    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        path = bin_dir + (os.pathsep + path if path else "")

    url = api_url(settings)
    env.update(
        {
            "PATH": path,
            "MONITOR_HOME": str(settings.home.resolve()),
            "AIRFLOW_HOME": str(home),
            # SQLite serialises writers; wait up to 30 s for the lock instead of failing an
            # API request with "database is locked" when several tasks report at once.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=30",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.timezone,
            "AIRFLOW__CORE__AUTH_MANAGER": _SIMPLE_AUTH,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.admin_user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__API__HOST": settings.airflow_host,
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            # New DAG files show up within a minute rather than five.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__EMAIL__EMAIL_CONN_ID": "smtp_default",
            "AIRFLOW__EMAIL__FROM_EMAIL": settings.mail_from,
            # Quiet: no usage data leaves an often-offline machine.
            "SCARF_ANALYTICS": "false",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        }
    )
    conn = smtp_connection(settings)
    if conn is not None:
        env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(conn)
    else:
        env.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    return env


def shell_exports(settings: Settings) -> str:
    """The Airflow-specific part of the environment as ``export`` lines for a shell."""
    env = airflow_env(settings, base={"PATH": os.environ.get("PATH", "")})
    lines = [f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    return "\n".join(lines) + "\n"
