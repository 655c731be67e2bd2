"""Work on the next items in threads while the caller handles the current one.

Batch scoring reads a chunk, predicts it and writes it. The prediction (native trees, with
the GIL released) of chunk k+1 runs in a worker thread while the caller writes chunk k
and reads chunk k+2, so the cores stay busy; with two workers chunks k+1 and k+2 are
scored at once, each on half the cores, so that the steps of one that run on one core
(formatting reasons, say) overlap the trees of the other. Results come back in order; an
error in the work on an item is raised when that item's turn comes, before any error
reading a later item, so the first failing row is still the one reported.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ahead", "cores", "thread_count"]

T = TypeVar("T")
R = TypeVar("R")


def ahead(items: Iterable[T], work: Callable[[T], R], workers: int = 1) -> Iterator[tuple[T, R]]:
    """``(item, work(item))`` for each item, in order, ``work`` ahead in worker threads.

    Parameters
    ----------
    items : iterable
        Read in the caller's thread (e.g. batches from a file).
    work : callable
        Run in ``workers`` threads, on at most ``workers`` items beyond the one handed
        out; it must be safe to run on several items at once when ``workers > 1``.
    workers : int
        Items worked on at once.

    Yields
    ------
    (item, result)
        In the order of ``items``.

    Raises
    ------
    Exception
        Whatever ``work`` raised for an item (at its turn) or reading ``items`` raised
        (after every earlier item's result). Closing the iterator early waits for the work
        under way and drops the rest.

    Examples
    --------
    >>> [r for _, r in ahead([1, 2, 3], lambda x: x * 10)]
    [10, 20, 30]
    >>> [r for _, r in ahead(range(5), lambda x: -x, workers=2)]
    [0, -1, -2, -3, -4]
    """
    source = iter(items)
    workers = max(1, int(workers))
    pool = ThreadPoolExecutor(workers, thread_name_prefix="mqlml-ahead")
    pending: deque[tuple[T, Future]] = deque()
    failure: Exception | None = None
    try:
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception as exc:  # raised once the earlier items are handed out
                failure = exc
                break
            pending.append((item, pool.submit(work, item)))
            if len(pending) > workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
        if failure is not None:
            raise failure
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def cores() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def thread_count(n_jobs: int | None) -> int:
    """Threads for a model's ``n_jobs``: every core for None or a value below 1."""
    return cores() if n_jobs is None or int(n_jobs) < 1 else int(n_jobs)
