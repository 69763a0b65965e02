"""Long periods in ``monitor trends``: every day stays in the sparkline (issue 13, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor import warehouse
from monitor.cli import cli
from monitor.cli.trends import SPARK_WIDTH
from monitor.settings import Settings
from monitor.trends import bucket_counts, bucket_days
from tests.trends.builder import add_article, add_source

#: Days ago of the five Russia–China energy articles: two recent, one 100 and two ~2 years ago.
AGES = (1, 2, 100, 700, 790)


@pytest.mark.parametrize(("days", "size"), [(30, 1), (60, 1), (61, 7), (365, 7), (800, 14),
                                            (1800, 30), (3660, 91)])
def test_bucket_fits_the_width(days: int, size: int) -> None:
    assert bucket_days(days, SPARK_WIDTH) == size
    counts = list(range(days))
    buckets = bucket_counts(counts, size)
    assert len(buckets) <= SPARK_WIDTH and sum(buckets) == sum(counts)
    assert buckets[-1] == sum(counts[-size:])  # the newest bucket is whole


def test_800_days_keep_the_oldest_articles(settings: Settings, home) -> None:
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        for age in AGES:
            add_article(con, published=today - timedelta(days=age, hours=-9),
                        dyads=["russia_china"])
    result = CliRunner().invoke(cli, ["--home", str(home), "trends", "--days", "800"])
    assert result.exit_code == 0, result.output
    assert "last 800 days, one mark per 2 weeks" in result.output
    row = next(line for line in result.output.splitlines() if "Russia–China" in line)
    spark = row.split("│")[3]
    assert len(spark.strip("│ ")) > 40  # the marks span the period: nothing cut at the edge
    assert sum(1 for ch in spark if ch in "▁▂▃▄▅▆▇█") == 4  # 700 and 790 days ago too
    assert "…" not in row
