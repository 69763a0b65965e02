"""The Trends page: data from the warehouse's read snapshot, rendered as one HTML document.

Reads only the published snapshot (``warehouse.reader``), never the writer's file, so the
page can neither block nor break ingestion; the snapshot is replaced by an atomic rename, so a
reader sees either the old or the new file. When the file is briefly unavailable the caller
gets :class:`Busy` and answers "updating, retry" (HTTP 503 with ``Retry-After``).

Every piece of text from the warehouse (titles, outlets, errors) goes through
``html.escape``; links are emitted only for http(s) URLs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from monitor.settings import Settings
from monitor.ui.charts import Series, bucket_series, daily_chart, rolling_mean

__all__ = ["Busy", "BadRequest", "TrendsData", "load", "parse_query", "render", "render_busy",
           "render_error", "WINDOWS", "MAX_DAYS"]

log = logging.getLogger(__name__)

#: Windows (days) offered as links on the page; ``?days=`` takes any value 1..MAX_DAYS.
WINDOWS = (14, 30, 90, 365)
#: The longest window (ten years); longer ones gain nothing and cost a slower page.
MAX_DAYS = 3650
#: Bars in one chart at most; longer windows are summed into weeks, 30-day blocks ….
MAX_BARS = 130
#: Spike rule's trailing baseline and the 7-day line need this many days before the window.
_LOOKBACK = 28
#: How long a page request waits for a locked snapshot before answering 503.
READ_TIMEOUT = 2.0
ARTICLES_PER_TOPIC = 5


class BadRequest(ValueError):
    """A query parameter the page cannot use; the message says which and what is allowed."""


def parse_query(days: str | None, dyad: str | None) -> tuple[int, str | None]:
    """``?days=`` and ``?dyad=`` checked: an unknown value is an error, never ignored."""
    from monitor import trends

    try:
        n = 30 if days in (None, "") else int(days)
    except ValueError:
        raise BadRequest(f"days={days[:20]!r} is not a number of days; use 1 to "
                         f"{MAX_DAYS}.") from None
    if not 1 <= n <= MAX_DAYS:
        raise BadRequest(f"days={n} is out of range; use 1 to {MAX_DAYS}.")
    if dyad in (None, ""):
        return n, None
    if dyad not in trends.DYADS:
        raise BadRequest(f"dyad={dyad[:40]!r} is not a relation; use one of "
                         f"{', '.join(trends.DYADS)} (or leave it out for all).")
    return n, dyad


class Busy(Exception):
    """The snapshot is being replaced or does not exist yet; retry in a few seconds."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class TrendsData:
    days: int
    dyad: str | None
    end: date
    snapshot_at: datetime | None
    dyads: dict[str, str]
    topics: dict[str, str]
    #: (dyad key or "*") -> topic key or "*" -> Series
    series: dict[str, dict[str, Series]] = field(default_factory=dict)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    spikes: list[dict[str, Any]] = field(default_factory=list)
    articles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    health: list[dict[str, Any]] = field(default_factory=list)
    articles_total: int = 0
    #: Stories beside articles: (dyad key or "*" or "relations") -> key -> stories in window
    #: (the sum of daily story counts; spikes are measured on them).
    story_totals: dict[str, dict[str, int]] = field(default_factory=dict)
    stories_total: int = 0
    #: Relevant articles without a topic ("other relations news"): counts and the latest.
    topicless: dict[str, int] = field(default_factory=dict)
    other_articles: list[dict[str, Any]] = field(default_factory=list)
    #: The latest ingest run and its health (monitor.ingest.health.latest_run), or None.
    run: dict[str, Any] | None = None


def _build_series(counts: list[int], end: date, days: int,
                  stories: list[int] | None = None) -> Series:
    """Cut the last ``days`` of a longer series; spikes and the 7-day mean use the lookback.
    Spikes are measured on ``stories`` (the daily story counts) when given."""
    from monitor import trends

    start = end - timedelta(days=days - 1)
    offset = len(counts) - days
    window = counts[offset:]
    means = rolling_mean(counts)[offset:]
    measured = stories if stories is not None else counts
    flags = []
    for i in range(offset, len(measured)):
        base = measured[max(0, i - trends.BASELINE_DAYS):i]
        avg = sum(base) / len(base) if base else 0.0
        flags.append(trends.is_spike(measured[i], avg))
    return Series(days=[start + timedelta(days=i) for i in range(days)], counts=window,
                  rolling=means, spikes=flags,
                  stories=list(stories[offset:]) if stories is not None else ())


def load(settings: Settings, days: int = 30, dyad: str | None = None) -> TrendsData:
    """Everything the page shows, read in one short read-only session of the snapshot."""
    import duckdb

    from monitor import trends, warehouse
    from monitor.errors import WarehouseBusy

    days, dyad = parse_query(str(days), dyad)
    path = settings.snapshot_path
    if not path.exists():
        raise Busy("The warehouse has not been published yet (first start or first ingest "
                   "under way).", retry_after=15)
    snapshot_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    quick = settings.with_(reader_lock_timeout=READ_TIMEOUT)
    started = time.monotonic()
    try:
        with warehouse.reader(quick) as con:
            end = trends.latest_day(con)
            data = TrendsData(days=days, dyad=dyad, end=end, snapshot_at=snapshot_at,
                              dyads=dict(trends.DYADS), topics=dict(trends.TOPICS))
            span = days + _LOOKBACK
            for key in [trends.ANY, *trends.DYADS]:
                rows = trends.topic_series(con, span, dyad=None if key == trends.ANY else key,
                                           end=end)
                per_topic: dict[str, Series] = {}
                totals: dict[str, int] = {}
                story_totals: dict[str, int] = {}
                for row in rows:
                    per_topic[row["topic"]] = _build_series(row["counts"], end, days,
                                                            row["stories"])
                    totals[row["topic"]] = sum(row["counts"][-days:])
                    story_totals[row["topic"]] = sum(row["stories"][-days:])
                data.series[key] = per_topic
                data.totals[key] = totals
                data.story_totals[key] = story_totals
            for row in trends.dyad_series(con, span, end=end):
                data.series.setdefault("relations", {})[row["dyad"]] = _build_series(
                    row["counts"], end, days, row["stories"])
                data.totals.setdefault("relations", {})[row["dyad"]] = sum(row["counts"][-days:])
                data.story_totals.setdefault("relations", {})[row["dyad"]] = sum(
                    row["stories"][-days:])
            data.articles_total = data.totals.get("relations", {}).get(dyad or trends.ANY, 0)
            data.stories_total = data.story_totals.get("relations", {}).get(
                dyad or trends.ANY, 0)
            data.topicless = trends.topicless(con, days, dyad=dyad, end=end)
            data.other_articles = trends.latest_articles(
                con, dyad=dyad, limit=ARTICLES_PER_TOPIC, days=days, end=end,
                without_topic=True)
            for topic in data.topics:
                data.articles[topic] = trends.latest_articles(
                    con, topic=topic, dyad=dyad, limit=ARTICLES_PER_TOPIC, days=days, end=end)
            data.health = trends.feed_health(con)
            data.run = _latest_run(con)
    except WarehouseBusy as exc:
        raise Busy(str(exc)) from exc
    except duckdb.IOException as exc:
        if warehouse.is_lock_error(exc):
            raise Busy(str(exc)) from exc
        raise
    except duckdb.CatalogException as exc:
        # The snapshot predates a migration (first start): the next write publishes it.
        raise Busy(f"The warehouse is being set up ({exc}).", retry_after=15) from exc
    for key, per_topic in data.series.items():
        for topic, series in per_topic.items():
            stories = series.stories or series.counts
            for day, count, n_stories, spike in zip(series.days, series.counts, stories,
                                                    series.spikes, strict=True):
                if not spike:
                    continue
                # "relations" charts are per dyad over all topics.
                dyad_key, topic_key = (topic, "*") if key == "relations" else (key, topic)
                data.spikes.append({"day": day, "dyad": dyad_key, "topic": topic_key,
                                    "articles": count, "stories": n_stories})
    data.spikes.sort(key=lambda s: (s["day"], s["stories"], s["articles"]), reverse=True)
    log.info("trends page loaded days=%d dyad=%s ms=%d", days, dyad,
             (time.monotonic() - started) * 1000)
    return data


# --- rendering ------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 24px;
color:#1b1b1b;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}h3{font-size:13px;margin:0 0 2px;font-weight:600}
.meta{color:#555;font-size:12px}.nav a{margin-right:10px}.nav a.on{font-weight:700;
text-decoration:none;color:#1b1b1b}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.cell{border:1px solid #e4e4e4;border-radius:6px;padding:6px 8px;background:#fcfcfc}
.cell .n{color:#555;font-weight:400}.axis{font-size:9px;fill:#777}
table{border-collapse:collapse;width:100%}td,th{padding:3px 6px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top;font-size:13px}th{background:#f6f6f6}
.status{font-weight:600;border-radius:3px;padding:0 4px}.status-ok{color:#1a7f37}
.status-failing,.status-failing_24h{color:#fff;background:#cf222e}
.status-disabled{color:#fff;background:#6e7781}.status-never_fetched{color:#9a6700}
.legend span{margin-right:12px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;
vertical-align:middle}.spikes li{margin:2px 0}.err{color:#666;font-size:12px;max-width:420px;
overflow-wrap:anywhere}.topic-articles{columns:2 420px}.topic-articles section{break-inside:avoid;
margin-bottom:12px}ul.arts{margin:4px 0;padding-left:18px}ul.arts li{margin:2px 0}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _link(url: Any, text: Any) -> str:
    """A link for http(s) URLs only; anything else (javascript:, data:) is shown as text."""
    url_s = "" if url is None else str(url)
    try:
        scheme = urlsplit(url_s).scheme.lower()
    except ValueError:  # a stored link urllib cannot split ("https://[oops/x"): text only
        scheme = ""
    if scheme in ("http", "https"):
        return f'<a href="{_e(url_s)}" rel="noopener noreferrer" target="_blank">{_e(text)}</a>'
    return _e(text)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return _e(value)


def _href(days: int, dyad: str | None) -> str:
    query = {"days": days}
    if dyad:
        query["dyad"] = dyad
    return "?" + urlencode(query)


def _nav(data: TrendsData) -> str:
    windows = " ".join(
        f'<a class="{"on" if d == data.days else ""}" href="{_e(_href(d, data.dyad))}">'
        f"{d} days</a>" for d in WINDOWS)
    dyads = [(None, "All relations"), *data.dyads.items()]
    rel = " ".join(
        f'<a class="{"on" if k == data.dyad else ""}" href="{_e(_href(data.days, k))}">'
        f"{_e(label)}</a>" for k, label in dyads)
    return f'<p class="nav">Window: {windows} &nbsp;·&nbsp; Articles: {rel}</p>'


def _legend(bucket: int) -> str:
    from monitor import trends
    from monitor.ui.charts import BAR, LINE, SPIKE

    if bucket > 1:
        return (f'<p class="legend meta"><span><i class="sw" style="background:{BAR}"></i>'
                f"articles per {_e(trends.bucket_name(bucket))} (the window is too long for "
                f'one bar per day)</span><span><i class="sw" style="background:{SPIKE}"></i>'
                f"contains a spike day (≥ 5 articles and ≥ 3× the trailing 28-day mean)"
                "</span></p>")
    return (f'<p class="legend meta"><span><i class="sw" style="background:{BAR}"></i>'
            f'articles per day</span><span><i class="sw" style="background:{LINE}"></i>'
            f'7-day mean</span><span><i class="sw" style="background:{SPIKE}"></i>'
            f"spike (≥ 5 stories and ≥ 3× the trailing 28-day mean of stories)</span></p>")


def _label(data: TrendsData, key: str) -> str:
    if key == "*":
        return "All relevant"
    return data.dyads.get(key) or data.topics.get(key) or key


def _latest_run(con: Any) -> dict[str, Any] | None:
    import duckdb

    from monitor.ingest.health import latest_run

    try:
        return latest_run(con)
    except duckdb.Error:  # a snapshot from before run health (migration 0060)
        return None


_RUN_COLORS = {"ok": ("#eef6ee", "#2e6b2e"), "degraded": ("#fff4e0", "#8a4b00"),
               "blind": ("#fde8e8", "#a00000")}


def _run_banner(run: dict[str, Any] | None) -> str:
    """The latest ingest run's health, and its failing sources when there are any."""
    if run is None:
        return '<p class="meta run-health">No ingest run recorded yet.</p>'
    health = run.get("health") or "ok"
    bg, fg = _RUN_COLORS.get(health, _RUN_COLORS["blind"])
    answered = (run.get("sources_ok") or 0) + (run.get("sources_not_modified") or 0)
    text = (f"Latest ingest run ({_e(run.get('via'))}, {_when(run.get('started_at'))} UTC): "
            f"<b>{_e(health)}</b> — {answered} of {run.get('sources_planned') or 0} sources "
            "answered.")
    failing = run.get("failing") or []
    if failing:
        text += " Failing: " + "; ".join(_e(f) for f in failing[:8])
        if len(failing) > 8:
            text += f"; and {len(failing) - 8} more"
    return (f'<p class="run-health" data-health="{_e(health)}" style="background:{bg};'
            f'color:{fg};padding:6px 8px;font-size:13px">{text}</p>')


def render(data: TrendsData) -> str:
    """The whole page as HTML (self-contained: inline CSS and SVG, no scripts)."""
    from monitor import trends

    bucket = trends.bucket_days(data.days, MAX_BARS)

    def chart(series: Series) -> Series:
        return bucket_series(series, bucket)

    which = "relevant" if data.dyad is None else f"relevant {_label(data, data.dyad)}"
    out = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
        "<title>Trends · Russia–Asia monitor</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Trends: Russia–Japan and Russia–China coverage</h1>",
        _run_banner(data.run),
        f'<p class="meta summary">{data.articles_total} {_e(which)} articles in the last '
        f"{data.days} days "
        f"(UTC days, to {data.end.isoformat()}). Warehouse snapshot of "
        f"{_when(data.snapshot_at)} UTC.</p>",
        _story_line(data),
        _nav(data),
        _legend(bucket),
    ]
    # Relations.
    out.append('<h2 id="relations">Relations</h2><div class="grid">')
    relations = {k: chart(v) for k, v in data.series.get("relations", {}).items()
                 if data.dyad is None or k == data.dyad}
    if not relations:
        out.append('</div><p class="meta empty">No relevant articles in this window yet: the '
                   "charts appear after the first ingest runs that find some.</p>"
                   '<div class="grid">')
    scale = max((max(s.counts, default=0) for s in relations.values()), default=0)
    for key in ["*", *data.dyads]:
        series = relations.get(key)
        if series is None:
            continue
        n_stories = data.story_totals.get("relations", {}).get(key, 0)
        title = (f"{_label(data, key)}: {data.totals['relations'].get(key, 0)} articles, "
                 f"{n_stories} stories")
        out.append(f'<div class="cell relation" data-key="{_e(key)}"><h3>{_e(_label(data, key))}'
                   f' <span class="n">{data.totals["relations"].get(key, 0)}</span>'
                   f' <span class="n stories">· {n_stories} stories</span></h3>'
                   f"{daily_chart(series, title=title, y_max=scale)}</div>")
    out.append("</div>")
    # Topics per dyad.
    out.append('<h2 id="topics">Topics per day, by relation</h2>')
    columns = ["*", *data.dyads] if data.dyad is None else [data.dyad]
    for col in columns:
        per_topic = {k: chart(v) for k, v in data.series.get(col, {}).items()}
        scale = max((max(s.counts, default=0) for s in per_topic.values()), default=0)
        out.append(f'<h3 class="dyad-heading">{_e(_label(data, col))}</h3>')
        if not per_topic:
            out.append('<p class="meta empty">No articles.</p>')
            continue
        out.append(f'<div class="grid topics" data-dyad="{_e(col)}">')
        for topic in data.topics:
            series = per_topic.get(topic)
            if series is None:
                continue
            n = data.totals[col].get(topic, 0)
            title = f"{_label(data, topic)} ({_label(data, col)}): {n} articles"
            out.append(f'<div class="cell topic" data-topic="{_e(topic)}"><h3>'
                       f'{_e(_label(data, topic))} <span class="n">{n}</span></h3>'
                       f"{daily_chart(series, title=title, y_max=scale)}</div>")
        out.append("</div>")
    # Spikes.
    out.append('<h2 id="spikes">Spikes</h2>')
    if data.spikes:
        out.append('<ul class="spikes">')
        for s in data.spikes[:30]:
            topic = "All topics" if s["topic"] == "*" else _label(data, s["topic"])
            dyad = "all relations" if s["dyad"] == "*" else _label(data, s["dyad"])
            out.append(f'<li class="spike-item">{_e(s["day"].isoformat())}: '
                       f'<b>{_e(topic)}</b> ({_e(dyad)}), {s["stories"]} stories in '
                       f'{s["articles"]} articles</li>')
        out.append("</ul>")
    else:
        out.append(f'<p class="meta">No spikes in the last {data.days} days.</p>')
    # Latest articles per topic.
    out.append('<h2 id="articles">Latest relevant articles per topic</h2>'
               '<div class="topic-articles">')
    for topic, label in data.topics.items():
        rows = data.articles.get(topic) or []
        out.append(f'<section data-topic="{_e(topic)}"><h3>{_e(label)}</h3>')
        if not rows:
            out.append('<p class="meta">No articles in this window.</p></section>')
            continue
        out.append('<ul class="arts">')
        for a in rows:
            rel = ", ".join(_label(data, d) for d in (a.get("dyads") or []))
            out.append(f'<li class="article">{_link(a.get("url"), a.get("title") or "(untitled)")}'
                       f' <span class="meta">— {_e(a.get("outlet"))}, '
                       f'{_when(a.get("published_at"))} · {_e(rel)}</span></li>')
        out.append("</ul></section>")
    out.append(_other_section(data))
    out.append("</div>")
    # Feed health.
    failing = [h for h in data.health if h.get("status") not in ("ok",)]
    out.append(f'<h2 id="health">Feed health <span class="meta">({len(failing)} of '
               f"{len(data.health)} sources need attention)</span></h2>")
    out.append('<table class="health"><thead><tr><th>Status</th><th>Source</th><th>Outlet</th>'
               "<th>Failures</th><th>Last success</th><th>New (7 d)</th><th>Last error</th>"
               "</tr></thead><tbody>")
    for h in data.health:
        status = str(h.get("status") or "")
        error = str(h.get("disabled_reason") or h.get("last_error") or "")[:300]
        out.append(
            f'<tr class="source" data-status="{_e(status)}"><td><span class="status '
            f'status-{_e(status)}">{_e(status.replace("_", " "))}</span></td>'
            f"<td>{_e(h.get('source_id'))}</td><td>{_e(h.get('outlet'))}</td>"
            f"<td>{_e(h.get('consecutive_failures'))}</td><td>{_when(h.get('last_ok_at'))}</td>"
            f"<td>{_e(h.get('new_7d'))}</td><td class=\"err\">{_e(error)}</td></tr>")
    out.append("</tbody></table>")
    out.append("</body></html>")
    return "".join(out)


def _story_line(data: TrendsData) -> str:
    """Stories beside articles, and the relevant articles no topic holds, so the topic
    charts and lists add up to the headline count."""
    other = data.topicless.get("articles", 0)
    return (f'<p class="meta story-counts">{data.stories_total} stories (a story counts once '
            f"a day however many outlets carry it; spikes are measured on stories). "
            f'<a href="#other">{other} relevant article{"" if other == 1 else "s"} without a '
            f"topic</a> (other relations news).</p>")


def _other_section(data: TrendsData) -> str:
    """The latest relevant articles without a topic: counted in every total, in no topic."""
    n = data.topicless.get("articles", 0)
    out = [f'<section id="other" data-topic=""><h3>Other relations news '
           f'<span class="meta">({n})</span></h3>']
    if not data.other_articles:
        out.append('<p class="meta">No articles in this window.</p></section>')
        return "".join(out)
    out.append('<ul class="arts">')
    for a in data.other_articles:
        rel = ", ".join(_label(data, d) for d in (a.get("dyads") or []))
        out.append(f'<li class="article">{_link(a.get("url"), a.get("title") or "(untitled)")}'
                   f' <span class="meta">— {_e(a.get("outlet"))}, '
                   f'{_when(a.get("published_at"))} · {_e(rel)}</span></li>')
    out.append("</ul></section>")
    return "".join(out)


def render_busy(message: str, retry_after: int) -> str:
    """The "updating, retry" page; it reloads itself after ``retry_after`` seconds."""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="refresh" content="{int(retry_after)}">'
        "<title>Trends · updating</title>"
        f"<style>{_CSS}</style></head><body>"
        '<h1 class="busy">The warehouse is updating</h1>'
        f"<p>The trends will be back in a moment; this page retries in {int(retry_after)} "
        "seconds.</p>"
        f'<p class="meta">{_e(message)}</p></body></html>'
    )


def render_error(message: str) -> str:
    """The page for a query it cannot use (HTTP 400): the reason and a link back."""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Trends · bad request</title>"
        f"<style>{_CSS}</style></head><body>"
        '<h1 class="bad-request">This view cannot be shown</h1>'
        f'<p class="error">{_e(message)}</p>'
        '<p><a href="?">Back to the last 30 days of all relations</a></p></body></html>'
    )
