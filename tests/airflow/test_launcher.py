"""Ctrl-C on a foreground ``monitor up`` in the middle of start-up leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.airflow.support import MONITOR, clean_env, free_port, processes_of

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.xdist_group("airflow")]


def test_ctrl_c_during_start_stops_every_child(tmp_path) -> None:
    home = tmp_path / "home"
    env = clean_env(MONITOR_HOME=str(home), MONITOR_AIRFLOW_PORT=str(free_port()))
    proc = subprocess.Popen([MONITOR, "up"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    state = home / "airflow" / "monitor-up.json"
    try:
        # Wait until the API server has been spawned (the supervisor records its children).
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if state.exists() and json.loads(state.read_text() or "{}").get("children"):
                break
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read()
        assert processes_of(home), "the API server should be starting"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped; no process left" in output, output
    assert proc.returncode == 0, output
    assert processes_of(home) == []
    assert not state.exists()
