"""Entry point of the ``monitor`` console script.

Each concern registers its commands on :data:`monitor.cli.app.cli` from its own module; the
imports below are the whole list. Heavy libraries are imported inside command bodies so that
``monitor --help`` stays fast.
"""

from monitor.cli import (
    airflow,  # noqa: F401  (up, down, airflow-env)
    backfill,  # noqa: F401  (backfill)
    classify,  # noqa: F401
    core,  # noqa: F401  (init, config, sql, sources, ingest)
    digest,  # noqa: F401  (digest)
    extract,  # noqa: F401  (extract)
    trends,  # noqa: F401  (trends)
)
from monitor.cli.app import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="monitor")
