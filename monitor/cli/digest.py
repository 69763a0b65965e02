"""``monitor digest``: preview, dry-run or send the daily digest for one day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli.app import cli, fail, known_ids, pass_settings
from monitor.settings import TOPIC_IDS, Settings


@cli.command()
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day (YYYY-MM-DD) in the configured timezone. Default: yesterday.")
@click.option("--send", is_flag=True,
              help="Deliver to the configured recipients (SMTP, Airflow connection or outbox).")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the HTML digest to this file instead of sending.")
@click.option("--topics", help="With --preview: only these topics (comma-separated).")
@click.option("--force", is_flag=True, help="Send again to recipients who already got it.")
@pass_settings
def digest(settings: Settings, day: datetime | None, send: bool, preview: Path | None,
           topics: str | None, force: bool) -> None:
    """Build the daily digest for one day; without --send or --preview, a dry run.

    Idempotent: --send skips recipients already sent this day's digest (see the digests
    table) unless --force; a failed send is recorded and retried by the next --send.

    \b
    Examples:
      monitor digest --date 2026-11-20 --preview /tmp/digest.html
      monitor digest --send
    """
    from monitor.digest import preview_digest, run_digest

    if send and preview:
        fail("choose one of --send and --preview")
    the_day = day.date() if day else None
    wanted = known_ids("--topics", topics, TOPIC_IDS) or None
    if topics and not preview:
        fail("--topics filters a --preview; recipients' filters are set in `recipients`")
    if preview:
        if not preview.parent.is_dir():
            # Not created for the user: a missing folder is more often a typo than a wish.
            fail(f"--preview {preview}: the folder {preview.parent} does not exist; create "
                 "it or choose another path")
        result = preview_digest(settings, the_day, preview, wanted)
        click.echo(f"subject:  {result['subject']}")
        n, k = result["articles"], result["stories"]
        click.echo(f"articles: {n} in {k} {'story' if k == 1 else 'stories'}")
        click.echo(f"preview:  {result['path']}")
        return
    result = run_digest(settings, the_day, send=send, force=force)
    click.echo(f"digest {result['date']}: {result.get('subject', '')}")
    click.echo(f"articles: {result.get('articles', 0)} in {result.get('stories', 0)} stories")
    if not send:
        click.echo("dry run: nothing sent (use --send, or --preview FILE.html)")
        return
    for recipient, status in result["recipients"].items():
        click.echo(f"  {recipient}: {status} ({result['transport']})")
    click.echo(f"sent {result['sent']}, skipped {result['skipped']}, failed {result['failed']}")
