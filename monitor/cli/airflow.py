"""Airflow commands: ``up`` (start the monitor), ``down``, ``airflow-env``."""

from __future__ import annotations

import sys

import click

from monitor.cli.app import cli, fail, pass_settings
from monitor.settings import Settings


def _say(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@cli.command()
@click.option("--background", is_flag=True,
              help="Start detached and return once ready; `monitor down` stops it.")
@click.option("--port", type=int, default=None,
              help="Port of the Airflow UI/API (default: setting airflow_port).")
@click.option("--detached", is_flag=True, hidden=True,
              help="Internal: this is the supervisor a --background start spawned.")
@pass_settings
def up(settings: Settings, background: bool, port: int | None, detached: bool) -> None:
    """Start the monitor: warehouse, Airflow (API server, scheduler, DAG processor,
    triggerer) with the monitor's DAGs and the Trends view.

    Prints the UI address and the login. Ctrl-C stops every process it started; after
    --background, `make stop` (or `monitor down`) does.
    """
    from monitor.launcher import Launcher, LaunchError, start_background

    if port is not None:
        settings = settings.with_(airflow_port=port)
    if background:
        if port is not None:
            import os

            os.environ["MONITOR_AIRFLOW_PORT"] = str(port)
        try:
            start_background(settings, _say)
        except LaunchError as exc:
            fail(str(exc))
        return
    code = Launcher(settings, say=_say, detached=detached).run()
    if code:
        sys.exit(code)


@cli.command()
@pass_settings
def down(settings: Settings) -> None:
    """Stop a monitor started with `monitor up --background` (nothing is left running)."""
    from monitor.launcher import LaunchError, stop_background

    try:
        stop_background(settings, _say)
    except LaunchError as exc:
        fail(str(exc))


@cli.command("airflow-env")
@pass_settings
def airflow_env_command(settings: Settings) -> None:
    """Print the Airflow environment as shell exports.

    \b
    Run Airflow commands by hand against the monitor's Airflow:
      eval "$(monitor airflow-env)"; airflow dags list
    """
    from monitor.airflow_env import shell_exports

    click.echo(shell_exports(settings), nl=False)
