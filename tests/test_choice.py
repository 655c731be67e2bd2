"""Model choice by forward validation (model.kind: auto), with known answers.

A world whose log-odds are linear in a few numbers is the logistic model's own; one
whose outcome is an interaction of two columns (the sign of their product) is beyond any
additive model. Each must get the model that fits it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mqlml.config._config import ProjectConfig
from mqlml.model._choice import auc_standard_error, choose_model, margin
from mqlml.model._train import _scorer


def _config(**model) -> ProjectConfig:
    return ProjectConfig(
        data={"path": "-"},
        columns={"id": "lead_id", "label": "converted"},
        model={"kind": "auto", **model},
    )


def _world(kind: str, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    if kind == "linear":
        logit = -1.5 + 1.2 * X["a"] - 0.8 * X["b"] + 0.5 * X["c"]
    else:  # the product's sign: no additive model ranks better than chance
        logit = -1.0 + 3.0 * np.sign(X["a"] * X["b"])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return X, y.to_numpy() if hasattr(y, "to_numpy") else y


def _choose(kind: str, n: int = 3000, seed: int = 0):
    X, y = _world(kind, n, seed)
    rows = np.arange(n)
    return choose_model(_config(), _scorer, X, y, rows[: n * 3 // 5], rows[n * 3 // 5 :])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_linear_world_gets_a_logistic_model(seed):
    config, record, fitted = _choose("linear", seed=seed)
    assert config.model.kind == "logistic" and record["chosen"].startswith("logistic")
    names = [c["name"] for c in record["candidates"]]
    assert names == ["lightgbm", "lightgbm-small", "logistic", "logistic-strong"]
    chosen = next(c for c in record["candidates"] if c["name"] == record["chosen"])
    assert chosen["roc_auc"] >= max(c["roc_auc"] for c in record["candidates"]) - 0.002
    assert fitted is not None and fitted.model == "logistic"  # the whole train part


def test_an_interaction_world_gets_trees():
    config, record, _ = _choose("interaction")
    assert config.model.kind == "lightgbm"
    by_name = {c["name"]: c["roc_auc"] for c in record["candidates"]}
    assert by_name["logistic"] < 0.6 < by_name[record["chosen"]]


def test_within_the_noise_the_configured_lightgbm_stays():
    # 300 judged leads: a gain of 0.01 is well inside one standard error (~0.03).
    best = {"roc_auc": 0.80}
    y = np.r_[np.ones(50), np.zeros(250)]
    assert margin(best, y) == pytest.approx(auc_standard_error(0.80, 50, 250))
    assert margin(best, y) > 0.03
    assert margin(best, np.r_[np.ones(20_000), np.zeros(80_000)]) == 0.002


def test_the_choice_never_sees_the_test_part(leads_4k):
    """Permuting the test part's outcomes changes nothing the backtest fitted: the model
    choice, the backtest's model, calibration and line (it would if any of them saw it)."""
    from mqlml.model._train import train

    from .conftest import LEAD_COLUMNS

    config = ProjectConfig(
        data={"path": "-"},
        columns=LEAD_COLUMNS,
        threshold={"target_rate": 0.3},
        model={"kind": "auto", "n_estimators": 60},
    )
    first = train(config, frame=leads_4k)
    test = first.parts.test
    shuffled = leads_4k.copy()
    rng = np.random.default_rng(5)
    labels = shuffled["converted"].to_numpy().copy()
    labels[test] = rng.permutation(1 - labels[test])  # other outcomes, same part
    shuffled["converted"] = labels
    second = train(config, frame=shuffled)
    assert np.array_equal(second.parts.test, test)
    a, b = first.bundle.backtest, second.bundle.backtest

    def scores(choice):  # all but the seconds each fit took
        return [{k: v for k, v in c.items() if k != "seconds"} for c in choice["candidates"]]

    assert scores(a.metadata["model_choice"]) == scores(b.metadata["model_choice"])
    X = leads_4k.drop(columns=["converted"])
    assert np.array_equal(a.model.decision_function(a.schema.features_frame(X)),
                          b.model.decision_function(b.schema.features_frame(X)))  # fmt: skip
    assert a.score_map.to_dict() == b.score_map.to_dict()
    assert a.threshold.threshold == b.threshold.threshold
    # ... while what is judged on the test part does change.
    assert first.metrics["realized_rate"] != second.metrics["realized_rate"]
