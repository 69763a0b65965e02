"""Event-level stories in a real warehouse: independent reports and other languages join,
distractors stay apart, late arrivals keep the story id, merges are recorded and resolve.

Every article here is invented for these tests (an imagined Lavrov–Wang Yi meeting in
Harbin, a crab quota deal); none is taken from any labelled set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitor import warehouse
from monitor.settings import Settings
from monitor.stories.clusters import WINDOW_DAYS, assign_clusters, features, match

DAY = datetime(2031, 11, 14, 6, 0)

#: One invented event: Lavrov and Wang Yi meet in Harbin on 14 November and sign a plan of
#: 27 joint projects worth $6.5 billion. Independent reports in four languages.
EVENT = [
    ("harbin-wire-en", "en", 0,
     "Lavrov and Wang Yi sign $6.5 billion plan of 27 projects in Harbin",
     "Russian Foreign Minister Sergei Lavrov and Chinese Foreign Minister Wang Yi met in "
     "Harbin on November 14 and signed a plan covering 27 joint projects worth $6.5 billion, "
     "the two ministries said. The projects include river ports on the Amur and a grain "
     "terminal, Lavrov told reporters after the talks."),
    ("harbin-paper-en", "en", 3,
     "China, Russia agree on 27 joint projects as top diplomats meet",
     "Meeting in the northeastern city of Harbin on Thursday, November 14, Wang Yi and his "
     "Russian counterpart Sergei Lavrov endorsed a list of 27 cooperation projects. Beijing "
     "put their combined value at 6.5 billion U.S. dollars. Wang said the plan showed that "
     "relations were at their best in history."),
    ("harbin-agency-ru", "ru", 2,
     "Лавров и Ван И подписали в Харбине план из 27 проектов",
     "Министр иностранных дел России Сергей Лавров и глава МИД КНР Ван И 14 ноября провели "
     "переговоры в Харбине и подписали план из 27 совместных проектов общей стоимостью "
     "6,5 млрд долларов. Среди проектов — речные порты на Амуре и зерновой терминал."),
    ("harbin-wire-ja", "ja", 5,
     "ロシア外相と中国外相がハルビンで会談、27事業の計画に署名",
     "ロシアのラブロフ外相と中国の王毅外相は14日、中国東北部のハルビンで会談し、総額65億ドル"
     "に上る27件の共同事業の計画に署名した。アムール川の河川港や穀物ターミナルが含まれる。"),
    ("harbin-agency-zh", "zh", 1,
     "拉夫罗夫与王毅在哈尔滨会谈 签署27个合作项目计划",
     "俄罗斯外长拉夫罗夫与中国外长王毅11月14日在哈尔滨举行会谈，签署了涵盖27个合作项目、"
     "总额65亿美元的计划。项目包括阿穆尔河上的河港和一个粮食码头。"),
]

#: The same kind of event on other dates: the preview a week before, and the next
#: year's meeting of the same two ministers (other city, other figures).
DISTRACTORS = [
    ("harbin-preview-en", "en", -24 * 7,
     "Lavrov to travel to China next week for talks with Wang Yi",
     "Russian Foreign Minister Sergei Lavrov will visit China next week for talks with Wang "
     "Yi, the foreign ministry in Moscow said on Friday. The agenda includes economic "
     "projects, it said, without giving details."),
    ("harbin-nextyear-en", "en", 24 * 365,
     "Lavrov and Wang Yi meet in Vladivostok, sign 12 projects worth $2 billion",
     "Russian Foreign Minister Sergei Lavrov and Chinese Foreign Minister Wang Yi met in "
     "Vladivostok on November 14 and signed a plan covering 12 joint projects worth "
     "$2 billion, the ministries said."),
]


def _store(con, rows: list[tuple[str, str, float, str, str]], base: datetime = DAY) -> None:
    for article_id, language, hours, title, body in rows:
        at = base + timedelta(hours=hours)
        con.execute(
            "INSERT INTO articles (article_id, entry_key, title, body, language, outlet,"
            " published_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [article_id, article_id, title, body, language, article_id.split("-")[1], at, at])


def _clusters(con) -> dict[str, str]:
    return dict(con.execute("SELECT article_id, cluster_id FROM articles").fetchall())


def _feats(rows):
    return {r[0]: features(r[0], r[3], r[4], r[1], DAY + timedelta(hours=r[2])) for r in rows}


def test_independent_reports_of_one_event_are_one_pair_match() -> None:
    f = _feats(EVENT)
    assert match(f["harbin-wire-en"], f["harbin-paper-en"]) is not None  # no shared 6-gram
    assert match(f["harbin-wire-en"], f["harbin-agency-ru"]) is not None
    assert match(f["harbin-agency-zh"], f["harbin-wire-ja"]) is not None


def test_numbers_and_dates_carry_across_scripts() -> None:
    f = _feats(EVENT)
    for article_id in ("harbin-wire-en", "harbin-agency-ru", "harbin-wire-ja", "harbin-agency-zh"):
        assert {"#6.5e+09", "#27"} <= f[article_id].anchors, article_id
    assert "@m11d14" in f["harbin-wire-en"].anchors & f["harbin-agency-ru"].anchors
    assert "@d14" in f["harbin-wire-ja"].anchors


def test_one_event_in_four_languages_is_one_story_distractors_apart(settings: Settings) -> None:
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        _store(con, EVENT + DISTRACTORS)
        ids = [r[0] for r in EVENT + DISTRACTORS]
        assert assign_clusters(con, ids) == len(ids)
        con.execute("COMMIT")
        cluster = _clusters(con)
    story = {cluster[r[0]] for r in EVENT}
    assert story == {"harbin-wire-en"}  # the earliest report founded it
    for article_id, *_rest in DISTRACTORS:
        assert cluster[article_id] == article_id, article_id


def test_a_follow_up_the_next_day_with_other_facts_stays_apart(settings: Settings) -> None:
    follow_up = ("harbin-followup-en", "en", 30,
                 "Russia's Rudenko and China's envoy discuss Korean Peninsula in Moscow",
                 "Russian Deputy Foreign Minister Andrei Rudenko met the Chinese ambassador in "
                 "Moscow on November 15 to discuss the situation on the Korean Peninsula, the "
                 "ministry said.")
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        _store(con, [*EVENT[:2], follow_up])
        assign_clusters(con, [EVENT[0][0], EVENT[1][0], follow_up[0]])
        con.execute("COMMIT")
        cluster = _clusters(con)
    assert cluster["harbin-paper-en"] == "harbin-wire-en"
    assert cluster["harbin-followup-en"] == "harbin-followup-en"


def test_late_arrivals_join_the_existing_story_and_its_id_stays(settings: Settings) -> None:
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        _store(con, EVENT[:2])
        assign_clusters(con, [EVENT[0][0], EVENT[1][0]])
        con.execute("COMMIT")
        before = _clusters(con)
        assert set(before.values()) == {"harbin-wire-en"}
        for late in EVENT[2:]:  # each in its own later run
            con.execute("BEGIN")
            _store(con, [late])
            assert assign_clusters(con, [late[0]]) == 1
            con.execute("COMMIT")
        after = _clusters(con)
        merges = con.execute("SELECT count(*) FROM story_merges").fetchone()[0]
    assert set(after.values()) == {"harbin-wire-en"}
    assert all(after[k] == v for k, v in before.items())
    assert merges == 0


def test_a_bridging_article_merges_two_stories_and_the_old_id_resolves(settings: Settings) -> None:
    crab = ("crab-wire-en", "en", 0, "Japan and Russia agree crab quota off Shikotan",
            "Japanese and Russian fishery officials agreed a quota of 3,200 tonnes of snow crab "
            "for Hokkaido boats operating off Shikotan this winter after four rounds of talks.")
    ship = ("ship-wire-en", "en", 1, "Russian icebreaker delivers fuel to Kunashir port",
            "A Russian icebreaker delivered diesel fuel and building materials to the port of "
            "Kunashir on Sunday, local authorities said, ahead of an early winter freeze.")
    # Carries both texts (a round-up reprinting two wire items): a reprint of each.
    bridge = ("roundup-digest-en", "en", 2, f"{crab[3]}; {ship[3]}", f"{crab[4]} {ship[4]}")
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        _store(con, [crab, ship])
        assign_clusters(con, [crab[0], ship[0]])
        con.execute("COMMIT")
        assert _clusters(con) == {"crab-wire-en": "crab-wire-en", "ship-wire-en": "ship-wire-en"}
        con.execute("BEGIN")
        _store(con, [bridge])
        assign_clusters(con, [bridge[0]])
        con.execute("COMMIT")
        cluster = _clusters(con)
        merges = con.execute("SELECT from_story, into_story, reason FROM story_merges").fetchall()
        resolved = dict(con.execute("SELECT story_id, current_story_id FROM story_ids").fetchall())
        members = con.execute("SELECT DISTINCT cluster_id FROM cluster_members").fetchall()
    # The older story survives; every article carries its id; the old id resolves to it.
    assert set(cluster.values()) == {"crab-wire-en"}
    assert [(f, i) for f, i, _r in merges] == [("ship-wire-en", "crab-wire-en")]
    assert resolved["ship-wire-en"] == "crab-wire-en"
    assert resolved["crab-wire-en"] == "crab-wire-en"
    assert members == [("crab-wire-en",)]


def test_the_window_bounds_what_a_new_article_is_compared_with(settings: Settings) -> None:
    old = ("harbin-wire-en", "en", 0, EVENT[0][3], EVENT[0][4])
    # The same text again, long after the window: a new story, not a reprint of the old.
    again = ("harbin-again-en", "en", 24 * (WINDOW_DAYS + 2), EVENT[0][3], EVENT[0][4])
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        _store(con, [old])
        assign_clusters(con, [old[0]])
        _store(con, [again])
        assign_clusters(con, [again[0]])
        con.execute("COMMIT")
        cluster = _clusters(con)
    assert cluster["harbin-again-en"] == "harbin-again-en"


@pytest.mark.parametrize("text,expected", [
    ("38 billion cubic metres", "#3.8e+10"), ("380億立方メートル", "#3.8e+10"),
    ("380亿立方米", "#3.8e+10"), ("38 млрд кубометров", "#3.8e+10"),
    ("1,200 tonnes", "#1200"), ("29.3%", "#29.3"),
])
def test_number_values_agree_across_scripts(text: str, expected: str) -> None:
    from monitor.stories.script import number_values

    assert expected in number_values(text.lower())


def test_names_meet_across_scripts() -> None:
    from monitor.stories.script import fold_han, sound_key

    assert sound_key("путин") == sound_key("putin") == sound_key("プーチン")
    assert sound_key("шойгу") == sound_key("shoigu")
    assert fold_han("択捉島") == fold_han("擇捉島") == "择捉岛"
