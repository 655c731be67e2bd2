"""Binned reference distributions and the population stability index (PSI).

A bundle keeps, for every feature and for the calibrated probability, how the leads it
was fitted on were distributed over a few bins. New leads are put into the same bins
and the two sets of shares are compared with the population stability index

.. math::

    \\mathrm{PSI} = \\sum_b (a_b - e_b) \\ln(a_b / e_b)

where ``e_b`` is the reference share of bin ``b`` and ``a_b`` the share among the new
leads; shares below :data:`PSI_EPSILON` count as that value, so an empty bin adds a
large but finite term. Common reading: below :data:`PSI_WARNING` (0.1) the distribution
is stable, above it it moved, above :data:`PSI_ALERT` (0.25) it moved a lot.

Bins:

- numeric: cut points at the reference quantiles (``bins`` equal-count bins; the cut
  points are values of the sample and repeated ones are merged, so a count with many
  zeros gets one bin for 0, one for 1, ...), plus a missing bin;
- categorical and boolean: the :data:`MAX_LEVELS` most frequent reference levels, one
  ``other`` bin for every other level (including levels never seen before), plus a
  missing bin.

Everything stored is plain JSON (lists, floats, strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import DataError, MissingColumnError

__all__ = [
    "KINDS",
    "MAX_LEVELS",
    "N_KEY",
    "PSI_ALERT",
    "PSI_EPSILON",
    "PSI_WARNING",
    "SCORE_KEY",
    "bin_shares",
    "build_reference",
    "psi",
    "psi_level",
    "reference_distribution",
]

#: PSI above this: the distribution moved (warning).
PSI_WARNING = 0.1
#: PSI above this: the distribution moved a lot (alert).
PSI_ALERT = 0.25
#: Shares below this count as this value in the PSI (empty bins).
PSI_EPSILON = 1e-4
#: Most frequent levels kept per categorical feature; the rest share one ``other`` bin.
MAX_LEVELS = 20
#: Key of the calibrated probability's distribution in :func:`build_reference`.
SCORE_KEY = "__score__"
#: Key of the number of reference leads in :func:`build_reference`.
N_KEY = "__n__"
#: Feature kinds understood.
KINDS = ("numeric", "categorical", "boolean")


def reference_distribution(values: Any, kind: str, *, bins: int = 10) -> dict[str, Any]:
    """Bin a reference sample of one feature (or of the probability).

    Parameters
    ----------
    values : array-like or pandas.Series
        The reference values; NaN / None are missing.
    kind : {"numeric", "categorical", "boolean"}
        Numeric values get quantile bins; categorical and boolean values get one bin
        per frequent level.
    bins : int, default=10
        Equal-count bins of a numeric feature (fewer when cut points repeat).

    Returns
    -------
    dict
        ``kind``, ``n``, ``missing`` (share of missing values), ``shares`` (share of
        every other bin, in order) and ``edges`` (numeric: ascending inner cut points,
        a value ``v`` falls in bin ``i`` when ``edges[i-1] < v <= edges[i]``) or
        ``levels`` (categorical: the kept levels as strings; the last share is
        ``other``).

    Raises
    ------
    ValueError
        If ``kind`` is unknown or ``bins`` is not an integer of at least 2.
    DataError
        If ``values`` is empty, or numeric values are not numbers.

    Examples
    --------
    >>> ref = reference_distribution([1.0, 2.0, 3.0, 4.0, None], "numeric", bins=2)
    >>> ref["edges"], ref["shares"], ref["missing"]
    ([2.0], [0.4, 0.4], 0.2)
    >>> reference_distribution(["a", "a", "b", None], "categorical")["levels"]
    ['a', 'b']
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer of at least 2; got {bins!r}. Use e.g. 10.")
    series = _series(values, "values")
    missing = series.isna().to_numpy()
    n = int(series.size)
    out: dict[str, Any] = {"kind": kind, "n": n, "missing": float(missing.mean())}
    if kind == "numeric":
        numbers = _numbers(series, "values")[~missing]
        finite = numbers[np.isfinite(numbers)]
        edges = np.array([], dtype=float)
        if finite.size:
            # Quantiles that are values of the sample, so a count gets a bin per value.
            cuts = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1), method="inverted_cdf")
            edges = np.unique(cuts[1:-1])
            edges = edges[edges < cuts[-1]]  # no bin above the largest value
        counts = np.bincount(_numeric_bin(numbers, edges), minlength=edges.size + 1)
        out["edges"] = [float(e) for e in edges]
        out["shares"] = [float(c) / n for c in counts]
        return out
    text = _levels(series[~missing])
    counts = text.value_counts(sort=False)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_LEVELS]
    levels = [level for level, _ in ranked]
    kept = [float(count) / n for _, count in ranked]
    other = float(len(text) - sum(count for _, count in ranked)) / n
    out["levels"] = levels
    out["shares"] = [*kept, other]
    return out


def bin_shares(reference: Mapping[str, Any], values: Any) -> np.ndarray:
    """Shares of ``values`` in the bins of ``reference``, the missing bin last.

    Parameters
    ----------
    reference : dict
        A distribution from :func:`reference_distribution`.
    values : array-like or pandas.Series
        New values of the same feature.

    Returns
    -------
    numpy.ndarray
        ``len(reference["shares"]) + 1`` shares summing to 1 (the last is missing).

    Raises
    ------
    DataError
        If ``values`` is empty or a numeric value is not a number.

    Examples
    --------
    >>> ref = reference_distribution(["a", "b"], "categorical")
    >>> bin_shares(ref, ["a", "c", None, "a"]).tolist()
    [0.5, 0.0, 0.25, 0.25]
    """
    _check_reference(reference)
    series = _series(values, "values")
    missing = series.isna().to_numpy()
    n_bins = len(reference["shares"])
    if reference["kind"] == "numeric":
        numbers = _numbers(series, "values")[~missing]
        index = _numeric_bin(numbers, np.asarray(reference["edges"], dtype=float))
    else:
        text = _levels(series[~missing])
        index = pd.Index(reference["levels"]).get_indexer(text)
        index = np.where(index < 0, n_bins - 1, index)  # unseen or rare levels: other
    counts = np.bincount(index, minlength=n_bins)
    return np.append(counts, missing.sum()) / series.size


def psi(reference: Mapping[str, Any], values: Any) -> float:
    """Population stability index of new values against a reference distribution.

    ``sum((a - e) * ln(a / e))`` over the reference bins and the missing bin, with
    shares below :data:`PSI_EPSILON` raised to it. Zero when the shares are equal;
    warning above :data:`PSI_WARNING`, alert above :data:`PSI_ALERT`.

    Parameters
    ----------
    reference : dict
        A distribution from :func:`reference_distribution`.
    values : array-like or pandas.Series
        New values of the same feature.

    Returns
    -------
    float
        The PSI (0 or more).

    Raises
    ------
    DataError
        If ``values`` is empty or a numeric value is not a number.

    Examples
    --------
    >>> ref = reference_distribution(["a", "a", "b", "b"], "categorical")
    >>> psi(ref, ["a", "b"])
    0.0
    >>> round(psi(ref, ["a", "a", "a", "b"]), 4)  # (.75-.5)ln(.75/.5) + (.25-.5)ln(.25/.5)
    0.2747
    """
    actual = np.maximum(bin_shares(reference, values), PSI_EPSILON)
    expected = np.maximum(np.append(reference["shares"], reference["missing"]), PSI_EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_level(value: float) -> str:
    """``"fine"``, ``"warning"`` (above 0.1) or ``"alert"`` (above 0.25) for a PSI.

    Examples
    --------
    >>> psi_level(0.05), psi_level(0.1), psi_level(0.2), psi_level(0.3)
    ('fine', 'fine', 'warning', 'alert')
    """
    if value > PSI_ALERT:
        return "alert"
    if value > PSI_WARNING:
        return "warning"
    return "fine"


def build_reference(
    features: pd.DataFrame,
    kinds: Mapping[str, str],
    probability: Any,
    *,
    bins: int = 10,
) -> dict[str, Any]:
    """Reference distributions of every feature and of the calibrated probability.

    Parameters
    ----------
    features : pandas.DataFrame
        Coerced features of the reference leads (``LeadSchema.features_frame``).
    kinds : dict
        Feature -> kind (``LeadSchema.kinds``); one entry per feature, in that order.
    probability : array-like of float
        The calibrated probabilities of the same leads.
    bins : int, default=10
        Bins of numeric features and of the probability.

    Returns
    -------
    dict
        One distribution per feature (keyed by name), the probability's under
        :data:`SCORE_KEY` (``"__score__"``) and the number of leads under :data:`N_KEY`
        (``"__n__"``).

    Raises
    ------
    MissingColumnError
        If a feature of ``kinds`` is not a column of ``features``.
    DataError
        If ``probability`` does not have one value per row.

    Examples
    --------
    >>> frame = pd.DataFrame({"visits": [0.0, 1.0, 2.0, 5.0], "country": ["DE", "US", "US", None]})
    >>> ref = build_reference(frame, {"visits": "numeric", "country": "categorical"},
    ...                       [0.1, 0.2, 0.3, 0.4], bins=2)
    >>> sorted(ref), ref["__n__"], ref["country"]["levels"]
    (['__n__', '__score__', 'country', 'visits'], 4, ['US', 'DE'])
    """
    absent = [name for name in kinds if name not in features.columns]
    if absent:
        raise MissingColumnError(
            f"features must have a column for every feature of the schema; missing {absent}. "
            "Pass LeadSchema.features_frame(leads)."
        )
    p = np.asarray(probability, dtype=float)
    if p.ndim != 1 or p.size != len(features):
        raise DataError(
            f"probability must have one value per lead; got shape {p.shape} for "
            f"{len(features)} leads. Pass the calibrated probabilities of the same leads."
        )
    out: dict[str, Any] = {
        name: reference_distribution(features[name], kind, bins=bins)
        for name, kind in kinds.items()
    }
    out[SCORE_KEY] = reference_distribution(p, "numeric", bins=bins)
    out[N_KEY] = len(features)
    return out


def _series(values: Any, name: str) -> pd.Series:
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.size == 0:
        raise DataError(f"{name} must hold at least one value; got none. Pass the leads' values.")
    return series.reset_index(drop=True)


def _numbers(series: pd.Series, name: str) -> np.ndarray:
    """Non-missing values must be numbers; returns float64 with NaN for missing."""
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{name} of a numeric feature must be numbers; got {series.iloc[first]!r} at "
            f"position {first} ({int(bad.sum())} such values). Pass coerced features "
            "(LeadSchema.features_frame)."
        )
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _numeric_bin(numbers: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each (non-missing) number: ``edges[i-1] < v <= edges[i]``."""
    return np.searchsorted(edges, numbers, side="left")


def _levels(values: pd.Series) -> pd.Series:
    """Non-missing categorical values as strings (numbers as float text, 1 -> '1.0')."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        values = values.astype("float64")
    return values.astype(str)


def _check_reference(reference: Mapping[str, Any]) -> None:
    needed = (
        "kind",
        "shares",
        "missing",
        "edges" if reference.get("kind") == "numeric" else "levels",
    )
    absent = [key for key in needed if key not in reference]
    if absent or reference.get("kind") not in KINDS:
        raise DataError(
            f"reference must be a distribution made by reference_distribution; missing "
            f"{absent or ['kind']}. Build it with build_reference on the training leads."
        )
