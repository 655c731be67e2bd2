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

The paired comparisons themselves (:func:`mqlml.metrics.compare_at_volume` and
:func:`mqlml.metrics.compare_at_rate`) are pure functions of outcomes and scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import ConfigError, RuleError
from mqlml.io._text import json_safe
from mqlml.metrics._paired import compare_at_rate, compare_at_volume

__all__ = [
    "REPORT_FORMAT",
    "compare",
    "judged_by",
    "percent",
]

REPORT_FORMAT = "mqlml.report/3"
"""The ``format`` written in every report.json; bumped when the structure changes."""

_MAX_DRIVER_ROWS = 20_000
_GRID_LABELS = ("low", "mid", "high")
_N_HIST_BINS = 30


# ---------------------------------------------------------------------------------------
# The whole comparison on a bundle's test part
# ---------------------------------------------------------------------------------------


def _baseline_points(rules: Any, raw: pd.DataFrame, features: pd.DataFrame):
    """Points on the raw test rows, or on the coerced features if a rule needs them."""
    from mqlml.rules._baseline import PointsBaseline

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
    from mqlml.scoring._explain import feature_contributions

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
    from mqlml.metrics._evaluate import gains_curve
    from mqlml.metrics._rates import rate_curve

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
    from mqlml.leads._outcome import describe_provenance

    return describe_provenance(bundle.metadata)


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

    The test part is found again exactly as in training (:func:`mqlml.model.holdout`);
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
        :func:`mqlml.report.report_extras`.

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

    from mqlml.metrics._calibration import diagnose
    from mqlml.metrics._evaluate import evaluate
    from mqlml.model._bundle import Bundle, load_bundle
    from mqlml.model._prepare import holdout
    from mqlml.report._tables import readable, report_extras, score_scale
    from mqlml.scoring._scorer import score_frame

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
            # how long conversions take (mqlml.leads delay curve), when trained with
            # conversion times
            "delay": meta.get("delay"),
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
    return json_safe(report)
