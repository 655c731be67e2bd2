"""Checking the arrays every metric takes: 0/1 outcomes, and scores or probabilities.

One place for these checks, so that calibration, the threshold, the evaluation and the
report word their errors alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mqlml.errors import DataError

__all__ = ["numbers", "outcomes"]


def outcomes(values: Any, name: str = "y", *, n: int | None = None) -> np.ndarray:
    """``values`` as a 1-d int64 array of 0/1 (of length ``n`` when given).

    Raises
    ------
    DataError
        For an empty or mis-shaped array, or a value other than 0/1 (named with its
        position).

    Examples
    --------
    >>> outcomes([True, False, 1]).tolist()
    [1, 0, 1]
    """
    y = np.asarray(values)
    if y.ndim != 1 or y.size == 0 or (n is not None and y.size != n):
        leads = "" if n is None else f" for {n} leads"
        raise DataError(
            f"{name} must be a non-empty 1-d array with one 0/1 outcome per lead; got shape "
            f"{y.shape}{leads}. Pass the outcomes of the same leads."
        )
    if y.dtype == bool:
        return y.astype(np.int64)
    try:
        numeric = y.astype(float)
    except (TypeError, ValueError):
        numeric = np.full(y.shape, np.nan)
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        raise DataError(
            f"{name} must contain only 0 and 1; got {y[bad][0].item()!r} at position "
            f"{int(np.flatnonzero(bad)[0])}. Encode converted leads as 1 and the others as 0."
        )
    return numeric.astype(np.int64)


def numbers(
    values: Any, name: str, *, n: int | None = None, probabilities: bool = False
) -> np.ndarray:
    """``values`` as a 1-d float array of finite numbers (in [0, 1] for probabilities).

    Raises
    ------
    DataError
        For non-numeric values, an empty or mis-shaped array (``n`` values wanted when
        given), or a missing, infinite or out-of-range value (named with its position).

    Examples
    --------
    >>> numbers([0.2, 1], "p", probabilities=True).tolist()
    [0.2, 1.0]
    """
    what = "numeric probabilities in [0, 1]" if probabilities else "numeric"
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be {what}; got non-numeric values.") from None
    if n is not None and arr.shape != (n,):
        raise DataError(
            f"{name} must have one value per lead; got shape {arr.shape} for {n} leads. "
            f"Pass the {name} of the same leads."
        )
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(
            f"{name} must be a non-empty 1-d array; got shape {arr.shape}. Pass one value per lead."
        )
    bad = ~np.isfinite(arr)
    if probabilities:
        bad |= (arr < 0.0) | (arr > 1.0)
    if bad.any():
        rule = "finite and in [0, 1]" if probabilities else "finite"
        raise DataError(
            f"{name} must be {rule}; got {arr[bad][0].item()!r} at position "
            f"{int(np.flatnonzero(bad)[0])} ({int(bad.sum())} such values). Fill or drop "
            "those leads."
        )
    return arr
