"""The model against the points on the same leads: paired comparisons of two MQL sets.

:func:`compare_at_volume` compares the two at the points' own MQL volume, with a paired
bootstrap interval on the difference of their MQL-to-SQL rates; :func:`compare_at_rate`
counts the MQLs each passes at the model's rate or better. :func:`reaches` is the one rule
for points at an MQL line (points within rounding of the line reach it).

Examples
--------
>>> import numpy as np
>>> r = compare_at_volume([1, 1, 0, 0, 1, 0], [0.9, 0.8, 0.7, 0.1, 0.2, 0.3],
...                       [60, 10, 70, 0, 55, 0], 50, n_boot=200)
>>> r["n_mql"], r["model"]["rate"], r["points"]["rate"]
(3, 0.6666666666666666, 0.6666666666666666)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mqlml.errors import InsufficientDataError
from mqlml.metrics._inputs import numbers, outcomes
from mqlml.metrics._rates import rate_interval

__all__ = [
    "compare_at_rate",
    "compare_at_volume",
    "mql_rate",
    "reaches",
    "top_leads",
]


_CONFIDENCE = 0.90


_TOLERANCE = 1e-9  # points within rounding of the threshold count as reaching it


def reaches(points: Any, threshold: float) -> np.ndarray:
    """Which leads' points reach an MQL line: ``points >= threshold``, within rounding.

    Examples
    --------
    >>> reaches(np.array([49.0, 50.0 - 1e-12, 50.0, 60.0]), 50).tolist()
    [False, True, True, True]
    """
    return np.asarray(points) >= threshold - _TOLERANCE * max(1.0, abs(threshold))


def _arrays(y: Any, **scores: Any) -> tuple[np.ndarray, ...]:
    """Outcomes as 0/1 ints and each score as finite floats of the same length."""
    labels = outcomes(y)
    return (labels, *(numbers(v, name, n=labels.size) for name, v in scores.items()))


def _side(y: np.ndarray, mql: np.ndarray) -> dict[str, Any]:
    """MQL count, SQLs captured, rate, lift and recall of one MQL set."""
    n_mql, total = int(mql.sum()), int(y.sum())
    conversions = int(y[mql].sum())
    rate = conversions / n_mql if n_mql else None
    base = total / y.size
    return {
        "n_mql": n_mql,
        "conversions": conversions,
        "rate": rate,
        "lift": rate / base if rate is not None and base > 0 else None,
        "recall": conversions / total if total else None,
    }


def _paired_bootstrap(
    y: np.ndarray, model_mql: np.ndarray, points_mql: np.ndarray, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap rates of the two fixed MQL sets (model, points), resampling leads.

    Both rates depend on a resample only through how many of its leads fall in each of
    the 8 cells (converted or not) x (in the model's set or not) x (in the points' set
    or not). Resampling ``n`` leads with replacement draws those cell counts from a
    multinomial with the cells' shares, so they are drawn from it directly: the same
    distribution as resampling rows, in O(n_boot) instead of O(n_boot x n).
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; got {n_boot!r}. Use e.g. 1000.")
    cell = y * 4 + model_mql.astype(np.int64) * 2 + points_mql.astype(np.int64)
    shares = np.bincount(cell, minlength=8) / y.size
    counts = np.random.default_rng(seed).multinomial(y.size, shares, size=int(n_boot))
    with np.errstate(invalid="ignore", divide="ignore"):
        model = (counts[:, 6] + counts[:, 7]) / counts[:, [2, 3, 6, 7]].sum(axis=1)
        points = (counts[:, 5] + counts[:, 7]) / counts[:, [1, 3, 5, 7]].sum(axis=1)
    return model, points


def _interval(values: np.ndarray, confidence: float) -> list[float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


def compare_at_volume(
    y: Any,
    model_p: Any,
    points: Any,
    points_threshold: float,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = _CONFIDENCE,
) -> dict[str, Any]:
    """Compare the model and the points at the points' own MQL volume.

    The points pass ``N`` MQLs (the leads whose points reach ``points_threshold``); the
    model passes its ``N`` leads of highest probability (ties broken in input order, as
    in :func:`mqlml.metrics.rate_at_volume`). Each side's MQL-to-SQL rate is the share
    of its MQLs that converted.

    The interval on the difference (model - points) is a paired percentile bootstrap:
    leads are resampled with replacement (the same resample for both sides), the two MQL
    sets stay as chosen on the full data, and both rates are recomputed on each
    resample. It is computed from multinomial draws of the 8 cell counts (converted x in
    the model's set x in the points' set), which is exactly that resampling and takes
    milliseconds for any number of leads.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes of the leads.
    model_p : array-like of float
        The model's probability (any score where higher is better) of each lead.
    points : array-like of float
        The points of each lead.
    points_threshold : float
        The points' MQL threshold (points >= threshold make an MQL).
    n_boot : int, default=1000
        Bootstrap resamples.
    seed : int, default=0
        Seed of the bootstrap; the result is the same for the same seed.
    confidence : float, default=0.90
        Coverage of the interval.

    Returns
    -------
    dict
        ``n``, ``n_converted``, ``base_rate``, ``n_mql``, ``points_threshold``,
        ``model`` and ``points`` (each ``n_mql``, ``conversions`` (SQLs captured),
        ``rate``, ``lift``, ``recall``), ``difference`` (model rate - points rate),
        ``interval`` (``[lo, hi]`` of the difference), ``rate_ratio`` (model rate /
        points rate), ``overlap`` (leads in both MQL sets), ``confidence``, ``n_boot``,
        ``seed`` and ``method``.

    Raises
    ------
    InsufficientDataError
        When no lead reaches the points' threshold.
    DataError
        When the inputs do not line up or hold non-numbers.

    Examples
    --------
    >>> r = compare_at_volume([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], [50, 0, 50, 0], 50)
    >>> r["n_mql"], r["model"]["conversions"], r["points"]["conversions"], r["difference"]
    (2, 1, 2, -0.5)
    """
    labels, p, pts = _arrays(y, model_p=model_p, points=points)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}. Use e.g. 0.90.")
    threshold = float(points_threshold)
    points_mql = reaches(pts, threshold)
    n, n_mql = int(labels.size), int(points_mql.sum())
    if n_mql == 0:
        raise InsufficientDataError(
            f"the points must make at least one MQL to compare at their volume; got 0 of "
            f"{n} leads with points >= {threshold:g}. Lower mql_threshold in the rules file "
            "or compare on more leads."
        )
    model_mql = top_leads(p, n_mql)
    model, base = _side(labels, model_mql), _side(labels, points_mql)
    boot_model, boot_points = _paired_bootstrap(labels, model_mql, points_mql, n_boot, seed)
    return {
        "n": n,
        "n_converted": int(labels.sum()),
        "base_rate": float(labels.mean()),
        "n_mql": n_mql,
        "points_threshold": threshold,
        "model": model,
        "points": base,
        "difference": model["rate"] - base["rate"],
        "interval": _interval(boot_model - boot_points, confidence),
        "rate_ratio": model["rate"] / base["rate"] if base["rate"] else None,
        "overlap": int((model_mql & points_mql).sum()),
        "confidence": float(confidence),
        "n_boot": int(n_boot),
        "seed": int(seed),
        "method": "paired percentile bootstrap of leads, MQL sets fixed (multinomial cells)",
    }


def compare_at_rate(y: Any, model_p: Any, threshold: float, points: Any) -> dict[str, Any]:
    """How many MQLs each side passes at the model's MQL-to-SQL rate or better.

    The model's MQLs are the leads with ``model_p >= threshold``; their realized rate is
    the bar. For the points, every distinct points value is a possible cut-off (leads
    with at least that many points are MQLs); the cut-off kept is the one that passes
    the most MQLs whose realized rate still reaches the bar (the lowest such cut-off).

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes.
    model_p : array-like of float
        The model's probabilities.
    threshold : float or array-like of float
        The model's MQL threshold, or each lead's (segment lines; ``threshold`` is then
        None in the result).
    points : array-like of float
        The points of each lead.

    Returns
    -------
    dict
        ``threshold``; ``model`` (``n_mql``, ``conversions``, ``rate``, ``share``);
        ``points`` (``cutoff``, ``n_mql``, ``conversions``, ``rate``, ``share``; cut-off
        and rate ``None`` and 0 MQLs when no cut-off reaches the bar); ``more_mqls``
        (model MQLs - points MQLs, negative when the points pass more). Everything but
        ``threshold`` is ``None`` on the model side when no lead reaches the threshold.

    Examples
    --------
    >>> r = compare_at_rate([1, 1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.2, 0.1], 0.5,
    ...                     [30, 0, 10, 30, 0, 10])
    >>> r["model"]["rate"], r["points"]["cutoff"], r["points"]["n_mql"], r["more_mqls"]
    (0.75, 30.0, 2, 2)
    """
    labels, p, pts = _arrays(y, model_p=model_p, points=points)
    n = int(labels.size)
    model_mql = p >= np.asarray(threshold, dtype=float)  # one line, or one per lead
    threshold = float(threshold) if np.ndim(threshold) == 0 else None
    n_model = int(model_mql.sum())
    conv_model = int(labels[model_mql].sum())
    bar = conv_model / n_model if n_model else None
    model = {
        "n_mql": n_model,
        "conversions": conv_model,
        "rate": bar,
        "share": n_model / n,
    }
    nothing = {"cutoff": None, "n_mql": 0, "conversions": 0, "rate": None, "share": 0.0}
    if bar is None:
        return {"threshold": threshold, "model": model, "points": nothing, "more_mqls": None}
    order = np.argsort(-pts, kind="stable")
    ordered = pts[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    count = ends + 1
    conversions = np.cumsum(labels[order])[ends]
    reaching = np.flatnonzero(conversions / count >= bar - 1e-12)
    points = nothing
    if reaching.size:
        i = reaching[-1]
        points = {
            "cutoff": float(ordered[ends[i]]),
            "n_mql": int(count[i]),
            "conversions": int(conversions[i]),
            "rate": float(conversions[i] / count[i]),
            "share": float(count[i] / n),
        }
    return {
        "threshold": threshold,
        "model": model,
        "points": points,
        "more_mqls": n_model - points["n_mql"],
    }


def mql_rate(y: np.ndarray, mql: np.ndarray) -> dict[str, Any]:
    """An MQL set's count, share, conversions and MQL-to-SQL rate with its exact 90 % interval.

    Examples
    --------
    >>> mql_rate(np.array([1, 0, 1, 0]), np.array([True, True, False, False]))["rate"]
    0.5
    """
    n, k = int(mql.sum()), int(y[mql].sum())
    interval = rate_interval(k, n, _CONFIDENCE)
    return {
        "n_mql": n,
        "share": n / y.size,
        "conversions": k,
        "rate": k / n if n else None,
        "interval": None if interval is None else list(interval),
    }


def top_leads(score: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` leads of highest score as a mask (ties broken in input order)."""
    mql = np.zeros(score.size, dtype=bool)
    mql[np.argsort(-score, kind="stable")[:n]] = True
    return mql
