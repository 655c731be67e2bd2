"""The MQL-to-SQL rate before outcomes are final: expected from probabilities, early from
the conversions seen so far.

Two estimates, each with a 90 % interval:

- :func:`expected_rate`, for MQLs without any outcome: the mean of their calibrated
  probabilities (confidence-based performance estimation). Its interval covers the
  spread of the outcomes themselves (a Poisson-binomial sum) and the calibration's own
  uncertainty: the calibration part's conversions are kept per probability bin in the
  bundle (:func:`calibration_bins`), and each draw moves every bin's probabilities by
  that bin's posterior uncertainty. It holds when who the leads are changes (a covariate
  shift, as long as the probabilities stay calibrated); a change in how leads of a kind
  convert is invisible without outcomes.
- :func:`early_rate`, for MQLs younger than the outcome window: conversions seen so far
  divided by the conversions expected to have arrived by each lead's age
  (:class:`mqlml.leads.ConversionDelay`). Its interval is a score (Wilson-type) interval
  of a sum of independent Bernoulli outcomes with probabilities ``rate * share(age)``;
  the delay curve is taken as known.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

__all__ = ["BINS", "calibration_bins", "early_rate", "expected_rate", "verdict"]

#: Probability bins of the calibration part kept in a bundle (quantile edges).
BINS = 20
_LEVEL = 0.90
_DRAWS = 4000
_EXACT_UP_TO = 4000  # MQLs up to which outcomes are drawn one by one (else normal)


def calibration_bins(probabilities: Any, labels: Any, bins: int = BINS) -> dict[str, Any]:
    """The calibration part's leads and conversions per probability bin (quantile edges).

    Parameters
    ----------
    probabilities : array-like of float
        Calibrated probabilities of the calibration part's leads.
    labels : array-like of 0/1
        Their outcomes.
    bins : int, default=BINS

    Returns
    -------
    dict
        JSON-safe: ``edges`` (``len(leads) + 1`` inner-and-outer edges), ``leads``,
        ``conversions`` and ``mean_probability`` per bin.

    Examples
    --------
    >>> b = calibration_bins([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], bins=2)
    >>> b["leads"], b["conversions"]
    ([2, 2], [0, 2])
    """
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        edges = np.array([p.min(), p.max()])
    which = _bin_of(p, edges)
    n = np.bincount(which, minlength=edges.size - 1)
    k = np.bincount(which, weights=y, minlength=edges.size - 1)
    s = np.bincount(which, weights=p, minlength=edges.size - 1)
    return {
        "edges": [float(e) for e in edges],
        "leads": [int(v) for v in n],
        "conversions": [round(float(v)) for v in k],
        "mean_probability": [float(v) for v in s / np.maximum(n, 1)],
    }


def _bin_of(p: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)


def expected_rate(
    probabilities: Any,
    bins: dict[str, Any] | None = None,
    *,
    level: float = _LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """The expected MQL-to-SQL rate of MQLs whose outcomes are not known yet.

    Parameters
    ----------
    probabilities : array-like of float
        Calibrated probabilities of the MQLs.
    bins : dict, optional
        :func:`calibration_bins` of the bundle's calibration part; without it the
        interval covers the outcomes' spread only (and says so).
    level : float, default=0.90
    seed : int, default=0
        The draws are seeded: the same batch gives the same interval.

    Returns
    -------
    dict
        ``n_mql``, ``expected_rate``, ``interval`` ([lo, hi]), ``expected_sqls``,
        ``covers`` (``"outcomes and calibration"`` or ``"outcomes only"``) and
        ``beyond_calibration`` (MQLs above the highest probability the calibration part
        held, or in a bin it held fewer than 30 leads of).

    Examples
    --------
    >>> r = expected_rate([0.3] * 400)
    >>> round(r["expected_rate"], 3), round(r["expected_sqls"], 6), r["covers"]
    (0.3, 120.0, 'outcomes only')
    >>> 0.25 < r["interval"][0] < 0.3 < r["interval"][1] < 0.35
    True
    """
    p = np.asarray(probabilities, dtype=float)
    m = p.size
    out: dict[str, Any] = {
        "n_mql": int(m),
        "expected_rate": None,
        "interval": None,
        "expected_sqls": float(p.sum()),
        "covers": "outcomes only" if bins is None else "outcomes and calibration",
        "beyond_calibration": 0,
    }
    if m == 0:
        return out
    rng = np.random.default_rng(seed)
    q = np.broadcast_to(p, (_DRAWS, m)) if m <= _EXACT_UP_TO else None
    shift = np.zeros((_DRAWS, 1))
    if bins is not None:
        edges = np.asarray(bins["edges"], dtype=float)
        n = np.asarray(bins["leads"], dtype=float)
        k = np.asarray(bins["conversions"], dtype=float)
        which = _bin_of(p, edges)
        # each bin's rate as its calibration leads allow (Jeffreys posterior), as a move
        # of every probability of that bin
        draws = rng.beta(k + 0.5, n - k + 0.5, size=(_DRAWS, n.size)) - k / np.maximum(n, 1)
        moved = draws[:, which]
        out["beyond_calibration"] = int(((p > edges[-1]) | (n[which] < 30)).sum())
        if q is None:
            shift = (moved.sum(axis=1) / m)[:, None]
        else:
            q = np.clip(p + moved, 0.0, 1.0)
    if q is not None:
        rates = (rng.random(q.shape) < q).mean(axis=1)
    else:  # many MQLs: their outcomes' mean is normal to a good approximation
        spread = np.sqrt((p * (1 - p)).sum()) / m
        rates = np.clip(p.mean() + shift[:, 0] + rng.normal(0.0, spread, _DRAWS), 0.0, 1.0)
    tail = (1.0 - level) / 2.0
    out["expected_rate"] = float(p.mean())
    out["interval"] = [float(np.quantile(rates, tail)), float(np.quantile(rates, 1 - tail))]
    return out


def early_rate(
    converted: Any,
    arrived_share: Any,
    *,
    probabilities: Any = None,
    share_variance: float = 0.0,
    level: float = _LEVEL,
) -> dict[str, Any]:
    """The final MQL-to-SQL rate of young MQLs, from the conversions seen so far.

    Parameters
    ----------
    converted : array-like of 0/1
        Per MQL: converted by the moment outcomes were read.
    arrived_share : array-like of float in [0, 1]
        Per MQL: the share of eventual conversions expected by its age
        (:meth:`mqlml.leads.ConversionDelay.share_at`); 1 for a mature lead.
    probabilities : array-like of float, optional
        Per MQL: its calibrated probability. With them each MQL weighs by what it was
        expected to bring (``probability * share``), so young MQLs of another mix than
        the older ones do not bias the estimate: conversions so far over those expected
        so far, times the MQLs' mean probability. Without them every MQL weighs alike.
    share_variance : float, default=0
        The sampling variance of the shares' sum, from the delay curve's own sample
        (:meth:`mqlml.leads.ConversionDelay.sum_variance`); each end of the interval is
        widened by it (in quadrature, through ``rate / sum of shares``).
    level : float, default=0.90

    Returns
    -------
    dict
        ``n_mql``, ``converted_so_far``, ``expected_share`` (mean arrived share),
        ``equivalent_mqls`` (sum of the shares: the mature MQLs this evidence is worth),
        ``estimated_rate`` (conversions / equivalent MQLs) and ``interval`` ([lo, hi]);
        rate and interval are None when no conversion could have arrived yet.

    Examples
    --------
    >>> r = early_rate([1] * 10 + [0] * 90, [0.5] * 100)
    >>> r["estimated_rate"], r["equivalent_mqls"]
    (0.2, 50.0)
    >>> lo, hi = r["interval"]
    >>> 0.1 < lo < 0.2 < hi < 0.33
    True
    """
    y = np.asarray(converted, dtype=float)
    s = np.clip(np.asarray(arrived_share, dtype=float), 0.0, 1.0)
    out: dict[str, Any] = {
        "n_mql": int(y.size),
        "converted_so_far": int(y.sum()),
        "expected_share": float(s.mean()) if s.size else None,
        "equivalent_mqls": float(s.sum()),
        "estimated_rate": None,
        "interval": None,
    }
    if probabilities is not None and s.size:
        p = np.asarray(probabilities, dtype=float)
        s = s * p / p.mean()  # each MQL's expected part of the conversions so far
    k, s1, s2 = float(y.sum()), float(s.sum()), float((s * s).sum())
    if s1 <= 0:
        return out
    out["estimated_rate"] = min(k / s1, 1.0)
    # Score interval: the rates r with (k - r S1)^2 <= z^2 (r S1 - r^2 S2), the variance
    # of a sum of Bernoulli(r * share) outcomes (a Wilson interval when every share is 1).
    z = float(norm.ppf(0.5 + level / 2.0))
    a, b, c = s1 * s1 + z * z * s2, 2.0 * k * s1 + z * z * s1, k * k
    root = np.sqrt(max(b * b - 4.0 * a * c, 0.0))
    lo, hi = (b - root) / (2.0 * a), (b + root) / (2.0 * a)
    rate = k / s1
    curve = z * rate * np.sqrt(max(share_variance, 0.0)) / s1  # the delay curve's share
    lo = rate - np.hypot(rate - lo, curve)
    hi = rate + np.hypot(hi - rate, curve)
    out["interval"] = [float(max(lo, 0.0)), float(min(hi, 1.0))]
    return out


def verdict(interval: list[float] | None, target: float) -> str:
    """``"below target"``, ``"above target"`` or ``"holds the target"`` (the interval
    contains it), or ``"not judged yet"`` without an interval.

    Examples
    --------
    >>> verdict([0.10, 0.18], 0.2), verdict([0.15, 0.25], 0.2), verdict(None, 0.2)
    ('below target', 'holds the target', 'not judged yet')
    """
    if interval is None:
        return "not judged yet"
    lo, hi = interval
    if hi < target:
        return "below target"
    if lo > target:
        return "above target"
    return "holds the target"
