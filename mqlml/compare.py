"""The model against the rule-based points, on the same leads: the numbers of the report.

Nobody replaces a points system on faith. :func:`compare` puts the bundle's calibrated
probability and the points of a rules file side by side on the bundle's test part (the
newest leads, never fitted on) and answers, in numbers sales and marketing ops read:

- at the points' own MQL volume (the leads whose points reach the MQL threshold), which
  MQL-to-SQL rate each side gets when the model passes its top leads of the same number,
  and how sure that difference is (a paired bootstrap interval);
- at the model's MQL threshold (chosen for the target rate), how many MQLs the points
  could pass at that rate or better;
- how well each ranks all leads (ROC AUC, PR AUC), and whether the probabilities are
  calibrated;
- conversion across the fit x engagement grid, and which columns drive the scores.

:func:`mqlml.report.write_report` turns the result into ``report.json``, ``report.md``
and ``report.html``; the JSON structure is documented in ``docs/report-json.md``.

Examples
--------
>>> import numpy as np
>>> r = compare_at_volume([1, 1, 0, 0, 1, 0], [0.9, 0.8, 0.7, 0.1, 0.2, 0.3],
...                       [60, 10, 70, 0, 55, 0], 50, n_boot=200)
>>> r["n_mql"], r["model"]["rate"], r["points"]["rate"]
(3, 0.6666666666666666, 0.6666666666666666)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import ConfigError, InsufficientDataError, RuleError
from mqlml.inputs import numbers, outcomes

__all__ = [
    "REPORT_FORMAT",
    "compare",
    "compare_at_rate",
    "compare_at_volume",
    "judged_by",
    "percent",
]

REPORT_FORMAT = "mqlml.report/3"
"""The ``format`` written in every report.json; bumped when the structure changes."""

_CONFIDENCE = 0.90
_TOLERANCE = 1e-9  # points within rounding of the threshold count as reaching it
_MAX_DRIVER_ROWS = 20_000
_GRID_LABELS = ("low", "mid", "high")
_N_HIST_BINS = 30


# ---------------------------------------------------------------------------------------
# The comparisons, as pure functions of outcomes and scores
# ---------------------------------------------------------------------------------------


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
    in :func:`mqlml.evaluate.rate_at_volume`). Each side's MQL-to-SQL rate is the share
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
    points_mql = pts >= threshold - _TOLERANCE * max(1.0, abs(threshold))
    n, n_mql = int(labels.size), int(points_mql.sum())
    if n_mql == 0:
        raise InsufficientDataError(
            f"the points must make at least one MQL to compare at their volume; got 0 of "
            f"{n} leads with points >= {threshold:g}. Lower mql_threshold in the rules file "
            "or compare on more leads."
        )
    model_mql = np.zeros(n, dtype=bool)
    model_mql[np.argsort(-p, kind="stable")[:n_mql]] = True
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


# ---------------------------------------------------------------------------------------
# The whole comparison on a bundle's test part
# ---------------------------------------------------------------------------------------


def _baseline_points(rules: Any, raw: pd.DataFrame, features: pd.DataFrame):
    """Points on the raw test rows, or on the coerced features if a rule needs them."""
    from mqlml.baseline import PointsBaseline

    baseline = PointsBaseline.from_yaml(rules)
    try:
        return baseline, baseline.fit(raw).decision_function(raw), "raw"
    except RuleError as on_raw:
        merged = pd.concat([raw.drop(columns=list(features.columns)), features], axis=1)
        try:
            return baseline, baseline.fit(merged).decision_function(merged), "features"
        except RuleError:
            raise on_raw from None


def _drivers(bundle: Any, X: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Mean absolute per-feature contribution to the log-odds (path attribution)."""
    from mqlml.explain import feature_contributions

    schema = bundle.schema
    if len(X) > _MAX_DRIVER_ROWS:
        X = X.sample(_MAX_DRIVER_ROWS, random_state=seed).sort_index()
    frame, _ = feature_contributions(bundle.model, X, method="path")
    mean_abs = frame[list(schema.features)].abs().mean(axis=0).to_numpy(dtype=float)
    fit = set(schema.fit)
    order = np.argsort(-mean_abs, kind="stable")
    return {
        "method": "path" if bundle.model.model == "lightgbm" else "terms",
        "n": len(X),
        "features": [
            {
                "feature": schema.features[i],
                "group": "fit" if schema.features[i] in fit else "engagement",
                "mean_abs_contribution": float(mean_abs[i]),
            }
            for i in order
        ],
    }


def _grid(y: np.ndarray, fit_score: np.ndarray, engagement_score: np.ndarray) -> dict[str, Any]:
    """Conversion by tercile of the fit and the engagement sub-scores."""
    fit_edges = np.quantile(fit_score, [1 / 3, 2 / 3])
    eng_edges = np.quantile(engagement_score, [1 / 3, 2 / 3])
    rows = np.searchsorted(fit_edges, fit_score, side="right")
    cols = np.searchsorted(eng_edges, engagement_score, side="right")
    cell = rows * 3 + cols
    count = np.bincount(cell, minlength=9).reshape(3, 3)
    conversions = np.bincount(cell, weights=y, minlength=9).reshape(3, 3).astype(int)
    rate = [
        [conversions[i, j] / count[i, j] if count[i, j] else None for j in range(3)]
        for i in range(3)
    ]
    return {
        "labels": list(_GRID_LABELS),
        "fit_edges": fit_edges.tolist(),
        "engagement_edges": eng_edges.tolist(),
        "count": count.tolist(),
        "conversions": conversions.tolist(),
        "rate": rate,
    }


def _curves(y: np.ndarray, p: np.ndarray, points: np.ndarray, n_mql: int) -> dict[str, Any]:
    from mqlml.evaluate import gains_curve
    from mqlml.threshold import rate_curve

    model_gains = gains_curve(y, p)
    points_gains = gains_curve(y, points)
    rates = rate_curve(p, y)
    top = max(float(p.max()), 1e-9)
    edges = np.linspace(0.0, top, _N_HIST_BINS + 1)
    return {
        "gains": {
            "share_of_leads": model_gains["share_of_leads"].tolist(),
            "model": model_gains["share_of_conversions"].tolist(),
            "points": points_gains["share_of_conversions"].tolist(),
            "baseline_volume_share": n_mql / y.size,
        },
        "rate": {column: rates[column].tolist() for column in rates.columns},
        "distribution": {
            "edges": edges.tolist(),
            "converted": np.histogram(p[y == 1], bins=edges)[0].tolist(),
            "not_converted": np.histogram(p[y == 0], bins=edges)[0].tolist(),
        },
    }


def percent(rate: float | None) -> str:
    """A rate as the report writes it: ``0.312 -> "31.2 %"``, None as ``n/a``."""
    return "n/a" if rate is None else f"{100 * rate:.1f} %"


def _points_text(value: float) -> str:
    """Points as a reader reads them: ``30.5076 -> "30.5"``, ``50.0 -> "50"``."""
    return f"{value:,.1f}".removesuffix(".0")


def judged_by(report: Mapping[str, Any]) -> str:
    """Which model the report's numbers on the test leads describe, as a reader reads it:
    ``the backtest model`` (fit on older leads only), or ``the model`` when the bundle
    that scores was itself judged (``model.refit: false``)."""
    backtest = report["backtest"]["numbers_from"] == "backtest"
    return "the backtest model" if backtest else "the model"


def _sentences(report: dict[str, Any]) -> tuple[str, list[str]]:
    vol, at, rank, cal = (report[k] for k in ("at_volume", "at_target", "ranking", "calibration"))
    m, b = vol["model"], vol["points"]
    who = judged_by(report)
    subject = who[0].upper() + who[1:]
    diff = 100 * vol["difference"]
    spread = (
        f", {100 * vol['confidence']:.0f} % interval {100 * vol['interval'][0]:.1f} to "
        f"{100 * vol['interval'][1]:.1f}"
        if vol["interval"]
        else ""
    )
    headline = (
        f"{subject}'s MQLs convert at {percent(m['rate'])}, the points' at "
        f"{percent(b['rate'])}, at the same {vol['n_mql']:,} MQLs ({diff:+.1f} percentage "
        f"points{spread})."
    )
    model = report["model"]
    if model["target_rate"] is not None:
        goal = f"for a {100 * model['target_rate']:g} % target rate"
    elif model["capacity"] is not None:
        per = f" per {model['period']}" if model["period"] else ""
        goal = f"for a capacity of {model['capacity']:,} MQLs{per}"
    else:
        goal = "as trained"
    summary = []
    if at["model"]["n_mql"]:
        more = at["more_mqls"]
        side = (
            f"so {who} passes {abs(more):,} {'more' if more > 0 else 'fewer'} MQLs at that "
            "rate or better"
            if more
            else "so both pass as many MQLs at that rate or better"
        )
        if at["points"]["cutoff"] is None:
            passes = "no points cut-off reaches that rate"
        else:
            passes = (
                f"the points reach that rate with at most {at['points']['n_mql']:,} MQLs "
                f"({_points_text(at['points']['cutoff'])} points or more)"
            )
        summary.append(
            f"At {who}'s MQL threshold {goal}, {at['model']['n_mql']:,} test leads are "
            f"MQLs and {percent(at['model']['rate'])} of them converted; {passes}, {side}."
        )
    else:
        summary.append(f"No test lead reaches {who}'s MQL threshold {goal}.")
    summary.append(
        f"Ranking all {report['data']['n']:,} test leads, {who}'s ROC AUC is "
        f"{rank['model']['roc_auc']:.3f} against {rank['points']['roc_auc']:.3f} for points "
        f"(PR AUC {rank['model']['pr_auc']:.3f} against {rank['points']['pr_auc']:.3f})."
    )
    summary.append(
        f"{subject}'s probabilities are on average {100 * cal['ece']:.1f} percentage points "
        "away from "
        f"the observed conversion rates (ECE {cal['ece']:.3f}, Brier score {cal['brier']:.4f})."
    )
    missed = [
        who
        for who, verdict in (
            ("the line judged here", model["guarantee"]),
            ("the bundle that scores", model["deployed_guarantee"]),
        )
        if verdict == "not met"
    ]
    if missed:
        summary.append(
            f"The guarantee asked for ({100 * model['target_rate']:g} % with "
            f"{100 * model['confidence']:g} % confidence) is not met by {' nor by '.join(missed)}: "
            "no MQL line passed its exact tests on the calibration leads, so the line is a "
            "stricter one or the expected-rate one (the training warnings say which)."
        )
    if report["drift_warning"]:
        summary.append(report["drift_warning"])
    return headline, summary


def _backtest_section(bundle: Any) -> dict[str, Any]:
    """Which fit the report's numbers come from, the shift in the base rate, immature leads."""
    from mqlml.outcome import describe_provenance

    return describe_provenance(bundle.metadata)


def _json_safe(value: Any) -> Any:
    """Plain JSON types only: numpy scalars to Python, NaN and inf to None, paths to str."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def compare(
    bundle: Any,
    frame: pd.DataFrame | None = None,
    *,
    baseline: str | Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    source: str | None = None,
) -> dict[str, Any]:
    """Compare a bundle's model with the points baseline on its test part.

    The test part is found again exactly as in training (:func:`mqlml.train.holdout`);
    nothing was fitted on it, and the points (which learn nothing) are computed on the
    same rows as read.

    Parameters
    ----------
    bundle : Bundle or path
        A trained bundle, or the folder it was saved to.
    frame : pandas.DataFrame, optional
        The leads the bundle was trained on; read from its config when omitted.
    baseline : str or Path, optional
        A points rules file; defaults to the config's ``baseline.rules``.
    n_boot : int, default=1000
        Bootstrap resamples of the interval on the difference at equal volume.
    seed : int, default=0
        Seed of the bootstraps and of the sample for the drivers.
    source : str, optional
        Where the bundle came from, recorded as ``model.path`` (set automatically when
        ``bundle`` is a path).

    Returns
    -------
    dict
        JSON-safe, with the keys documented in ``docs/report-json.md``: ``format``,
        ``headline``, ``summary``, ``model``, ``data``, ``baseline``, ``at_volume``,
        ``at_target``, ``ranking``, ``calibration``, ``grid``, ``drivers``, ``curves``,
        ``drift_warning``, and the reader-facing tables of
        :func:`mqlml.report_tables.report_extras`.

    Raises
    ------
    ConfigError
        When no rules file is given and the config names none.
    RuleError, MissingColumnError
        When the rules file is malformed or reads columns the leads lack.
    DataError
        When the leads are not the ones the bundle was trained on.
    InsufficientDataError
        When the test part has a single class or the points make no MQL on it.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from mqlml.bundle import Bundle, load_bundle
    from mqlml.calibration import diagnose
    from mqlml.evaluate import evaluate
    from mqlml.report_tables import readable, report_extras, score_scale
    from mqlml.scoring import score_frame
    from mqlml.train import holdout

    if not isinstance(bundle, Bundle):
        source = str(bundle)
        bundle = load_bundle(bundle)
    rules = baseline or (bundle.config.get("baseline") or {}).get("rules")
    if not rules:
        raise ConfigError(
            "baseline.rules must name a rules file to compare the model with; got none in "
            "the model's config. Set baseline.rules in the project config (e.g. rules: "
            "rules.yaml) or pass --baseline RULES (data/rules.yaml is an example)."
        )
    raw, y = holdout(bundle, frame)
    # The test part is judged by the backtest (fit on older leads only), never by the
    # deployed refit, which learned from those very leads.
    judge = bundle.backtest or bundle
    X = judge.schema.features_frame(raw)
    p = judge.predict_proba(X, raw)
    estimator, points, evaluated_on = _baseline_points(rules, raw, X)
    ruleset = estimator.rules
    threshold = judge.threshold
    lines = judge.thresholds(len(p), judge.segment_codes(raw))  # one line, or per segment
    metrics = evaluate(
        y,
        p,
        threshold=lines if judge.segments is not None else threshold.threshold,
        expected_rate=threshold.expected_rate,
        target_rate=threshold.target_rate,
    )
    volume = compare_at_volume(y, p, points, ruleset.mql_threshold, n_boot=n_boot, seed=seed)
    at_target = compare_at_rate(
        y, p, lines if judge.segments is not None else threshold.threshold, points
    )
    at_target["target_rate"] = threshold.target_rate
    at_target["model"]["interval"] = metrics["realized_interval"]
    at_target["model"]["expected_rate"] = threshold.expected_rate
    scores = score_frame(judge, raw, reasons="none", exact=True)
    meta = bundle.metadata
    trained = meta.get("metrics") or {}
    drift = trained["drift_warning"] if "drift_warning" in trained else metrics["drift_warning"]
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "headline": "",
        "summary": [],
        "model": {
            "path": source,
            "model": bundle.model.model,
            "calibration_method": meta.get("calibration_method"),
            "threshold": threshold.threshold,
            "threshold_mode": threshold.mode,
            "target_rate": threshold.target_rate,
            "capacity": threshold.capacity_per_period if threshold.period else threshold.capacity,
            "period": threshold.period,
            "expected_rate": threshold.expected_rate,
            "confidence": threshold.confidence,
            "guarantee": threshold.guarantee,
            "deployed_guarantee": bundle.threshold.guarantee,
            # how far the scoring line's own rate may sit from what it promises, given
            # the leads it was chosen on (exact 90 % interval of its MQLs' rate there)
            "deployed_line_interval": (
                None
                if bundle.threshold.realized_interval is None
                else list(bundle.threshold.realized_interval)
            ),
            "deployed_line_mqls": bundle.threshold.n_mql,
            "model_choice": meta.get("model_choice"),
            "deployed_calibration": ((meta.get("fits") or {}).get("deployed") or {}).get(
                "calibration"
            ),
            "trained_rows": meta.get("rows"),
            "date_from": meta.get("date_from"),
            "date_to": meta.get("date_to"),
            "mqlml_version": (meta.get("versions") or {}).get("mqlml"),
        },
        "data": {
            "n": int(y.size),
            "n_converted": int(y.sum()),
            "base_rate": float(y.mean()),
            "split": (meta.get("split") or {}).get("method"),
            "test_from": meta.get("test_from"),
        },
        "baseline": {
            "name": ruleset.name,
            "rules_file": str(rules),
            "mql_threshold": ruleset.mql_threshold,
            "n_rules": len(ruleset.rules),
            "evaluated_on": evaluated_on,
        },
        "at_volume": volume,
        "at_target": at_target,
        "ranking": {
            "model": {"roc_auc": metrics["roc_auc"], "pr_auc": metrics["pr_auc"]},
            "points": {
                "roc_auc": float(roc_auc_score(y, points)),
                "pr_auc": float(average_precision_score(y, points)),
            },
        },
        "calibration": {**diagnose(y, p).to_dict(), "log_loss": metrics["log_loss"]},
        "grid": _grid(
            y,
            scores["fit_score"].to_numpy(dtype=float),
            scores["engagement_score"].to_numpy(dtype=float),
        ),
        "drivers": _drivers(judge, X, seed),
        "curves": _curves(y, p, points, volume["n_mql"]),
        "drift_warning": drift,
        "backtest": _backtest_section(bundle),
    }
    report.update(
        report_extras(
            judge,  # its tiers and MQL line go with the probabilities it gave
            raw,
            X,
            y,
            p,
            estimator,
            evaluated_on,
            calibration_curve=report["calibration"]["curve"],
            source=source,
            points=np.asarray(points, dtype=float),
            judged_by="deployed" if judge is bundle else "backtest",
        )
    )
    # What a score means where it is written: the scale of the bundle that scores.
    report["scale"] = score_scale(bundle, raw)
    labels = (bundle.config.get("report") or {}).get("labels") or {}
    for row in report["drivers"]["features"]:
        row["label"] = readable(row["feature"], labels)
    report["headline"], report["summary"] = _sentences(report)
    return _json_safe(report)
