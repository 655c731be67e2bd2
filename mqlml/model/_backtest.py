"""Training's second step, the backtest: the deployed procedure one step back in time.

M1 is fit on the train part, its calibrator and MQL line on its scores of the calibration
part; M2 is fit on the train and calibration parts and judged, with M1's calibrator and
line, on the test part that nothing in it saw (with ``model.refit: false`` M1 is judged).
Every number of the summary and the report comes from here (:mod:`mqlml.model`
strings the steps together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from mqlml.config._config import ProjectConfig
from mqlml.leads._outcome import (
    cohort_findings,
)
from mqlml.metrics._evaluate import evaluate
from mqlml.model._accounts import account_evaluation
from mqlml.model._calibration import ScoreMap, choose_method, fit_score_map
from mqlml.model._choice import choose_model
from mqlml.model._estimator import LeadScorer
from mqlml.model._prepare import Leads, Prepared
from mqlml.model._segments import SegmentLines, fit_segment_lines
from mqlml.model._threshold import ThresholdResult, choose_threshold, guarantee_check

__all__ = [
    "Backtest",
    "CalibratedSlice",
    "GivenScores",
    "account_report",
    "backtest",
    "calibrate_slice",
    "cohort_warnings",
    "guarantee_warnings",
]


@dataclass(frozen=True)
class CalibratedSlice:
    """One calibration step: a score map and a threshold fitted on one slice."""

    score_map: ScoreMap
    threshold: ThresholdResult
    probabilities: np.ndarray  # the slice's calibrated probabilities
    log_odds: np.ndarray  # the model's scores of the slice
    labels: np.ndarray  # the slice's outcomes
    segments: SegmentLines | None = None


class GivenScores(ClassifierMixin, BaseEstimator):
    """Scores already computed (one column of log-odds) as a fitted model, so the
    calibration steps fit on out-of-fold scores pooled from several models."""

    classes_ = np.array([0, 1])

    def fit(self, X, y):  # nothing to learn
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).ravel()

    def predict_proba(self, X) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


def calibrate_slice(
    config: ProjectConfig,
    scorer: LeadScorer,
    X: pd.DataFrame,
    y: np.ndarray,
    times: pd.Series | None,
    method: str,
    segment_values: np.ndarray | None = None,
) -> CalibratedSlice:
    # The model scores the slice once; every calibration step below fits on those scores.
    log_odds = scorer.decision_function(X)
    given = pd.DataFrame({"log_odds": log_odds}, index=X.index)
    score_map = fit_score_map(GivenScores(), given, y, method=method)
    p = score_map(log_odds)
    goal = config.threshold
    threshold = choose_threshold(
        p,
        target_rate=None if goal.capacity is not None else goal.target_rate,
        capacity=goal.capacity,
        labels=y,
        times=times,
        confidence=None if goal.capacity is not None else goal.confidence,
        unreachable="strictest",
    )
    if goal.segments is None or segment_values is None:
        return CalibratedSlice(score_map, threshold, p, log_odds, y)
    segments = fit_segment_lines(
        goal.segments,
        goal,
        segment_values,
        GivenScores(),
        given,
        y,
        times,
        score_map,
        threshold,
        method=config.model.calibration,
        missing_tokens=config.missing_tokens,
    )
    codes = segments.codes(segment_values)
    p = segments.probabilities(log_odds, codes, score_map)
    return CalibratedSlice(score_map, threshold, p, log_odds, y, segments)


def account_report(
    config: ProjectConfig,
    leads: Leads,
    fit_rows: np.ndarray,
    fit_p: np.ndarray,
    test_rows: np.ndarray,
    test_p: np.ndarray,
) -> dict[str, Any] | None:
    """Account probabilities fitted on one part's scores, judged on another's (mqlml.model).

    The account outcome is ``columns.account_label`` when set (then calibrated), else
    "any lead converted" (independence, checked).
    """
    cols = config.columns
    if cols.account is None or leads.groups is not None:
        return None
    accounts = leads.frame[cols.account].to_numpy(dtype=object)
    if cols.account_label is not None:
        from mqlml.io._readers import binary_label

        labels = binary_label(leads.frame[cols.account_label])
    else:
        labels = leads.y
    _, report = account_evaluation(
        fit_p,
        accounts[fit_rows],
        labels[fit_rows],
        test_p,
        accounts[test_rows],
        labels[test_rows],
        calibrate=cols.account_label is not None,
    )
    return {"column": cols.account, "label": cols.account_label, **report}


def cohort_warnings(config: ProjectConfig, leads: Leads) -> list[str]:
    """Left truncation (any outcome), then, without a window, the monthly cohorts' warnings;
    a rate shift is not reported again when left truncation explains it."""
    truncated = [message for _, message in leads.findings]
    if config.outcome.window_days is not None or leads.groups is not None:
        return truncated
    found = cohort_findings(leads.y, leads.times, in_order=config.split.method == "order")
    return truncated + [m for code, m in found if not (truncated and code == "rate-shift")]


def guarantee_warnings(
    config: ProjectConfig, y: np.ndarray, calibrate: np.ndarray, test: np.ndarray | None
) -> list[str]:
    """Before any fitting: the parts on which no line could be certified, whatever the model.

    The lines are chosen on the calibration part (the backtest's, or the only one with
    ``model.refit: false``) and on the test part (the bundle that scores).
    """
    goal = config.threshold
    if goal.confidence is None or goal.capacity is not None or goal.target_rate is None:
        return []
    parts = [("calibration", calibrate, "the backtest's" if test is not None else "the bundle's")]
    if test is not None:
        parts.append(("test", test, "the deployed bundle's"))
    out = []
    for name, rows, whose in parts:
        why = guarantee_check(len(rows), int(y[rows].sum()), goal.target_rate, goal.confidence)
        if why is not None:
            out.append(
                f"threshold.confidence: on the {name} part, where {whose} MQL line is chosen, "
                f"{why} Training goes on: the line will be the strictest that reaches the "
                "target taken alone, else the expected-rate one."
            )
    return out


@dataclass
class Backtest:
    """The backtest's models, calibration and numbers on the test part.

    ``config`` has the model kind chosen (``model.kind: auto``, :func:`choose_model`);
    ``calibrating`` is M1, ``judged`` M2 (M1 with ``model.refit: false``); ``stage`` M1's
    calibrator and line on the calibration part; ``test_log_odds`` and ``test_p`` the
    judged model's scores and probabilities of the test part; ``metrics`` its evaluation;
    ``cohort`` the outcome warnings; ``warnings`` every warning so far, in order.
    """

    config: ProjectConfig
    choice: dict[str, Any] | None
    method: str
    calibrating: LeadScorer
    judged: LeadScorer
    stage: CalibratedSlice
    test_log_odds: np.ndarray
    test_p: np.ndarray
    metrics: dict[str, Any]
    accounts: dict[str, Any] | None
    cohort: list[str]
    warnings: list[str]


def backtest(
    prepared: Prepared,
    scorer: Callable[[ProjectConfig], LeadScorer],
    *,
    progress: Callable[[str], None] | None = None,
) -> Backtest:
    """Fit M1 and M2, calibrate and choose the line on the calibration part, judge on test.

    ``scorer`` makes an unfitted model from a config (every fit of training uses it).
    """
    stage = progress or (lambda name: None)
    config, leads, parts = prepared.config, prepared.leads, prepared.parts
    X, y, times = leads.X, leads.y, leads.times
    A, B, C = parts.train, parts.calibrate, parts.test
    choice, m1 = None, None
    if config.model.kind == "auto":
        stage(f"choosing the model on the calibration part ({len(B):,} leads)")
        config, choice, m1 = choose_model(config, scorer, X, y, A, B, times)
    refit = config.model.refit
    early = guarantee_warnings(config, y, B, C if refit else None)
    for line in early:
        stage(f"warning: {line}")
    method = config.model.calibration
    if method == "auto":
        method = choose_method(len(B), int(y[B].sum()))
    stage(f"fitting the model on the train part ({len(A):,} leads)")
    m1 = m1 or scorer(config).fit(X.iloc[A], y[A])
    stage("calibrating and choosing the MQL threshold on the calibration part")
    stage1 = calibrate_slice(
        config, m1, X.iloc[B], y[B], prepared.times(B), method, prepared.segment_values(B)
    )
    # The backtest: the deployed procedure one step back (M2 fit on train + calibrate,
    # with M1's calibrator and threshold), judged on the test part nothing in it saw.
    AB = np.sort(np.concatenate([A, B]))
    if refit:
        stage(f"backtest: refitting on the train and calibration parts ({len(AB):,} leads)")
    judged = scorer(config).fit(X.iloc[AB], y[AB]) if refit else m1
    test_log_odds = judged.decision_function(X.iloc[C])
    return _judge(
        replace(prepared, config=config), choice, method, m1, judged, stage1, test_log_odds, early
    )


def _judge(
    prepared: Prepared,
    choice: dict[str, Any] | None,
    method: str,
    m1: LeadScorer,
    judged: LeadScorer,
    stage1: CalibratedSlice,
    test_log_odds: np.ndarray,
    early: list[str],
) -> Backtest:
    """The backtest's calibrated probabilities, line and accounts on the test part."""
    config, leads, parts = prepared.config, prepared.leads, prepared.parts
    refit = config.model.refit
    B, C = parts.calibrate, parts.test
    y_test = leads.y[C]
    threshold = stage1.threshold
    lines = stage1.segments
    codes_test = None if lines is None else lines.codes(prepared.segment_values(C))
    p_test = (
        stage1.score_map(test_log_odds)
        if lines is None
        else lines.probabilities(test_log_odds, codes_test, stage1.score_map)
    )
    line_test = threshold.threshold if lines is None else lines.thresholds(codes_test)
    accounts = account_report(config, leads, B, stage1.probabilities, C, p_test)
    promised = threshold.expected_rate
    if lines is not None and (p_test >= line_test).any():
        # each test MQL was promised its own segment line's rate: the mean of those
        by_line = np.array([x.threshold.expected_rate for x in lines.lines])
        promised = float(by_line[codes_test][p_test >= line_test].mean())
    metrics = evaluate(
        y_test,
        p_test,
        threshold=line_test,
        expected_rate=promised,
        target_rate=threshold.target_rate,
    )
    cohort = cohort_warnings(config, leads)
    warnings = [*early, *cohort]
    if threshold.note is not None:  # guarantee not met, or target out of reach (calibration)
        warnings.append(f"backtest: {threshold.note}" if refit else threshold.note)
    if lines is not None:
        # The backtest's segment lines judged on the test part nothing in them saw.
        metrics["segments"] = lines.table(y_test, p_test, codes_test)
        warnings += [f"backtest: {w}" if refit else w for w in lines.warnings]
    return Backtest(
        config, choice, method, m1, judged, stage1, test_log_odds, p_test, metrics, accounts,
        cohort, warnings,
    )  # fmt: skip
