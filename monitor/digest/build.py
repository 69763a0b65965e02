"""Build the digest's data for one day: plain dicts and lists, nothing rendered yet.

Why a separate stage: the same data is rendered as HTML and as text, filtered per recipient,
and measured by the benchmark; keeping it plain makes each of those a small function.

The day is a calendar day in ``settings.timezone`` (readers think in their own "yesterday"),
so counts come from ``trend_articles`` bucketed by local date rather than from the UTC-day
views. One story carried by several outlets is one entry: articles are grouped by their
story key (cluster id, else article id) and by identical normalised titles.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from monitor import trends
from monitor.digest.health import build_health
from monitor.settings import Settings

__all__ = ["build_digest", "default_day", "normalise_title", "make_lead", "local_day_bounds",
           "STORIES_PER_SECTION", "CHART_DAYS"]

log = logging.getLogger(__name__)

#: Top stories shown per topic section; the rest are counted ("and 7 more").
STORIES_PER_SECTION = 5
#: Days in each topic's chart, ending on the digest day.
CHART_DAYS = 30
#: Days the rise/fall of a topic is measured against (their daily average).
COMPARE_DAYS = 7
#: At most this many articles of one day are grouped into stories (the busiest ones first
#: would need scores we do not have; newest first keeps the cost bounded on a flood day).
MAX_DAY_ARTICLES = 5000
#: How far before the day an article may have been first seen for its live cluster id to be
#: read (articles are first seen after they are published, so a few days is plenty).
CLUSTER_LOOKBACK = timedelta(days=3)
TITLE_CHARS = 300
LEAD_CHARS = 280
OUTLET_CHARS = 80

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def default_day(settings: Settings, now: datetime | None = None) -> date:
    """Yesterday in the configured timezone: the day a morning digest is about."""
    now = now or datetime.now(UTC)
    return (now.astimezone(ZoneInfo(settings.timezone)) - timedelta(days=1)).date()


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants (naive, like the warehouse) where local ``day`` starts and ends."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return (start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None))


def normalise_title(title: str | None) -> str:
    """Titles that differ only in case, punctuation, spacing or width are the same story."""
    text = unicodedata.normalize("NFKC", title or "").casefold()
    return _NON_WORD.sub(" ", text).strip()


def make_lead(text: str | None, title: str | None = None, limit: int = LEAD_CHARS) -> str:
    """One or two sentences of the summary, never more than ``limit`` characters."""
    text = " ".join((text or "").split())
    if title and normalise_title(text).startswith(normalise_title(title)) and title.strip():
        text = text[len(title.strip()):].lstrip(" .:-–—")
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    lead = ""
    for sentence in sentences[:2]:
        candidate = f"{lead} {sentence}".strip() if lead else sentence.strip()
        if len(candidate) > limit:
            break
        lead = candidate
    if not lead and text:
        lead = text[: limit - 1].rstrip() + "…" if len(text) > limit else text
    return lead


def _clip(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _day_articles(con: duckdb.DuckDBPyConnection, day: date, tz: str) -> list[dict[str, Any]]:
    start, end = local_day_bounds(day, tz)
    # The story key is read live from articles.cluster_id (clustering may join an article to
    # a story after its trend row was derived); the first_seen_at bound keeps that read to
    # recent row groups. Older first-seen articles keep the key from their trend row.
    result = con.execute(
        "SELECT t.article_id, t.ts, t.outlet, t.title, t.url, t.lead, t.dyads, t.topics,"
        "       coalesce(a.cluster_id, t.story_key) AS story_key"
        " FROM trend_articles t"
        " LEFT JOIN (SELECT article_id, cluster_id FROM articles WHERE first_seen_at >= ?) a"
        "   ON a.article_id = t.article_id"
        " WHERE t.relevant AND t.day BETWEEN ? AND ? AND t.ts >= ? AND t.ts < ?"
        " ORDER BY t.ts DESC LIMIT ?",
        [start - CLUSTER_LOOKBACK, start.date(), end.date(), start, end, MAX_DAY_ARTICLES],
    )
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, r, strict=True)) for r in result.fetchall()]


def group_stories(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per story: same story key, or the same normalised title (union-find)."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of: dict[tuple[str, str], int] = {}
    for i, art in enumerate(articles):
        find(i)
        keys = [("k", art["story_key"])]
        norm = normalise_title(art["title"])
        if norm:
            keys.append(("t", norm))
        for key in keys:
            if key in first_of:
                parent[find(i)] = find(first_of[key])
            else:
                first_of[key] = i
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i, art in enumerate(articles):
        groups[find(i)].append(art)

    stories = []
    for members in groups.values():
        members.sort(key=lambda a: (a["ts"], a["article_id"]))
        lead = members[0]
        outlets: list[str] = []
        for art in members:
            outlet = _clip(art["outlet"], OUTLET_CHARS)
            if outlet and outlet not in outlets:
                outlets.append(outlet)
        topics: list[str] = []
        dyads: list[str] = []
        for art in members:
            topics += [t for t in art["topics"] if t not in topics]
            dyads += [d for d in art["dyads"] if d not in dyads]
        stories.append({
            "story_key": lead["story_key"],
            "article_id": lead["article_id"],
            "title": _clip(lead["title"], TITLE_CHARS) or "(untitled)",
            "url": lead["url"],
            "outlet": outlets[0] if outlets else "",
            "also_in": outlets[1:],
            "published_at": lead["ts"],
            "lead": make_lead(lead["lead"], lead["title"]),
            "topics": topics,
            "dyads": dyads,
            "articles": len(members),
        })
    stories.sort(key=lambda s: (-len(s["also_in"]), -s["articles"], s["published_at"],
                                s["article_id"]))
    return stories


def build_digest(con: duckdb.DuckDBPyConnection, day: date, settings: Settings, *,
                 now: datetime | None = None) -> dict[str, Any]:
    """Everything the digest for ``day`` shows, for every topic (filter per recipient later)."""
    tz = settings.timezone
    chart_start = day - timedelta(days=CHART_DAYS - 1)
    base_start = day - timedelta(days=trends.BASELINE_DAYS)
    first = min(chart_start, base_start)
    counts: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for lday, dyad, topic, n in trends.local_day_counts(con, first, day, tz):
        counts[(dyad, topic)][lday] = n

    def series(key: tuple[str, str], start: date, days: int) -> list[int]:
        got = counts.get(key, {})
        return [got.get(start + timedelta(days=i), 0) for i in range(days)]

    total = series((trends.ANY, trends.ANY), day, 1)[0]
    topic_keys = list(dict.fromkeys(
        [*trends.TOPICS, *sorted(t for (d, t) in counts if d == trends.ANY and t != trends.ANY)]))

    movers = []
    for topic in topic_keys:
        n = series((trends.ANY, topic), day, 1)[0]
        prev = series((trends.ANY, topic), day - timedelta(days=COMPARE_DAYS), COMPARE_DAYS)
        avg = sum(prev) / COMPARE_DAYS
        diff = n - avg
        if n or avg:
            movers.append({"topic": topic, "label": trends.label(topic), "count": n,
                           "average": round(avg, 1), "diff": round(diff, 1),
                           "change": None if avg == 0 else round(diff / avg, 2)})
    threshold = 2.0
    rising = sorted((m for m in movers if m["diff"] >= max(threshold, 0.5 * m["average"])),
                    key=lambda m: -m["diff"])[:3]
    falling = sorted((m for m in movers if -m["diff"] >= max(threshold, 0.5 * m["average"])),
                     key=lambda m: m["diff"])[:3]

    found_spikes = []
    for (dyad, topic), _ in sorted(counts.items()):
        base = series((dyad, topic), base_start, trends.BASELINE_DAYS)
        n = series((dyad, topic), day, 1)[0]
        avg = sum(base) / len(base)
        if trends.is_spike(n, avg):
            found_spikes.append({"dyad": dyad, "topic": topic, "articles": n,
                                 "label": _series_label(dyad, topic),
                                 "baseline_avg": round(avg, 1),
                                 "ratio": round(trends.spike_ratio(n, avg), 1)})
    # Named topics first (most telling), then relations and the overall total.
    found_spikes.sort(key=lambda s: (s["topic"] == trends.ANY, s["dyad"] != trends.ANY,
                                     -s["ratio"]))

    stories = group_stories(_day_articles(con, day, tz))
    order = sorted(topic_keys, key=lambda t: (-series((trends.ANY, t), day, 1)[0],
                                              topic_keys.index(t)))
    placed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for story in stories:
        home = next((t for t in order if t in story["topics"]), "")
        placed[home].append(story)
    sections = []
    for topic in [*order, ""]:
        members = placed.get(topic, [])
        if not members and not (topic and series((trends.ANY, topic), day, 1)[0]):
            continue
        sections.append({
            "topic": topic,
            "label": trends.label(topic) if topic else "Other relations news",
            "count": series((trends.ANY, topic), day, 1)[0] if topic else len(members),
            "dyads": {d: series((d, topic), day, 1)[0] for d in trends.DYADS
                      if topic and series((d, topic), day, 1)[0]},
            "stories": members,
            "chart": series((trends.ANY, topic), chart_start, CHART_DAYS) if topic else [],
            "chart_start": chart_start,
        })

    data = {
        "day": day,
        "timezone": tz,
        "summary": {
            "articles": total,
            "dyads": {d: series((d, trends.ANY), day, 1)[0] for d in trends.DYADS},
            "stories": len(stories),
            "rising": rising,
            "falling": falling,
            "spikes": found_spikes,
            "biggest_mover": max(movers, key=lambda m: abs(m["diff"]), default=None),
        },
        "sections": sections,
        "stories": stories,
        # Could the monitor see on this day? (monitor.digest.health)
        "health": build_health(con, *local_day_bounds(day, tz)),
    }
    log.info("digest built day=%s articles=%s stories=%s sections=%s", day, total,
             len(stories), len(sections))
    return data


def _series_label(dyad: str, topic: str) -> str:
    if dyad == trends.ANY:
        return trends.label(topic)
    if topic == trends.ANY:
        return trends.label(dyad)
    return f"{trends.label(topic)} ({trends.label(dyad)})"
