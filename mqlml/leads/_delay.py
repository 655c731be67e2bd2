"""How long conversions take: the conversion-delay curve, fitted at training, kept as data.

A lead that converts does so some days after it was created (and scored). The curve
``share(a)`` is the share of a cohort's eventual conversions (those inside the outcome
window, or inside the horizon by which conversions stop) that have arrived by age ``a``.
It is a Kaplan-Meier estimate over every lead: a conversion recorded by the extraction
date is an event at its delay, every other lead is censored at its age. The cumulative
incidence by each day, divided by the incidence by the horizon, is the share. Young
leads count for the early days (so a sales process that got faster shows at once), the
leads whose horizon passed for the late ones. Assumed: leads of different ages share
one conversion rate (a rate that changed over the cohorts biases the share by their ratio).

Monitoring uses it to judge young MQLs before their outcomes are final
(:func:`mqlml.metrics.early_rate`): conversions seen so far over the share expected to
have arrived by each lead's age. The curve is kept per segment too, where a segment has
:data:`MIN_CONVERSIONS` conversions of its own (else it uses the overall curve).

Assumed: the delay of a conversion does not depend on whether the rate changed; a
conversion arriving earlier or later than it used to reads as a higher or lower rate until
the cohort matures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import DataError

__all__ = ["MIN_CONVERSIONS", "ConversionDelay", "fit_delay", "horizon_from_data"]

#: Fewest conversions a curve (overall or a segment's) is fitted on.
MIN_CONVERSIONS = 30
#: Without an outcome window, the horizon is the age by which this share of conversions
#: had arrived (measured on the older half of the history).
HORIZON_SHARE = 0.99
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ConversionDelay:
    """The share of eventual conversions arrived by each whole day of age.

    Attributes
    ----------
    share : tuple of float
        ``share[d]``: the share of conversions within ``horizon_days`` that arrived
        within ``d`` days of creation, ``d = 0, 1, ..., ceil(horizon_days)``; ends at 1.
    horizon_days : float
        The outcome window (``outcome.window_days``), or the age by which conversions
        stop when there is none.
    conversions : int
        The conversions it was fitted on.
    segments : dict
        Segment value -> ConversionDelay, for segments with :data:`MIN_CONVERSIONS`
        conversions of their own.
    """

    share: tuple[float, ...]
    horizon_days: float
    conversions: int
    segments: dict[str, ConversionDelay] = field(default_factory=dict)

    def share_at(self, age_days: Any, segment: Any = None) -> np.ndarray:
        """The share of eventual conversions arrived by each age (in days).

        Linear between whole days (the curve is kept at each whole day); negative ages
        have 0, ages at or past the horizon 1.

        Parameters
        ----------
        age_days : array-like of float
            Ages in days at the moment outcomes were read.
        segment : array-like of str, optional
            Each lead's segment value (a segment without a curve of its own uses the
            overall one).

        Returns
        -------
        numpy.ndarray of float

        Examples
        --------
        >>> delay = ConversionDelay(share=(0.0, 0.5, 0.75, 1.0), horizon_days=3, conversions=40)
        >>> delay.share_at([-1, 0.5, 1.5, 2, 10]).tolist()
        [0.0, 0.25, 0.625, 0.75, 1.0]
        """
        age = np.asarray(age_days, dtype=float)
        out = self._at(age)
        if segment is not None and self.segments:
            values = np.asarray(segment, dtype=object).astype(str)
            for name, curve in self.segments.items():
                mask = values == name
                out[mask] = curve._at(age[mask])
        return out

    def sum_variance(self, age_days: Any, segment: Any = None) -> float:
        """The sampling variance of ``share_at(age_days, segment).sum()``: the curve is an
        empirical distribution of ``conversions`` delays, so the shares of two ages
        covary as ``(F(min) - F(a) F(b)) / conversions``.

        Examples
        --------
        >>> delay = ConversionDelay(share=(0.0, 0.5, 1.0), horizon_days=2, conversions=100)
        >>> round(delay.sum_variance([1.0]), 6)  # one share of 0.5 from 100 delays
        0.0025
        """
        age = np.asarray(age_days, dtype=float)
        groups = [(self, np.ones(age.size, dtype=bool))]
        if segment is not None and self.segments:
            values = np.asarray(segment, dtype=object).astype(str)
            own = np.isin(values, list(self.segments))
            groups = [(self, ~own)] + [
                (curve, values == name) for name, curve in self.segments.items()
            ]
        total = 0.0
        for curve, mask in groups:
            f = np.sort(curve._at(age[mask]))  # F is monotone: sorted ages, sorted shares
            m = f.size
            if not m:
                continue
            # sum over pairs of F(min(a_i, a_j)): the k-th smallest is the min of 2(m-k)+1
            pairs = float((f * (2.0 * (m - np.arange(1, m + 1)) + 1.0)).sum())
            total += max(pairs - float(f.sum()) ** 2, 0.0) / curve.conversions
        return total

    def _at(self, age: np.ndarray) -> np.ndarray:
        table = np.asarray(self.share, dtype=float)
        inside = np.interp(np.nan_to_num(age, nan=0.0), np.arange(table.size), table)
        return np.where(age < 0, 0.0, np.where(age >= self.horizon_days, 1.0, inside))

    def days_to(self, share: float) -> float:
        """The first whole day by which ``share`` of the conversions had arrived.

        Examples
        --------
        >>> ConversionDelay(share=(0.1, 0.4, 0.7, 1.0), horizon_days=3, conversions=40).days_to(0.5)
        2.0
        """
        table = np.asarray(self.share, dtype=float)
        return float(np.searchsorted(table, share - 1e-12, side="left"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (kept in the bundle's metadata under ``delay``)."""
        return {
            "share": [round(float(s), 6) for s in self.share],
            "horizon_days": float(self.horizon_days),
            "conversions": int(self.conversions),
            "median_days": self.days_to(0.5),
            "days_to_90": self.days_to(0.9),
            "segments": {k: v.to_dict() for k, v in self.segments.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversionDelay:
        """The curve from :meth:`to_dict`'s output (checked as data).

        Raises
        ------
        DataError
            If the shares are not a non-decreasing list in [0, 1] or the counts are bad.
        """
        share = data.get("share")
        ok = (
            isinstance(share, list)
            and 1 <= len(share) <= 100_000
            and all(isinstance(s, int | float) and 0 <= s <= 1 for s in share)
            and all(a <= b for a, b in pairwise(share))
            and isinstance(data.get("horizon_days"), int | float)
            and data["horizon_days"] >= 0
            and isinstance(data.get("conversions"), int)
        )
        if not ok:
            raise DataError(
                "a bundle's delay curve must be non-decreasing shares in [0, 1] with a "
                f"horizon and a count; got keys {sorted(data)[:6]}. Retrain the bundle."
            )
        segments = {str(k): cls.from_dict(v) for k, v in (data.get("segments") or {}).items()}
        return cls(
            share=tuple(float(s) for s in share),
            horizon_days=float(data["horizon_days"]),
            conversions=int(data["conversions"]),
            segments=segments,
        )


def _days(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((pd.Series(later) - pd.Series(earlier)) / _DAY).to_numpy(dtype=float)


def horizon_from_data(created: pd.Series, converted_at: pd.Series, as_of: pd.Timestamp) -> float:
    """The age by which :data:`HORIZON_SHARE` of the conversions had arrived, measured on
    the leads of the older half of the history (their conversions had time to arrive).

    Examples
    --------
    >>> created = pd.Series(pd.to_datetime(["2024-01-01"] * 3 + ["2024-06-01"]))
    >>> conv = pd.Series(pd.to_datetime(["2024-01-05", "2024-01-11", None, None]))
    >>> round(horizon_from_data(created, conv, pd.Timestamp("2024-12-31")), 1)
    9.9
    """
    c = pd.Series(created).reset_index(drop=True)
    conv = pd.Series(converted_at).reset_index(drop=True)
    known = conv.notna().to_numpy()
    older = known & (c <= c.min() + (pd.Timestamp(as_of) - c.min()) / 2).to_numpy()
    rows = older if older.sum() >= MIN_CONVERSIONS else known
    if not rows.any():
        return 0.0
    return float(np.quantile(np.maximum(_days(conv[rows], c[rows]), 0.0), HORIZON_SHARE))


def _curve(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, ...]:
    """Kaplan-Meier cumulative incidence of conversion by each whole day, as a share of
    the incidence by the horizon: ``time`` is the delay of a conversion (``event``) or
    the age at which the lead was last seen unconverted (censored)."""
    days = np.arange(int(np.ceil(horizon)) + 1)
    order = np.sort(time)
    at_risk = time.size - np.searchsorted(order, days[:-1], side="left")
    ends = np.searchsorted(np.sort(time[event]), days, side="left")
    events = np.diff(ends)  # conversions with a delay in [d, d + 1)
    survival = np.cumprod(1.0 - events / np.maximum(at_risk, 1))
    incidence = np.concatenate([[0.0], 1.0 - survival])
    if incidence[-1] <= 0:
        return tuple(float(d >= horizon) for d in days)
    return tuple(float(v) for v in np.minimum(incidence / incidence[-1], 1.0))


def fit_delay(
    created: pd.Series,
    converted_at: pd.Series,
    *,
    as_of: pd.Timestamp,
    window_days: float | None = None,
    segment: Any = None,
) -> ConversionDelay | None:
    """Fit the conversion-delay curve (Kaplan-Meier, young leads censored at their age).

    Parameters
    ----------
    created : pandas.Series of datetime64
        Creation (scoring) times of the leads.
    converted_at : pandas.Series of datetime64
        Conversion times, NaT for leads that did not convert.
    as_of : pandas.Timestamp
        When the data was extracted.
    window_days : float, optional
        ``outcome.window_days``: conversions after it do not count. Without it, the
        horizon is :func:`horizon_from_data`.
    segment : array-like, optional
        Each lead's segment value: a curve per segment with enough conversions.

    Returns
    -------
    ConversionDelay or None
        None when fewer than :data:`MIN_CONVERSIONS` conversions within the horizon are
        recorded.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> days = pd.to_timedelta(rng.uniform(0, 300, 2000), unit="D")
    >>> created = pd.Series(pd.Timestamp("2024-01-01") + days)
    >>> delay = rng.exponential(10, 2000)
    >>> conv = created + pd.to_timedelta(np.where(rng.random(2000) < 0.2, delay, np.nan), unit="D")
    >>> curve = fit_delay(created, conv, as_of=pd.Timestamp("2025-01-01"), window_days=60)
    >>> 5 <= curve.days_to(0.5) <= 9  # the median of an exponential delay of mean 10 is 6.9
    True
    """
    c = pd.Series(created).reset_index(drop=True)
    conv = pd.Series(converted_at).reset_index(drop=True)
    horizon = float(window_days) if window_days is not None else horizon_from_data(c, conv, as_of)
    age = ((pd.Timestamp(as_of) - c) / _DAY).to_numpy(dtype=float)
    delay = np.maximum(_days(conv, c), 0.0)
    # a conversion seen by as_of within the horizon is an event; every other lead is
    # censored at its age (or at the horizon, past which conversions do not count)
    event = conv.notna().to_numpy() & (delay <= np.minimum(age, horizon))
    time = np.where(event, delay, np.minimum(np.maximum(age, 0.0), horizon))
    if event.sum() < MIN_CONVERSIONS:
        return None
    segments = {}
    if segment is not None:
        values = pd.Series(np.asarray(segment, dtype=object)).astype(str).to_numpy()
        for name in pd.unique(values[event]):
            mine = values == name
            if (event & mine).sum() >= MIN_CONVERSIONS:
                segments[str(name)] = ConversionDelay(
                    _curve(time[mine], event[mine], horizon), horizon, int((event & mine).sum())
                )
    return ConversionDelay(_curve(time, event, horizon), horizon, int(event.sum()), segments)
