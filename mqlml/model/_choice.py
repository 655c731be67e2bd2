"""Model choice by forward validation on the history: ``model.kind: auto``.

A few candidate models (LightGBM as configured, a smaller, more regularised LightGBM for
small or noisy tables, and the one-hot logistic regression at two strengths) are each fit
on forward folds of the history and judged on the leads after each fold: the older half
of the train part on its newer half, then the whole train part on the calibration part
(the next leads in time, or a random part without times). The test part is never used:
the backtest that judges the chosen model on it stays honest. The candidate with the
highest mean ROC AUC wins (ranking is what a model adds; its calibration is fitted
afterwards); a later candidate must beat the best earlier one by more than
:data:`MARGIN` and than one standard error of that one's ROC AUC on the calibration
part (:func:`margin`), so a tie, or a difference within the noise of a small table,
goes to the configured LightGBM.

On a large table each fold fits on its newest :data:`MAX_ROWS` leads and judges at most as
many, so the choice costs a fraction of one full fit; the chosen model is then fit on the
whole train part as usual (the last fold's fit is reused when it was the whole part).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

__all__ = [
    "MARGIN",
    "MAX_ROWS",
    "Candidate",
    "auc_standard_error",
    "candidates",
    "choose_model",
    "margin",
]

#: Most train-part leads the candidates are fit on (the newest ones).
MAX_ROWS = 100_000
#: ROC AUC a later candidate must gain over the best earlier one to be chosen.
MARGIN = 0.002


@dataclass(frozen=True)
class Candidate:
    """One model setting tried: a name and the ``model`` config values it sets."""

    name: str
    settings: dict[str, Any]


def candidates(config) -> list[Candidate]:
    """The candidates for a config, the configured LightGBM first.

    Parameters
    ----------
    config : mqlml.config.ProjectConfig

    Returns
    -------
    list of Candidate
    """
    model = config.model
    base = {
        "n_estimators": model.n_estimators,
        "learning_rate": model.learning_rate,
        "num_leaves": model.num_leaves,
        "min_child_samples": model.min_child_samples,
    }
    return [
        Candidate("lightgbm", {"kind": "lightgbm", **base}),
        Candidate(
            "lightgbm-small",
            {**base, "kind": "lightgbm", "num_leaves": 7, "min_child_samples": 50},
        ),
        Candidate("logistic", {"kind": "logistic", "C": model.C}),
        Candidate("logistic-strong", {"kind": "logistic", "C": model.C / 10}),
    ]


def _newest(rows: np.ndarray, times: pd.Series | None, limit: int) -> np.ndarray:
    """At most ``limit`` of ``rows``: the newest by time, else the last in order."""
    if len(rows) <= limit:
        return rows
    if times is None:
        return rows[-limit:]
    order = np.argsort(times.iloc[rows].to_numpy(), kind="stable")
    return np.sort(rows[order[-limit:]])


def auc_standard_error(auc: float, n_positive: int, n_negative: int) -> float:
    """Hanley and McNeil's (1982) standard error of a ROC AUC on that many leads.

    Examples
    --------
    >>> round(auc_standard_error(0.8, 50, 300), 4)
    0.0389
    """
    a, n1, n2 = float(auc), max(int(n_positive), 1), max(int(n_negative), 1)
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    variance = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2)
    return float(np.sqrt(max(variance, 0.0)))


def margin(best: dict[str, Any], y_judge: np.ndarray) -> float:
    """What a later candidate must gain over ``best``: :data:`MARGIN`, or one standard
    error of ``best``'s ROC AUC on the judged leads when that is larger (on a small
    table the configured LightGBM is kept unless another candidate is clearly better)."""
    n_positive = int(y_judge.sum())
    se = auc_standard_error(best["roc_auc"], n_positive, len(y_judge) - n_positive)
    return max(MARGIN, se)


def _folds(train: np.ndarray, validate: np.ndarray, times: pd.Series | None):
    """Forward folds: the older half of the train part judged on its newer half, then
    the whole train part judged on the calibration part."""
    if times is None:
        older = train
    else:
        older = train[np.argsort(times.iloc[train].to_numpy(), kind="stable")]
    half = len(older) // 2
    inner = (np.sort(older[:half]), np.sort(older[half:]))
    return [inner, (train, validate)]


def choose_model(
    config,
    make_scorer,
    X: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    validate: np.ndarray,
    times: pd.Series | None = None,
) -> tuple[Any, dict[str, Any], Any]:
    """Fit each candidate on forward folds of the history and keep the best.

    Two folds, each a fit on older leads judged on the next ones: the older half of the
    train part on its newer half, and the train part on ``validate``. A candidate's score
    is its mean ROC AUC over the folds (one period's quirks decide less).

    Parameters
    ----------
    config : mqlml.config.ProjectConfig
        The config (``model.kind: auto``).
    make_scorer : callable
        ``make_scorer(config)`` returns an unfitted scorer for a config.
    X, y : DataFrame and array of 0/1
        All leads.
    train, validate : arrays of row positions
        The train part and the part after it (never the test part).
    times : pandas.Series, optional
        Creation times (to order the train part and take the newest leads of a large part).

    Returns
    -------
    (config, record, fitted)
        The config with the chosen candidate's settings, the record of every candidate
        (name, settings, ROC AUC per fold and their mean, log loss on ``validate``,
        seconds) and the chosen candidate's scorer fitted on the whole train part, when
        it was (else None).
    """
    folds = [
        (_newest(fit, times, MAX_ROWS), _newest(judge, times, MAX_ROWS))
        for fit, judge in _folds(train, validate, times)
    ]
    tried, best, last_fit = [], None, {}
    for candidate in candidates(config):
        settings = config.with_overrides(model=candidate.settings)
        start = time.perf_counter()
        aucs = []
        for fit_rows, judge_rows in folds:
            y_judge = y[judge_rows]
            if y_judge.min() == y_judge.max() or y[fit_rows].min() == y[fit_rows].max():
                continue  # a fold without both outcomes judges nothing
            scorer = make_scorer(settings).fit(X.iloc[fit_rows], y[fit_rows])
            log_odds = scorer.decision_function(X.iloc[judge_rows])
            aucs.append(float(roc_auc_score(y_judge, log_odds)))
        loss = float(log_loss(y_judge, 1.0 / (1.0 + np.exp(-log_odds)), labels=[0, 1]))
        tried.append(
            {
                "name": candidate.name,
                "settings": candidate.settings,
                "roc_auc_folds": aucs,
                "roc_auc": float(np.mean(aucs)),
                "log_loss": loss,
                "seconds": time.perf_counter() - start,
            }
        )
        last_fit[candidate.name] = scorer
        if best is None or tried[-1]["roc_auc"] > best["roc_auc"] + margin(best, y_judge):
            best = tried[-1]
    chosen = next(c for c in candidates(config) if c.name == best["name"])
    fit_rows, judge_rows = folds[-1]
    record = {
        "chosen": best["name"],
        "candidates": tried,
        "folds": [{"fit_rows": len(fit), "judged_rows": len(judge)} for fit, judge in folds],
        "rule": f"highest mean ROC AUC over two forward folds of the history before the "
        f"test part; a later candidate must gain more than {MARGIN} and one standard error "
        "(Hanley-McNeil, on the calibration part) over the best earlier one",
    }
    whole = len(fit_rows) == len(train)
    return (
        config.with_overrides(model=chosen.settings),
        record,
        last_fit[best["name"]] if whole else None,
    )
