"""The Trends app in-process (FastAPI TestClient): data, escaping, the "updating" state.

Login is covered against the real API server in ``test_deployment.py``; here the login
dependency is overridden so the page logic is tested on its own.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.airflow.feeds import serve_feeds, write_sources

pytestmark = [pytest.mark.airflow, pytest.mark.xdist_group("airflow")]


@pytest.fixture
def client(monitor_env):
    from fastapi.testclient import TestClient

    from monitor.ui.plugin import app, require_login

    app.dependency_overrides[require_login] = lambda: "tester"
    try:
        yield TestClient(app)
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
def ingested(monitor_env, http_server, tmp_path, monkeypatch):
    """The test feeds ingested (library call) with the trend tables refreshed."""
    from monitor.ingest.run import run_ingest
    from monitor.maintenance import refresh_trend_tables
    from monitor.settings import load_settings

    urls = serve_feeds(http_server)
    monkeypatch.setenv("MONITOR_SOURCES_FILE", str(write_sources(tmp_path / "s.toml", urls)))
    settings = load_settings()
    run_ingest(settings)
    refresh_trend_tables(settings)
    return settings


def test_no_snapshot_yet_is_503_with_retry_after(client) -> None:
    response = client.get("/")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "warehouse is updating" in response.text.lower()


def test_page_shows_charts_spikes_articles_and_health(client, ingested) -> None:
    response = client.get("/")
    assert response.status_code == 200, response.text[:500]
    html = response.text
    assert html.count('<svg class="chart"') >= 3
    assert 'class="bar spike"' in html and "spike-marker" in html  # today's Kuril spike
    assert 'class="rolling"' in html  # 7-day lines
    assert "Kuril Islands" in html and "Energy" in html
    assert "<script" not in html  # no scripts at all: the page works without JavaScript
    # Feed health: the failing source comes first.
    first_row = html.index('class="source"')
    assert 'data-status="failing"' in html[first_row:first_row + 60]
    # Non-article text from the football story is not listed as relevant.
    assert "football" not in html
    # Window and relation filters.
    assert client.get("/?days=14&dyad=russia_china").status_code == 200


def _summary(html: str) -> str:
    start = html.index('class="meta summary"')
    return html[start:html.index("</p>", start)]


@pytest.mark.parametrize("days", [1, 45, 365, 400, 3650])
def test_any_window_up_to_the_max_is_honoured(client, ingested, days) -> None:
    response = client.get(f"/?days={days}")
    assert response.status_code == 200, response.text[:300]
    assert f"in the last {days} days" in _summary(response.text)
    html = response.text
    bars = html[html.index('class="cell relation"'):].split("</svg>")[0].count('<rect class="bar')
    assert bars <= 130  # long windows are bucketed, not cut: the legend says how
    if days > 130:
        assert "articles per week" in html or "articles per 30 days" in html
        assert "to " in html.split('<rect class="bar')[1].split("</title>")[0]


@pytest.mark.parametrize(("query", "message"), [
    ("days=0", "days=0 is out of range; use 1 to 3650"),
    ("days=3651", "days=3651 is out of range; use 1 to 3650"),
    ("days=week", "is not a number of days"),
    ("dyad=bogus", "dyad=&#x27;bogus&#x27; is not a relation; use one of russia_japan, "
                   "russia_china"),
], ids=["zero", "too-long", "not-a-number", "unknown-dyad"])
def test_bad_query_is_a_clear_400(client, query, message) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    assert message in response.text


def test_dyad_filter_changes_summary_and_relation_charts(client, ingested) -> None:
    everything = client.get("/?days=30").text
    china = client.get("/?days=30&dyad=russia_china").text
    assert "relevant Russia–China articles" in _summary(china)
    assert 'data-key="russia_japan"' in everything and 'data-key="*"' in everything
    assert 'data-key="russia_japan"' not in china and 'data-key="*"' not in china
    cell = china.index('data-key="russia_china"')
    shown = int(china[cell:].split('class="n">')[1].split("<")[0])
    assert _summary(china).split('">')[1].startswith(f"{shown} relevant")
    total = int(_summary(everything).split('">')[1].split()[0])
    assert shown < total  # the fixture also has Russia–Japan (Kuril) articles


def test_locked_snapshot_answers_503_not_an_error(client, ingested) -> None:
    # Another process holds the snapshot read-write: DuckDB then refuses every other opener.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(30)", str(ingested.snapshot_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        response = client.get("/")
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert "updating" in response.text
        # The holder keeps the file for 30 s: a 503 (not a late 200) shows the view gave up
        # instead of waiting for it.
    finally:
        holder.kill()
        holder.wait()
    assert client.get("/").status_code == 200


def test_render_escapes_text_and_links_only_http() -> None:
    from datetime import UTC, date, datetime

    from monitor.ui.page import TrendsData, render

    hostile = "<script>alert('x')</script> Kuril talks"
    data = TrendsData(days=14, dyad=None, end=date(2026, 3, 1),
                      snapshot_at=datetime(2026, 3, 1, tzinfo=UTC),
                      dyads={"russia_japan": "Russia–Japan"}, topics={"kurils": "Kuril Islands"})
    data.articles["kurils"] = [
        {"title": hostile, "url": "javascript:alert(1)", "outlet": "<b>Kyodo</b>",
         "published_at": datetime(2026, 3, 1, 9), "dyads": ["russia_japan"]},
        {"title": "Plain", "url": "https://example.org/a?x=1&y=\"2\"", "outlet": "TASS",
         "published_at": datetime(2026, 3, 1, 8), "dyads": ["russia_japan"]},
        # A stored link urllib cannot split: the title is shown, unlinked (the page once
        # failed on it).
        {"title": "Unsplittable", "url": "https://[oops/x", "outlet": "TASS",
         "published_at": datetime(2026, 3, 1, 7), "dyads": ["russia_japan"]},
    ]
    data.health = [{"status": "failing", "source_id": "s<1>", "outlet": "O",
                    "consecutive_failures": 3, "last_error": "<img src=x onerror=alert(1)>"}]
    html = render(data)
    assert "<script" not in html and "<img" not in html and "<b>Kyodo" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Kuril talks" in html
    assert "javascript:" not in html  # not linked, and the URL itself is not shown
    assert 'href="https://example.org/a?x=1&amp;y=&quot;2&quot;"' in html
    assert "Unsplittable" in html and "[oops" not in html
