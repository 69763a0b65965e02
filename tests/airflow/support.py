"""Helpers for the tests that start the real deployment (``monitor up``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support.smtp import free_port

#: The console script of this venv.
MONITOR = str(Path(sys.executable).parent / "monitor")


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without Airflow/monitor/pytest settings, plus ``values``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "MONITOR_", "PYTEST_"))}
    # Log servers of workers and triggerer listen on fixed ports (8793/8794) by default:
    # free ones, so a test deployment never collides with a running monitor or another test.
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
    env.update(values)
    return env


def processes_of(home: Path) -> list[str]:
    """Every live process whose environment points at this data directory."""
    marker = f"MONITOR_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {cmd.strip()}")
        except OSError:
            continue
    return found
