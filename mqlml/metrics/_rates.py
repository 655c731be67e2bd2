"""A conversion rate measured on labelled leads, with exact intervals.

:func:`realized` measures an MQL line on leads it was not chosen on (the realized
MQL-to-SQL rate, recall, lift), :func:`rate_interval` and :func:`lower_bound` are the exact
(Clopper-Pearson) interval and one-sided bound of a rate, :func:`monthly_range` the range a
month's rate falls in, and :func:`rate_curve` the MQL share and rates over a grid of lines.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mqlml.metrics._inputs import numbers, outcomes

__all__ = [
    "INTERVAL_LEVEL",
    "lower_bound",
    "monthly_range",
    "rate_curve",
    "rate_interval",
    "realized",
]


#: Coverage of every realized-rate interval (exact, Clopper-Pearson).
INTERVAL_LEVEL = 0.90


def rate_interval(conversions: int, n: int, level: float = 0.90) -> tuple[float, float] | None:
    """The exact (Clopper-Pearson) central interval of a conversion rate; None without leads.

    Correct at 0 of n and n of n (one end is then 0 or 1).

    Examples
    --------
    >>> [round(v, 4) for v in rate_interval(5, 10)]
    [0.2224, 0.7776]
    >>> rate_interval(30, 30)[1], rate_interval(0, 0)
    (1.0, None)
    """
    from scipy.stats import beta

    k, n = int(conversions), int(n)
    if n <= 0:
        return None
    alpha = (1.0 - level) / 2.0
    low = 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1.0 - alpha, k + 1, n - k))
    return low, high


def lower_bound(conversions: int, n: int, level: float = 0.90) -> float | None:
    """The rate reached at least, with confidence ``level`` (one-sided Clopper-Pearson).

    Examples
    --------
    >>> round(lower_bound(30, 30), 4), lower_bound(0, 10)
    (0.9261, 0.0)
    """
    from scipy.stats import beta

    k, n = int(conversions), int(n)
    if n <= 0:
        return None
    return 0.0 if k == 0 else float(beta.ppf(1.0 - level, k, n - k + 1))


def monthly_range(
    conversions: int, n: int, mqls_per_month: float, level: float = 0.90
) -> tuple[float, float] | None:
    """The range of a month's MQL-to-SQL rate at ``mqls_per_month`` MQLs, with ``level``.

    The rate is uncertain (a Jeffreys Beta(k + 0.5, n - k + 0.5) from ``conversions`` of
    ``n`` calibration MQLs) and a month's conversions vary around it: the month's
    conversions follow the beta-binomial, whose central ``level`` range is returned as
    rates.

    Examples
    --------
    >>> lo, hi = monthly_range(250, 1000, 100)
    >>> 0.15 < lo < 0.25 < hi < 0.35
    True
    """
    from scipy.stats import betabinom

    m = round(mqls_per_month)
    if m < 1 or n < 1:
        return None
    dist = betabinom(m, conversions + 0.5, n - conversions + 0.5)
    alpha = (1.0 - level) / 2.0
    return float(dist.ppf(alpha)) / m, float(dist.ppf(1.0 - alpha)) / m


def realized(
    probabilities: Any,
    labels: Any,
    threshold: float,
    *,
    level: float = INTERVAL_LEVEL,
) -> dict[str, Any]:
    """Measure a chosen threshold on another part of the leads (usually the test part).

    Parameters
    ----------
    probabilities : array-like of float in [0, 1]
        Calibrated probabilities of the leads.
    labels : array-like of 0/1
        Their outcomes.
    threshold : float or array-like of float
        Leads with probability ``>= threshold`` are MQLs; one per lead for segment lines.
    level : float, default=0.90
        Coverage of the exact (Clopper-Pearson) interval of the realized rate.

    Returns
    -------
    dict
        JSON-safe: ``n``, ``n_mql``, ``mql_share``, ``mean_probability`` (mean
        probability of these MQLs), ``realized_rate``, ``realized_conversions``,
        ``realized_interval`` (``[lo, hi]``), ``recall`` (MQL conversions / all
        conversions) and ``lift`` (realized rate / base rate). Rates, interval, recall
        and lift are ``None`` when there is no MQL (or no conversion, for recall and
        lift).

    Examples
    --------
    >>> r = realized([0.9, 0.7, 0.4, 0.2], [1, 0, 1, 0], 0.5)
    >>> r["n_mql"], r["realized_rate"], r["recall"], r["lift"]
    (2, 0.5, 0.5, 1.0)
    """
    p = numbers(probabilities, "probabilities", probabilities=True)
    y = outcomes(labels, "labels", n=p.size)
    # one threshold, or one per lead (each lead's segment line, mqlml.model)
    threshold = np.asarray(threshold, dtype=float)
    mql = p >= threshold
    n, n_mql = int(p.size), int(mql.sum())
    total_conversions = int(y.sum())
    conversions = int(y[mql].sum())
    rate = conversions / n_mql if n_mql else None
    base_rate = total_conversions / n
    interval = rate_interval(conversions, n_mql, level)
    return {
        "n": n,
        "n_mql": n_mql,
        "mql_share": n_mql / n,
        "mean_probability": float(p[mql].mean()) if n_mql else None,
        "realized_rate": rate,
        "realized_conversions": conversions,
        "realized_interval": None if interval is None else list(interval),
        "recall": conversions / total_conversions if total_conversions else None,
        "lift": rate / base_rate if rate is not None and base_rate > 0 else None,
    }


def rate_curve(probabilities: Any, labels: Any = None, *, n_points: int = 101) -> pd.DataFrame:
    """MQL share and expected (and realized) MQL-to-SQL rate over a grid of thresholds.

    Parameters
    ----------
    probabilities : array-like of float in [0, 1]
        Calibrated probabilities.
    labels : array-like of 0/1, optional
        Outcomes; adds the ``realized_rate`` column.
    n_points : int, default=101
        Number of thresholds, evenly spaced on ``[0, max(probabilities)]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold``, ``mql_share``, ``expected_rate`` and, with labels,
        ``realized_rate``; rates are NaN where no lead is an MQL.

    Examples
    --------
    >>> rate_curve([0.2, 0.4], [0, 1], n_points=3)
       threshold  mql_share  expected_rate  realized_rate
    0        0.0        1.0            0.3            0.5
    1        0.2        1.0            0.3            0.5
    2        0.4        0.5            0.4            1.0
    """
    if isinstance(n_points, bool) or not isinstance(n_points, int | np.integer) or n_points < 2:
        raise ValueError(f"n_points must be an integer of at least 2; got {n_points!r}.")
    p = numbers(probabilities, "probabilities", probabilities=True)
    y = None if labels is None else outcomes(labels, "labels", n=p.size)
    order = np.argsort(p, kind="stable")
    ascending = p[order]
    thresholds = np.linspace(0.0, float(ascending[-1]), n_points)
    start = np.searchsorted(ascending, thresholds, side="left")
    count = p.size - start
    suffix_p = np.concatenate([np.cumsum(ascending[::-1])[::-1], [0.0]])
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = {
            "threshold": thresholds,
            "mql_share": count / p.size,
            "expected_rate": np.where(count > 0, suffix_p[start] / count, np.nan),
        }
        if y is not None:
            suffix_y = np.concatenate([np.cumsum(y[order][::-1])[::-1], [0]])
            frame["realized_rate"] = np.where(count > 0, suffix_y[start] / count, np.nan)
    return pd.DataFrame(frame)
