"""The production files, checked without Docker (this machine has no Docker engine).

- ``docker-compose.yml`` parses, names the services of Airflow 3's official layout, runs
  CeleryExecutor everywhere, shares the warehouse volume between the workers and the API
  server, and its init service migrates, creates the one-slot ``duckdb_writer`` pool and the
  admin login; every ``${VAR:?…}`` it requires is in ``.env.example`` and no secret is
  written into it.
- Its Airflow configuration has every key the natively-run topology test proved
  (``monitor.production.production_env``), so the two cannot drift apart silently.
- The ``Dockerfile`` extends the official image of the Airflow and Python versions that
  ``requirements/lock.txt`` pins, and installs this package with that lock as constraints
  (not ``_PIP_ADDITIONAL_REQUIREMENTS``).
- Where a Docker Compose v2 binary exists (``MONITOR_TEST_COMPOSE`` or on PATH), its
  ``config`` accepts the file with ``.env.example`` and refuses it without the secrets.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.airflow_env import WRITER_POOL
from monitor.settings import REPO_ROOT, load_settings

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
LOCK = REPO_ROOT / "requirements" / "lock.txt"

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "airflow-init")
WAREHOUSE_MOUNT = "/opt/monitor-data"
_REFERENCE = re.compile(r"(?<!\$)\$\{(\w+)(?::?([-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _lock_version(name: str) -> str:
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pkg, _, version = line.partition("==")
        if pkg.strip().lower() == name:
            return version.strip()
    raise AssertionError(f"{name} is not pinned in {LOCK}")


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_services_follow_the_official_layout(compose: dict) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", *AIRFLOW_SERVICES):
        assert name in services, f"docker-compose.yml lacks the {name} service"
    for name in ("postgres", "redis", *AIRFLOW_SERVICES[:-1]):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_every_airflow_service_runs_celery_on_postgres_and_redis(compose: dict) -> None:
    for name in AIRFLOW_SERVICES:
        env = _env(compose["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("@")[1].startswith("postgres:")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"], name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == \
            "http://airflow-apiserver:8080/execution/", name
        # The same image everywhere, built from the repo's Dockerfile.
        assert compose["services"][name].get("build") in (".", {"context": "."}), name
    assert compose["services"]["airflow-worker"]["command"] == "celery worker"


def test_dependencies_wait_for_health_and_init(compose: dict) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    # Nothing that queues or runs tasks starts before the Execution API answers.
    for name in ("airflow-scheduler", "airflow-worker"):
        assert services[name]["depends_on"]["airflow-apiserver"]["condition"] == \
            "service_healthy", name


def test_warehouse_volume_is_shared_by_workers_and_api_server(compose: dict) -> None:
    assert "monitor-data" in compose["volumes"]
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert f"monitor-data:{WAREHOUSE_MOUNT}" in service["volumes"], name
        assert _env(service)["MONITOR_HOME"] == WAREHOUSE_MOUNT, name
    # The Trends view reads the snapshot in that volume, as in the embedded setup.
    settings = load_settings(home=WAREHOUSE_MOUNT, env={})
    assert settings.snapshot_path.parent == Path(WAREHOUSE_MOUNT)


def test_init_migrates_creates_pool_and_admin_login(compose: dict) -> None:
    init = compose["services"]["airflow-init"]
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "airflow db migrate" in script
    assert re.search(rf"airflow pools set {WRITER_POOL} 1\b", script), script
    assert "python -m monitor.production init" in script
    assert script.index("db migrate") < script.index("pools set")
    assert "MONITOR_ADMIN_PASSWORD" in _env(init)
    # The DAGs' writer tasks use exactly this pool.
    for dag_file in ("monitor_ingest.py", "monitor_digest.py", "monitor_retrain.py"):
        text = (REPO_ROOT / "dags" / dag_file).read_text(encoding="utf-8")
        assert "pool=WRITER_POOL" in text, dag_file


def test_compose_has_every_key_the_native_topology_runs_with(compose: dict) -> None:
    """Keys of ``production_env`` (proven by test_topology) are set in the compose file too."""
    from monitor.production import Services, production_env

    settings = load_settings(home="/tmp/monitor-compose-check", env={},
                             smtp_host="smtp.example.org")
    env = production_env(settings, Services("postgresql+psycopg2://u@h/db", "redis://h:6379/0"),
                         base={})
    # Host-local details of the embedded setup that do not apply inside containers.
    local_only = {"AIRFLOW_HOME", "PATH", "AIRFLOW__CORE__PARALLELISM"}
    wanted = {k for k in env if k.startswith(("AIRFLOW", "MONITOR_HOME", "SCARF"))} - local_only
    have = set(_env(compose["services"]["airflow-worker"]))
    assert wanted <= have, f"missing in docker-compose.yml: {sorted(wanted - have)}"


def test_required_variables_are_documented_and_no_secret_is_committed(compose: dict) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    required = {m.group(1) for m in _REFERENCE.finditer(text) if m.group(2) == "?"}
    assert {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY",
            "POSTGRES_PASSWORD", "MONITOR_ADMIN_PASSWORD"} <= required
    example = _env_example()
    referenced = {m.group(1) for m in _REFERENCE.finditer(text)}
    missing = sorted(v for v in referenced if v not in example
                     and v not in {"MONITOR_IMAGE", "FLOWER_PORT"})
    assert not missing, f".env.example does not document: {missing}"
    for name in required:
        assert example[name].startswith("change-me"), f"{name} in .env.example is not a placeholder"
    # Secrets are only ever references in the compose file, never literal values.
    for name in AIRFLOW_SERVICES:
        env = _env(compose["services"][name])
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
                    "AIRFLOW__API__SECRET_KEY"):
            assert env[key].startswith("${"), f"{name}: {key} must come from .env"
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored
    assert ".env" in DOCKERIGNORE.read_text(encoding="utf-8").split()


def test_dockerfile_extends_the_pinned_official_image_with_the_lock() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert froms == [f"apache/airflow:{_lock_version('apache-airflow')}-python"
                     f"{sys.version_info.major}.{sys.version_info.minor}"], froms
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in re.sub(r"#.*", "", text)
    install = re.search(r"RUN pip install(.*?)(?:&&|$)", text, flags=re.DOTALL)
    assert install, "the Dockerfile does not pip install the package"
    args = install.group(1)
    assert re.search(r"(--constraint|-c)\s+requirements/lock\.txt", args), args
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in args
    assert '".[prod]"' in args
    # What the image needs is not excluded from the build context.
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").split()
    for needed in ("requirements", "pyproject.toml", "README.md", "monitor", "dags", "seeds",
                   "warehouse"):
        assert needed not in ignored, needed
    # The prod extra the image installs brings the providers the compose file uses.
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    prod = re.search(r"^prod = \[(.*)\]", pyproject, flags=re.MULTILINE).group(1)
    for dist in ("apache-airflow-providers-celery", "apache-airflow-providers-postgres",
                 "psycopg2-binary"):
        assert dist in prod
        _lock_version(dist)  # and the lock pins it


def _compose_binary() -> list[str] | None:
    """Docker Compose v2 if this machine has it (``config`` needs no Docker engine)."""
    explicit = os.environ.get("MONITOR_TEST_COMPOSE")
    if explicit:
        return [explicit]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30,
                               check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    """``docker compose config``: the compose-spec schema, interpolation, anchors, profiles."""
    compose = _compose_binary()
    if compose is None:
        pytest.skip("Docker Compose v2 is not installed (the docker client here has no compose "
                    "plugin); set MONITOR_TEST_COMPOSE to a docker-compose binary to run this")
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent")  # must not need an engine
    base = [*compose, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE)]
    ok = subprocess.run([*base, "--env-file", str(ENV_EXAMPLE), "--profile", "flower",
                         "--profile", "debug", "config", "--services"],
                        capture_output=True, text=True, timeout=60, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert set(ok.stdout.split()) >= {"postgres", "redis", *AIRFLOW_SERVICES, "flower"}
    # Without .env the secrets are missing, and compose refuses with our message.
    missing = subprocess.run([*base, "--env-file", os.devnull, "config", "--quiet"],
                             capture_output=True, text=True, timeout=60, env=env, check=False)
    assert missing.returncode != 0
    assert "in .env" in missing.stderr, missing.stderr
