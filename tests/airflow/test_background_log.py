"""``monitor up --background`` echoes only this start's log lines and says how to stop a
detached monitor (issue 13, item 6).

The supervisor here is a stand-in script in place of ``monitor`` (a real process that writes
the log and the state file as ``monitor up --detached`` does), so the test needs no Airflow;
the real start is covered by ``test_deployment.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from monitor import launcher
from monitor.settings import Settings

SUPERVISOR = """#!{python}
import json, os, sys, time
from pathlib import Path
state, argv_file = Path(sys.argv[-2]), Path(sys.argv[-1])
argv_file.write_text(json.dumps(sys.argv[1:]))
print("this start: preparing", flush=True)
print("this start: " + {hint!r}, flush=True)
tmp = state.with_suffix(".tmp")
tmp.write_text(json.dumps({{"supervisor": os.getpid(), "ready": True, "children": {{}}}}))
os.replace(tmp, state)
try:
    while True:
        time.sleep(0.2)
except KeyboardInterrupt:
    state.unlink(missing_ok=True)
"""


@pytest.fixture
def fake_monitor(tmp_path: Path, settings: Settings, monkeypatch) -> Path:
    script = tmp_path / "bin" / "monitor"
    script.parent.mkdir()
    script.write_text(SUPERVISOR.format(python=sys.executable,
                                        hint=launcher.stop_hint(detached=True)))
    script.chmod(0o755)
    argv_file = tmp_path / "argv.json"
    real_popen = launcher.subprocess.Popen

    def popen(args, **kwargs):  # the stand-in learns where to write, after the real args
        return real_popen([*args, str(launcher.state_path(settings)), str(argv_file)],
                          **kwargs)

    monkeypatch.setattr(launcher, "_monitor_bin", lambda: str(script))
    monkeypatch.setattr(launcher.subprocess, "Popen", popen)
    return argv_file


def test_background_start_shows_only_its_own_log(settings: Settings, fake_monitor: Path) -> None:
    log = settings.airflow_home / "logs" / "monitor-up.log"
    log.parent.mkdir(parents=True)
    log.write_text("previous session: API server healthy\nCtrl-C stops every process "
                   "started here.\nprevious session: stopped\n", encoding="utf-8")
    said: list[str] = []
    try:
        launcher.start_background(settings, said.append, timeout=60)
    finally:
        launcher.stop_background(settings, said.append)
    text = "\n".join(said)
    assert "previous session" not in text and "Ctrl-C" not in text
    assert "this start: preparing" in text
    assert "`make stop` (or `monitor down`) stops every process" in text
    assert "stop it with: make stop" in text
    assert "--detached" in fake_monitor.read_text()


def test_foreground_hint_is_ctrl_c() -> None:
    assert launcher.stop_hint(detached=False).startswith("Ctrl-C")
    assert "make stop" in launcher.stop_hint(detached=True)
