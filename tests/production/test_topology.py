"""The production topology of docker-compose.yml, started natively (no Docker engine here).

Airflow's metadata in a fresh PostgreSQL database (unique name, dropped at the end),
CeleryExecutor with Redis as broker (DB 7, a queue of its own so nothing else's workers take
our tasks) and PostgreSQL as result backend, the API server, scheduler, dag-processor,
triggerer and two Celery workers ``worker-a`` and ``worker-b`` (what ``--scale
airflow-worker=2`` gives), all with the environment of :func:`monitor.production.production_env`
and one shared data directory (the compose file's ``monitor-data`` volume). The same steps as
the compose file's ``airflow-init``: ``airflow db migrate``, the one-slot pool,
``python -m monitor.production init``.

Then: ``monitor_ingest`` triggered through REST API v2 with a token against feeds served
locally; every task instance ran on one of the Celery workers (its ``hostname`` and the
worker's own log say so); the warehouse has each article exactly once, and the API server's
Trends view (login required) shows them from the snapshot the workers published.
``monitor_digest`` delivers to an aiosmtpd server on 127.0.0.1. Finally every process is stopped (SIGINT to
each process group, then SIGTERM/SIGKILL) and none is left; the database is dropped.

Skips, saying why, when PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) do not answer.
``MONITOR_TEST_PGUSER`` / ``MONITOR_TEST_REDIS_DB`` override the user (postgres) and DB (7).
"""

from __future__ import annotations

import email
import email.header
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from monitor.launcher import stop_groups
from monitor.settings import load_settings
from tests.airflow.feeds import TOTAL, serve_feeds, write_sources
from tests.airflow.support import processes_of
from tests.support.httpserver import LocalHTTPServer
from tests.support.smtp import Inbox, free_port

pytestmark = [pytest.mark.production, pytest.mark.slow, pytest.mark.xdist_group("airflow")]

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_USER = os.environ.get("MONITOR_TEST_PGUSER", "postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = int(os.environ.get("MONITOR_TEST_REDIS_DB", "7"))
AIRFLOW = str(Path(sys.executable).parent / "airflow")
WORKERS = ("worker-a", "worker-b")
WORKER_CONCURRENCY = 2
#: How a Celery worker logs each task instance it is handed.
_WORKLOAD_TI = re.compile(r"Executing workload in Celery: .*?ti=TaskInstance\w*\(id=UUID\('([0-9a-f-]+)'\)")
#: Bounds: migrations, API health, DAG registration, one DAG run.
MIGRATE_TIMEOUT = 300.0
HEALTH_TIMEOUT = 240.0
REGISTER_TIMEOUT = 180.0
RUN_TIMEOUT = 360.0


def _pg_connect(dbname: str = "postgres"):
    import psycopg2

    con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname,
                           connect_timeout=3)
    con.autocommit = True
    return con


def _redis():
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=3)


def _require_services() -> None:
    try:
        _pg_connect().close()
    except Exception as exc:  # noqa: BLE001 (any failure means: not available here)
        pytest.skip(f"PostgreSQL on {PG_HOST}:{PG_PORT} is not usable as {PG_USER!r} "
                    f"({exc.__class__.__name__}: {str(exc).strip()[:120]}); the production "
                    "topology test needs it (and Redis on 127.0.0.1:6379)")
    try:
        _redis().ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT} "
                    f"({exc.__class__.__name__}: {exc}); the production topology test needs it")


@dataclass
class Topology:
    root: Path
    home: Path
    database: str
    queue: str
    url: str
    env: dict[str, str]
    password: str
    inbox: Inbox
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    stopped: list[str] | None = None

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def airflow(self, *args: str, timeout: float = 300.0, env: dict | None = None) -> None:
        log = self.log_dir / "setup.log"
        with open(log, "ab") as out:
            out.write(f"\n$ {' '.join(args)}\n".encode())
            out.flush()
            result = subprocess.run(list(args), env=env or self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=timeout, check=False)
        if result.returncode != 0:
            pytest.fail(f"`{' '.join(args)}` failed ({result.returncode}):\n"
                        + log.read_text(errors="replace")[-3000:])

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log_dir / f"{name}.log", "ab") as out:
            self.children[name] = subprocess.Popen(
                args, env=env or self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def check_alive(self) -> None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> list[str]:
        """Stop every process group (reverse start order); survivors' names."""
        if self.stopped is None:
            groups = [(name, p.pid) for name, p in reversed(list(self.children.items()))]

            def reap() -> None:
                for p in self.children.values():
                    p.poll()

            self.stopped = stop_groups(groups, lambda _line: None, reap)
        return self.stopped

    # --- REST API v2 ------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        response = httpx.post(f"{self.url}/auth/token", timeout=30,
                              json={"username": "admin", "password": self.password})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def wait_registered(self, dag_id: str, headers: dict) -> None:
        deadline = time.monotonic() + REGISTER_TIMEOUT
        while True:
            self.check_alive()
            response = httpx.get(f"{self.url}/api/v2/dags/{dag_id}", headers=headers, timeout=30)
            if response.status_code == 200:
                assert response.json()["is_paused"] is False
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{dag_id} not registered after {REGISTER_TIMEOUT:.0f}s: "
                            f"{response.status_code} {response.text[:300]}")
            time.sleep(2)

    def trigger_and_wait(self, dag_id: str, conf: dict) -> str:
        headers = self.headers()
        self.wait_registered(dag_id, headers)
        started = time.monotonic()
        response = httpx.post(f"{self.url}/api/v2/dags/{dag_id}/dagRuns", headers=headers,
                              timeout=30, json={"logical_date": None, "conf": conf})
        assert response.status_code == 200, response.text
        run_id = response.json()["dag_run_id"]
        state = "queued"
        while time.monotonic() - started < RUN_TIMEOUT:
            self.check_alive()
            state = httpx.get(f"{self.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}",
                              headers=headers, timeout=30).json().get("state", "?")
            if state in ("success", "failed"):
                break
            time.sleep(2)
        self.timings[f"{dag_id} triggered → {state}"] = time.monotonic() - started
        if state != "success":
            tis = self.task_instances(run_id, dag_id=dag_id)
            pytest.fail(f"{dag_id} run {run_id} ended {state!r} after "
                        f"{time.monotonic() - started:.0f}s: "
                        f"{[(t['task_id'], t['map_index'], t['state'], t['hostname']) for t in tis]}"
                        f"\nworker-a log tail:\n{self.tail('worker-a')}")
        return run_id

    def task_instances(self, run_id: str = "~", *, dag_id: str) -> list[dict]:
        response = httpx.get(f"{self.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             headers=self.headers(), timeout=30, params={"limit": 500})
        response.raise_for_status()
        return response.json()["task_instances"]

    def tail(self, name: str, chars: int = 3000) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    _require_services()
    from aiosmtpd.controller import Controller

    from monitor.production import Services, production_env

    root = tmp_path_factory.mktemp("production")
    home = root / "monitor-data"
    (root / "logs").mkdir()
    database = f"monitor_topology_{uuid.uuid4().hex[:10]}"
    queue = f"monitor-topology-{uuid.uuid4().hex[:8]}"
    port = free_port()

    server = LocalHTTPServer().start()
    sources = write_sources(root / "sources.toml", serve_feeds(server))
    smtp_port = free_port()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()

    monitor_vars = {
        "MONITOR_SOURCES_FILE": str(sources),
        "MONITOR_AIRFLOW_PORT": str(port),
        "MONITOR_ALLOW_HOSTS": "127.0.0.1;localhost",
        "MONITOR_EXTRACT_ENABLED": "false",
        "MONITOR_CONNECT_TIMEOUT": "2",
        "MONITOR_READ_TIMEOUT": "2",
        "MONITOR_TOTAL_TIMEOUT": "5",
        "MONITOR_RETRIES": "0",
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": str(smtp_port),
        "MONITOR_SMTP_STARTTLS": "false",
        "MONITOR_MAIL_FROM": "monitor@example.org",
        "MONITOR_RECIPIENTS": "reader@example.org",
        "MONITOR_OPS_EMAIL": "ops@example.org",
    }
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "MONITOR_", "PYTEST_"))}
    base.update(monitor_vars)
    settings = load_settings(home=home, env=monitor_vars)
    services = Services(
        database_url=f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}",
        broker_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
    )
    env = production_env(settings, services, base=base, queue=queue)
    # Non-default ports for everything that listens, so nothing collides on a shared machine.
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
    password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
                          .read_text())["admin"]

    with closing(_pg_connect()) as con, con.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')  # a generated name, not data
    topo = Topology(root=root, home=home, database=database, queue=queue,
                    url=f"http://127.0.0.1:{port}", env=env, password=password, inbox=inbox)
    try:
        began = time.monotonic()
        # What airflow-init does in docker-compose.yml.
        topo.airflow(AIRFLOW, "db", "migrate", timeout=MIGRATE_TIMEOUT)
        topo.airflow(AIRFLOW, "pools", "set", "duckdb_writer", "1", "DuckDB single writer")
        topo.airflow(sys.executable, "-m", "monitor.production", "init")
        topo.timings["init (migrate, pool, warehouse)"] = time.monotonic() - began

        began = time.monotonic()
        topo.spawn("api-server", [AIRFLOW, "api-server"])
        while True:
            topo.check_alive()
            try:
                if httpx.get(f"{topo.url}/api/v2/monitor/health", timeout=3).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - began > HEALTH_TIMEOUT:
                pytest.fail(f"API server not healthy after {HEALTH_TIMEOUT:.0f}s:\n"
                            + topo.tail("api-server"))
            time.sleep(1)
        topo.timings["api-server healthy"] = time.monotonic() - began

        for component in ("scheduler", "dag-processor", "triggerer"):
            topo.spawn(component, [AIRFLOW, component])
        for name in WORKERS:
            worker_env = production_env(settings, services, base=base, queue=queue,
                                        worker_name=name, concurrency=WORKER_CONCURRENCY)
            worker_env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
            topo.spawn(name, [AIRFLOW, "celery", "worker", "--celery-hostname", f"{name}@%h",
                              "--queues", queue, "--concurrency", str(WORKER_CONCURRENCY)],
                       env=worker_env)
        print(f"\nlogs: {topo.log_dir}")
        yield topo
    finally:
        survivors = topo.stop()
        smtp.stop()
        server.stop()
        with closing(_pg_connect()) as con, con.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [database])
            assert cur.fetchone()[0] == 0, f"database {database} was not dropped"
        broker = _redis()
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)
        assert not survivors, f"could not stop: {survivors}"


def check_ingest_runs_on_celery_workers_and_stores_once(topology: Topology) -> None:
    run_id = topology.trigger_and_wait("monitor_ingest", {"poll_all": True})

    tis = topology.task_instances(dag_id="monitor_ingest")  # every run: the scheduled one and ours
    ours = [t for t in tis if t["dag_run_id"] == run_id]
    assert {t["task_id"] for t in ours} >= {"plan", "fetch_and_stage", "store", "refresh_trends"}
    hosts = Counter(t["hostname"] for t in tis if t["state"] == "success")
    print(f"\nmonitor_ingest task instances per worker: {dict(hosts)}")
    assert set(hosts) <= set(WORKERS), f"tasks ran outside the Celery workers: {dict(hosts)}"
    # Each worker's own log names the task instances Celery handed it: every task instance
    # that records a worker as its host appears in that worker's log.
    handed = {name: set(_WORKLOAD_TI.findall(topology.tail(name, 10**8))) for name in WORKERS}
    print(f"task instances per worker log: { {n: len(ids) for n, ids in handed.items()} }")
    for ti in tis:
        if ti["state"] == "success":
            assert ti["id"] in handed[ti["hostname"]], (ti["task_id"], ti["hostname"])

    from monitor import warehouse

    settings = load_settings(home=topology.home, env={})
    with warehouse.reader(settings) as con:
        articles, distinct = con.execute(
            "SELECT count(*), count(DISTINCT entry_key) FROM articles").fetchone()
    assert articles == distinct == TOTAL  # the scheduled run and ours: each article once

    # The API server's Trends view reads the snapshot the workers published, as embedded.
    trends = httpx.get(f"{topology.url}/trends/", headers=topology.headers(), timeout=60)
    assert trends.status_code == 200, trends.text[:500]
    assert "Kuril" in trends.text
    assert httpx.get(f"{topology.url}/trends/", timeout=30).status_code == 401


def check_digest_is_delivered_to_smtp(topology: Topology) -> None:
    from monitor.digest.build import default_day

    topology.trigger_and_wait("monitor_digest", {})
    # (Failure alerts, if a task had to retry, go to ops@example.org: not counted here.)
    # The scheduler also runs the most recent past 07:00 on its own (CronTriggerTimetable's
    # run_immediately); between midnight and 07:00 that is the day before the triggered
    # run's "yesterday", so a second digest may arrive. The invariant: one digest per day.
    digests = [m for m in topology.inbox.messages if m[1] == ["reader@example.org"]]
    subjects = [str(email.header.make_header(email.header.decode_header(
        email.message_from_bytes(raw)["Subject"]))) for _s, _r, raw in digests]
    days = [m.group(0) for m in (re.search(r"\d{4}-\d{2}-\d{2}", s) for s in subjects) if m]
    assert len(days) == len(set(days)) == len(digests), subjects
    wanted = default_day(load_settings(home=topology.home, env={})).isoformat()
    assert wanted in days, (wanted, subjects)
    sender, _rcpts, raw = digests[days.index(wanted)]
    assert sender == "monitor@example.org"
    msg = email.message_from_bytes(raw)
    assert msg.is_multipart()
    hosts = {t["hostname"] for t in topology.task_instances(dag_id="monitor_digest")}
    assert hosts <= set(WORKERS), hosts


def check_all_work_was_shared_by_the_celery_workers(topology: Topology) -> None:
    """Every task instance of the deployment (scheduled first runs included) ran on a worker.

    At first start every DAG runs once for its latest interval, so there is enough parallel
    work (ingest, digest, retrain, maintenance) for both workers to get some.
    """
    tis = [t for t in topology.task_instances("~", dag_id="~")
           if t["state"] in ("success", "failed")]
    hosts = Counter(t["hostname"] for t in tis)
    per_dag = Counter((t["dag_id"], t["hostname"]) for t in tis)
    print(f"\nfinished task instances per worker: {dict(hosts)}; per DAG: {dict(per_dag)}")
    assert set(hosts) <= set(WORKERS), dict(hosts)
    assert set(hosts) == set(WORKERS), f"one worker did all the work: {dict(hosts)}"


def check_everything_stops_and_nothing_is_left(topology: Topology) -> None:
    assert processes_of(topology.home), "the topology should be running before stop"
    began = time.monotonic()
    survivors = topology.stop()
    topology.timings["stop"] = time.monotonic() - began
    assert survivors == []
    deadline = time.monotonic() + 10
    while processes_of(topology.home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(topology.home) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{topology.url}/api/v2/monitor/health", timeout=5)
    print("\ntimings: " + ", ".join(f"{k} {v:.0f}s" for k, v in topology.timings.items()))


def test_production_topology(topology: Topology) -> None:
    """One test, in order: pytest-xdist 3.8 with pytest 9.2 ignores ``xdist_group``
    (pytest-dev/pytest-xdist#1386), so separate tests of this module could be spread over
    workers and each would start its own topology."""
    check_ingest_runs_on_celery_workers_and_stores_once(topology)
    check_digest_is_delivered_to_smtp(topology)
    check_all_work_was_shared_by_the_celery_workers(topology)
    check_everything_stops_and_nothing_is_left(topology)
