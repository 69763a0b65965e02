"""The day as stories: one event reported by several outlets in several languages is one
entry of the digest, with its best headline, why it counted, its outlets and countries, who
reported first and when, and its languages. Real DuckDB, real clustering, real SMTP server.

The articles are written for this test. The event: Russian and Chinese bombers patrol near
Japan. A wire text (Wire Asia, English) is reprinted word for word by two more outlets
(reprints are joined by today's clustering); TASS reports it in Russian and Kyodo in Japanese
(independent reports: today's clustering may leave them apart, an event-level clustering
joins them). The test asserts on what ``assign_clusters`` decided, so it holds for both.
Also on the day: one unrelated relevant story with a topic, and one relevant story with no
topic ("Other relations news").
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from monitor import warehouse
from monitor.digest import preview_digest, run_digest
from monitor.digest.build import cut_words, evidence_sentence, make_lead
from monitor.settings import Settings
from monitor.stories.clusters import assign_clusters
from tests.digest.test_digest import parse, parts, smtp
from tests.trends.builder import add_article, add_source

DAY = date(2026, 11, 24)
WIRE_TITLE = "Russian and Chinese bombers patrol near Japan; Tokyo scrambles jets"
WIRE_TEXT = (
    "Two Russian Tu-95 bombers and two Chinese H-6 bombers flew a joint patrol over the Sea of "
    "Japan and the East China Sea on Tuesday, Japan's defence ministry said. Japan scrambled "
    "fighter jets in response and conveyed its serious concern to Moscow and Beijing. It was "
    "the ninth joint flight of the two air forces since 2019."
)
WHY = ("Japan scrambled fighter jets in response and conveyed its serious concern to Moscow "
       "and Beijing.")


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute)


def _evidence(con, article_id: str, sentences: dict[str, list[str]]) -> None:
    con.execute("UPDATE classifications SET evidence = ?::JSON WHERE article_id = ?",
                [json.dumps(sentences, ensure_ascii=False), article_id])


@pytest.fixture
def story_day(settings: Settings) -> tuple[Settings, dict[str, str]]:
    settings = settings.with_(mail_from="monitor@example.org",
                              recipients=("carol@example.org",), timezone="UTC")
    ids: dict[str, str] = {}
    with warehouse.writer(settings) as con:
        add_source(con, "wire", "Wire Asia", "SG")
        add_source(con, "japantimes", "Japan Times", "JP")
        add_source(con, "moscowtimes", "Moscow Times", "RU")
        add_source(con, "tass", "TASS", "RU")
        add_source(con, "kyodo", "Kyodo", "JP")
        event = dict(dyads=["russia_japan", "russia_china"], topics=["military"])
        # TASS reported first, in Russian; the wire text came later and was reprinted.
        ids["tass"] = add_article(
            con, published=at(6, 10), source_id="tass", **event,
            title="Российские и китайские бомбардировщики совершили совместное патрулирование",
            summary="Два российских Ту-95 и два китайских Н-6 выполнили совместный полёт над "
                    "Японским морем, сообщило Минобороны России.")
        ids["wire"] = add_article(con, published=at(7), source_id="wire", title=WIRE_TITLE,
                                  summary=WIRE_TEXT, **event)
        ids["japantimes"] = add_article(con, published=at(7, 40), source_id="japantimes",
                                        title=WIRE_TITLE, summary=WIRE_TEXT, **event)
        ids["moscowtimes"] = add_article(con, published=at(8, 5), source_id="moscowtimes",
                                         title=WIRE_TITLE, summary=WIRE_TEXT, **event)
        ids["kyodo"] = add_article(
            con, published=at(9), source_id="kyodo", **event,
            title="中ロ爆撃機が日本周辺を共同飛行　空自が緊急発進",
            summary="防衛省によると、ロシアのTu95爆撃機2機と中国のH6爆撃機2機が日本海と東シナ海"
                    "を共同飛行した。航空自衛隊は戦闘機を緊急発進させた。")
        ids["gas"] = add_article(
            con, published=at(11), source_id="tass", topics=["energy"],
            title="Gazprom raises gas deliveries to China via Power of Siberia",
            summary="Gazprom said daily deliveries to China set a new record.")
        ids["topicless"] = add_article(
            con, published=at(12), source_id="kyodo", dyads=["russia_japan"], topics=[],
            title="Japanese and Russian scholars meet in Sapporo",
            summary="Historians from both countries met for a two-day seminar.")
        for key, lang in (("tass", "ru"), ("wire", "en"), ("japantimes", "en"),
                          ("moscowtimes", "en"), ("kyodo", "ja"), ("gas", "en"),
                          ("topicless", "en")):
            con.execute("UPDATE articles SET language = ? WHERE article_id = ?",
                        [lang, ids[key]])
        con.execute("UPDATE articles SET cluster_id = NULL")
        for key in ("wire", "japantimes", "moscowtimes"):
            _evidence(con, ids[key], {"russia_japan": [
                f"[Russia, Japan] {WIRE_TITLE}", f"[Japan, Moscow, concern] {WHY}"]})
        con.execute("BEGIN")
        assign_clusters(con, list(ids.values()))
        con.execute("COMMIT")
    return settings, ids


def _clusters(settings: Settings, ids: dict[str, str]) -> dict[str, str]:
    with warehouse.reader(settings, primary=True) as con:
        rows = con.execute("SELECT article_id, cluster_id FROM articles").fetchall()
    by_id = dict(rows)
    return {key: by_id[article_id] for key, article_id in ids.items()}


def test_an_event_reported_by_several_outlets_is_one_story(story_day, smtp_server) -> None:
    settings, ids = story_day
    clusters = _clusters(settings, ids)
    # Today's clustering joins reprints of one wire text at least.
    assert clusters["wire"] == clusters["japantimes"] == clusters["moscowtimes"]
    event = {k for k in ("tass", "wire", "japantimes", "moscowtimes", "kyodo")}
    joined = {k for k in event if clusters[k] == clusters["wire"]}  # the wire's story
    assert clusters["gas"] != clusters["wire"] and clusters["topicless"] != clusters["wire"]

    inbox, port = smtp_server
    result = run_digest(smtp(settings, port), DAY)
    assert result["sent"] == 1
    text, html = parts(parse(inbox.messages[0][2]))
    text = " ".join(text.split())  # the plain text wraps at 78 columns

    n_stories = len({clusters[k] for k in event}) + 2
    assert f"7 relevant articles in {n_stories} stories" in text
    # The wire's headline appears once, however many outlets carried it.
    assert html.count(WIRE_TITLE) == 1 and text.count(WIRE_TITLE) == 1
    order = ["tass", "wire", "japantimes", "moscowtimes", "kyodo"]
    outlets = {"tass": "TASS", "wire": "Wire Asia", "japantimes": "Japan Times",
               "moscowtimes": "Moscow Times", "kyodo": "Kyodo"}
    country = {"tass": "RU", "wire": "SG", "japantimes": "JP", "moscowtimes": "RU",
               "kyodo": "JP"}
    language = {"tass": "ru", "wire": "en", "japantimes": "en", "moscowtimes": "en",
                "kyodo": "ja"}
    members = [k for k in order if k in joined]
    first = members[0]
    # Who reported first, and when; then the others in order.
    assert (f"first of {len(members)} outlets: {outlets[first]} ({country[first]}) · "
            f"{at(6, 10) if first == 'tass' else at(7):%H:%M}") in text
    assert "also in: " + ", ".join(outlets[k] for k in members[1:]) in text
    assert ("countries: " + ", ".join(sorted({country[k] for k in members}))) in text
    assert ("languages: " + ", ".join(sorted({language[k] for k in members}))) in text
    # Why it counted: the evidence sentence, not the headline again.
    assert f"Why: {WHY}" in text and f"Why: {WHY}" in html
    for k in event - joined:  # a report the clusterer left apart is its own entry
        assert text.count(outlets[k]) >= 1


def _data(settings: Settings) -> dict:
    from monitor import trends
    from monitor.digest.build import build_digest

    with warehouse.writer(settings) as con:
        trends.refresh_trends(con)
        return build_digest(con, DAY, settings)


def test_best_headline_is_the_most_carried_title(story_day) -> None:
    settings, ids = story_day
    story = next(s for s in _data(settings)["stories"] if s["title"] == WIRE_TITLE)
    # Three members carry the wire's title: it is the headline even when TASS was first.
    assert story["article_id"] in (ids["wire"], ids["japantimes"], ids["moscowtimes"])
    assert story["evidence"] == WHY


def test_every_relevant_story_is_listed_once_and_the_counts_agree(story_day) -> None:
    """Issue 13 item 4: relevant articles without a topic are listed ("Other relations
    news"), and the sections' stories add up to the headline numbers."""
    settings, ids = story_day
    data = _data(settings)
    sections = data["sections"]
    listed = [s["article_id"] for sec in sections for s in sec["stories"]]
    assert len(listed) == len(set(listed)) == data["summary"]["stories"]
    assert sum(s["articles"] for sec in sections for s in sec["stories"]) == \
        data["summary"]["articles"] == 7
    other = next(sec for sec in sections if sec["topic"] == "")
    assert other["label"] == "Other relations news"
    assert [s["title"] for s in other["stories"]] == [
        "Japanese and Russian scholars meet in Sapporo"]
    assert other["count"] == 1 and other["story_count"] == 1


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Gazprom will supply China with 38 billion cubic metres of gas a year", 50,
     "Gazprom will supply China with 38 billion cubic…"),
    ("short", 50, "short"),
    ("中国和俄罗斯海军在日本海举行联合演习双方派出驱逐舰和潜艇参加", 10, "中国和俄罗斯海军在…"),
], ids=["word-boundary", "fits", "no-spaces"])
def test_cuts_are_at_word_boundaries_with_an_ellipsis(text, limit, expected) -> None:
    assert cut_words(text, limit) == expected
    assert len(cut_words(text, limit)) <= limit


def test_a_long_lead_sentence_is_cut_at_a_word() -> None:
    lead = make_lead("Under the deal Gazprom " + "will supply China with 38 billion cubic "
                     "metres " * 12 + "of gas.", limit=60)
    assert lead.endswith("…") and not lead.endswith("me…") and len(lead) <= 60


def test_a_lead_cut_by_the_trend_table_ends_with_an_ellipsis() -> None:
    """trend_articles.lead keeps 400 characters; a stump of a word at the cut never shows."""
    text = ("Gazprom signed the deal. Under it the company will supply China with 38 billion "
            "cubic me")
    assert make_lead(text, cut=True) == ("Gazprom signed the deal. Under it the company will "
                                         "supply China with 38 billion cubic…")
    assert make_lead(text).endswith("cubic me")  # not known to be cut: shown as given


def test_evidence_sentence_skips_the_headline_and_the_cited_terms() -> None:
    ev = json.dumps({"military": ["[drills] Drills began."],
                     "russia_japan": ["[Russia, Japan] Title here", "[Japan, protest] Tokyo protested."]})
    assert evidence_sentence(ev, ["russia_japan", "military"], "Title here") == "Tokyo protested."
    assert evidence_sentence("{}", ["russia_japan"], "t") == ""
    assert evidence_sentence("not json", ["russia_japan"], "t") == ""


def test_one_article_one_story_in_the_summary(settings: Settings) -> None:
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        add_article(con, published=at(10), source_id="tass", title="Lone story")
    text = preview_digest(settings.with_(timezone="UTC"), DAY)["text"]
    assert "1 relevant article in 1 story (" in text
