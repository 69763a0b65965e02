"""Every documented example query in warehouse/queries runs against a filled warehouse, and
the ones with an obvious answer give it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import trends, warehouse
from monitor.settings import REPO_ROOT, Settings
from tests.trends.builder import add_article, add_source

QUERIES = sorted((REPO_ROOT / "warehouse" / "queries").glob("*.sql"))


@pytest.fixture
def filled(settings: Settings) -> Settings:
    """Yesterday: energy ×3 (TASS), a Kuril story led by Kyodo at 06:00 and followed by
    TASS at 07:00 (one cluster). Eight days ago: energy ×1."""
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    yesterday = now.replace(hour=0) - timedelta(days=1)
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        add_source(con, "kyodo", "Kyodo", "JP")
        for h in range(3):
            add_article(con, published=yesterday + timedelta(hours=10 + h))
        add_article(con, published=yesterday - timedelta(days=7))
        add_article(con, published=yesterday + timedelta(hours=6), source_id="kyodo",
                    cluster_id="k1", dyads=["russia_japan"], topics=["kurils"],
                    article_id="k1")
        add_article(con, published=yesterday + timedelta(hours=7), source_id="tass",
                    cluster_id="k1", dyads=["russia_japan"], topics=["kurils"])
        trends.refresh_trends(con)
    return settings


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_runs_and_is_documented(filled: Settings, path) -> None:
    sql = path.read_text(encoding="utf-8")
    assert sql.startswith("-- "), "each query opens with a comment saying what it answers"
    with warehouse.reader(filled) as con:
        con.execute(sql).fetchall()


def run(settings: Settings, name: str) -> list[tuple]:
    with warehouse.reader(settings) as con:
        return con.execute((REPO_ROOT / "warehouse" / "queries" / name).read_text()).fetchall()


def test_answers(filled: Settings) -> None:
    rising = {r[0]: r[1:4] for r in run(filled, "topics_rising_this_week.sql")}
    assert rising["energy"] == (3, 1, 2) and rising["kurils"] == (2, 0, 2)
    assert run(filled, "kurils_first_reporters.sql")[0][:3] == ("Kyodo", 1, 1)
    months = run(filled, "russia_china_energy_by_month.sql")
    assert sum(r[1] for r in months) == 4
    assert len(run(filled, "latest_energy_articles.sql")) == 3
