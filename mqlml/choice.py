"""Model choice by forward validation on the history: ``model.kind: auto``.

A few candidate models (LightGBM as configured, a smaller, more regularised LightGBM for
small or noisy tables, and the one-hot logistic regression at two strengths) are each fit
on the train part and judged on the calibration part, the next leads in time (or a
random part without times). The test part is never used: the backtest that judges the
chosen model on it stays honest. The candidate with the highest ROC AUC on the
calibration part wins (ranking is what a model adds; its calibration is fitted
afterwards); a later candidate must beat an earlier one by more than
:data:`MARGIN` to replace it, so a tie goes to the configured LightGBM.

On a large train part the candidates are fit on its newest :data:`MAX_ROWS` leads and
judged on at most as many leads of the calibration part, so the choice costs a fraction
of one full fit; the chosen model is then fit on the whole train part as usual.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

__all__ = ["MARGIN", "MAX_ROWS", "Candidate", "candidates", "choose_model"]

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


def choose_model(
    config,
    make_scorer,
    X: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    validate: np.ndarray,
    times: pd.Series | None = None,
) -> tuple[Any, dict[str, Any], Any]:
    """Fit each candidate on ``train`` and keep the best on ``validate``.

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
        Creation times (to take the newest leads of a large part).

    Returns
    -------
    (config, record, fitted)
        The config with the chosen candidate's settings, the record of every candidate
        (name, settings, ROC AUC and log loss on ``validate``, seconds) and the chosen
        candidate's fitted scorer when it was fit on the whole train part (else None).
    """
    fit_rows = _newest(train, times, MAX_ROWS)
    judge_rows = _newest(validate, times, MAX_ROWS)
    y_judge = y[judge_rows]
    tried, best, fitted = [], None, {}
    for candidate in candidates(config):
        settings = config.with_overrides(model=candidate.settings)
        start = time.perf_counter()
        scorer = make_scorer(settings).fit(X.iloc[fit_rows], y[fit_rows])
        log_odds = scorer.decision_function(X.iloc[judge_rows])
        auc = float(roc_auc_score(y_judge, log_odds))
        loss = float(log_loss(y_judge, 1.0 / (1.0 + np.exp(-log_odds)), labels=[0, 1]))
        tried.append(
            {
                "name": candidate.name,
                "settings": candidate.settings,
                "roc_auc": auc,
                "log_loss": loss,
                "seconds": time.perf_counter() - start,
            }
        )
        fitted[candidate.name] = scorer
        if best is None or auc > best["roc_auc"] + MARGIN:
            best = tried[-1]
    chosen = next(c for c in candidates(config) if c.name == best["name"])
    record = {
        "chosen": best["name"],
        "candidates": tried,
        "fit_rows": len(fit_rows),
        "validated_rows": len(judge_rows),
        "rule": f"highest ROC AUC on the calibration part; a later candidate must gain "
        f"more than {MARGIN} over the best earlier one",
    }
    whole = len(fit_rows) == len(train)
    return (
        config.with_overrides(model=chosen.settings),
        record,
        fitted[best["name"]] if whole else None,
    )
