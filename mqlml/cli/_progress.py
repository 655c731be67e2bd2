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
from pathlib import Path

from rich.console import Console

__all__ = ["estimate_rows", "rows", "stages"]

_SAMPLE_BYTES = 1 << 20


def estimate_rows(path: str | Path) -> tuple[int | None, bool]:
    """The number of data rows in a leads file, and whether it is exact.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file (rows from its metadata) or a plain ``.csv`` file (rows
        estimated from the file size and the mean line length of its first megabyte).

    Returns
    -------
    (int or None, bool)
        The rows (None when unknown: a folder, a compressed or unreadable file) and True
        when exact.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "leads.csv"
    >>> _ = f.write_text("id,x\\n" + "".join(f"{i},1\\n" for i in range(10, 100)))
    >>> estimate_rows(f)
    (90, True)
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet" and path.is_file():
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows), True
        if path.suffix.lower() != ".csv" or not path.is_file():
            return None, False
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
    except (OSError, ValueError):
        return None, False
    lines = head.count(b"\n")
    if lines < 2:
        return None, False
    if len(head) == size:  # the whole file was read: count exactly
        return lines - 1 + (0 if head.endswith(b"\n") else 1), True
    header = head.index(b"\n") + 1
    per_line = (len(head) - header) / (lines - 1)
    return max(1, round((size - header) / per_line)), False


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
    total: int | None,
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
        Rows expected (None: unknown, a count only).
    exact : bool, default=True
        False marks the total as an estimate (``~``).
    what : str
        What the count is, e.g. "rows scored".
    enabled : bool, default=True
        False reports nothing.

    Yields
    ------
    callable
        ``advance(done)`` with the rows done so far.
    """
    if not enabled:
        yield lambda done: None
        return
    start = time.perf_counter()
    mark = "" if exact else "~"
    if not console.is_terminal:

        def plain(done: int) -> None:
            text = f"{done:,} {what}"
            if total:
                share = min(done / total, 1.0)
                text = f"{done:,} of {mark}{total:,} {what} ({share:.0%})"
                if 0 < share < 1:
                    left = (time.perf_counter() - start) * (1 - share) / share
                    text += f", about {_elapsed(left)} left"
            console.print(text, highlight=False)

        yield plain
        return
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
    if total:
        columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=total or None)

        def live(done: int) -> None:
            described = f"{done:,} of {mark}{total:,} {what}" if total else f"{done:,} {what}"
            # an estimated total may be passed: grow it rather than show over 100 %
            grown = max(total or 0, done) if total else None
            bar.update(task, completed=done, total=grown, description=described)

        yield live
