"""Choose the MQL threshold for a target MQL-to-SQL rate or for a sales capacity.

A lead is an MQL when its calibrated probability is at least the threshold. With
calibrated probabilities, the expected MQL-to-SQL rate at a threshold ``t`` is the mean
probability of the leads with ``p >= t``; that mean only falls as ``t`` is lowered, so
the lowest threshold whose expected rate still reaches the target gives sales the rate
it agreed to with as many MQLs as that rate allows.

Alternatively the threshold follows a capacity: how many MQLs sales can take, in total
or per period (``"500/month"``).

Leads with equal probabilities are never split: they are all MQLs or none is. The exact
intervals of a realized rate are :mod:`mqlml.metrics`'s; a capacity is read by
:func:`mqlml.config.parse_capacity`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mqlml.config._capacity import PERIOD_DAYS, parse_capacity
from mqlml.errors import DataError, UnreachableTargetError
from mqlml.io._dates import parse_dates
from mqlml.metrics._inputs import numbers, outcomes
from mqlml.metrics._rates import INTERVAL_LEVEL, lower_bound, rate_interval

__all__ = [
    "MIN_GUARANTEE_MQLS",
    "ThresholdResult",
    "choose_threshold",
    "guarantee_check",
]


#: A guarantee's sequence of tests starts at this many of the most likely leads.
MIN_GUARANTEE_MQLS = 30

# Expected rates within this of the target count as reaching it (cumulative-sum rounding).
_RATE_TOLERANCE = 1e-9


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
        With labels: the observed conversion rate of the MQLs, their conversions and the
        exact (Clopper-Pearson) 90 % interval of the rate; ``None`` without labels.
    confidence : float or None
        With a guarantee: the confidence that the MQLs' rate is at least the target.
    lower_bound : float or None
        With labels: the rate the MQLs reach at least, with ``confidence`` (90 % when no
        guarantee was asked): the one-sided exact lower bound on these leads.
    n_mql_expected_rule : int or None
        With a guarantee: the MQLs the expected-rate rule would have given, so
        ``n_mql_expected_rule - n_mql`` is what the guarantee costs.
    guarantee : {"met", "not met"} or None
        With a guarantee asked: whether a line passed the tests. When none did, the line
        is the strictest one that reaches the target with the confidence taken alone,
        else the expected-rate line, and ``note`` says which and why.
    note : str or None
        Why the guarantee is not met and what the line is instead (a warning).
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
    confidence: float | None = None
    lower_bound: float | None = None
    n_mql_expected_rule: int | None = None
    guarantee: str | None = None
    note: str | None = None

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


def choose_threshold(
    probabilities: Any,
    *,
    target_rate: float | None = None,
    capacity: int | str | None = None,
    labels: Any = None,
    times: Any = None,
    confidence: float | None = None,
    unreachable: Literal["raise", "strictest"] = "raise",
) -> ThresholdResult:
    """Choose the MQL threshold for a target MQL-to-SQL rate or a capacity.

    Target mode (``target_rate``): among the distinct probability values, the lowest
    threshold whose expected rate (mean probability of the leads at or above it) is at
    least the target (within 1e-9, for rounding), so the most MQLs at that rate. This
    rule is unbiased: about half the time the realized rate falls below the target.

    Guarantee (``target_rate`` with ``confidence``, labels needed): the lowest threshold
    whose realized rate on these leads is at least the target with that confidence, by
    exact binomial tests over the thresholds taken from high to low with fixed-sequence
    stopping (Learn-then-Test, Angelopoulos et al. 2021): the hypothesis "the MQLs above
    ``t`` convert below the target" is rejected when ``P(Binomial(n_mql, target) >=
    conversions)`` is small; sequences start at the top :data:`MIN_GUARANTEE_MQLS`, 100,
    300, 1,000... leads, share the error budget, and each stops at the first threshold
    not rejected. The probability that the chosen threshold's true rate is below the
    target is then at most ``1 - confidence``. When no line passes (too few leads or
    conversions, a weak ranking), the guarantee degrades rather than fails: the line is
    the strictest one of at least :data:`MIN_GUARANTEE_MQLS` leads whose own exact bound
    reaches the target with the confidence (taken alone, picked after looking: no
    guarantee), else the expected-rate line; ``guarantee`` is then ``"not met"`` and
    ``note`` says so.

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
        Outcomes of the same leads; adds the realized rate, its exact interval and the
        lower bound of the rate.
    times : array-like of datetimes, optional
        Creation times of the same leads; required for a capacity per period.
    confidence : float in (0, 1), optional
        Ask for a guarantee at this confidence (e.g. 0.9) instead of the expected rate.
    unreachable : {"raise", "strictest"}, default="raise"
        When even the top leads do not reach ``target_rate``: raise, or take the
        strictest line of at least :data:`MIN_GUARANTEE_MQLS` leads (the highest expected
        rate such a line has), with ``note`` saying so (training does this, so a nightly
        retrain still writes a bundle).

    Returns
    -------
    ThresholdResult

    Raises
    ------
    ValueError
        If neither or both of ``target_rate`` and ``capacity`` are given, or one is out
        of range, or ``times`` is missing for a capacity per period, or a guarantee is
        asked without labels or with a capacity.
    DataError
        If ``probabilities``, ``labels`` or ``times`` are unusable.
    UnreachableTargetError
        If even the leads with the top probability do not reach ``target_rate`` (with
        ``unreachable="raise"``).

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
    if confidence is not None:
        if not isinstance(confidence, float | int) or not 0.5 <= float(confidence) < 1.0:
            raise ValueError(
                f"confidence must be in [0.5, 1); got {confidence!r}. Use e.g. 0.9 for a 90 % "
                "guarantee."
            )
        if labels is None or target_rate is None:
            raise ValueError(
                "a guarantee (confidence) needs a target_rate and the labels of the leads; "
                f"got target_rate={target_rate!r} and "
                f"labels={'none' if labels is None else 'given'}."
            )
    p = numbers(probabilities, "probabilities", probabilities=True)
    y = None if labels is None else outcomes(labels, "labels", n=p.size)
    ordered = np.sort(p)[::-1]
    n = int(p.size)
    capacity_total = capacity_per_period = period = n_expected_rule = guarantee = note = None
    if target_rate is not None:
        try:
            threshold = _threshold_for_rate(ordered, target_rate)
        except UnreachableTargetError:
            if unreachable == "raise":
                raise
            threshold, note = _strictest_line(ordered, float(target_rate))
            confidence = None  # nothing to certify below the target
        mode = "target_rate"
        target_rate = float(target_rate)
        if confidence is not None:
            n_expected_rule = int(np.count_nonzero(p >= threshold))
            sure, note = _guaranteed_threshold(p, y, target_rate, float(confidence))
            guarantee = "met" if note is None else "not met"
            if sure is not None:
                threshold = sure
            else:
                expected = float(p[p >= threshold].mean())
                note += (
                    f" The line is the expected-rate one instead ({n_expected_rule:,} MQLs, "
                    f"expected rate {expected:.1%}: a promise on average, not a guarantee)."
                )
            if note is not None:
                note += (
                    " Lower the target or the confidence, or calibrate on more leads (more "
                    "conversions)."
                )
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
    realized_rate = realized_conversions = interval = lower = None
    if y is not None:
        realized_conversions = int(y[mql].sum())
        realized_rate = realized_conversions / n_mql
        interval = rate_interval(realized_conversions, n_mql)
        lower = lower_bound(realized_conversions, n_mql, confidence or INTERVAL_LEVEL)
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
        confidence=None if confidence is None else float(confidence),
        lower_bound=lower,
        n_mql_expected_rule=n_expected_rule,
        guarantee=guarantee,
        note=note,
    )


def _guaranteed_threshold(
    p: np.ndarray, y: np.ndarray, target: float, confidence: float
) -> tuple[float | None, str | None]:
    """Lowest threshold certified by fixed-sequence exact binomial tests, high to low.

    Fixed-sequence testing with several starts (Angelopoulos et al. 2021, section 4): the
    error budget ``1 - confidence`` is split evenly over starts at the top 30, 100, 300,
    1,000... leads (by probability, so chosen without the labels); from each start the
    thresholds are tested from high to low until the first one not rejected. Any
    threshold rejected from any start is certified, and the lowest is chosen.

    Returns ``(threshold, None)``; when no threshold is certified, ``(line, note)``: the
    strictest line a sequence could reach (at least :data:`MIN_GUARANTEE_MQLS` leads, or
    all of them when fewer) whose own lower bound reaches the target (None when there is
    none: the caller keeps the expected-rate line), and why the guarantee is not met.
    """
    from scipy.stats import binom

    order = np.argsort(-p, kind="stable")
    ordered = p[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    count = ends + 1
    conversions = np.cumsum(y[order])[ends]
    starts = sorted({int(np.searchsorted(count, k)) for k in _starts(p.size)})
    alpha = (1.0 - confidence) / len(starts)
    # p-value of "rate < target": P(Binomial(count, target) >= conversions)
    pvalues = binom.sf(conversions - 1, count, target)
    rejected = pvalues <= alpha
    certified = -1
    for start in starts:
        stop = start
        while stop < rejected.size and rejected[stop]:
            stop += 1
        if stop > start:
            certified = max(certified, stop - 1)
    if certified >= 0:
        return float(ordered[ends[certified]]), None
    # No line passed. Its own test (the exact lower bound at ``confidence``) is the
    # p-value at 1 - confidence, without the share of the budget nor the stopping.
    n, k = int(p.size), int(y.sum())
    rate, level = _percent(target), _percent(confidence)
    head = (
        f"The MQL-to-SQL rate {rate} is not guaranteed with {level} confidence"
        f" on these {n:,} leads ({k:,} converted): "
    )
    tested = np.arange(count.size) >= starts[0]  # the lines a sequence of tests can reach
    tops = ", ".join(f"{int(count[i]):,}" for i in starts)
    share = "share" if len(starts) > 1 else "spend"
    head += (
        f"no line of at least {int(count[starts[0]]):,} MQLs passed the exact tests, which "
        f"start at the top {tops} leads and {share} the {_percent(1 - confidence)} error; "
        "guarantee: not met."
    )
    alone = np.flatnonzero(tested & (pvalues <= 1.0 - confidence))
    if alone.size:
        i = int(alone[0])  # the strictest: the highest such threshold
        bound = lower_bound(int(conversions[i]), int(count[i]), confidence)
        return float(ordered[ends[i]]), head + (
            f" The line is the strictest that reaches {rate} taken alone: the top "
            f"{int(count[i]):,} leads, {int(conversions[i]):,} converted, at least "
            f"{_at_least(bound, target)} with {level} confidence on their own (a line picked "
            "after looking at the labels, so no guarantee)."
        )
    candidates = np.flatnonzero(tested)
    bounds = [lower_bound(int(conversions[i]), int(count[i]), confidence) for i in candidates]
    best = int(candidates[int(np.argmax(bounds))])
    return None, head + (
        f" None reaches it even taken alone: the best is the top {int(count[best]):,} leads, "
        f"{int(conversions[best]):,} converted, at least {_at_least(max(bounds), target)} "
        f"with {level} confidence."
    )


def _starts(n: int) -> list[int]:
    """Where the guarantee's sequences of tests start: the top 30, 95, 300, 949... of n leads."""
    first = MIN_GUARANTEE_MQLS
    return [round(first * 10 ** (j / 2)) for j in range(40) if first * 10 ** (j / 2) <= n] or [n]


def guarantee_check(n: int, conversions: int, target_rate: float, confidence: float) -> str | None:
    """Before any fitting: why a guarantee cannot be met on ``n`` leads, or None.

    The best a model can do is rank every conversion first (all probabilities distinct);
    when even then no line of at least :data:`MIN_GUARANTEE_MQLS` leads would pass the
    tests of :func:`choose_threshold`, no model can pass one, and this says so.

    Parameters
    ----------
    n, conversions : int
        Leads and conversions of the part the line will be chosen on.
    target_rate, confidence : float
        The guarantee asked for.

    Returns
    -------
    str or None
        A warning sentence, or None when a good enough model could meet the guarantee.

    Examples
    --------
    >>> guarantee_check(1200, 180, 0.25, 0.9) is None
    True
    >>> print(guarantee_check(1200, 11, 0.25, 0.9))  # doctest: +NORMALIZE_WHITESPACE
    11 conversions among 1,200 leads cannot certify an MQL-to-SQL rate of 25% with 90%
    confidence: even with every conversion ranked first, no line of at least 30 MQLs would
    pass the exact tests, so the guarantee will not be met.
    """
    from scipy.stats import binom

    starts = _starts(n)
    alpha = (1.0 - confidence) / len(starts)
    for top in starts:
        if binom.sf(min(conversions, top) - 1, top, target_rate) <= alpha:
            return None
    return (
        f"{conversions:,} conversions among {n:,} leads cannot certify an MQL-to-SQL rate of "
        f"{_percent(target_rate)} with {_percent(confidence)} confidence: even with every "
        f"conversion ranked first, no line of at least {min(MIN_GUARANTEE_MQLS, n):,} MQLs "
        "would pass "
        "the exact tests, so the guarantee will not be met."
    )


def _percent(x: float) -> str:
    """A rate or confidence as given: 0.25 -> 25%, 0.975 -> 97.5%."""
    return f"{100 * float(x):.10g}%"


def _at_least(bound: float, target: float) -> str:
    """A lower bound rounded down, with the digits that keep it on its side of the target."""
    for digits in (1, 2, 3, 4):
        shown = math.floor(bound * 100 * 10**digits) / 10**digits
        if (shown / 100 >= target) == (bound >= target):
            return f"{shown:.{digits}f}%"
    return f"{100 * bound:.6f}%"


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


def _strictest_line(ordered: np.ndarray, target_rate: float) -> tuple[float, str]:
    """The line of the first tie group that holds at least MIN_GUARANTEE_MQLS leads (or
    all of them), and a note saying the target is out of reach."""
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    enough = ends[ends + 1 >= min(MIN_GUARANTEE_MQLS, ordered.size)]
    end = int(enough[0])
    expected = float(ordered[: end + 1].mean())
    note = (
        f"target_rate {target_rate:.1%} is not reached on these leads: even the top "
        f"{end + 1:,} are expected to convert at {expected:.1%}, so the line is the strictest "
        f"one of at least {MIN_GUARANTEE_MQLS} MQLs (expected rate {expected:.1%}). Lower the "
        "target, use a capacity (--capacity), or train on more recent history."
    )
    return float(ordered[end]), note


def _capacity_total(number: int, period: str | None, times: Any, n: int) -> int:
    """Number of MQLs over these leads, in ``[1, n]``."""
    if period is None:
        return min(number, n)
    if times is None:
        raise ValueError(
            f"times must be given for a capacity per {period}; got None. Pass the leads' "
            "creation times, or give the capacity as a total number of MQLs."
        )
    stamps = parse_dates(pd.Series(np.asarray(times)), "times", what="")
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
