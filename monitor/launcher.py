"""``monitor up``: the embedded deployment, started in order and stopped without leftovers.

Why not ``airflow standalone``: it starts every component at once, so tasks scheduled before
the API server listens fail (``ConnectError … /execution/``), and only SIGINT to it stops its
children. Here the launcher is the supervisor and does it step by step:

1. prepare: initialise the warehouse and sync the sources (what ``monitor init`` does),
   ``airflow db migrate``, create the one-slot ``duckdb_writer`` pool;
2. start ``airflow api-server`` and wait until ``/api/v2/monitor/health`` answers;
3. then ``scheduler``, ``dag-processor`` and ``triggerer`` — no task can run before the API is up;
4. print the UI address and the login, then watch the children.

Each child runs in its own process group (its workers with it) with its output in
``$AIRFLOW_HOME/logs/<component>.log``. Ctrl-C (SIGINT) or SIGTERM stops them in reverse
order: SIGINT to the group, then SIGTERM, then SIGKILL, each with a bounded wait, until no
process of any group is left. If a component dies on its own, everything is stopped and the
launcher exits non-zero, rather than running half a deployment.

``monitor up --background`` starts the same supervisor detached and returns once it is ready;
its state file (``$AIRFLOW_HOME/monitor-up.json``: supervisor pid, child process groups) lets
``monitor down`` stop it, and lets ``down`` clean up even after the supervisor was killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.airflow_env import WRITER_POOL, admin_password, airflow_env, api_url
from monitor.errors import MonitorError
from monitor.settings import Settings

__all__ = ["Launcher", "LaunchError", "start_background", "stop_background", "state_path",
           "COMPONENTS"]

log = logging.getLogger(__name__)

#: Started in this order, stopped in reverse. The API server comes first and must be healthy.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_PATH = "/api/v2/monitor/health"
#: Cold start of the API server took ~40 s on a quiet 2-core machine; leave room for load.
HEALTH_TIMEOUT = 300.0
#: Bounded waits of the shutdown ladder: SIGINT, then SIGTERM, then SIGKILL.
STOP_WAITS = {signal.SIGINT: 30.0, signal.SIGTERM: 10.0, signal.SIGKILL: 5.0}


class LaunchError(MonitorError):
    """The deployment could not be started (the message says which step and where the log is)."""


def state_path(settings: Settings) -> Path:
    return settings.airflow_home / "monitor-up.json"


def _airflow_bin() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def _monitor_bin() -> str:
    candidate = Path(sys.executable).parent / "monitor"
    return str(candidate) if candidate.exists() else "monitor"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _supervisor_alive(pid: int) -> bool:
    """True if ``pid`` runs and is a ``monitor up`` (a stale pid file may name a reused pid)."""
    if pid <= 0 or not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (not Linux): trust the pid
    return b"monitor" in cmdline and b"up" in cmdline


def stop_groups(groups: list[tuple[str, int]], say: Callable[[str], None],
                reap: Callable[[], None] = lambda: None) -> list[str]:
    """Stop process groups with the SIGINT → SIGTERM → SIGKILL ladder; returns survivors."""
    for sig, wait in STOP_WAITS.items():
        alive = [(name, pgid) for name, pgid in groups if _group_alive(pgid)]
        if not alive:
            return []
        if sig != signal.SIGINT:
            say(f"  {', '.join(n for n, _ in alive)} still running: sending {sig.name}")
        for _name, pgid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap()
            if not any(_group_alive(pgid) for _, pgid in alive):
                break
            time.sleep(0.2)
    reap()
    return [name for name, pgid in groups if _group_alive(pgid)]


@dataclass
class Launcher:
    """Supervisor of the embedded Airflow deployment (one per data directory)."""

    settings: Settings
    say: Callable[[str], None] = print
    #: Started by ``monitor up --background``: nobody is at a terminal to press Ctrl-C.
    detached: bool = False
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    _stopping: bool = False

    # --- preparing -----------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        if not hasattr(self, "_env"):
            self._env = airflow_env(self.settings)
        return self._env

    @property
    def log_dir(self) -> Path:
        path = self.settings.airflow_home / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _run_airflow(self, *args: str, timeout: float = 600.0) -> None:
        logfile = self.log_dir / "setup.log"
        with open(logfile, "ab") as out:
            out.write(f"\n$ airflow {' '.join(args)}\n".encode())
            out.flush()
            result = subprocess.run([_airflow_bin(), *args], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, timeout=timeout, check=False)
        if result.returncode != 0:
            raise LaunchError(f"`airflow {' '.join(args)}` failed (exit {result.returncode}); "
                              f"see {logfile}")

    def prepare(self) -> None:
        """Warehouse and sources, metadata DB migrations, the writer pool."""
        from monitor.sources import initialise

        started = time.monotonic()
        self.say(f"data directory: {self.settings.home}")
        _version, count = initialise(self.settings)
        self.say(f"warehouse ready ({count} sources)")
        self.say("migrating the Airflow metadata database ...")
        self._run_airflow("db", "migrate")
        self._run_airflow("pools", "set", WRITER_POOL, "1",
                          "DuckDB has a single writer: warehouse writes queue here")
        self.say(f"prepared in {time.monotonic() - started:.0f}s")

    # --- starting --------------------------------------------------------------------------
    def _spawn(self, component: str) -> subprocess.Popen:
        logfile = self.log_dir / f"{component}.log"
        out = open(logfile, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        try:
            proc = subprocess.Popen(
                [_airflow_bin(), component], env=self.env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            out.close()
        self.children[component] = proc
        self._write_state(ready=False)
        log.info("started component=%s pid=%s log=%s", component, proc.pid, logfile)
        return proc

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(api_url(self.settings) + HEALTH_PATH, timeout=3) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _check_children(self) -> None:
        for name, proc in self.children.items():
            code = proc.poll()
            if code is not None:
                raise LaunchError(f"airflow {name} exited with code {code}; see "
                                  f"{self.log_dir / (name + '.log')}")

    def wait_for_api(self, timeout: float = HEALTH_TIMEOUT) -> float:
        started = time.monotonic()
        last_note = started
        while not self._healthy():
            self._check_children()
            now = time.monotonic()
            if now - started > timeout:
                raise LaunchError(f"the API server did not answer {HEALTH_PATH} within "
                                  f"{timeout:.0f}s; see {self.log_dir / 'api-server.log'}")
            if now - last_note >= 5:
                self.say(f"  waiting for the API server ... {now - started:.0f}s")
                last_note = now
            time.sleep(0.5)
        self._check_children()
        self._check_login()
        return time.monotonic() - started

    def _check_login(self) -> None:
        """Log in with our admin password: proves the server answering is ours, not another
        Airflow that took the port in the meantime, and that the printed login works."""
        body = json.dumps({"username": self.settings.admin_user,
                           "password": admin_password(self.settings)}).encode()
        request = urllib.request.Request(api_url(self.settings) + "/auth/token", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if json.loads(response.read()).get("access_token"):
                    return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise LaunchError(f"the API server on {api_url(self.settings)} refused our admin "
                              f"login ({exc}): is another Airflow using that port?") from exc
        raise LaunchError("the API server returned no token for our admin login")

    def start(self) -> None:
        """Start the components in order; raise LaunchError (after stopping all) on failure."""
        started = time.monotonic()
        url = api_url(self.settings)
        if self._healthy():
            raise LaunchError(f"something already answers on {url}: is the monitor running? "
                              "(`monitor down` stops a background start)")
        self.say(f"starting the API server on {url} ...")
        self._spawn("api-server")
        took = self.wait_for_api()
        self.say(f"API server healthy after {took:.0f}s")
        for component in COMPONENTS[1:]:
            self.say(f"starting {component} ...")
            self._spawn(component)
        time.sleep(1.0)
        self._check_children()
        self._write_state(ready=True)
        self.say(f"ready in {time.monotonic() - started:.0f}s")

    def banner(self) -> str:
        url = api_url(self.settings)
        return (
            f"\nAirflow UI:   {url}/\n"
            f"Trends view:  {url}/trends/  (also under 'Trends' in the UI's navigation)\n"
            f"Login:        {self.settings.admin_user} / {admin_password(self.settings)}\n"
            f"Logs:         {self.log_dir}\n"
        )

    # --- running and stopping --------------------------------------------------------------
    def _write_state(self, ready: bool) -> None:
        state = {
            "supervisor": os.getpid(),
            "url": api_url(self.settings),
            "ready": ready,
            "children": {name: p.pid for name, p in self.children.items()},
        }
        path = state_path(self.settings)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, path)

    def stop(self) -> list[str]:
        """Stop every child (reverse start order); returns names of survivors (ideally none)."""
        if self._stopping:
            return []
        self._stopping = True
        groups = [(name, p.pid) for name, p in reversed(list(self.children.items()))]
        if groups:
            self.say("stopping " + ", ".join(name for name, _ in groups) + " ...")

        def reap() -> None:
            for p in self.children.values():
                p.poll()

        survivors = stop_groups(groups, self.say, reap)
        state = _read_state(self.settings)
        if state and state.get("supervisor") == os.getpid():
            state_path(self.settings).unlink(missing_ok=True)
        if survivors:
            self.say(f"could not stop: {', '.join(survivors)}")
        else:
            self.say("stopped; no process left")
        return survivors

    def run(self) -> int:
        """Prepare, start, watch until a signal or a dead component; always stop everything."""
        interrupted: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            interrupted.append(signum)
            raise KeyboardInterrupt

        # A process started with `cmd &` ignores SIGINT: restore the handlers explicitly.
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        code = 0
        try:
            running = _read_state(self.settings)
            if running and _supervisor_alive(int(running.get("supervisor") or 0)):
                raise LaunchError(f"the monitor is already running for {self.settings.home} "
                                  f"(pid {running['supervisor']}, {running.get('url')})")
            self.prepare()
            self.start()
            self.say(self.banner())
            self.say(stop_hint(self.detached))
            while True:
                self._check_children()
                time.sleep(1.0)
        except KeyboardInterrupt:
            self.say("\ninterrupted")
        except LaunchError as exc:
            self.say(f"error: {exc}")
            code = 1
        finally:
            # A second Ctrl-C during shutdown must not leave children behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if self.stop():
                code = 1
        return code


def stop_hint(detached: bool) -> str:
    """How to stop what was started: Ctrl-C in the foreground, a command when detached."""
    if detached:
        return ("Running in the background: `make stop` (or `monitor down`) stops every "
                "process started here.")
    return "Ctrl-C stops every process started here."


def _read_state(settings: Settings) -> dict | None:
    try:
        return json.loads(state_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def start_background(settings: Settings, say: Callable[[str], None],
                     timeout: float = HEALTH_TIMEOUT + 300) -> int:
    """Start the supervisor detached; return once it reports ready (or failed)."""
    state = _read_state(settings)
    if state and _supervisor_alive(int(state.get("supervisor", 0) or 0)):
        raise LaunchError(f"already running (pid {state['supervisor']}, {state.get('url')}); "
                          "`monitor down` stops it")
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    logfile = settings.airflow_home / "logs" / "monitor-up.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MONITOR_HOME=str(settings.home.resolve()))
    # The log is appended to across starts: echo only what this start writes.
    offset = logfile.stat().st_size if logfile.exists() else 0
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            [_monitor_bin(), "up", "--detached"], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    say(f"started in the background (pid {proc.pid}); log: {logfile}")
    started = time.monotonic()
    while True:
        with open(logfile, "rb") as f:
            f.seek(offset)
            data = f.read()
        # Echo the supervisor's progress lines as they come (whole lines only).
        data = data[:data.rfind(b"\n") + 1]
        offset += len(data)
        for line in data.decode("utf-8", errors="replace").splitlines():
            if line.strip():
                say(line)
        state = _read_state(settings)
        if state and state.get("ready") and state.get("supervisor") == proc.pid:
            say("stop it with: make stop (or monitor down)")
            return proc.pid
        if proc.poll() is not None:
            raise LaunchError(f"the background start failed (exit {proc.returncode}); "
                              f"see {logfile}")
        if time.monotonic() - started > timeout:
            stop_background(settings, say)
            raise LaunchError(f"not ready after {timeout:.0f}s; stopped it. See {logfile}")
        time.sleep(0.5)


def stop_background(settings: Settings, say: Callable[[str], None]) -> bool:
    """Stop a background start: ask the supervisor (SIGINT), then clean up after it."""
    state = _read_state(settings)
    if not state:
        say("nothing to stop (no monitor started in the background for this data directory)")
        return False
    pid = int(state.get("supervisor") or 0)
    children = [(name, int(pgid)) for name, pgid in state.get("children", {}).items()]
    if _supervisor_alive(pid):
        say(f"stopping the monitor (pid {pid}) ...")
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + sum(STOP_WAITS.values()) + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.3)
        if _pid_alive(pid):
            say("the supervisor did not exit; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # Whatever the supervisor could not stop (or if it was killed): stop the groups here.
    survivors = stop_groups(list(reversed(children)), say)
    with contextlib.suppress(FileNotFoundError):
        state_path(settings).unlink()
    if survivors:
        raise LaunchError(f"could not stop: {', '.join(survivors)}")
    say("stopped; no process left")
    return True
