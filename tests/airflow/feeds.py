"""Feeds for the Airflow tests, served by ``tests.support.httpserver.LocalHTTPServer``.

Two outlets (one Japanese, one Chinese) carry relevant Russia–Japan / Russia–China stories
spread over the last ten days, plus six Kuril Islands stories today (a spike: ≥ 5 stories
and ≥ 3× the trailing mean), one irrelevant story (must not show as relevant) and one title
with a script tag (ingest cleans it to text; nothing may execute). A third source answers 500, so
feed health has a failing source to list first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from tests.support.httpserver import LocalHTTPServer

HOSTILE_TITLE = "<script>alert('x')</script> Russia and Japan discuss Kuril fishing"

_STORIES = [
    ("kurils", "Russia and Japan resume talks on Kuril Islands peace treaty {n}",
     "Russian Foreign Minister Sergei Lavrov and the Japanese foreign minister met to discuss "
     "a peace treaty and the disputed Kuril Islands, which Japan calls the Northern "
     "Territories. Tokyo protested the deployment of Russian troops on Kunashir and Iturup."),
    ("energy", "Russia and China sign Power of Siberia 2 gas pipeline deal {n}",
     "Gazprom and China National Petroleum Corporation signed a binding agreement on the "
     "Power of Siberia 2 pipeline, which will carry Russian gas to China through Mongolia. "
     "Vladimir Putin and Xi Jinping hailed the energy partnership in Beijing."),
    ("military", "Chinese and Russian navies hold joint drills near Japan {n}",
     "Warships of the Russian Pacific Fleet and the Chinese navy began a joint naval exercise "
     "in the Sea of Japan, the defence ministries of Russia and China said. Russian and "
     "Chinese strategic bombers also flew a joint patrol, prompting Japan to scramble jets."),
]


_KURILS_TODAY = [
    ("Japan protests Russian missile deployment on Iturup",
     "Japan's Foreign Ministry protested to Moscow after Russia deployed Bastion coastal "
     "missile systems on Iturup, one of the disputed Kuril Islands."),
    ("Russia bans Japanese fishing boats near Shikotan for a month",
     "The Russian border service closed waters off Shikotan to Japanese fishing vessels, "
     "a blow to Hokkaido crab fishermen, Tokyo said on Monday."),
    ("Former Kunashir residents ask Moscow to allow grave visits",
     "Japanese former islanders of Kunashir urged Russia to resume visa-free visits to "
     "family graves on the disputed Kurils, halted since 2022."),
    ("Medvedev visits Habomai outpost, Tokyo lodges complaint",
     "Dmitry Medvedev landed on the Habomai islets to inspect a new border post, and Japan "
     "lodged a formal complaint over the visit to the Northern Territories."),
    ("Russian duty-free zone on southern Kurils draws Japanese criticism",
     "Japan criticised Russia's new special economic zone on the southern Kurils, saying "
     "foreign investment there undermines its claim to the Northern Territories."),
    ("Kishida and Putin aides discuss peace treaty talks on Kuril dispute",
     "Aides to the Japanese prime minister and to Vladimir Putin discussed how to restart "
     "peace treaty negotiations stalled over the Kuril Islands, officials in Tokyo said."),
]


def _item(title: str, text: str, link: str, when: datetime) -> str:
    return (f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<guid>{escape(link)}</guid><description>{escape(text)}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>")


def _rss(name: str, items: list[str]) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{name}</title><link>https://example.org/{name}</link>"
            f"<description>test feed</description>{''.join(items)}</channel></rss>")


def serve_feeds(server: LocalHTTPServer, now: datetime | None = None) -> dict[str, str]:
    """Route the feeds on ``server``; returns source id -> URL."""
    now = now or datetime.now(UTC)
    japan, china = [], []
    for day in range(10):
        topic, title, text = _STORIES[day % len(_STORIES)]
        when = now - timedelta(days=day, hours=1)
        link = f"https://news.example.org/{topic}/{day}"
        (japan if topic == "kurils" else china).append(
            _item(title.format(n=f"(day {day})"), text, link, when))
    # Six different Kuril events today: spikes are measured on stories, so reprints of one
    # text would be one story and no spike.
    for n, (title, text) in enumerate(_KURILS_TODAY):
        japan.append(_item(title, text, f"https://news.example.org/kurils/today-{n}",
                           now - timedelta(minutes=10 + n)))
    japan.append(_item(HOSTILE_TITLE, _STORIES[0][2] + " Fishing quotas near the islands.",
                       "https://news.example.org/kurils/hostile", now - timedelta(minutes=5)))
    china.append(_item("Local football club wins the cup",
                       "The home team won the final 2-1 after extra time in a full stadium.",
                       "https://news.example.org/sport/1", now - timedelta(hours=2)))
    urls = {
        "japan-outlet": server.route("/japan.xml", _rss("japan", japan),
                                     headers={"Content-Type": "application/rss+xml",
                                              "ETag": '"j1"'}),
        "china-outlet": server.route("/china.xml", _rss("china", china),
                                     headers={"Content-Type": "application/rss+xml",
                                              "ETag": '"c1"'}),
        "broken-outlet": server.route("/broken.xml", "oops", status=500),
    }
    return urls


#: Relevant articles the feeds carry (10 spread + 6 today + the hostile one).
RELEVANT = 17
#: All distinct articles (the football story included).
TOTAL = 18


def write_sources(path: Path, urls: dict[str, str]) -> Path:
    """A sources file (the ``seeds/sources.toml`` format) listing the served feeds."""
    country = {"japan-outlet": "JP", "china-outlet": "CN", "broken-outlet": "RU"}
    lines = []
    for source_id, url in urls.items():
        lines += ["[[sources]]", f'id = "{source_id}"', f'url = "{url}"',
                  f'outlet = "{source_id.split("-")[0].title()} Daily"', 'language = "en"',
                  f'country = "{country[source_id]}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
