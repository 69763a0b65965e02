"""Inline SVG charts rendered on the server: the page needs no JavaScript and no network.

Every value that reaches the SVG is a number we computed or text passed through
``html.escape``; tooltips are SVG ``<title>`` elements, which browsers show on hover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

__all__ = ["Series", "daily_chart", "rolling_mean", "bucket_series"]

#: Bar colour, 7-day line colour, spike colour: readable for common colour blindness.
BAR = "#9ecae1"
LINE = "#08519c"
SPIKE = "#d94801"


@dataclass(frozen=True)
class Series:
    """One chart's data: daily counts (oldest first) over ``days`` with their dates.

    With ``bucket`` > 1 each value covers that many days from its date (the oldest may be
    shorter), ``spikes`` marks buckets holding a spike day and ``rolling`` is empty.
    """

    days: Sequence[date]
    counts: Sequence[int]
    rolling: Sequence[float]
    spikes: Sequence[bool]
    #: Stories per day beside the articles (empty when not known); spikes are measured on them.
    stories: Sequence[int] = ()
    bucket: int = 1

    def span_end(self, i: int) -> date:
        """The last day value ``i`` covers."""
        if i + 1 < len(self.days):
            return self.days[i + 1] - timedelta(days=1)
        return self.days[i] + timedelta(days=self.bucket - 1)


def bucket_series(series: Series, size: int) -> Series:
    """Daily values summed into ``size``-day bars aligned on the newest day, so a long window
    fits a chart without dropping days (``monitor.trends.bucket_counts`` does the sums)."""
    from monitor.trends import bucket_counts

    if size <= 1:
        return series
    n = len(series.counts)
    head = n % size
    starts = ([0] if head else []) + list(range(head, n, size))
    bounds = [*starts, n]
    return Series(days=[series.days[i] for i in starts],
                  counts=bucket_counts(series.counts, size), rolling=[],
                  spikes=[any(series.spikes[a:b]) for a, b in zip(bounds, bounds[1:],
                                                                 strict=False)],
                  bucket=size)


def rolling_mean(values: Sequence[int], window: int = 7) -> list[float]:
    """Trailing mean over ``window`` values (shorter at the start, never zero-padded)."""
    out: list[float] = []
    total = 0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def daily_chart(series: Series, *, title: str, width: int = 320, height: int = 90,
                y_max: float | None = None) -> str:
    """Daily bars, the 7-day mean as a line, spikes marked; returns an ``<svg>`` element.

    ``y_max`` shares one scale across small multiples so heights compare between charts.
    """
    n = len(series.counts)
    pad_l, pad_r, pad_t, pad_b = 24, 4, 10, 14
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    top = max([y_max or 0, *series.counts, *series.rolling, 1])
    step = plot_w / max(n, 1)
    bar_w = max(step * 0.8, 1.0)

    def y(v: float) -> float:
        return pad_t + plot_h - (v / top) * plot_h

    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad_l}" y1="{y(0):.1f}" x2="{width - pad_r}" y2="{y(0):.1f}" '
        f'stroke="#bbb" stroke-width="1"/>',
        f'<text x="{pad_l - 3}" y="{pad_t + 4}" class="axis" text-anchor="end">'
        f"{_fmt(top)}</text>",
        f'<text x="{pad_l - 3}" y="{y(0):.1f}" class="axis" text-anchor="end">0</text>',
    ]
    for i, (day, count, spike) in enumerate(zip(series.days, series.counts, series.spikes,
                                                strict=True)):
        x = pad_l + i * step + (step - bar_w) / 2
        when = day.isoformat() if series.bucket == 1 else \
            f"{day.isoformat()} to {series.span_end(i).isoformat()}"
        label = f"{when}: {count} article{'s' if count != 1 else ''}" + (
            f" in {series.stories[i]} stor{'y' if series.stories[i] == 1 else 'ies'}"
            if series.stories else "") + (
            f", 7-day mean {_fmt(series.rolling[i])}" if series.rolling else "")
        if spike:
            label += " (spike)"
        h = y(0) - y(count)
        parts.append(
            f'<rect class="bar{" spike" if spike else ""}" x="{x:.1f}" y="{y(count):.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}" fill="{SPIKE if spike else BAR}">'
            f"<title>{escape(label)}</title></rect>"
        )
        if spike:
            parts.append(
                f'<circle class="spike-marker" cx="{x + bar_w / 2:.1f}" '
                f'cy="{max(y(count) - 5, 4):.1f}" r="3.5" fill="{SPIKE}">'
                f"<title>{escape(label)}</title></circle>"
            )
    if series.rolling and n > 1:
        points = " ".join(
            f"{pad_l + i * step + step / 2:.1f},{y(v):.1f}" for i, v in enumerate(series.rolling)
        )
        parts.append(f'<polyline class="rolling" points="{points}" fill="none" '
                     f'stroke="{LINE}" stroke-width="1.8"/>')
    if n:
        axis = "%d %b" if series.bucket == 1 else "%b %Y"
        parts.append(f'<text x="{pad_l}" y="{height - 2}" class="axis">'
                     f"{escape(series.days[0].strftime(axis))}</text>")
        parts.append(f'<text x="{width - pad_r}" y="{height - 2}" class="axis" '
                     f'text-anchor="end">{escape(series.span_end(n - 1).strftime(axis))}</text>')
    parts.append("</svg>")
    return "".join(parts)
