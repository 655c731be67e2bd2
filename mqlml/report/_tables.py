"""The report's reader-facing tables, on the same test leads as the comparison.

Beside the comparison (:mod:`mqlml.report`), a marketing-ops reader needs: the point
rules compared and how often each fires, which data, split and test period, when the
report was made and with which versions, the tier table on the score scale (where the MQL
line sits), the MQL-to-SQL rate month by month and by segment with exact intervals, the
threshold curve at probability quantiles, and columns under readable names.
:func:`report_extras` computes them all; :func:`mqlml.report.compare` adds them to the
report dict.

Examples
--------
>>> readable("days_since_last_activity")
'Days since last activity'
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mqlml.rules._baseline import condition_text

__all__ = ["readable", "report_extras", "score_scale"]

_CONFIDENCE = 0.90
_N_HIST_BINS = 30
_MAX_SEGMENT_ROWS = 12
_N_QUANTILE_POINTS = 101


def readable(column: str, labels: Mapping[str, str] | None = None) -> str:
    """A column's name for readers: its ``report.labels`` entry, else the name in words.

    Examples
    --------
    >>> readable("pricing_page_visits"), readable("TotalVisits"), readable("emp.var.rate")
    ('Pricing page visits', 'Total visits', 'Emp var rate')
    >>> readable("Lead Source"), readable("seniority", {"seniority": "Seniority level"})
    ('Lead Source', 'Seniority level')
    """
    if labels and column in labels:
        return str(labels[column])
    if " " in column.strip():
        return column.strip()
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", column)
    if not words:
        return column
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[0].upper() + text[1:]


def _rules_table(estimator: Any, raw: pd.DataFrame, X: pd.DataFrame, y: np.ndarray, where: str):
    """Each rule, its points, and how often it fires on the test leads and their rate."""
    frame = raw if where == "raw" else pd.concat([raw.drop(columns=list(X.columns)), X], axis=1)
    per_rule = estimator.explain(frame).to_numpy(dtype=float)
    rows = []
    for i, rule in enumerate(estimator.rules.rules):
        fired = per_rule[:, i] != 0
        n, k = int(fired.sum()), int(y[fired].sum())
        rows.append(
            {
                "name": rule.name or f"rule {i + 1}",
                "column": rule.column,
                "condition": condition_text(rule),
                "points": rule.points,
                "per_unit": rule.per_unit,
                "leads": n,
                "conversions": k,
                "rate": k / n if n else None,
            }
        )
    return rows


def _interval_pair(k: int, n: int) -> list[float] | None:
    from mqlml.metrics._rates import rate_interval

    pair = rate_interval(k, n, _CONFIDENCE)
    return None if pair is None else [pair[0], pair[1]]


def _rate_row(y: np.ndarray, mql: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    """Leads, MQLs, their conversions, MQL-to-SQL rate with its exact interval."""
    n, m = int(rows.sum()), int((rows & mql).sum())
    k = int(y[rows & mql].sum())
    return {
        "leads": n,
        "conversions_all": int(y[rows].sum()),
        "base_rate": float(y[rows].mean()) if n else None,
        "n_mql": m,
        "conversions": k,
        "rate": k / m if m else None,
        "interval": _interval_pair(k, m),
    }


def _tier_bounds(bundle: Any) -> list[dict[str, Any]]:
    """Each tier of a bundle, highest first: its name, score and probability bounds."""
    cuts = [0.0, *bundle.tiers.cuts, 1.0]
    names = list(bundle.tiers.names)[::-1]  # lowest band first, as the cuts go
    scores = np.asarray(bundle.score(np.asarray(cuts, dtype=float)), dtype=float)
    # A score scale may not reach probability 0 or 1 (log-odds points): the ends are 0, 100.
    scores[0] = scores[0] if np.isfinite(scores[0]) else 0.0
    scores[-1] = scores[-1] if np.isfinite(scores[-1]) else 100.0
    return [
        {
            "tier": names[i],
            "score_from": float(scores[i]),
            "score_to": float(scores[i + 1]),
            "probability_from": cuts[i],
            "probability_to": cuts[i + 1],
            "mql": bool(cuts[i] >= bundle.threshold.threshold - 1e-12),
        }
        for i in reversed(range(len(names)))
    ]


def _tiers(bundle: Any, y: np.ndarray, p: np.ndarray, judged_by: str) -> dict[str, Any]:
    """The tier table on the score scale: score and probability range, leads, rate."""
    band = np.searchsorted(np.asarray(bundle.tiers.cuts), p, side="right")
    rows = []
    bounds_all = _tier_bounds(bundle)  # highest first; band counts from the lowest
    for i, bounds in zip(range(len(bounds_all) - 1, -1, -1), bounds_all, strict=True):
        inside = band == i
        n, k = int(inside.sum()), int(y[inside].sum())
        rows.append(
            {
                **{key: v for key, v in bounds.items() if key != "mql"},
                "leads": n,
                "share": n / y.size,
                "conversions": k,
                "rate": k / n if n else None,
                "interval": _interval_pair(k, n),
                "mean_probability": float(p[inside].mean()) if n else None,
                "mql": bounds["mql"],
            }
        )
    threshold = bundle.threshold.threshold
    return {
        "model": judged_by,
        "mql_probability": threshold,
        "mql_score": float(bundle.score(np.array([threshold]))[0]),
        "points_to_double_odds": float(bundle.scale.points_to_double_odds),
        "rows": rows,
    }


def score_scale(bundle: Any, raw: pd.DataFrame) -> dict[str, Any]:
    """The score scale of the bundle that scores, and the test leads it puts at 0 and 100.

    Parameters
    ----------
    bundle : Bundle
        The bundle that scores (the deployed refit, not its backtest).
    raw : pandas.DataFrame
        The test leads, as read.

    Returns
    -------
    dict
        ``model`` (``deployed``), ``mql_probability``, ``mql_score``,
        ``points_to_double_odds``, ``table`` (the probability at scores 0, 10, ... 100),
        ``tiers`` (each tier's score and probability bounds), ``segment_lines`` (whether
        each segment has its own line, then at the same score), ``leads``, ``at_0`` and
        ``at_100`` (the test leads whose score it clips to 0 or 100).
    """
    X = bundle.schema.features_frame(raw)
    p = bundle.predict_proba(X, raw)
    score = bundle.score(p, bundle.segment_codes(raw))
    threshold = bundle.threshold.threshold
    return {
        "model": "deployed",
        "mql_probability": threshold,
        "mql_score": float(bundle.score(np.array([threshold]))[0]),
        "points_to_double_odds": float(bundle.scale.points_to_double_odds),
        "table": bundle.scale.table(),
        "tiers": _tier_bounds(bundle),
        "segment_lines": bundle.segments is not None,
        "leads": int(score.size),
        "at_0": int((score <= 0.0).sum()),
        "at_100": int((score >= 100.0).sum()),
    }


def _periods(y: np.ndarray, mql: np.ndarray, raw: pd.DataFrame, bundle: Any) -> dict[str, Any]:
    """The MQL-to-SQL rate by creation month of the test part (by tenth without times)."""
    column = bundle.schema.time_column
    split = (bundle.metadata.get("split") or {}).get("method")
    target = bundle.threshold.target_rate
    if column and column in raw.columns:
        month = bundle.schema.dates(raw, column, what="time column").dt.to_period("M")
        keys = month.astype(str).to_numpy()
        periods = sorted(set(keys))
        by, masks = "creation month", [(k, keys == k) for k in periods]
    elif split in ("order", "time"):
        bounds = np.linspace(0, y.size, min(10, y.size) + 1).round().astype(int)
        by = "tenth of the test part in file order"
        masks = []
        for a, b in itertools.pairwise(bounds):
            rows = np.zeros(y.size, dtype=bool)
            rows[a:b] = True
            masks.append((f"test rows {a + 1:,}-{b:,}", rows))
    else:
        return {"by": None, "target_rate": target, "rows": []}
    rows = [{"period": key, **_rate_row(y, mql, m)} for key, m in masks]
    for row in rows:
        row["at_target"] = _at_target(row["interval"], target)
    return {"by": by, "target_rate": target, "rows": rows}


def _at_target(interval: list[float] | None, target: float | None) -> bool | None:
    """Whether a period's MQL-to-SQL rate is at its target: the target inside its exact
    interval or below it (None without a target or without MQLs). Only a whole interval
    under the target is a miss; a rate a little under it on few MQLs is noise."""
    if target is None or interval is None:
        return None
    return bool(interval[1] >= target)


def _segments(
    y: np.ndarray, mql: np.ndarray, raw: pd.DataFrame, columns: list[str], labels: Mapping
) -> list[dict[str, Any]]:
    """Leads, MQLs and the MQL-to-SQL rate by the values of each segment column."""
    from mqlml.errors import MissingColumnError

    out = []
    for column in columns:
        if column not in raw.columns:
            raise MissingColumnError(
                f"report.segments must name columns of the leads; got {column!r}, which is "
                f"not among {list(raw.columns)[:8]}. Fix report.segments in the config."
            )
        values = raw[column].astype(object).where(raw[column].notna(), "(missing)").astype(str)
        counts = values.value_counts()
        kept = list(counts.index[:_MAX_SEGMENT_ROWS])
        rows = [{"value": v, **_rate_row(y, mql, (values == v).to_numpy())} for v in kept]
        rest = ~values.isin(kept).to_numpy()
        if rest.any():
            other = f"{len(counts) - len(kept)} other values"
            rows.append({"value": other, **_rate_row(y, mql, rest)})
        out.append({"column": column, "label": readable(column, labels), "rows": rows})
    return out


def _segment_lines(
    bundle: Any, y: np.ndarray, p: np.ndarray, points: np.ndarray | None, codes: np.ndarray | None
) -> dict[str, Any] | None:
    """Per segment line (threshold.segments): leads, MQLs, expected and realized rate, and
    the points at equal volume (the segment's leads with the most points, as many as its
    MQLs)."""
    if bundle.segments is None or codes is None:
        return None
    rows = bundle.segments.table(y, p, codes)
    for i, row in enumerate(rows):
        inside = np.flatnonzero(codes == i)
        m = row["n_mql"]
        row["points"] = None
        if points is not None and m:
            top = inside[np.argsort(-points[inside], kind="stable")[:m]]
            k = int(y[top].sum())
            row["points"] = {"n_mql": m, "rate": k / m, "interval": _interval_pair(k, m)}
    return {"column": bundle.segments.column, "rows": rows}


def _quantile_curve(bundle: Any, y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Rate and volume at thresholds on probability quantiles (equal numbers of leads)."""
    share = np.linspace(1.0, 0.01, _N_QUANTILE_POINTS - 1)
    order = np.argsort(-p, kind="stable")
    counts = np.maximum(1, np.round(share * y.size).astype(int))
    cum_y = np.cumsum(y[order])
    cum_p = np.cumsum(p[order])
    threshold = p[order][counts - 1]
    # Log-spaced bins on the score scale, from the lowest positive probability up.
    low = max(float(p[p > 0].min()) if (p > 0).any() else 1e-4, 1e-4)
    edges = np.geomspace(low, max(float(p.max()), low * 1.01), _N_HIST_BINS + 1)
    clipped = np.clip(p, edges[0], edges[-1])
    return {
        "histogram": {
            "edges": edges.tolist(),
            "score_edges": [float(s) for s in bundle.score(edges)],
            "converted": np.histogram(clipped[y == 1], bins=edges)[0].tolist(),
            "not_converted": np.histogram(clipped[y == 0], bins=edges)[0].tolist(),
        },
        "mql_share": (counts / y.size).tolist(),
        "threshold": threshold.tolist(),
        "score": [float(s) for s in bundle.score(threshold)],
        "realized_rate": (cum_y[counts - 1] / counts).tolist(),
        "expected_rate": (cum_p[counts - 1] / counts).tolist(),
    }


def _reliability_bands(curve: list[Mapping[str, Any]]) -> list[list[float] | None]:
    """The exact 90 % interval of the observed rate in each reliability bin."""
    return [_interval_pair(round(b["observed_rate"] * b["count"]), int(b["count"])) for b in curve]


def _context(bundle: Any, raw: pd.DataFrame, source: str | None) -> dict[str, Any]:
    """Which data, split and periods, when the report was made and with which versions."""
    from datetime import UTC, datetime

    from mqlml.model._bundle import package_versions

    meta = bundle.metadata
    split = meta.get("split") or {}
    column = bundle.schema.time_column
    test_from = test_to = None
    if column and column in raw.columns and len(raw):
        times = bundle.schema.dates(raw, column, what="time column")
        test_from, test_to = str(times.min()), str(times.max())
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_path": meta.get("data") or (bundle.config.get("data") or {}).get("path"),
        "split": split.get("method"),
        "parts": {k: split.get(k) for k in ("train", "calibrate", "test")},
        "history_from": meta.get("date_from"),
        "history_to": meta.get("date_to"),
        "test_from": test_from,
        "test_to": test_to,
        "bundle": source,
        "trained_versions": meta.get("versions") or {},
        "versions": package_versions(),
    }


def report_extras(
    bundle: Any,
    raw: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    estimator: Any,
    evaluated_on: str,
    *,
    calibration_curve: list[Mapping[str, Any]],
    source: str | None = None,
    points: np.ndarray | None = None,
    judged_by: str = "deployed",
) -> dict[str, Any]:
    """The report's reader-facing tables, computed on the same test leads as the rest.

    ``bundle`` is the model that judged the test leads (``judged_by``: ``backtest``, or
    ``deployed`` when the bundle that scores has no backtest); see :func:`score_scale`
    for the scale of the bundle that scores.

    Returns
    -------
    dict
        ``context``, ``rules``, ``tiers``, ``monthly``, ``segments``, ``segment_lines``
        (None without ``threshold.segments``), ``curves_quantile``,
        ``reliability_intervals`` and ``scorecard`` (the fidelity of a scorecard made by
        :func:`mqlml.rules.scorecard`, when the rules compared are one; else None;
        see ``docs/report-json.md``).
    """
    from mqlml.rules._fidelity import report_section

    settings = bundle.config.get("report") or {}
    labels = settings.get("labels") or {}
    codes = bundle.segment_codes(raw)
    mql = p >= bundle.thresholds(len(p), codes)
    return {
        "scorecard": report_section(estimator.rules.source, bundle),
        "context": _context(bundle, raw, source),
        "rules": _rules_table(estimator, raw, X, y, evaluated_on),
        "tiers": _tiers(bundle, y, p, judged_by),
        "monthly": _periods(y, mql, raw, bundle),
        "segments": _segments(y, mql, raw, list(settings.get("segments") or []), labels),
        "segment_lines": _segment_lines(bundle, y, p, points, codes),
        "curves_quantile": _quantile_curve(bundle, y, p),
        "reliability_intervals": _reliability_bands(calibration_curve),
    }
