"""The train, calibrate and test parts: by creation time, by row order or stratified random.

Splits are by time when there is a time column: the oldest leads train, the next
calibrate, the newest test. ``split.method: order`` keeps the file's row order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mqlml.errors import InsufficientDataError

__all__ = [
    "PARTS",
    "Parts",
    "split_leads",
]


#: The parts, oldest first.
PARTS = ("train", "calibrate", "test")


@dataclass(frozen=True)
class Parts:
    """Row positions of the train, calibrate and test parts, and how they were made."""

    train: np.ndarray
    calibrate: np.ndarray
    test: np.ndarray
    method: str

    def sizes(self) -> dict[str, int]:
        """Rows per part."""
        return {name: len(getattr(self, name)) for name in PARTS}


def split_leads(
    y: np.ndarray,
    *,
    times: pd.Series | None = None,
    method: str = "auto",
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> Parts:
    """Split leads into train, calibrate and test parts.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
        Outcomes (for stratification).
    times : pandas.Series, optional
        Creation times; with ``method="auto"`` they make the split time-ordered.
    method : {"auto", "time", "order", "random"}
        ``time``: by creation time (stable for ties); ``order``: by row order;
        ``random``: stratified random.
    fractions : tuple of three floats
        Train, calibrate and test shares (summing to 1).
    seed : int
        Seed of the random split.

    Returns
    -------
    Parts

    Examples
    --------
    >>> parts = split_leads(np.array([0, 1] * 50), method="order")
    >>> parts.sizes()
    {'train': 60, 'calibrate': 20, 'test': 20}
    """
    n = len(y)
    if method == "auto":
        method = "time" if times is not None else "random"
    if method == "time" and times is None:
        raise InsufficientDataError(
            "split.method 'time' must have a time column; got none. Set columns.time or use "
            "split.method: random."
        )
    if method in ("time", "order"):
        order = np.arange(n) if method == "order" else np.argsort(times.to_numpy(), kind="stable")
        a = round(n * fractions[0])
        b = round(n * (fractions[0] + fractions[1]))
        return Parts(np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]), method)
    rows = np.arange(n)
    rest_share = fractions[1] + fractions[2]
    train, rest = train_test_split(rows, test_size=rest_share, stratify=y, random_state=seed)
    cal, test = train_test_split(
        rest, test_size=fractions[2] / rest_share, stratify=y[rest], random_state=seed
    )
    return Parts(np.sort(train), np.sort(cal), np.sort(test), "random")
