"""Run health in Airflow with ``dag.test()``: a blind ``monitor_ingest`` run is red, with a
message and the failure alert; a degraded one is green; both are rows in ``ingest_runs``."""

from __future__ import annotations

import email
import email.policy

import pytest

from monitor import warehouse
from tests.airflow.feeds import serve_feeds, write_sources
from tests.support.smtp import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.xdist_group("airflow")]


def _runs(settings) -> list[tuple]:
    with warehouse.reader(settings) as con:
        return con.execute(
            "SELECT via, health, sources_planned, sources_ok, sources_failed, failing"
            " FROM ingest_runs ORDER BY started_at").fetchall()


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances() if ti.map_index < 1}


def test_degraded_run_is_green_and_recorded(dagbag, monitor_env, http_server, tmp_path,
                                            monkeypatch) -> None:
    from airflow.utils.state import DagRunState

    urls = serve_feeds(http_server)  # two good feeds and one that answers 500
    monkeypatch.setenv("MONITOR_SOURCES_FILE", str(write_sources(tmp_path / "s.toml", urls)))
    run = dagbag.dags["monitor_ingest"].test()
    assert run.state == DagRunState.SUCCESS, _states(run)
    assert _states(run)["check_health"] == "success"
    [(via, health, planned, ok, failed, failing)] = _runs(monitor_env)
    assert (via, health, planned, ok, failed) == ("airflow", "degraded", 3, 2, 1)
    assert failing and failing[0].startswith("broken-outlet: HTTP 500")

    # The Trends view says so: a banner with the latest run's health and failing sources.
    from fastapi.testclient import TestClient

    from monitor.ui.plugin import app, require_login

    app.dependency_overrides[require_login] = lambda: "tester"
    try:
        page = TestClient(app).get("/").text
    finally:
        app.dependency_overrides.clear()
    banner = page[page.index('class="run-health"'):]
    banner = banner[:banner.index("</p>")]
    assert 'data-health="degraded"' in banner and "2 of 3 sources answered" in banner
    assert "broken-outlet: HTTP 500" in banner


def test_blind_run_fails_with_the_message_and_alerts(dagbag, monitor_env, tmp_path,
                                                     monkeypatch) -> None:
    from airflow.utils.state import DagRunState

    # Two dead URLs: closed ports on 127.0.0.1 (refused at once, never a real hostname).
    dead = {"dead-one": f"http://127.0.0.1:{free_port()}/feed.xml",
            "dead-two": f"http://127.0.0.1:{free_port()}/rss"}
    lines = []
    for source_id, url in dead.items():
        lines += ["[[sources]]", f'id = "{source_id}"', f'url = "{url}"',
                  f'outlet = "{source_id.title()} Times"', ""]
    sources = tmp_path / "dead.toml"
    sources.write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setenv("MONITOR_SOURCES_FILE", str(sources))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)

    run = dagbag.dags["monitor_ingest"].test()
    assert run.state == DagRunState.FAILED
    states = _states(run)
    assert states["store"] == "success"  # what was fetched (nothing) is stored regardless
    assert states["check_health"] == "failed"

    [(via, health, planned, ok, failed, failing)] = _runs(monitor_env)
    assert (via, health, planned, ok, failed) == ("airflow", "blind", 2, 0, 2)
    assert sorted(f.split(":")[0] for f in failing) == ["dead-one", "dead-two"]

    # The failure callback's alert (the outbox: no SMTP configured) carries the message.
    alerts = sorted((monitor_env.outbox_dir / "alerts").glob("*.eml"))
    bodies = []
    for path in alerts:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        bodies.append((str(msg["Subject"]), msg.get_body(("html",)).get_content()))
    health_alerts = [body for subject, body in bodies if "check_health" in subject]
    assert health_alerts, [s for s, _ in bodies]
    assert "the monitor is blind: 2 of 2 sources failed" in health_alerts[0]
    assert "Check the network" in health_alerts[0] and "dead-one" in health_alerts[0]
