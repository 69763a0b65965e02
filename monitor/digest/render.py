"""Render the digest as HTML and plain text, and compose the MIME message.

Safety rules, all here so a reviewer reads them in one place:

* every piece of article text (titles, outlets, leads, errors) goes through ``html.escape``;
  a title containing ``<script>`` shows as text;
* only ``http``/``https`` URLs with a host become links (``javascript:``, ``data:`` … are
  shown as plain text, never as ``href``);
* header values (subject, recipient) lose CR/LF and other control characters, so nothing
  from a feed can add a header; the subject is built from our own labels and numbers;
* size is bounded: at most ``STORIES_PER_SECTION`` stories per topic, clipped titles and
  leads, and the HTML is re-rendered with fewer stories if it still exceeds ``MAX_HTML_BYTES``.

The chart per topic is a row of HTML table cells with heights (no images, no external
requests, no scripts), which Gmail, Outlook and Apple Mail all draw.
"""

from __future__ import annotations

import html
import re
import textwrap
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from monitor import trends
from monitor.digest.build import STORIES_PER_SECTION
from monitor.digest.health import day_verdict, health_html, health_text

__all__ = ["render_html", "render_text", "render_digest", "make_subject", "safe_url",
           "header_safe", "compose_message", "filter_topics", "MAX_HTML_BYTES"]

#: An HTML body above this is re-rendered with fewer stories per topic.
MAX_HTML_BYTES = 300_000
CHART_HEIGHT = 36
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_BAR = "#3b6ea5"
_BAR_TODAY = "#c0392b"


def header_safe(value: str, limit: int = 200) -> str:
    """A header value with no CR/LF or other control characters, clipped."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def safe_url(url: str | None) -> str | None:
    """The URL if it may be linked: http(s), a host, no spaces or control characters."""
    if not url:
        return None
    url = url.strip()
    if _CONTROL.search(url) or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def filter_topics(data: dict[str, Any], topics: tuple[str, ...] | None) -> dict[str, Any]:
    """The digest for a recipient who asked only for some topics (None: everything)."""
    if not topics:
        return data
    wanted = set(topics)
    sections = [s for s in data["sections"] if s["topic"] in wanted]
    return {**data, "sections": sections, "topics_filter": tuple(topics)}


def make_subject(data: dict[str, Any]) -> str:
    """Date, number of articles and the biggest mover (or spike) in one line."""
    summary = data["summary"]
    n = summary["articles"]
    parts = [f"Russia–Asia digest {data['day'].isoformat()}"]
    if not n:
        # A reader must tell a quiet day from a dead pipeline from the subject alone.
        verdict = day_verdict(data.get("health"))
        parts.append("BLIND: no source answered, no relevant articles" if verdict == "blind"
                     else "quiet day: no relevant articles")
    else:
        parts.append(f"{n} article{'s' if n != 1 else ''}")
        mover = summary["biggest_mover"]
        spiked = {s["topic"] for s in summary["spikes"] if s["dyad"] == trends.ANY}
        if mover and mover["diff"]:
            tag = ", spike" if mover["topic"] in spiked else ""
            parts.append(f"biggest mover: {mover['label']} {_change_text(mover)}{tag}")
        others = [s for s in summary["spikes"] if s["dyad"] == trends.ANY
                  and s["topic"] not in (trends.ANY, mover and mover["topic"])]
        if others:
            parts.append(f"spike: {others[0]['label']} "
                         f"({_plural(others[0]['stories'], 'story', 'stories')})")
    return header_safe(" · ".join(parts))


def _change_text(mover: dict[str, Any]) -> str:
    if mover["change"] is None:
        return f"{mover['count']} (new)"
    return f"{mover['change'] * 100:+.0f}%"


def _summary_sentences(data: dict[str, Any]) -> list[str]:
    s = data["summary"]
    if not s["articles"]:
        if day_verdict(data.get("health")) == "blind":
            return [f"No relevant articles on {data['day'].isoformat()}, because the monitor "
                    "was blind: no source answered (see Pipeline health below)."]
        return [f"No relevant articles on {data['day'].isoformat()}: a quiet day (sources "
                "answered)."]
    dyads = ", ".join(f"{trends.label(d)} {n}" for d, n in s["dyads"].items() if n)
    lines = [f"{_plural(s['articles'], 'relevant article')} in "
             f"{_plural(s['stories'], 'story', 'stories')}" + (f" ({dyads})." if dyads else ".")]
    if s["rising"]:
        lines.append("Rose: " + "; ".join(
            f"{m['label']} {m['count']} vs {m['average']:g}/day" for m in s["rising"]) + ".")
    if s["falling"]:
        lines.append("Fell: " + "; ".join(
            f"{m['label']} {m['count']} vs {m['average']:g}/day" for m in s["falling"]) + ".")
    # Topic spikes say most; relation / overall spikes only when no topic spiked.
    shown = [x for x in s["spikes"] if x["dyad"] == trends.ANY and x["topic"] != trends.ANY]
    if shown or s["spikes"]:
        lines.append("Spikes: " + "; ".join(
            f"{x['label']} {_plural(x['stories'], 'story', 'stories')} in "
            f"{_plural(x['articles'], 'article')} (usual {x['baseline_avg']:g} stories/day)"
            for x in (shown or s["spikes"])[:5]) + ".")
    return lines


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _time(ts: datetime, data: dict[str, Any]) -> str:
    local = ts.replace(tzinfo=UTC).astimezone(ZoneInfo(data["timezone"]))
    return local.strftime("%H:%M")


def _chart_html(section: dict[str, Any]) -> str:
    values = section["chart"]
    if not values:
        return ""
    top = max(values) or 1
    start: date = section["chart_start"]
    cells = []
    for i, v in enumerate(values):
        h = max(1, round(CHART_HEIGHT * v / top)) if v else 1
        color = _BAR_TODAY if i == len(values) - 1 else (_BAR if v else "#dddddd")
        day = start + timedelta(days=i)
        # A nested cell with height and bgcolor attributes: Outlook's Word engine ignores
        # the height of a div but honours those of a table cell.
        cells.append(
            f'<td class="bar" valign="bottom" style="padding:0 1px;vertical-align:bottom" '
            f'title="{_e(day.isoformat())}: {v}">'
            f'<table cellpadding="0" cellspacing="0" border="0"><tr>'
            f'<td class="fill" width="6" height="{h}" bgcolor="{color}" style="width:6px;'
            f'height:{h}px;background:{color};font-size:0;line-height:0">&nbsp;</td>'
            f'</tr></table></td>')
    caption = (f"last {len(values)} days: {sum(values)} articles, most on one day {max(values)}")
    return (
        f'<table class="chart" role="img" aria-label="{_e(caption)}" cellpadding="0" '
        f'cellspacing="0" border="0" style="border-collapse:collapse;height:{CHART_HEIGHT}px;'
        f'margin:4px 0"><tr>{"".join(cells)}</tr></table>'
        f'<div class="chart-caption" style="color:#777;font-size:11px">{_e(caption)}</div>')


def _story_html(story: dict[str, Any], data: dict[str, Any]) -> str:
    url = safe_url(story["url"])
    title = _e(story["title"])
    head = (f'<a class="story-link" href="{_e(url)}" style="color:#1a4d80;font-weight:bold">'
            f'{title}</a>' if url else f'<span class="story-title" style="font-weight:bold">'
            f'{title}</span>')
    meta = _e(_first_text(story, data))
    badges = " ".join(
        f'<span class="dyad" style="background:#eef;color:#335;font-size:11px;padding:0 4px;'
        f'border-radius:3px">{_e(trends.label(d))}</span>' for d in story["dyads"])
    also = (f'<div class="also-in" style="color:#555;font-size:12px">also in: '
            f'{_e(", ".join(story["also_in"]))}</div>' if story["also_in"] else "")
    lead = (f'<div class="lead" style="font-size:13px;color:#222">{_e(story["lead"])}</div>'
            if story["lead"] else "")
    why = (f'<div class="evidence" style="font-size:12px;color:#444;font-style:italic">'
           f'Why: {_e(story["evidence"])}</div>' if story.get("evidence") else "")
    carried = _carried_text(story)
    carried = (f'<div class="carried" style="color:#555;font-size:12px">{_e(carried)}</div>'
               if carried else "")
    return (f'<div class="story" style="margin:8px 0 12px 0">{head}'
            f'<div class="meta" style="color:#666;font-size:12px">{meta} {badges}</div>'
            f'{lead}{why}{also}{carried}</div>')


def _first_text(story: dict[str, Any], data: dict[str, Any]) -> str:
    """Who reported first and when: "TASS (RU) · 08:00", "first of 3" when others followed."""
    outlet = story.get("first_outlet") or story["outlet"]
    if story.get("first_country"):
        outlet = f"{outlet} ({story['first_country']})"
    text = f"{outlet} · {_time(story['published_at'], data)}"
    n = len(story["also_in"]) + 1
    return f"first of {n} outlets: {text}" if story["also_in"] else text


def _carried_text(story: dict[str, Any]) -> str:
    """Countries and languages of the outlets that carried the story ("" for one article
    with neither known)."""
    parts = []
    if story.get("countries"):
        parts.append("countries: " + ", ".join(story["countries"]))
    if story.get("languages"):
        parts.append("languages: " + ", ".join(story["languages"]))
    if story.get("articles", 1) > 1:
        parts.insert(0, _plural(story["articles"], "article"))
    return " · ".join(parts)


def _plural(n: int, word: str, many: str | None = None) -> str:
    """"1 story", "5 stories", "1 article", "2 articles"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def render_html(data: dict[str, Any], per_section: int = STORIES_PER_SECTION) -> str:
    """The HTML body: inline styles only, no scripts, no images, no external references."""
    day = data["day"].isoformat()
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Russia–Asia digest {_e(day)}</title></head>",
        '<body style="margin:0;padding:0;background:#f4f4f4">',
        '<div id="digest" style="max-width:680px;margin:0 auto;background:#ffffff;'
        'padding:16px 20px;font-family:Arial,Helvetica,sans-serif;color:#222">',
        f'<h1 id="digest-title" style="font-size:20px;margin:0 0 8px 0">'
        f"Russia–Asia digest · {_e(day)}</h1>",
    ]
    out += [f'<p class="summary" style="margin:4px 0;font-size:14px">{_e(line)}</p>'
            for line in _summary_sentences(data)]
    if data.get("topics_filter"):
        names = ", ".join(trends.label(t) for t in data["topics_filter"])
        out.append(f'<p class="filter" style="color:#777;font-size:12px">Your topics: '
                   f"{_e(names)}</p>")
    if not data["sections"]:
        out.append('<p class="empty" style="color:#555">Nothing to report for this day: no '
                   "relevant articles were published or first seen"
                   + (" (the monitor was blind)" if day_verdict(data.get("health")) == "blind"
                      else "") + ".</p>")
    for section in data["sections"]:
        shown = section["stories"][:per_section]
        more = len(section["stories"]) - len(shown)
        out.append(f'<div class="topic" data-topic="{_e(section["topic"])}" '
                   'style="border-top:1px solid #ddd;margin-top:14px;padding-top:8px">')
        out.append(f'<h2 style="font-size:16px;margin:0">{_e(section["label"])} '
                   f'<span class="count" style="color:#777;font-weight:normal">'
                   f'({_e(_count_text(section))})</span></h2>')
        out.append(_chart_html(section))
        out += [_story_html(story, data) for story in shown]
        if more > 0:
            out.append(f'<div class="more" style="color:#777;font-size:12px">and {more} more '
                       f"stor{'y' if more == 1 else 'ies'}</div>")
        elif not shown:
            out.append('<div class="more" style="color:#777;font-size:12px">its stories are '
                       "listed under another topic above</div>")
        out.append("</div>")
    out.append(health_html(data.get("health"), data["day"]))
    out.append('<p class="footer" style="color:#999;font-size:11px;margin-top:16px">Days in '
               f"{_e(data['timezone'])}. Russia–Asia news monitor.</p>")
    out.append("</div></body></html>")
    return "\n".join(out)


def render_text(data: dict[str, Any], per_section: int = STORIES_PER_SECTION) -> str:
    """The plain-text alternative: the same content, links as bare http(s) URLs."""
    day = data["day"].isoformat()
    lines = [f"Russia–Asia digest · {day}", ""]
    lines += _summary_sentences(data)
    if not data["sections"]:
        lines += ["", "Nothing to report for this day."]
    for section in data["sections"]:
        lines += ["", f"== {section['label']} ({_count_text(section)}) =="]
        if section["chart"]:
            lines.append(f"last {len(section['chart'])} days: "
                         + _sparkline(section["chart"]))
        for story in section["stories"][:per_section]:
            lines.append("")
            lines += textwrap.wrap(f"* {story['title']}", 78, subsequent_indent="  ")
            dyads = ", ".join(trends.label(d) for d in story["dyads"])
            lines.append(f"  {_first_text(story, data)}" + (f" · {dyads}" if dyads else ""))
            if story["lead"]:
                lines += textwrap.wrap(story["lead"], 78, initial_indent="  ",
                                       subsequent_indent="  ")
            if story.get("evidence"):
                lines += textwrap.wrap(f"Why: {story['evidence']}", 78, initial_indent="  ",
                                       subsequent_indent="  ")
            if story["also_in"]:
                lines.append("  also in: " + ", ".join(story["also_in"]))
            if _carried_text(story):
                lines.append(f"  {_carried_text(story)}")
            url = safe_url(story["url"])
            if url:
                lines.append(f"  {url}")
        more = len(section["stories"]) - per_section
        if more > 0:
            lines.append(f"  … and {more} more")
    lines += health_text(data.get("health"), data["day"])
    lines += ["", f"Days in {data['timezone']}."]
    return "\n".join(_CONTROL.sub(" ", line) for line in lines) + "\n"


def _count_text(section: dict[str, Any]) -> str:
    """'9' or '9: Russia–China 7, Russia–Japan 3' (an article may be about both)."""
    dyads = section.get("dyads") or {}
    if not dyads:
        return str(section["count"])
    return f"{section['count']}: " + ", ".join(f"{trends.label(d)} {n}"
                                             for d, n in dyads.items())


def _sparkline(values: list[int]) -> str:
    blocks = "▁▂▃▄▅▆▇█"
    top = max(values) or 1
    return "".join(blocks[min(7, int(v * 7 / top + 0.5))] if v else " " for v in values)


def render_digest(data: dict[str, Any], settings: Any = None,
                  topics: tuple[str, ...] | None = None) -> tuple[str, str, str]:
    """Subject, HTML and text for one recipient, within the size bound."""
    view = filter_topics(data, topics)
    per_section = STORIES_PER_SECTION
    body = render_html(view, per_section)
    while len(body.encode()) > MAX_HTML_BYTES and per_section > 1:
        per_section -= 1
        body = render_html(view, per_section)
    return make_subject(data), body, render_text(view, per_section)


def compose_message(*, subject: str, html_body: str, text_body: str, mail_from: str,
                    to: str, day: date) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred) with safe headers."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = header_safe(subject)
    msg["From"] = header_safe(mail_from)
    msg["To"] = header_safe(to)
    msg["Date"] = format_datetime(datetime.now().astimezone())
    domain = parseaddr(header_safe(mail_from))[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(idstring=f"digest-{day.isoformat()}", domain=domain)
    msg["X-Monitor-Digest-Date"] = day.isoformat()
    msg.set_content(text_body, subtype="plain", charset="utf-8")
    msg.add_alternative(html_body, subtype="html", charset="utf-8")
    return msg
