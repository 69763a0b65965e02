"""The production topology's Airflow environment: PostgreSQL, CeleryExecutor, Redis.

``docker-compose.yml`` is the production deployment; this module is the same configuration
for Airflow components started natively (the topology test in ``tests/production``, or a VM
run with systemd units instead of containers). It starts from
:func:`monitor.airflow_env.airflow_env` — the embedded configuration, so both deployments
share DAGs folder, auth, secrets, SMTP connection and e-mail settings — and replaces what
differs:

- the metadata database: PostgreSQL instead of SQLite;
- the executor: ``CeleryExecutor``, tasks queued in Redis (``[celery] broker_url``), task
  states in the metadata database (``[celery] result_backend``, ``db+postgresql://…``);
- small worker concurrency and a prefetch of one, so a worker busy with a long task does not
  hoard queued ones while another worker idles;
- optionally the Celery queue (``[operators] default_queue``) and, for several workers on one
  machine, a per-worker host name recorded on the task instances they run
  (:func:`worker_hostname`; in containers each worker has its own host name anyway).

Which keys must be the same in every component, and why (all set here and in the compose
file's ``x-airflow-common`` block): ``[core] fernet_key`` (connections and variables are
encrypted with it), ``[api_auth] jwt_secret`` (the scheduler signs task tokens that the API
server checks when a worker's task calls ``/execution/``), ``[api] secret_key``,
``[core] execution_api_server_url`` (where workers' tasks report), the database URL, the
broker and the result backend.

The command line prepares a deployment's shared state (what the compose file's
``airflow-init`` runs after ``airflow db migrate`` and the pool)::

    python -m monitor.production init     # warehouse + sources, the admin password file
    python -m monitor.production env --database-url … --broker-url …   # shell exports
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import sys
from dataclasses import dataclass

from monitor.airflow_env import WRITER_POOL, airflow_env
from monitor.settings import Settings, load_settings

__all__ = [
    "Services",
    "production_env",
    "worker_hostname",
    "WORKER_CONCURRENCY",
    "WRITER_POOL",
    "HOSTNAME_ENV",
]

#: Task slots per Celery worker process (the official image's default is 16; our tasks are
#: I/O-bound fetches and one DuckDB writer, and each slot is a full Python process).
WORKER_CONCURRENCY = 4
#: Set per worker when several run on one machine: the host name its task instances record.
HOSTNAME_ENV = "MONITOR_WORKER_HOSTNAME"
_HOSTNAME_CALLABLE = "monitor.production.worker_hostname"


@dataclass(frozen=True)
class Services:
    """Where the shared services of the deployment answer."""

    #: SQLAlchemy URL of the metadata database, e.g.
    #: ``postgresql+psycopg2://airflow:…@postgres:5432/airflow``.
    database_url: str
    #: Celery broker, e.g. ``redis://redis:6379/0``.
    broker_url: str
    #: Celery result backend; default: the metadata database (``db+postgresql://…``).
    result_backend: str = ""

    @property
    def celery_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        # Celery's database backend takes SQLAlchemy URLs prefixed with ``db+``; the default
        # PostgreSQL driver of SQLAlchemy is psycopg2, so the driver part can go.
        url = self.database_url.replace("postgresql+psycopg2://", "postgresql://", 1)
        return f"db+{url}"


def worker_hostname() -> str:
    """Host name recorded on task instances: ``$MONITOR_WORKER_HOSTNAME``, else the FQDN.

    Airflow calls this through ``[core] hostname_callable`` in each task's supervisor
    process. It must stay cheap to import: this module imports only the settings modules.
    """
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


def production_env(
    settings: Settings,
    services: Services,
    *,
    base: dict[str, str] | None = None,
    queue: str | None = None,
    worker_name: str | None = None,
    concurrency: int = WORKER_CONCURRENCY,
) -> dict[str, str]:
    """The environment of every component of the Celery deployment.

    ``queue`` makes it the default queue of every task (and workers must serve it, ``-q``);
    ``worker_name`` is for a Celery worker sharing its machine with other workers: its task
    instances record that name as their host.
    """
    env = airflow_env(settings, base)
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": services.database_url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": services.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": services.celery_result_backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            # The monitor's task e-mail goes through smtp_default; the digest does too.
            "MONITOR_SMTP_USE_AIRFLOW_CONNECTION": "true"
            if "AIRFLOW_CONN_SMTP_DEFAULT" in env
            else env.get("MONITOR_SMTP_USE_AIRFLOW_CONNECTION", "false"),
        }
    )
    if queue:
        env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] = queue
    if worker_name:
        env[HOSTNAME_ENV] = worker_name
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = _HOSTNAME_CALLABLE
    return env


# --- command line -------------------------------------------------------------------------


def _init(settings: Settings) -> int:
    """Warehouse, sources and the admin password file: the deployment's shared state."""
    from monitor.sources import initialise

    version, count = initialise(settings)
    print(f"warehouse {settings.warehouse_path} (schema {version}), {count} sources")

    passwords = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    if not passwords:
        return 0
    path = os.path.abspath(passwords)
    if settings.admin_password:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({settings.admin_user: settings.admin_password}, fh)
        print(f"admin login {settings.admin_user!r} written to {path}")
        return 0
    try:
        with open(path, encoding="utf-8") as fh:
            known = settings.admin_user in json.load(fh)
    except (OSError, ValueError):
        known = False
    if not known:
        print(f"MONITOR_ADMIN_PASSWORD is not set and {path} has no password for "
              f"{settings.admin_user!r}: set one (in .env for docker compose)", file=sys.stderr)
        return 2
    print(f"admin login {settings.admin_user!r} kept in {path}")
    return 0


def _env(settings: Settings, args: argparse.Namespace) -> int:
    services = Services(args.database_url, args.broker_url, args.result_backend or "")
    env = production_env(settings, services, base={"PATH": os.environ.get("PATH", "")},
                         queue=args.queue, worker_name=args.worker_name)
    for key, value in sorted(env.items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.production",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the warehouse, load the sources, write the admin login")
    env = sub.add_parser("env", help="print the Celery deployment's environment as exports")
    env.add_argument("--database-url", required=True)
    env.add_argument("--broker-url", required=True)
    env.add_argument("--result-backend")
    env.add_argument("--queue")
    env.add_argument("--worker-name")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.command == "init":
        return _init(settings)
    return _env(settings, args)


if __name__ == "__main__":
    sys.exit(main())
