"""Build the digest's data for one day: plain dicts and lists, nothing rendered yet.

Why a separate stage: the same data is rendered as HTML and as text, filtered per recipient,
and measured by the benchmark; keeping it plain makes each of those a small function.

The day is a calendar day in ``settings.timezone`` (readers think in their own "yesterday"),
so counts come from ``trend_articles`` bucketed by local date rather than from the UTC-day
views. One story carried by several outlets is one entry: articles are grouped by their
story key (cluster id, else article id) and by identical normalised titles.

Each story shows (see :func:`group_stories`):

* its **best headline**: the title most of its members carry (reprints of a wire text repeat
  it), ties going to an English title and then to the earliest. A reader of an English
  digest gets the headline most outlets used, in English when any member has one;
* **why it counted**: one evidence sentence of the classifier (``classifications.evidence``)
  of the headline's article, else of the earliest member that has one;
* the outlets and their countries, who reported first and when, and the languages.
"""

from __future__ import annotations

import json
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
           "cut_words", "evidence_sentence", "group_stories", "STORIES_PER_SECTION",
           "CHART_DAYS"]

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


def cut_words(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut at a word boundary with "…" when cut
    ("38 billion cubic me" is never shown). A text with no space in reach (Chinese,
    Japanese) is cut at the character."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-–—") + "…"


def make_lead(text: str | None, title: str | None = None, limit: int = LEAD_CHARS, *,
              cut: bool = False) -> str:
    """One or two sentences of the summary, never more than ``limit`` characters.

    ``cut``: the text was cut at its end (``trend_articles.lead`` keeps the first
    ``trends.LEAD_CHARS`` characters of the summary), so its last word may be a stump: it is
    dropped and the text ends with "…" ("… 38 billion cubic me" never shows).
    """
    text = " ".join((text or "").split())
    if cut and " " in text:
        text = text[: text.rfind(" ")].rstrip(" ,;:-–—") + "…"
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
        lead = cut_words(text, limit)
    return lead


def _clip(text: str | None, limit: int) -> str:
    return cut_words(" ".join((text or "").split()), limit)


def _day_articles(con: duckdb.DuckDBPyConnection, day: date, tz: str) -> list[dict[str, Any]]:
    start, end = local_day_bounds(day, tz)
    # The story key is read live from articles.cluster_id (clustering may join an article to
    # a story after its trend row was derived); the first_seen_at bound keeps that read to
    # recent row groups. Older first-seen articles keep the key from their trend row.
    result = con.execute(
        "SELECT t.article_id, t.ts, t.outlet, t.country, t.title, t.url, t.lead, t.dyads,"
        "       t.topics,"
        "       coalesce(a.cluster_id, t.story_key) AS story_key"
        " FROM trend_articles t"
        " LEFT JOIN (SELECT article_id, cluster_id FROM articles WHERE first_seen_at >= ?) a"
        "   ON a.article_id = t.article_id"
        " WHERE t.relevant AND t.day BETWEEN ? AND ? AND t.ts >= ? AND t.ts < ?"
        " ORDER BY t.ts DESC LIMIT ?",
        [start - CLUSTER_LOOKBACK, start.date(), end.date(), start, end, MAX_DAY_ARTICLES],
    )
    columns = [d[0] for d in result.description]
    articles = [dict(zip(columns, r, strict=True)) for r in result.fetchall()]
    _add_details(con, articles)
    return articles


def _add_details(con: duckdb.DuckDBPyConnection, articles: list[dict[str, Any]]) -> None:
    """Each article's language and the evidence of its current classification (read for the
    day's relevant articles only: at most MAX_DAY_ARTICLES ids)."""
    if not articles:
        return
    rows = con.execute(
        "SELECT a.article_id, a.language, c.evidence"
        " FROM articles a LEFT JOIN ("
        "   SELECT article_id, evidence FROM classifications"
        "   WHERE article_id IN (SELECT unnest(?::VARCHAR[]))"
        "   QUALIFY row_number() OVER (PARTITION BY article_id"
        "                              ORDER BY classified_at DESC, model_version DESC) = 1"
        " ) c USING (article_id)"
        " WHERE a.article_id IN (SELECT unnest(?::VARCHAR[]))",
        [[a["article_id"] for a in articles]] * 2,
    ).fetchall()
    found = {r[0]: (r[1], r[2]) for r in rows}
    for art in articles:
        art["language"], art["evidence"] = found.get(art["article_id"], (None, None))


#: Evidence sentences are clipped to this many characters.
EVIDENCE_CHARS = 240
_CITED_TERMS = re.compile(r"^\[[^\]]*\]\s*")


def evidence_sentence(evidence: Any, labels: list[str], title: str | None) -> str:
    """The first evidence sentence for ``labels`` (dyads first) that is not the headline
    itself, without its "[matched, terms]" prefix; "" when there is none."""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return ""
    if not isinstance(evidence, dict):
        return ""
    keys = [k for k in labels if k in evidence] + [k for k in evidence if k not in labels]
    fallback = ""
    for key in keys:
        for cited in evidence.get(key) or []:
            if not isinstance(cited, str):
                continue
            sentence = _CITED_TERMS.sub("", cited).strip()
            if not sentence:
                continue
            if title and normalise_title(sentence) == normalise_title(title):
                fallback = fallback or sentence
                continue
            return cut_words(sentence, EVIDENCE_CHARS)
    return cut_words(fallback, EVIDENCE_CHARS)


def _best_headline(members: list[dict[str, Any]]) -> dict[str, Any]:
    """The member whose title most members carry; ties: English first, then the earliest
    (``members`` are in time order)."""
    counts: dict[str, int] = defaultdict(int)
    for art in members:
        counts[normalise_title(art["title"])] += 1
    return min(members, key=lambda a: (-counts[normalise_title(a["title"])] if a["title"] else 0,
                                       (a.get("language") or "en") != "en"))


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
        first = members[0]
        best = _best_headline(members)
        outlets: list[str] = []
        countries: list[str] = []
        languages: list[str] = []
        for art in members:
            outlet = _clip(art["outlet"], OUTLET_CHARS)
            if outlet and outlet not in outlets:
                outlets.append(outlet)
            if art.get("country") and art["country"] not in countries:
                countries.append(art["country"])
            if art.get("language") and art["language"] not in languages:
                languages.append(art["language"])
        topics: list[str] = []
        dyads: list[str] = []
        for art in members:
            topics += [t for t in art["topics"] if t not in topics]
            dyads += [d for d in art["dyads"] if d not in dyads]
        why = ""
        for art in [best, *(m for m in members if m is not best)]:
            why = evidence_sentence(art.get("evidence"), [*dyads, *topics], art["title"])
            if why:
                break
        stories.append({
            "story_key": first["story_key"],
            "article_id": best["article_id"],
            "title": _clip(best["title"], TITLE_CHARS) or "(untitled)",
            "url": best["url"],
            # Who reported first and when; the other outlets in the order they followed.
            "outlet": outlets[0] if outlets else "",
            "also_in": outlets[1:],
            "published_at": first["ts"],
            "first_outlet": _clip(first["outlet"], OUTLET_CHARS),
            "first_country": first.get("country") or "",
            "lead": make_lead(best["lead"], best["title"],
                              cut=len(best["lead"] or "") >= trends.LEAD_CHARS),
            "evidence": why,
            "countries": sorted(countries),
            "languages": sorted(languages),
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
    # Spikes are measured on stories: one event reprinted 40 times is one story.
    story_counts: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for lday, dyad, topic, n in trends.local_day_counts(con, base_start, day, tz, stories=True):
        story_counts[(dyad, topic)][lday] = n

    def series(key: tuple[str, str], start: date, days: int,
               source: dict[tuple[str, str], dict[date, int]] = counts) -> list[int]:
        got = source.get(key, {})
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
    for (dyad, topic), _ in sorted(story_counts.items()):
        base = series((dyad, topic), base_start, trends.BASELINE_DAYS, story_counts)
        n = series((dyad, topic), day, 1, story_counts)[0]
        avg = sum(base) / len(base)
        if trends.is_spike(n, avg):
            found_spikes.append({"dyad": dyad, "topic": topic, "stories": n,
                                 "articles": series((dyad, topic), day, 1)[0],
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
            # Articles: with the topic (an article may have two), or (other relations
            # news) in the stories listed; every story is listed in exactly one section.
            "count": (series((trends.ANY, topic), day, 1)[0] if topic
                      else sum(m["articles"] for m in members)),
            "story_count": len(members),
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
