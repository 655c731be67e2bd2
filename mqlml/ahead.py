"""Work on the next item in a thread while the caller handles the current one.

Batch scoring reads a chunk, predicts it and writes it. The prediction (native trees, with
the GIL released) of chunk k+1 runs in a worker thread while the caller writes chunk k
and reads chunk k+2, so the two cores stay busy. Results come back in order; an error in
the work on an item is raised when that item's turn comes, before any error reading a
later item, so the first failing row is still the one reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ahead"]

T = TypeVar("T")
R = TypeVar("R")


def ahead(items: Iterable[T], work: Callable[[T], R]) -> Iterator[tuple[T, R]]:
    """``(item, work(item))`` for each item, in order, ``work`` one item ahead in a thread.

    Parameters
    ----------
    items : iterable
        Read in the caller's thread (e.g. batches from a file).
    work : callable
        Run in one worker thread, on at most one item beyond the one handed out.

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
    """
    source = iter(items)
    pool = ThreadPoolExecutor(1, thread_name_prefix="mqlml-ahead")
    pending: tuple[T, Future] | None = None
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
            future = pool.submit(work, item)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (item, future)
        if pending is not None:
            yield pending[0], pending[1].result()
        if failure is not None:
            raise failure
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
