"""Stories per day beside articles per day, and spikes measured on stories.

The data set (written here): energy / russia_china, one story a day Oct 1–28; on Oct 29 one
event reprinted by 40 outlets (40 articles, one cluster) and nothing else; on Oct 30 six
different energy stories of one article each, two of them sharing a cluster with an article
of Oct 29 (a story spanning two days counts on both days). One relevant article without a
topic on Oct 30.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from monitor import trends, warehouse
from monitor.settings import Settings
from tests.trends.builder import add_article, add_source

OCT = [date(2026, 10, d) for d in range(1, 32)]


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


@pytest.fixture
def reprinted(settings: Settings) -> Settings:
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        add_source(con, "kyodo", "Kyodo", "JP")
        for day in OCT[:28]:
            add_article(con, published=at(day))
        for i in range(40):
            add_article(con, published=at(OCT[28], 8, i), cluster_id="wire-1")
        for i in range(6):
            add_article(con, published=at(OCT[29], 8 + i),
                        cluster_id="wire-1" if i == 0 else None)
        add_article(con, published=at(OCT[29], 15), source_id="kyodo",
                    dyads=["russia_japan"], topics=[], title="Scholars meet in Sapporo")
        trends.refresh_trends(con)
    return settings


def rows(con, sql: str, params=()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def test_views_count_stories_beside_articles(reprinted: Settings) -> None:
    with warehouse.reader(reprinted) as con:
        daily = {r[0]: r[1:] for r in rows(con, "SELECT day, articles, stories FROM"
                                                " stories_daily WHERE day >= ?", [OCT[27]])}
        assert daily == {OCT[27]: (1, 1), OCT[28]: (40, 1), OCT[29]: (7, 7)}
        assert rows(con, "SELECT articles, stories FROM topic_daily WHERE topic = 'energy'"
                         " AND day = ?", [OCT[28]]) == [(40, 1)]
        assert rows(con, "SELECT articles, stories FROM dyad_daily WHERE dyad ="
                         " 'russia_china' AND day = ?", [OCT[29]]) == [(6, 6)]
        # The 40 reprints are one story: no spike on Oct 29; six stories on Oct 30 are one
        # (6 ≥ 5 and (6 + 1) / (avg of 28 days before + 1) ≥ 3).
        spikes = rows(con, "SELECT day, stories, articles FROM trend_spikes"
                           " WHERE dyad = '*' AND topic = 'energy'")
    assert [s[0] for s in spikes] == [OCT[29]]
    assert spikes[0][1:] == (6, 6)


def test_functions_count_stories_and_spike_on_them(reprinted: Settings) -> None:
    with warehouse.reader(reprinted) as con:
        (energy,) = trends.topic_series(con, 3, topic="energy", end=OCT[29])
        assert energy["counts"] == [1, 40, 6] and energy["stories"] == [1, 1, 6]
        assert energy["total"] == 47 and energy["story_total"] == 8
        assert trends.spikes(con, OCT[28]) == []  # 40 reprints of one event
        got = {(s["dyad"], s["topic"]): (s["stories"], s["articles"])
               for s in trends.spikes(con, OCT[29])}
        assert got[("*", "energy")] == (6, 6)
        # The topicless article: counted and listed, so topics + other add up to the total.
        assert trends.topicless(con, 3, end=OCT[29]) == {"articles": 1, "stories": 1}
        other = trends.latest_articles(con, days=3, end=OCT[29], without_topic=True)
        assert [a["title"] for a in other] == ["Scholars meet in Sapporo"]
        (total,) = [r for r in trends.dyad_series(con, 3, end=OCT[29]) if r["dyad"] == "*"]
        (energy_all,) = trends.topic_series(con, 3, topic="energy", end=OCT[29])
        assert total["total"] == energy_all["total"] + 1  # every article has energy or none


def test_trends_page_shows_stories_and_other_news(reprinted: Settings) -> None:
    from monitor.ui.page import TrendsData, _build_series, _other_section, _story_line

    with warehouse.reader(reprinted) as con:
        rows_ = trends.dyad_series(con, 3 + 28, end=OCT[29])
        other = trends.latest_articles(con, days=3, end=OCT[29], without_topic=True)
        topicless = trends.topicless(con, 3, end=OCT[29])
    (total,) = [r for r in rows_ if r["dyad"] == "*"]
    series = _build_series(total["counts"], OCT[29], 3, total["stories"])
    assert series.spikes == [False, False, True]  # the 40 reprints are no spike
    data = TrendsData(days=3, dyad=None, end=OCT[29], snapshot_at=None, dyads={}, topics={},
                      stories_total=sum(total["stories"][-3:]), topicless=topicless,
                      other_articles=other)
    line = _story_line(data)
    assert "9 stories" in line and "1 relevant article without a topic" in line
    assert "Scholars meet in Sapporo" in _other_section(data)
