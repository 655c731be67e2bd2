"""How calibrated a probability is: reliability curve, expected calibration error, Brier score.

Leads are put into bins by predicted probability and each bin's observed conversion rate
is compared with its mean probability (:func:`reliability_curve`); the count-weighted mean
gap is the expected calibration error (:func:`expected_calibration_error`).
:func:`diagnose` gives all three. Fitting the calibration itself is
:mod:`mqlml.model` (``fit_score_map``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss

from mqlml.errors import DataError
from mqlml.metrics._inputs import numbers, outcomes

__all__ = [
    "CalibrationDiagnostics",
    "diagnose",
    "expected_calibration_error",
    "reliability_curve",
]


_STRATEGIES = ("quantile", "uniform")


def expected_calibration_error(
    y: Any, p: Any, *, n_bins: int = 10, strategy: str = "quantile"
) -> float:
    """Expected calibration error: the count-weighted mean gap between rate and probability.

    Leads are put into bins by predicted probability; in each bin the observed
    conversion rate is compared to the mean predicted probability, and the absolute gaps
    are averaged with the bin counts as weights.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes.
    p : array-like of float in [0, 1]
        Predicted probabilities, one per outcome.
    n_bins : int, default=10
        Number of bins (fewer when quantile edges tie).
    strategy : {"quantile", "uniform"}, default="quantile"
        ``"quantile"``: bins with about the same number of leads (edges at quantiles of
        ``p``, repeated edges merged); ``"uniform"``: equal-width bins on [0, 1].

    Returns
    -------
    float
        The ECE, in [0, 1].

    Examples
    --------
    >>> expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])
    0.0
    >>> round(expected_calibration_error([0, 0, 1, 1], [0.2, 0.2, 0.6, 0.6], n_bins=2), 6)
    0.3
    """
    mean_predicted, observed, counts = _bin(y, p, n_bins=n_bins, strategy=strategy)
    return _ece(mean_predicted, observed, counts)


def reliability_curve(
    y: Any, p: Any, *, n_bins: int = 10, strategy: str = "quantile"
) -> pd.DataFrame:
    """The reliability curve: mean predicted probability against observed rate per bin.

    The bins are those of :func:`expected_calibration_error`.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes.
    p : array-like of float in [0, 1]
        Predicted probabilities.
    n_bins : int, default=10
        Number of bins.
    strategy : {"quantile", "uniform"}, default="quantile"
        How bin edges are placed.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, in increasing probability, with columns
        ``mean_predicted``, ``observed_rate`` and ``count``.

    Examples
    --------
    >>> reliability_curve([0, 0, 1, 1], [0.2, 0.2, 0.6, 0.6], n_bins=2)
       mean_predicted  observed_rate  count
    0             0.2            0.0      2
    1             0.6            1.0      2
    """
    mean_predicted, observed, counts = _bin(y, p, n_bins=n_bins, strategy=strategy)
    return pd.DataFrame(
        {"mean_predicted": mean_predicted, "observed_rate": observed, "count": counts}
    )


@dataclass(frozen=True, eq=False)
class CalibrationDiagnostics:
    """How well probabilities match observed rates on one part of the leads.

    Attributes
    ----------
    ece : float
        Expected calibration error (quantile bins).
    brier : float
        Brier score (mean squared error of the probabilities).
    n : int
        Number of leads.
    curve : pandas.DataFrame
        The reliability curve (see :func:`reliability_curve`).
    """

    ece: float
    brier: float
    n: int
    curve: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict; the curve is a list of records."""
        records = [
            {
                "mean_predicted": float(row.mean_predicted),
                "observed_rate": float(row.observed_rate),
                "count": int(row.count),
            }
            for row in self.curve.itertuples(index=False)
        ]
        return {
            "ece": float(self.ece),
            "brier": float(self.brier),
            "n": int(self.n),
            "curve": records,
        }


def diagnose(y: Any, p: Any, *, n_bins: int = 10) -> CalibrationDiagnostics:
    """Calibration diagnostics of probabilities ``p`` against outcomes ``y``.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes.
    p : array-like of float in [0, 1]
        Predicted probabilities.
    n_bins : int, default=10
        Number of quantile bins for the ECE and the reliability curve.

    Returns
    -------
    CalibrationDiagnostics

    Examples
    --------
    >>> d = diagnose([0, 0, 1, 1], [0.2, 0.2, 0.6, 0.6], n_bins=2)
    >>> round(d.ece, 3), round(d.brier, 3), d.n
    (0.3, 0.1, 4)
    """
    labels, probabilities = _check_pair(y, p)
    curve = reliability_curve(labels, probabilities, n_bins=n_bins)
    ece = _ece(
        curve["mean_predicted"].to_numpy(),
        curve["observed_rate"].to_numpy(),
        curve["count"].to_numpy(),
    )
    brier = float(brier_score_loss(labels, probabilities))
    return CalibrationDiagnostics(ece=ece, brier=brier, n=int(labels.size), curve=curve)


def _ece(mean_predicted: np.ndarray, observed: np.ndarray, counts: np.ndarray) -> float:
    return float(np.sum(np.abs(observed - mean_predicted) * counts) / np.sum(counts))


def _bin(
    y: Any, p: Any, *, n_bins: int, strategy: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted, observed rate and count for each non-empty bin."""
    if strategy not in _STRATEGIES:
        raise ValueError(
            f"strategy must be one of {', '.join(_STRATEGIES)}; got {strategy!r}. "
            "Use 'quantile' for bins of equal size."
        )
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}. Use e.g. 10.")
    labels, probabilities = _check_pair(y, p)
    if strategy == "quantile":
        edges = np.unique(np.quantile(probabilities, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    # a value equal to an inner edge goes to the lower bin, as in calibration_curve
    index = np.searchsorted(edges[1:-1], probabilities, side="left")
    size = max(len(edges) - 1, 1)
    counts = np.bincount(index, minlength=size)
    sum_predicted = np.bincount(index, weights=probabilities, minlength=size)
    sum_observed = np.bincount(index, weights=labels.astype(float), minlength=size)
    filled = counts > 0
    counts = counts[filled]
    return sum_predicted[filled] / counts, sum_observed[filled] / counts, counts


def _check_pair(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = outcomes(y)
    probabilities = numbers(p, "p", probabilities=True)
    if labels.size != probabilities.size:
        raise DataError(
            f"y and p must have the same length; got {labels.size} outcomes and "
            f"{probabilities.size} probabilities. Pass one probability per lead."
        )
    return labels, probabilities
