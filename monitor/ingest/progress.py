"""A progress bar for ``monitor ingest`` on stderr (rich)."""

from __future__ import annotations

__all__ = ["Progress"]


class Progress:
    """A rich progress bar on stderr: sources fetched, failures so far."""

    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._p = Progress(TextColumn("fetching"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[failed]} failed,"),
                           TextColumn("{task.fields[stored]} new articles stored"),
                           TimeElapsedColumn(), transient=True, auto_refresh=False)
        # Redrawn on each update, not by a thread: ingest workers may be forked while the
        # bar is shown, and a process forks safely only with no other thread alive.
        self._task = self._p.add_task("fetch", total=total, failed=0, stored=0)
        self._failed = 0

    def start(self) -> None:
        self._p.start()

    def advance(self, outcome: str) -> None:
        if outcome == "error":
            self._failed += 1
        self._p.update(self._task, advance=1, failed=self._failed, refresh=True)

    def stored(self, articles: int) -> None:
        """New articles stored so far: after fetching, parsing and classifying go on."""
        self._p.update(self._task, stored=articles, refresh=True)

    def close(self) -> None:
        self._p.stop()
