"""A warehouse holding one known digest day, and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from monitor import warehouse
from monitor.settings import Settings
from tests.support.smtp import Inbox
from tests.support.smtp import smtp_server as run_smtp_server
from tests.trends.builder import add_article, add_feed_state, add_source

DAY = date(2026, 11, 20)
HOSTILE_TITLE = "<script>window.__xss = 1</script> Kuril talks\r\nBcc: evil@attacker.example"
HOSTILE_OUTLET = "Kyodo\r\nX-Evil: 1"


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


@pytest.fixture
def digest_settings(settings: Settings) -> Settings:
    """The known day (UTC):

    * one energy story carried by three outlets: TASS 08:00 and Xinhua 09:00 share a cluster;
      SCMP 10:00 has no cluster but the same title up to case and punctuation → one entry,
      led by TASS, "also in: Xinhua, SCMP";
    * six more energy stories (energy: 9 articles against nothing before → a spike);
    * a hostile kurils article: <script> in the title with CR/LF and a fake Bcc header,
      a javascript: link, CR/LF in the outlet name, markup in the summary;
    * a plain kurils article; an irrelevant article; energy one a day for the week before;
    * a source failing for 30 hours.
    """
    settings = settings.with_(mail_from="monitor@example.org",
                              recipients=("alice@example.org", "bob@example.org:kurils"))
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        add_source(con, "xinhua", "Xinhua", "CN")
        add_source(con, "scmp", "SCMP", "HK")
        add_source(con, "kyodo", "Kyodo", "JP")
        add_source(con, "down", "Down Daily", "JP")
        add_feed_state(con, "down", last_attempt_at=at(23), last_ok_at=at(0) - timedelta(hours=7),
                       failures=9, failing_since=at(23) - timedelta(hours=30),
                       last_error="HTTP 503 <b>busy</b>")
        title = "Russia and China sign Power of Siberia 2 deal"
        add_article(con, published=at(8), source_id="tass", title=title, cluster_id="c1",
                    summary="Gazprom and CNPC signed the contract in Beijing. Gas flows from "
                            "2030. A third sentence that the lead leaves out.",
                    url="https://tass.example/power-of-siberia-2")
        add_article(con, published=at(9), source_id="xinhua", cluster_id="c1",
                    title="China, Russia ink gas pipeline agreement")
        add_article(con, published=at(10), source_id="scmp",
                    title="RUSSIA and China sign 'Power of Siberia 2' deal!")
        for i in range(6):
            add_article(con, published=at(11 + i), source_id="tass",
                        title=f"Energy item number {i}")
        add_article(con, published=at(12), source_id="kyodo", outlet=HOSTILE_OUTLET,
                    title=HOSTILE_TITLE, url="javascript:alert(1)",
                    summary="<img src=x onerror=alert(1)> Talks resumed in Tokyo.",
                    dyads=["russia_japan"], topics=["kurils"])
        add_article(con, published=at(13), source_id="kyodo", title="Japan protests drills",
                    dyads=["russia_japan"], topics=["kurils", "military"],
                    url="https://kyodo.example/drills")
        add_article(con, published=at(14), source_id="kyodo", relevant=False,
                    title="Earthquake off the Kurils")
        for d in range(1, 8):
            add_article(con, published=at(9, day=DAY - timedelta(days=d)), source_id="tass",
                        title=f"Earlier energy {d}")
    return settings


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with run_smtp_server() as server:
        yield server
