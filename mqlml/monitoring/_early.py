"""Monitoring before outcomes are final: the expected rate of a batch's MQLs, and the
early rate of MQLs younger than the outcome window (:func:`mqlml.monitoring.monitor`).

The numbers are :mod:`mqlml.metrics`'s; this module applies them to a bundle and a batch:
which leads are young (their age as of the moment outcomes were read, against the
bundle's conversion-delay curve, :mod:`mqlml.leads`), what each MQL was promised, and the
same rule as for mature outcomes (:data:`mqlml.monitoring.RATE_TOLERANCE`): the rate is
``off`` when the interval excludes the promised rate and the gap is material.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import DataError
from mqlml.leads._delay import ConversionDelay
from mqlml.metrics._estimate import early_rate, expected_rate, verdict

__all__ = [
    "INVISIBLE",
    "ages_as_of",
    "delay_of",
    "early_check",
    "promised_rate",
    "rate_level",
    "unlabelled_estimate",
]

#: What no estimate from probabilities can see.
INVISIBLE = (
    "A change in how leads of a kind convert (rather than in who the leads are) does not "
    "show in their probabilities: only outcomes reveal it."
)
_DAY = pd.Timedelta(days=1)


def delay_of(bundle) -> ConversionDelay | None:
    """The bundle's conversion-delay curve (None for a bundle trained without conversion
    times, or before curves were kept)."""
    data = bundle.metadata.get("delay")
    return None if not data else ConversionDelay.from_dict(data)


def ages_as_of(bundle, leads: pd.DataFrame, as_of: Any = None) -> tuple[np.ndarray, pd.Timestamp]:
    """Each lead's age in days at ``as_of`` (default: the newest lead's creation time).

    Raises
    ------
    DataError
        If ``as_of`` is before a lead's creation.
    """
    created = bundle.schema.times(leads)
    moment = created.max() if as_of is None else pd.Timestamp(as_of)
    age = ((moment - created) / _DAY).to_numpy(dtype=float)
    if (age < 0).any():
        raise DataError(
            f"as_of must not be before a lead's creation; got {moment}, before "
            f"{int((age < 0).sum()):,} leads (the newest created {created.max()}). Give the "
            "date the outcomes were read."
        )
    return age, moment


def promised_rate(bundle, codes: np.ndarray | None, rows: np.ndarray) -> float:
    """What the line promised the MQLs at ``rows``: the bundle's expected rate, or with
    segment lines the mean of each MQL's own line's expected rate."""
    if codes is None:
        return float(bundle.threshold.expected_rate)
    by_line = np.array([x.threshold.expected_rate for x in bundle.segments.lines])
    return float(by_line[codes[rows]].mean())


def rate_level(rate: float, interval, expected: float, tolerance: float) -> str:
    """``off`` when the interval excludes the promised rate and the gap is material (more
    than ``tolerance``), else ``fine``: the one rule for final and early rates."""
    lo, hi = interval
    outside = not lo <= expected <= hi
    return "off" if outside and abs(rate - expected) > tolerance else "fine"


def _target_verdict(out: dict[str, Any]) -> str | None:
    target = out.get("target_rate")
    return None if target is None else verdict(out["interval"], target)


def _judge(out: dict[str, Any], expected: float, tolerance: float, judged: bool):
    out["expected_rate"] = expected
    out["target_verdict"] = _target_verdict(out)
    out["rate_gap"] = None
    out["rate"] = "not judged"
    if judged and out["interval"] is not None:
        out["rate_gap"] = out["estimated_rate"] - expected
        out["rate"] = rate_level(out["estimated_rate"], out["interval"], expected, tolerance)
    return out


def unlabelled_estimate(
    bundle,
    p_mql: np.ndarray,
    mql_rows: np.ndarray,
    codes: np.ndarray | None,
    score: dict[str, Any] | None,
) -> dict[str, Any]:
    """The expected MQL-to-SQL rate of the batch's MQLs from their probabilities.

    Returns
    -------
    dict
        :func:`mqlml.metrics.expected_rate`'s keys, ``target_rate``, ``target_verdict``
        (``below target``, ``holds the target``, ``above target``), ``promised_rate``
        (what the line promised these MQLs) and ``trust``: ``fine``, or why the estimate
        may not hold (the batch's probabilities moved beyond what calibration saw).
    """
    bins = bundle.reference.get("calibration_bins")
    out = expected_rate(p_mql, bins)
    out["target_rate"] = bundle.threshold.target_rate
    out["promised_rate"] = promised_rate(bundle, codes, mql_rows) if len(mql_rows) else None
    out["target_verdict"] = _target_verdict(out)
    doubts = []
    if out["beyond_calibration"]:
        doubts.append(
            f"{out['beyond_calibration']:,} MQLs sit where the calibration part held few "
            "leads (or none)"
        )
    if score is not None and score["level"] == "alert":
        doubts.append(f"the score distribution moved (PSI {score['psi']:.2f})")
    out["trust"] = "fine" if not doubts else "; ".join(doubts)
    out["invisible"] = INVISIBLE
    return out


def early_check(
    bundle,
    y: np.ndarray,
    p: np.ndarray,
    age: np.ndarray,
    rows: np.ndarray,
    codes: np.ndarray | None,
    segment: np.ndarray | None,
    tolerance: float,
    minimum: int,
) -> dict[str, Any]:
    """The early rate of young MQLs with outcomes, judged like a mature rate.

    Parameters
    ----------
    bundle : Bundle
        With a delay curve (:func:`delay_of`).
    y : array of 0/1
        Converted so far, per young MQL with an outcome.
    p : array of float
        Their calibrated probabilities.
    age : array of float
        Their ages in days when the outcomes were read.
    rows : array of int
        Their positions in the batch (for segment lines).
    codes, segment : arrays, optional
        Segment codes of the batch (segment lines) and each MQL's segment value (its own
        delay curve).
    tolerance : float
        The material gap (:data:`mqlml.monitoring.RATE_TOLERANCE`).
    minimum : int
        Fewest equivalent mature MQLs (sum of arrived shares) to judge the rate
        (:data:`mqlml.monitoring.MIN_OUTCOME_MQLS`).

    Returns
    -------
    dict
        :func:`mqlml.metrics.early_rate`'s keys, ``mean_age_days``, ``horizon_days``,
        ``target_rate``, ``target_verdict``, ``expected_rate`` (the promise), ``rate_gap``
        and ``rate`` (``fine``, ``off`` or ``not judged``).
    """
    curve = delay_of(bundle)
    share = curve.share_at(age, segment)
    out = early_rate(y, share, probabilities=p, share_variance=curve.sum_variance(age, segment))
    out["mean_age_days"] = float(age.mean()) if age.size else None
    out["horizon_days"] = curve.horizon_days
    out["target_rate"] = bundle.threshold.target_rate
    expected = promised_rate(bundle, codes, rows) if rows.size else bundle.threshold.expected_rate
    return _judge(out, expected, tolerance, judged=out["equivalent_mqls"] >= minimum)
