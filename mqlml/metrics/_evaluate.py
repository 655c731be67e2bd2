"""Metrics of a probability (or any score) on one part of the leads, usually the test part.

Ranking: ROC AUC, PR AUC (average precision), the gains curve. Probability quality:
Brier score, log loss, expected calibration error. At an MQL threshold: MQL share,
realized MQL-to-SQL rate with a bootstrap interval, recall, lift, and a plain-language
warning when the realized rate drifts from the expected one. At equal volume
(:func:`rate_at_volume`), the model and the points baseline are compared on the same
number of MQLs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from mqlml.errors import InsufficientDataError
from mqlml.metrics._calibration import expected_calibration_error
from mqlml.metrics._inputs import numbers, outcomes
from mqlml.metrics._rates import realized

__all__ = ["evaluate", "gains_curve", "rate_at_volume"]

_LOG_LOSS_EPS = 1e-15


def evaluate(
    y: Any,
    p: Any,
    *,
    threshold: float | None = None,
    expected_rate: float | None = None,
    target_rate: float | None = None,
    drift_tolerance: float = 0.05,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Evaluate probabilities ``p`` against outcomes ``y``.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes; both classes must be present.
    p : array-like of float in [0, 1]
        Calibrated probabilities, one per outcome.
    threshold : float or array-like of float, optional
        The MQL threshold, or one per lead (segment lines; ``threshold`` is then None in
        the result); adds the metrics at the threshold.
    expected_rate : float, optional
        The MQL-to-SQL rate expected at the threshold (from the part it was chosen
        on). Defaults to the mean probability of the MQLs in this part.
    target_rate : float, optional
        The target rate the threshold was chosen for; reported as is.
    drift_tolerance : float, default=0.05
        ``drift_warning`` is set when the realized rate differs from the expected one
        by more than this (0.05 = 5 points).
    n_bins : int, default=10
        Quantile bins of the ECE.

    Returns
    -------
    dict
        Flat and JSON-safe: ``n``, ``n_converted``, ``base_rate``, ``roc_auc``,
        ``pr_auc``, ``brier``, ``log_loss``, ``ece``; with a threshold also
        ``threshold``, ``n_mql``, ``mql_share``, ``realized_rate``,
        ``realized_interval`` (``[lo, hi]``), ``recall``, ``lift``, ``expected_rate``,
        ``target_rate``, ``rate_gap`` (realized - expected) and ``drift_warning`` (a
        sentence, or ``None``). Values at the threshold are ``None`` when no lead
        reaches it.

    Raises
    ------
    DataError
        If ``y`` or ``p`` is unusable.
    InsufficientDataError
        If ``y`` has a single class.

    Examples
    --------
    >>> m = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m["roc_auc"], m["base_rate"]
    (0.75, 0.5)
    """
    labels, probabilities = _check_inputs(y, p, "p")
    n = int(labels.size)
    n_converted = int(labels.sum())
    if n_converted in (0, n):
        raise InsufficientDataError(
            "the evaluated part must contain both conversions and non-conversions; got "
            f"{n} leads with {n_converted} conversions. Use a longer evaluation period."
        )
    out: dict[str, Any] = {
        "n": n,
        "n_converted": n_converted,
        "base_rate": n_converted / n,
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "log_loss": float(
            log_loss(labels, np.clip(probabilities, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS))
        ),
        "ece": expected_calibration_error(labels, probabilities, n_bins=n_bins),
    }
    if threshold is None:
        return out
    at = realized(probabilities, labels, threshold)
    expected = None if expected_rate is None else float(expected_rate)
    rate = at["realized_rate"]
    # Judged against the rate the threshold promised; without one, against the mean
    # probability of these MQLs.
    promised = expected if expected is not None else at["mean_probability"]
    what = "expected" if expected is not None else "mean probability of these MQLs,"
    gap = rate - promised if rate is not None and promised is not None else None
    warning = None
    if gap is not None and abs(gap) > drift_tolerance:
        warning = (
            f"The realized MQL-to-SQL rate on the test part ({100 * rate:.1f} %) is "
            f"{100 * abs(gap):.1f} percentage points {'below' if gap < 0 else 'above'} the "
            f"{what} {100 * promised:.1f} %: conversion behaviour moved between the training "
            "and test periods; consider recalibrating on recent leads."
        )
    out.update(
        threshold=float(threshold) if np.ndim(threshold) == 0 else None,
        n_mql=at["n_mql"],
        mql_share=at["mql_share"],
        realized_rate=rate,
        realized_interval=at["realized_interval"],
        recall=at["recall"],
        lift=at["lift"],
        expected_rate=expected,
        mean_probability=at["mean_probability"],
        target_rate=None if target_rate is None else float(target_rate),
        rate_gap=gap,
        drift_warning=warning,
    )
    return out


def gains_curve(y: Any, score: Any, *, n_points: int = 101) -> pd.DataFrame:
    """Cumulative gains: share of conversions captured by the top share of leads.

    Leads are taken by score, highest first. Leads with equal scores form one group
    whose conversions are spread evenly along it (linear interpolation), so the curve
    does not depend on the order of the input.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes; at least one conversion.
    score : array-like of float
        Any score where higher means more likely (probability or points).
    n_points : int, default=101
        Number of points, evenly spaced in share of leads from 0 to 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``share_of_leads`` and ``share_of_conversions``; starts at (0, 0) and
        ends at (1, 1).

    Examples
    --------
    >>> gains_curve([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], n_points=5)
       share_of_leads  share_of_conversions
    0            0.00                   0.0
    1            0.25                   0.5
    2            0.50                   0.5
    3            0.75                   1.0
    4            1.00                   1.0
    """
    if isinstance(n_points, bool) or not isinstance(n_points, int | np.integer) or n_points < 2:
        raise ValueError(f"n_points must be an integer of at least 2; got {n_points!r}.")
    labels, scores = _check_inputs(y, score, "score", probabilities=False)
    n = labels.size
    total = int(labels.sum())
    if total == 0:
        raise InsufficientDataError(
            f"the gains curve needs at least one conversion; got {n} leads with 0 "
            "conversions. Use a part of the leads that contains conversions."
        )
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    lead_share = np.concatenate([[0.0], (ends + 1) / n])
    conversion_share = np.concatenate([[0.0], np.cumsum(labels[order])[ends] / total])
    grid = np.linspace(0.0, 1.0, n_points)
    return pd.DataFrame(
        {
            "share_of_leads": grid,
            "share_of_conversions": np.interp(grid, lead_share, conversion_share),
        }
    )


def rate_at_volume(y: Any, score: Any, n_mql: int) -> dict[str, Any]:
    """Conversion rate of the ``n_mql`` leads with the highest score.

    Used to compare the model and the points baseline at the same number of MQLs.
    Exactly ``n_mql`` leads are taken: a stable sort on the negated score keeps equal
    scores in input order, so a tie at the boundary is broken in favour of the earlier
    rows.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes.
    score : array-like of float
        Any score where higher means more likely.
    n_mql : int
        Number of leads to take, from 1 to ``len(y)``.

    Returns
    -------
    dict
        ``n_mql``, ``conversions``, ``rate`` and ``lift`` (rate / base rate, ``None``
        when nothing converted).

    Examples
    --------
    >>> rate_at_volume([1, 0, 1, 0], [30, 50, 20, 10], 2)
    {'n_mql': 2, 'conversions': 1, 'rate': 0.5, 'lift': 1.0}
    """
    labels, scores = _check_inputs(y, score, "score", probabilities=False)
    n = int(labels.size)
    if isinstance(n_mql, bool) or not isinstance(n_mql, int | np.integer) or not 1 <= n_mql <= n:
        raise ValueError(
            f"n_mql must be an integer from 1 to the number of leads ({n}); got {n_mql!r}."
        )
    top = np.argsort(-scores, kind="stable")[: int(n_mql)]
    conversions = int(labels[top].sum())
    rate = conversions / int(n_mql)
    base_rate = labels.sum() / n
    return {
        "n_mql": int(n_mql),
        "conversions": conversions,
        "rate": rate,
        "lift": float(rate / base_rate) if base_rate > 0 else None,
    }


def _check_inputs(
    y: Any, values: Any, name: str, *, probabilities: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes as 0/1 ints and scores as finite floats (in [0, 1] for probabilities)."""
    labels = outcomes(y)
    return labels, numbers(values, name, n=labels.size, probabilities=probabilities)
