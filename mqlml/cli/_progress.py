"""Progress on stderr for the ``mqlml`` command: stages with elapsed time, rows with an ETA.

On a terminal, Rich draws a live line (spinner, stage or bar, elapsed and remaining
time) that disappears when done; elsewhere (a log file, a scheduler) each stage, or each
chunk of rows, is one plain line. Results never go here: they go to stdout.

The totals behind a percentage: a Parquet file's row count from its metadata (exact); a
CSV file's from its size and the bytes per line of its first megabyte (an estimate,
marked ``~``); none for compressed CSV (a spinner and a count).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console

__all__ = [
    "rows",
    "stages",
]


def _elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else time.strftime("%H:%M:%S", time.gmtime(seconds))


@contextlib.contextmanager
def stages(console: Console, *, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Report named stages with their elapsed time: ``stage("fitting")``.

    Parameters
    ----------
    console : rich.console.Console
        Where to report (stderr).
    enabled : bool, default=True
        False reports nothing (the callback does nothing).

    Yields
    ------
    callable
        ``stage(name)`` starts a stage (and ends the previous one).
    """
    start = time.perf_counter()
    if not enabled:
        yield lambda name: None
        return
    if not console.is_terminal:

        def plain(name: str) -> None:
            console.print(f"[{_elapsed(time.perf_counter() - start):>8}] {name}", highlight=False)

        yield plain
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        began = [start, None]

        def live(name: str) -> None:
            now = time.perf_counter()
            if began[1] is not None:
                bar.console.print(
                    f"[dim]{began[1]} ({_elapsed(now - began[0])})[/]", highlight=False
                )
            began[:] = [now, name]
            bar.update(task, description=name)

        yield live
    if began[1] is not None:
        console.print(
            f"[dim]{began[1]} ({_elapsed(time.perf_counter() - began[0])})[/]", highlight=False
        )


@contextlib.contextmanager
def rows(
    console: Console,
    total: int | None = None,
    *,
    exact: bool = True,
    what: str = "rows scored",
    enabled: bool = True,
) -> Iterator[Callable[[int], None]]:
    """Report rows done out of a total, with the percentage and the time left.

    Parameters
    ----------
    console : rich.console.Console
        Where to report (stderr).
    total : int or None
        Rows expected (None: unknown, a count only, unless ``expect`` gives it).
    exact : bool, default=True
        False marks the total as an estimate (``~``).
    what : str
        What the count is, e.g. "rows scored".
    enabled : bool, default=True
        False reports nothing.

    Yields
    ------
    callable
        ``advance(done)`` with the rows done so far; ``advance.expect(total, exact)``
        gives the total once known (before the first ``advance``), e.g. when the input
        is open (:meth:`mqlml.io.LeadFile.estimate_rows`).
    """
    advance = _Rows(console, total, exact, what, enabled)
    try:
        yield advance
    finally:
        advance.close()


class _Rows:
    """Rows done, reported as plain lines (a log) or a live bar (a terminal)."""

    def __init__(self, console: Console, total, exact: bool, what: str, enabled: bool) -> None:
        self.console, self.what, self.enabled = console, what, enabled
        self.start = time.perf_counter()
        self.bar = self.task = None
        self.expect(total, exact)

    def expect(self, total: int | None, exact: bool = True) -> None:
        """The rows expected (None: unknown) and whether that is exact."""
        self.total, self.mark = total, "" if exact else "~"

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        total, what, mark = self.total, self.what, self.mark
        if not self.console.is_terminal:
            text = f"{done:,} {what}"
            if total:
                share = min(done / total, 1.0)
                text = f"{done:,} of {mark}{total:,} {what} ({share:.0%})"
                if 0 < share < 1:
                    left = (time.perf_counter() - self.start) * (1 - share) / share
                    text += f", about {_elapsed(left)} left"
            self.console.print(text, highlight=False)
            return
        if self.bar is None:
            self._open_bar()
        described = f"{done:,} of {mark}{total:,} {what}" if total else f"{done:,} {what}"
        # an estimated total may be passed: grow it rather than show over 100 %
        grown = max(total or 0, done) if total else None
        self.bar.update(self.task, completed=done, total=grown, description=described)

    def _open_bar(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if self.total:
            columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
        columns.append(TimeElapsedColumn())
        self.bar = Progress(*columns, console=self.console, transient=True)
        self.bar.start()
        self.task = self.bar.add_task(self.what, total=self.total or None)

    def close(self) -> None:
        """Take the live bar away (it is transient)."""
        if self.bar is not None:
            self.bar.stop()
