"""A sales capacity as the config gives it: ``500`` MQLs in total, or ``"500/month"``."""

from __future__ import annotations

import re

import numpy as np

__all__ = [
    "PERIOD_DAYS",
    "parse_capacity",
]


#: Length of each capacity period in days.
PERIOD_DAYS: dict[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12,
    "quarter": 365.25 / 4,
    "year": 365.25,
}


_CAPACITY_FORM = (
    "a positive integer or 'N/period' with period one of day, week, month, quarter, year "
    "(e.g. '500/month')"
)


_CAPACITY_PATTERN = re.compile(r"^\s*(\d+)\s*(?:/\s*([A-Za-z]+)\s*)?$")


def parse_capacity(text: str | int) -> tuple[int, str | None]:
    """Parse a capacity: ``"500"`` (MQLs in total) or ``"500/month"`` (MQLs per period).

    Parameters
    ----------
    text : str or int
        The capacity; the period is one of day, week, month, quarter, year.

    Returns
    -------
    tuple of (int, str or None)
        The number of MQLs and the period (``None`` for a total).

    Raises
    ------
    ValueError
        If the text is not of that form or the number is not positive.

    Examples
    --------
    >>> parse_capacity("500/month")
    (500, 'month')
    >>> parse_capacity("1200")
    (1200, None)
    """
    if isinstance(text, int | np.integer) and not isinstance(text, bool):
        if text < 1:
            raise ValueError(f"capacity must be {_CAPACITY_FORM}; got {text!r}.")
        return int(text), None
    match = _CAPACITY_PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"capacity must be {_CAPACITY_FORM}; got {text!r}.")
    number, period = int(match.group(1)), match.group(2)
    if period is not None:
        period = period.lower()
        if period not in PERIOD_DAYS:
            raise ValueError(
                f"capacity must be {_CAPACITY_FORM}; got {text!r} (unknown period {period!r})."
            )
    if number < 1:
        raise ValueError(f"capacity must be {_CAPACITY_FORM}; got {text!r}.")
    return number, period
