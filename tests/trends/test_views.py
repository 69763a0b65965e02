"""Trend views and functions against a warehouse of known articles, checked against counts
worked out by hand (the comments give the arithmetic)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from monitor import trends, warehouse
from monitor.settings import Settings
from tests.trends.builder import add_article, add_feed_state, add_fetch, add_source, classify

OCT = [date(2026, 10, d) for d in range(1, 32)]


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


@pytest.fixture
def known(settings: Settings) -> Settings:
    """The data set:

    * energy / russia_china: one TASS article a day Oct 1–28, then six on Oct 29 (four TASS,
      two Xinhua) and two on Oct 30;
    * kurils / russia_japan: four Kyodo articles on Oct 29 (below the spike minimum of 5);
    * sanctions / russia_japan: one article with no publication date, first seen Oct 20;
    * one irrelevant Kyodo article on Oct 29;
    * one article on Oct 30 first classified energy (m1), then reclassified military (m2).
    """
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        add_source(con, "xinhua", "Xinhua", "CN")
        add_source(con, "kyodo", "Kyodo", "JP")
        for day in OCT[:28]:
            add_article(con, published=at(day))
        for i in range(6):
            add_article(con, published=at(OCT[28], 8 + i), source_id="tass" if i < 4 else "xinhua")
        for i in range(2):
            add_article(con, published=at(OCT[29], 8 + i))
        for i in range(4):
            add_article(con, published=at(OCT[28], 10 + i), source_id="kyodo",
                        dyads=["russia_japan"], topics=["kurils"])
        add_article(con, published=None, first_seen=at(OCT[19], 23), source_id="tass",
                    dyads=["russia_japan"], topics=["sanctions"])
        add_article(con, published=at(OCT[28]), source_id="kyodo", relevant=False)
        aid = add_article(con, published=at(OCT[29], 15), topics=["energy"])
        classify(con, aid, relevant=True, dyads=["russia_china"], topics=["military"],
                 classified_at=at(OCT[29], 16), model_version="m2")
        trends.refresh_trends(con)
    return settings


def rows(con, sql: str, params=()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def test_topic_and_dyad_daily_counts(known: Settings) -> None:
    with warehouse.reader(known) as con:
        energy = dict(rows(con, "SELECT day, articles FROM topic_daily WHERE topic = 'energy'"))
        assert energy[OCT[0]] == 1 and energy[OCT[27]] == 1
        assert energy[OCT[28]] == 6
        assert energy[OCT[29]] == 2  # the reclassified article counts as military, not energy
        assert dict(rows(con, "SELECT topic, articles FROM topic_daily WHERE day = ?",
                         [OCT[29]])) == {"energy": 2, "military": 1}
        # No publication date: first-seen day (Oct 20) stands in.
        assert rows(con, "SELECT day FROM topic_daily WHERE topic = 'sanctions'") == [(OCT[19],)]
        assert dict(rows(con, "SELECT dyad, articles FROM dyad_daily WHERE day = ?",
                         [OCT[28]])) == {"russia_china": 6, "russia_japan": 4}
        assert rows(con, "SELECT articles FROM topic_dyad_daily WHERE day = ? AND"
                         " dyad = 'russia_japan' AND topic = 'kurils'", [OCT[28]]) == [(4,)]
        # 6 energy + 4 kurils + 1 irrelevant classified on Oct 29; 10 relevant.
        assert rows(con, "SELECT articles, relevant FROM articles_daily WHERE day = ?",
                    [OCT[28]]) == [(11, 10)]


def test_rolling_sums(known: Settings) -> None:
    with warehouse.reader(known) as con:
        got = rows(con, "SELECT day, articles, rolling_7d, previous_7d FROM trend_rolling"
                        " WHERE dyad = '*' AND topic = 'energy' AND day IN (?, ?, ?)",
                   [OCT[0], OCT[28], OCT[29]])
    by_day = {r[0]: r[1:] for r in got}
    assert by_day[OCT[0]] == (1, 1, 0)
    # Oct 29: 6 + six days of 1 (Oct 23–28) = 12; the week before (Oct 16–22): 7.
    assert by_day[OCT[28]] == (6, 12, 7)
    # Oct 30: 2 + 6 + five days of 1 = 13; Oct 17–23: 7.
    assert by_day[OCT[29]] == (2, 13, 7)


def test_spikes_view_and_function_agree_with_hand_values(known: Settings) -> None:
    with warehouse.reader(known) as con:
        view = {(r[0], r[1]): r[2:] for r in rows(
            con, "SELECT dyad, topic, articles, ratio FROM trend_spikes WHERE day = ?",
            [OCT[28]])}
        func = {(s["dyad"], s["topic"]): (s["articles"], s["ratio"])
                for s in trends.spikes(con, OCT[28])}
        no_spike_next_day = trends.spikes(con, OCT[29])
    # energy: 6 against a baseline of 1/day: (6+1)/(1+1) = 3.5.
    assert view[("*", "energy")] == (6, 3.5)
    assert view[("russia_china", "energy")] == (6, 3.5)
    assert view[("russia_china", "*")] == (6, 3.5)
    # All relevant: 10 against (28 + 1 sanctions)/28: 11 / (29/28 + 1) = 5.4.
    assert view[("*", "*")] == (10, 5.4)
    # kurils: 4 articles from nothing is not a spike (minimum count 5).
    assert ("*", "kurils") not in view and ("russia_japan", "kurils") not in view
    assert func == view
    assert no_spike_next_day == []


def test_series_with_change_against_previous_period(known: Settings) -> None:
    with warehouse.reader(known) as con:
        series = {s["key"]: s for s in trends.topic_series(con, days=7, end=OCT[29])}
        japan = {s["key"]: s for s in trends.topic_series(con, 7, end=OCT[29],
                                                          dyad="russia_japan")}
        dyads = {s["key"]: s for s in trends.dyad_series(con, 7, end=OCT[29])}
    energy = series["energy"]
    assert energy["counts"] == [1, 1, 1, 1, 1, 6, 2]  # Oct 24–30
    assert (energy["total"], energy["previous_total"]) == (13, 7)
    assert energy["change"] == pytest.approx(6 / 7)
    assert series["kurils"]["change"] is None  # nothing the week before
    assert set(japan) == {"kurils", "sanctions"}  # sanctions: Oct 20, the week before
    assert japan["kurils"]["total"] == 4 and japan["sanctions"]["previous_total"] == 1
    assert dyads["russia_japan"]["total"] == 4 and dyads["*"]["total"] == 18


def test_coverage_share(known: Settings) -> None:
    with warehouse.reader(known) as con:
        outlets = {r["key"]: r for r in trends.coverage_share(con, 1, end=OCT[28])}
        countries = {r["key"]: r for r in trends.coverage_share(con, 1, by="country",
                                                                 end=OCT[28])}
        view = dict(rows(con, "SELECT outlet, share FROM outlet_share WHERE day = ?", [OCT[28]]))
    # Oct 29: TASS 4, Xinhua 2, Kyodo 4 relevant (+1 irrelevant) of 10.
    assert outlets["TASS"]["share"] == pytest.approx(0.4)
    assert outlets["Xinhua"]["share"] == pytest.approx(0.2)
    assert (outlets["Kyodo"]["articles"], outlets["Kyodo"]["relevant"]) == (5, 4)
    assert countries["JP"]["share"] == pytest.approx(0.4)
    assert countries["CN"]["share"] == pytest.approx(0.2)
    assert view == pytest.approx({"TASS": 0.4, "Xinhua": 0.2, "Kyodo": 0.4})


def test_latest_articles_newest_first_with_topics(known: Settings) -> None:
    with warehouse.reader(known) as con:
        latest = trends.latest_articles(con, limit=3, end=OCT[29])
        kurils = trends.latest_articles(con, topic="kurils", end=OCT[29])
        view = rows(con, "SELECT topics FROM latest_relevant_articles LIMIT 1")
    assert [a["topics"] for a in latest] == [["military"], ["energy"], ["energy"]]
    assert latest[0]["published_at"] == at(OCT[29], 15)
    assert len(kurils) == 4 and all(a["outlet"] == "Kyodo" for a in kurils)
    assert view == [(["military"],)]


def test_incremental_refresh_picks_up_new_and_reclassified(known: Settings) -> None:
    with warehouse.writer(known) as con:
        add_article(con, published=at(OCT[30]), first_seen=at(OCT[30], 10),
                    classified_at=at(OCT[30], 10), topics=["korea"])
        # Stored late: classified before the newest classification already processed.
        add_article(con, published=at(OCT[29], 7), classified_at=at(OCT[29], 12),
                    topics=["korea"])
        old = con.execute("SELECT article_id FROM trend_articles WHERE day = ? LIMIT 1",
                          [OCT[0]]).fetchone()[0]
        classify(con, old, relevant=False, dyads=[], topics=[],
                 classified_at=at(OCT[30], 11), model_version="m3")
        result = trends.refresh_trends(con)
        assert result["mode"] == "incremental"
        assert result["articles_rederived"] < 20
        assert not trends.is_stale(con)
    with warehouse.reader(known) as con:
        korea = dict(rows(con, "SELECT day, articles FROM topic_daily WHERE topic = 'korea'"))
        first = rows(con, "SELECT articles, relevant FROM articles_daily WHERE day = ?", [OCT[0]])
        energy_first = rows(con, "SELECT articles FROM topic_daily WHERE topic = 'energy'"
                                 " AND day = ?", [OCT[0]])
    assert korea == {OCT[29]: 1, OCT[30]: 1}
    assert first == [(1, 0)]
    assert energy_first == []


def test_full_rebuild_equals_incremental(known: Settings) -> None:
    with warehouse.writer(known) as con:
        before = rows(con, "SELECT * FROM trend_daily ORDER BY ALL")
        trends.refresh_trends(con, full=True)
        assert rows(con, "SELECT * FROM trend_daily ORDER BY ALL") == before


def test_feed_health(settings: Settings) -> None:
    now = datetime(2026, 11, 2, 12)
    with warehouse.writer(settings) as con:
        add_source(con, "ok", "OK News")
        add_source(con, "long", "Long Down", "JP")
        add_source(con, "short", "Short Down")
        add_source(con, "gone", "Gone", enabled=False, disabled_reason="410 Gone")
        add_source(con, "new", "New")
        add_feed_state(con, "ok", last_attempt_at=now, last_ok_at=now)
        add_feed_state(con, "long", last_attempt_at=now, last_ok_at=now - timedelta(hours=40),
                       failures=5, failing_since=now - timedelta(hours=30), last_error="HTTP 500")
        add_feed_state(con, "short", last_attempt_at=now, last_ok_at=now - timedelta(hours=3),
                       failures=1, failing_since=now - timedelta(hours=2), last_error="timeout")
        for h in (1, 2, 50, 24 * 8):
            add_fetch(con, "long", now - timedelta(hours=h), outcome="error")
        add_fetch(con, "ok", now - timedelta(hours=1), entries_new=7)
    with warehouse.reader(settings) as con:
        health = {r["source_id"]: r for r in trends.feed_health(con, now)}
        problems = trends.feed_health(con, now, problems_only=True)
    assert {k: v["status"] for k, v in health.items()} == {
        "ok": "ok", "long": "failing_24h", "short": "failing", "gone": "disabled",
        "new": "never_fetched"}
    assert health["long"]["hours_failing"] == 30.0
    # Fetches 1 h and 2 h ago count; 50 h and 8 days ago do not.
    assert (health["long"]["fetches_24h"], health["long"]["errors_24h"]) == (2, 2)
    assert health["ok"]["new_24h"] == health["ok"]["new_7d"] == 7
    assert "ok" not in {r["source_id"] for r in problems}


def test_empty_warehouse_is_fine(settings: Settings) -> None:
    with warehouse.writer(settings) as con:
        assert trends.refresh_trends(con)["trend_articles"] == 0
    with warehouse.reader(settings) as con:
        assert trends.topic_series(con, 30) == []
        assert trends.spikes(con, date(2026, 1, 1)) == []
        assert trends.latest_articles(con) == []
        assert rows(con, "SELECT count(*) FROM trend_rolling") == [(0,)]


def test_refresh_inside_the_callers_transaction(known: Settings) -> None:
    with warehouse.writer(known) as con:
        con.execute("BEGIN")
        add_article(con, published=at(OCT[30]), classified_at=at(OCT[30], 12), topics=["korea"])
        trends.refresh_trends(con, in_transaction=True)
        con.execute("ROLLBACK")  # the batch failed: its trend rows go with it
        assert rows(con, "SELECT count(*) FROM topic_daily WHERE topic = 'korea'") == [(0,)]
        con.execute("BEGIN")
        add_article(con, published=at(OCT[30]), classified_at=at(OCT[30], 12), topics=["korea"])
        trends.refresh_trends(con, in_transaction=True)
        con.execute("COMMIT")
        assert rows(con, "SELECT count(*) FROM topic_daily WHERE topic = 'korea'") == [(1,)]
