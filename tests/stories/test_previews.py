"""Previews and follow-ups stay apart from the event's story, in several languages.

Every article here is invented for these tests: an imagined meeting of Motegi and Lavrov on
Kunashir on 9 March 2031, where a 14-point fisheries plan and a quota of 4,800 tonnes are
agreed; a preview the day before ("will present", 提示する予定) and a follow-up two days
later ("keeps its position", "продолжит придерживаться позиции") carry the same names, the
island and the plan's 14 points (the previews do not know the quota). None is taken from any labelled set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitor import warehouse
from monitor.settings import Settings
from monitor.stories import pairs
from monitor.stories.clusters import assign_clusters, features
from monitor.stories.modality import markers
from monitor.stories.pairs import time_order_signal

DAY = datetime(2031, 3, 9, 6, 0)

EVENT = [
    ("kuril-wire-en", "en", 0,
     "Motegi and Lavrov agree 14-point fisheries plan on Kunashir",
     "Japanese Foreign Minister Toshimitsu Motegi and Russian Foreign Minister Sergei Lavrov "
     "met on Kunashir on March 9 and agreed a 14-point fisheries plan that sets a quota of "
     "4,800 tonnes for Hokkaido boats, the two ministries said."),
    ("kuril-paper-en", "en", 4,
     "Japan, Russia settle on fishing quota after island talks",
     "Meeting on the island of Kunashir on Monday, March 9, Lavrov and his Japanese "
     "counterpart Motegi signed off on a 14-point plan. Hokkaido fishermen may take 4,800 "
     "tonnes under the deal, Tokyo said."),
    ("kuril-agency-ru", "ru", 2,
     "Лавров и Мотэги согласовали на Кунашире план из 14 пунктов",
     "Министр иностранных дел России Сергей Лавров и глава МИД Японии Тосимицу Мотэги "
     "9 марта провели переговоры на Кунашире и согласовали план из 14 пунктов по рыболовству "
     "с квотой 4800 тонн для судов с Хоккайдо."),
    ("kuril-wire-ja", "ja", 3,
     "日露外相が国後島で会談、14項目の漁業計画で合意",
     "茂木外相とロシアのラブロフ外相は9日、国後島で会談し、北海道の漁船に4800トンの漁獲枠を"
     "認める14項目の漁業計画で合意した。"),
]

#: The day before: the plan announced as what will happen (English and Japanese).
PREVIEWS = [
    ("kuril-preview-en", "en", -20,
     "Motegi to present 14-point fisheries plan to Lavrov on Kunashir",
     "Japanese Foreign Minister Toshimitsu Motegi will present a 14-point fisheries plan to "
     "Russian Foreign Minister Sergei Lavrov when they meet on Kunashir on Monday, officials "
     "said. Tokyo hopes the plan will ease tension over fishing near the island."),
    ("kuril-preview-ja", "ja", -22,
     "茂木外相、ラブロフ外相との会談へ　国後島で",
     "茂木敏充外相は、ロシアのラブロフ外相と国後島で会談する方向で調整している。"
     "漁業協力の計画を示す見通しだ。"),
]

#: Two days later: Tokyo keeps its position (English and Russian).
FOLLOW_UPS = [
    ("kuril-followup-en", "en", 50,
     "Japan keeps its position on Kunashir after fisheries plan, Motegi says",
     "Japan keeps its position that Kunashir is Japanese territory, Foreign Minister Toshimitsu "
     "Motegi said on Wednesday, in response to questions about the 14-point fisheries plan "
     "agreed with Lavrov."),
    ("kuril-followup-ru", "ru", 52,
     "Мотэги: Япония продолжит придерживаться своей позиции по Кунаширу",
     "Министр иностранных дел Японии Тосимицу Мотэги заявил в среду, что Токио продолжит "
     "придерживаться своей позиции по Кунаширу, отвечая на вопросы о плане из 14 пунктов, "
     "согласованном с Лавровым."),
]


def _store(con, rows) -> None:
    for article_id, language, hours, title, body in rows:
        at = DAY + timedelta(hours=hours)
        con.execute(
            "INSERT INTO articles (article_id, entry_key, title, body, language, outlet,"
            " published_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [article_id, article_id, title, body, language, article_id.split("-")[1], at, at])


def _cluster_all(settings: Settings, rows) -> dict[str, str]:
    with warehouse.writer(settings, publish=False) as con:
        con.execute("BEGIN")
        _store(con, rows)
        assign_clusters(con, [r[0] for r in rows])
        con.execute("COMMIT")
        return dict(con.execute("SELECT article_id, cluster_id FROM articles").fetchall())


@pytest.mark.parametrize("title,lead,expected", [
    ("Abe to hold talks with Putin on Friday", "", (1.0, 0.0)),
    ("", "The two navies are scheduled to begin the drill next week.", (1.0, 0.0)),
    ("", "Putin and Abe held talks in Sochi on Friday.", (0.0, 0.0)),
    ("", "Japan maintains its position on the islands, the minister said.", (0.0, 1.0)),
    ("", "российские и китайские корабли проведут учения в японском море.", (1.0, 0.0)),
    ("", "лавров и ван и провели переговоры в пекине.", (0.0, 0.0)),
    ("", "по итогам переговоров стороны подписали заявление.", (0.0, 1.0)),
    ("首相、ソチで露大統領と会談へ", "", (1.0, 0.0)),
    ("", "首相は6日、大統領と会談した。", (0.0, 0.0)),
    ("", "首相は来週、モスクワを訪問する予定だ。", (1.0, 0.0)),
    ("", "政府は会談を受け、対応を協議した。", (0.0, 1.0)),
    ("", "中俄海军即将举行联合演习。", (1.0, 0.0)),
    ("", "中俄两国元首举行会谈。", (0.0, 0.0)),
    ("", "外交部发言人对此回应称。", (0.0, 1.0)),
])
def test_markers_in_four_languages(title: str, lead: str, expected: tuple[float, float]) -> None:
    assert markers(title.lower(), lead.lower()) == expected


def test_the_signal_needs_a_day_between_the_two() -> None:
    def feat(row, hours):
        return features(row[0], row[3], row[4], row[1], DAY + timedelta(hours=hours))

    report, preview = EVENT[0], PREVIEWS[0]
    assert feat(preview, 0).anticipates == 1.0 and feat(report, 0).anticipates == 0.0
    # Reports of one event on its day may differ in modality: no signal within half a day.
    assert time_order_signal(feat(report, 0), feat(preview, -6)) == 0.0
    assert time_order_signal(feat(report, 0), feat(preview, -24)) == 1.0
    follow = FOLLOW_UPS[0]
    assert feat(follow, 0).reacts == 1.0
    # Anticipation differs not, but the later one reacts: a follow-up.
    assert time_order_signal(feat(report, 0), feat(follow, 48)) >= 1.0


def test_preview_and_follow_up_stay_apart_in_two_languages(settings: Settings) -> None:
    cluster = _cluster_all(settings, EVENT + PREVIEWS + FOLLOW_UPS)
    stories = {cluster[r[0]] for r in EVENT}
    assert len(stories) == 1, cluster
    (story,) = stories
    for article_id, *_rest in PREVIEWS + FOLLOW_UPS:
        assert cluster[article_id] != story, article_id


def test_without_the_signal_they_would_join(settings: Settings,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixtures are hard: names, numbers and places alone put them in the story."""
    monkeypatch.setattr(pairs, "ODD_PAIR_PENALTY", 0.0)
    cluster = _cluster_all(settings, EVENT + PREVIEWS + FOLLOW_UPS)
    story = cluster[EVENT[0][0]]
    joined = [r[0] for r in PREVIEWS + FOLLOW_UPS if cluster[r[0]] == story]
    assert joined, cluster
