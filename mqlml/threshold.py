"""Choose the MQL threshold for a target MQL-to-SQL rate or for a sales capacity.

A lead is an MQL when its calibrated probability is at least the threshold. With
calibrated probabilities, the expected MQL-to-SQL rate at a threshold ``t`` is the mean
probability of the leads with ``p >= t``; that mean only falls as ``t`` is lowered, so
the lowest threshold whose expected rate still reaches the target gives sales the rate
it agreed to with as many MQLs as that rate allows.

Alternatively the threshold follows a capacity: how many MQLs sales can take, in total
or per period (``"500/month"``).

Leads with equal probabilities are never split: they are all MQLs or none is.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import DataError, UnreachableTargetError
from mqlml.inputs import numbers, outcomes

__all__ = [
    "PERIOD_DAYS",
    "ThresholdResult",
    "choose_threshold",
    "parse_capacity",
    "rate_curve",
    "realized",
]

#: Length of each capacity period in days.
PERIOD_DAYS: dict[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12,
    "quarter": 365.25 / 4,
    "year": 365.25,
}

# Expected rates within this of the target count as reaching it (cumulative-sum rounding).
_RATE_TOLERANCE = 1e-9
_CAPACITY_FORM = (
    "a positive integer or 'N/period' with period one of day, week, month, quarter, year "
    "(e.g. '500/month')"
)
_CAPACITY_PATTERN = re.compile(r"^\s*(\d+)\s*(?:/\s*([A-Za-z]+)\s*)?$")


@dataclass(frozen=True)
class ThresholdResult:
    """A chosen MQL threshold and what it is expected (and, with labels, observed) to give.

    Attributes
    ----------
    threshold : float
        Leads with probability ``>= threshold`` are MQLs.
    mode : {"target_rate", "capacity"}
        How the threshold was chosen.
    target_rate : float or None
        The MQL-to-SQL rate aimed for (target mode).
    capacity : int or None
        Number of MQLs asked for over these leads (capacity mode).
    capacity_per_period : int or None
        The capacity per period as given (``500`` of ``"500/month"``).
    period : str or None
        The capacity period (``"month"`` of ``"500/month"``).
    n : int
        Number of leads.
    n_mql : int
        Number of MQLs at the threshold (ties at the threshold included).
    expected_rate : float
        Mean probability of the MQLs: the expected MQL-to-SQL rate.
    expected_share : float
        ``n_mql / n``.
    expected_conversions : float
        Sum of the MQLs' probabilities.
    realized_rate, realized_conversions, realized_interval
        With labels: the observed conversion rate of the MQLs, their conversions and a
        percentile-bootstrap interval of the rate; ``None`` without labels.
    """

    threshold: float
    mode: str
    target_rate: float | None
    capacity: int | None
    capacity_per_period: int | None
    period: str | None
    n: int
    n_mql: int
    expected_rate: float
    expected_share: float
    expected_conversions: float
    realized_rate: float | None = None
    realized_conversions: int | None = None
    realized_interval: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (the interval as a ``[lo, hi]`` list)."""
        out = asdict(self)
        if self.realized_interval is not None:
            out["realized_interval"] = [float(v) for v in self.realized_interval]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThresholdResult:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        data = dict(data)
        if data.get("realized_interval") is not None:
            data["realized_interval"] = tuple(float(v) for v in data["realized_interval"])
        return cls(**data)


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


def choose_threshold(
    probabilities: Any,
    *,
    target_rate: float | None = None,
    capacity: int | str | None = None,
    labels: Any = None,
    times: Any = None,
    n_boot: int = 1000,
    confidence: float = 0.90,
    seed: int = 0,
) -> ThresholdResult:
    """Choose the MQL threshold for a target MQL-to-SQL rate or a capacity.

    Target mode (``target_rate``): among the distinct probability values, the lowest
    threshold whose expected rate (mean probability of the leads at or above it) is at
    least the target (within 1e-9, for rounding), so the most MQLs at that rate.

    Capacity mode (``capacity``): the probability of the k-th most likely lead, where k
    is the capacity (an int, MQLs over these leads) or ``round(N * span)`` for
    ``"N/period"``, span being ``(max(times) - min(times) + 1 day)`` in periods, k kept
    in ``[1, n]``. Leads tied at the threshold are all MQLs, so ``n_mql`` may exceed k
    by the size of that tie.

    Parameters
    ----------
    probabilities : array-like of float in [0, 1]
        Calibrated probabilities of the leads (usually the calibration part).
    target_rate : float in (0, 1), optional
        The MQL-to-SQL rate to reach. Exactly one of ``target_rate`` and ``capacity``.
    capacity : int or str, optional
        MQLs in total (``1200``) or per period (``"500/month"``).
    labels : array-like of 0/1, optional
        Outcomes of the same leads; adds the realized rate and its interval.
    times : array-like of datetimes, optional
        Creation times of the same leads; required for a capacity per period.
    n_boot : int, default=1000
        Bootstrap resamples for the realized-rate interval.
    confidence : float, default=0.90
        Coverage of the central bootstrap interval.
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    ThresholdResult

    Raises
    ------
    ValueError
        If neither or both of ``target_rate`` and ``capacity`` are given, or one is out
        of range, or ``times`` is missing for a capacity per period.
    DataError
        If ``probabilities``, ``labels`` or ``times`` are unusable.
    UnreachableTargetError
        If even the leads with the top probability do not reach ``target_rate``.

    Examples
    --------
    >>> result = choose_threshold([0.9, 0.8, 0.5, 0.3, 0.1], target_rate=0.7)
    >>> result.threshold, result.n_mql, round(result.expected_rate, 4)
    (0.5, 3, 0.7333)
    >>> choose_threshold([0.9, 0.8, 0.5, 0.3, 0.1], capacity=2).threshold
    0.8
    """
    if (target_rate is None) == (capacity is None):
        raise ValueError(
            "exactly one of target_rate and capacity must be given; got "
            f"target_rate={target_rate!r} and capacity={capacity!r}. "
            "Aim for a conversion rate or for a number of MQLs, not both."
        )
    p = numbers(probabilities, "probabilities", probabilities=True)
    y = None if labels is None else outcomes(labels, "labels", n=p.size)
    ordered = np.sort(p)[::-1]
    n = int(p.size)
    capacity_total = capacity_per_period = period = None
    if target_rate is not None:
        threshold = _threshold_for_rate(ordered, target_rate)
        mode = "target_rate"
        target_rate = float(target_rate)
    else:
        capacity_per_period, period = parse_capacity(capacity)
        capacity_total = _capacity_total(capacity_per_period, period, times, n)
        threshold = float(ordered[capacity_total - 1])
        mode = "capacity"
        if period is None:
            capacity_per_period = None
    mql = p >= threshold
    n_mql = int(mql.sum())
    expected_conversions = float(p[mql].sum())
    realized_rate = realized_conversions = interval = None
    if y is not None:
        realized_conversions = int(y[mql].sum())
        realized_rate = realized_conversions / n_mql
        interval = _bootstrap_interval(realized_conversions, n_mql, n_boot, confidence, seed)
    return ThresholdResult(
        threshold=float(threshold),
        mode=mode,
        target_rate=target_rate,
        capacity=capacity_total,
        capacity_per_period=capacity_per_period,
        period=period,
        n=n,
        n_mql=n_mql,
        expected_rate=expected_conversions / n_mql,
        expected_share=n_mql / n,
        expected_conversions=expected_conversions,
        realized_rate=realized_rate,
        realized_conversions=realized_conversions,
        realized_interval=interval,
    )


def realized(
    probabilities: Any,
    labels: Any,
    threshold: float,
    *,
    n_boot: int = 1000,
    confidence: float = 0.90,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure a chosen threshold on another part of the leads (usually the test part).

    Parameters
    ----------
    probabilities : array-like of float in [0, 1]
        Calibrated probabilities of the leads.
    labels : array-like of 0/1
        Their outcomes.
    threshold : float
        Leads with probability ``>= threshold`` are MQLs.
    n_boot : int, default=1000
        Bootstrap resamples for the realized-rate interval.
    confidence : float, default=0.90
        Coverage of the central bootstrap interval.
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    dict
        JSON-safe: ``n``, ``n_mql``, ``mql_share``, ``expected_rate`` (mean probability
        of the MQLs), ``realized_rate``, ``realized_conversions``, ``realized_interval``
        (``[lo, hi]``), ``recall`` (MQL conversions / all conversions) and ``lift``
        (realized rate / base rate). Rates, interval, recall and lift are ``None`` when
        there is no MQL (or no conversion, for recall and lift).

    Examples
    --------
    >>> r = realized([0.9, 0.7, 0.4, 0.2], [1, 0, 1, 0], 0.5)
    >>> r["n_mql"], r["realized_rate"], r["recall"], r["lift"]
    (2, 0.5, 0.5, 1.0)
    """
    p = numbers(probabilities, "probabilities", probabilities=True)
    y = outcomes(labels, "labels", n=p.size)
    threshold = float(threshold)
    mql = p >= threshold
    n, n_mql = int(p.size), int(mql.sum())
    total_conversions = int(y.sum())
    conversions = int(y[mql].sum())
    rate = conversions / n_mql if n_mql else None
    base_rate = total_conversions / n
    interval = None
    if n_mql:
        interval = list(_bootstrap_interval(conversions, n_mql, n_boot, confidence, seed))
    return {
        "n": n,
        "n_mql": n_mql,
        "mql_share": n_mql / n,
        "expected_rate": float(p[mql].mean()) if n_mql else None,
        "realized_rate": rate,
        "realized_conversions": conversions,
        "realized_interval": interval,
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


def _threshold_for_rate(ordered: np.ndarray, target_rate: float) -> float:
    """Lowest tie-group value whose top-group mean reaches ``target_rate``."""
    if isinstance(target_rate, bool) or not 0.0 < float(target_rate) < 1.0:
        raise ValueError(
            f"target_rate must be in (0, 1); got {target_rate!r}. "
            "Give the MQL-to-SQL rate as a fraction, e.g. 0.25."
        )
    # a group ends where the next (lower) value differs, and at the last lead
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    means = np.cumsum(ordered)[ends] / (ends + 1)
    reaching = np.flatnonzero(means >= float(target_rate) - _RATE_TOLERANCE)
    if reaching.size == 0:
        raise UnreachableTargetError(
            "target_rate must be at most the highest reachable MQL-to-SQL rate "
            f"{means[0]:.4g} (the leads with the top probability); got {target_rate!r}. "
            "Lower the target or use a capacity (--capacity)."
        )
    return float(ordered[ends[reaching[-1]]])


def _capacity_total(number: int, period: str | None, times: Any, n: int) -> int:
    """Number of MQLs over these leads, in ``[1, n]``."""
    if period is None:
        return min(number, n)
    if times is None:
        raise ValueError(
            f"times must be given for a capacity per {period}; got None. Pass the leads' "
            "creation times, or give the capacity as a total number of MQLs."
        )
    try:
        stamps = pd.to_datetime(pd.Series(np.asarray(times)), format="mixed")
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"times must be datetimes; got values that do not parse ({exc}). "
            "Pass the leads' creation times."
        ) from None
    if len(stamps) != n:
        raise DataError(
            f"times must have one value per lead; got {len(stamps)} times for {n} leads. "
            "Pass the creation times of the same leads."
        )
    if stamps.isna().any():
        raise DataError(
            f"times must not be missing; got {int(stamps.isna().sum())} missing of {n}. "
            "Fill or drop leads without a creation time."
        )
    span_days = (stamps.max() - stamps.min()) / pd.Timedelta(days=1) + 1.0
    k = int(np.floor(number * span_days / PERIOD_DAYS[period] + 0.5))
    return min(max(k, 1), n)


def _bootstrap_interval(
    conversions: int, n_mql: int, n_boot: int, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile-bootstrap interval of a 0/1 mean.

    Resampling ``n_mql`` labels with replacement draws the number of ones from
    Binomial(n_mql, rate), so the resamples are drawn from that directly.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; got {n_boot!r}. Use e.g. 1000.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}. Use e.g. 0.90.")
    rng = np.random.default_rng(seed)
    rates = rng.binomial(n_mql, conversions / n_mql, size=n_boot) / n_mql
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(rates, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
