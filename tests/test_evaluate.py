"""Evaluation metrics, drift warning, gains curve and rate at equal volume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from mqlml.errors import DataError, InsufficientDataError
from mqlml.metrics._evaluate import evaluate, gains_curve, rate_at_volume

Y4 = [0, 0, 1, 1]
P4 = [0.1, 0.4, 0.35, 0.8]

# 10 leads, threshold 0.5: MQLs are the first 4 (p >= 0.5), 2 of them converted
Y10 = np.array([1, 0, 1, 0, 1, 0, 0, 0, 1, 0])
P10 = np.array([0.9, 0.7, 0.6, 0.5, 0.45, 0.4, 0.3, 0.2, 0.15, 0.1])


def test_metrics_on_a_known_case():
    m = evaluate(Y4, P4)
    assert (m["n"], m["n_converted"], m["base_rate"]) == (4, 2, 0.5)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["pr_auc"] == pytest.approx(5 / 6)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m["log_loss"] == pytest.approx(
        -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    )
    assert m["ece"] == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)  # one lead per bin
    assert "threshold" not in m and "drift_warning" not in m


def test_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 6, 2_000)
    y = rng.binomial(1, p)
    m = evaluate(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    assert m["log_loss"] == pytest.approx(log_loss(y, p))


def test_log_loss_clips_certain_wrong_probabilities():
    m = evaluate([0, 1], [1.0, 0.0])
    assert m["log_loss"] == pytest.approx(-math.log(1e-15), rel=1e-4)


def test_metrics_at_a_threshold():
    m = evaluate(Y10, P10, threshold=0.5, target_rate=0.6)
    assert (m["threshold"], m["n_mql"], m["mql_share"]) == (0.5, 4, 0.4)
    assert m["realized_rate"] == 0.5
    assert m["recall"] == 0.5  # 2 of 4 conversions
    assert m["lift"] == pytest.approx(0.5 / 0.4)
    assert m["mean_probability"] == pytest.approx(0.675)  # mean p of the MQLs in this part
    assert m["rate_gap"] == pytest.approx(-0.175)
    assert m["target_rate"] == 0.6
    lo, hi = m["realized_interval"]
    assert lo <= 0.5 <= hi
    assert m["drift_warning"].startswith("The realized MQL-to-SQL rate on the test part (50.0 %)")
    out = json.loads(json.dumps(m))
    assert out["realized_interval"] == [lo, hi] and out["n_mql"] == 4
    assert all(isinstance(v, int | float | str | list | type(None)) for v in m.values())


def test_drift_warning_only_beyond_the_tolerance():
    above = evaluate(Y10, P10, threshold=0.5, expected_rate=0.44)
    assert above["drift_warning"] == (
        "The realized MQL-to-SQL rate on the test part (50.0 %) is 6.0 percentage points above the "
        "expected 44.0 %: conversion behaviour moved between the training and test periods; "
        "consider recalibrating on recent leads."
    )
    assert above["rate_gap"] == pytest.approx(0.06)
    assert evaluate(Y10, P10, threshold=0.5, expected_rate=0.46)["drift_warning"] is None
    below = evaluate(Y10, P10, threshold=0.5, expected_rate=0.6)
    assert "is 10.0 percentage points below the expected 60.0 %" in below["drift_warning"]
    tolerant = evaluate(Y10, P10, threshold=0.5, expected_rate=0.6, drift_tolerance=0.15)
    assert tolerant["drift_warning"] is None


def test_threshold_above_every_lead():
    m = evaluate(Y10, P10, threshold=0.95)
    assert m["n_mql"] == 0
    assert m["realized_rate"] is None and m["rate_gap"] is None and m["drift_warning"] is None
    assert m["recall"] == 0.0


def test_single_class_is_insufficient():
    with pytest.raises(InsufficientDataError, match="got 4 leads with 0 conversions"):
        evaluate([0, 0, 0, 0], P4)
    with pytest.raises(InsufficientDataError, match="got 2 leads with 2 conversions"):
        evaluate([1, 1], [0.2, 0.3])


def test_bad_inputs_are_named():
    with pytest.raises(DataError, match="y must contain only 0 and 1; got 2 at position 1"):
        evaluate([0, 2], [0.2, 0.3])
    with pytest.raises(DataError, match=r"p must be finite and in \[0, 1\]; got nan"):
        evaluate([0, 1], [np.nan, 0.3])
    with pytest.raises(DataError, match=r"p must have one value per lead; got shape \(3,\)"):
        evaluate([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="y must be a non-empty 1-d array"):
        evaluate([], [])
    with pytest.raises(DataError, match="score must be numeric"):
        rate_at_volume([0, 1], ["a", "b"], 1)


def test_gains_curve_ends_and_hand_case():
    g = gains_curve([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], n_points=5)
    assert g["share_of_leads"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert g["share_of_conversions"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    rng = np.random.default_rng(1)
    score = rng.integers(0, 60, 1_000)  # points: many ties
    y = rng.binomial(1, score / 100)
    g = gains_curve(y, score)
    assert len(g) == 101
    assert tuple(g.iloc[0]) == (0.0, 0.0) and tuple(g.iloc[-1]) == (1.0, 1.0)
    assert np.all(np.diff(g["share_of_conversions"]) >= 0)


def test_gains_curve_does_not_depend_on_input_order():
    rng = np.random.default_rng(2)
    score = rng.integers(0, 10, 500).astype(float)
    y = rng.binomial(1, 0.3, 500)
    order = rng.permutation(500)
    a = gains_curve(y, score)
    b = gains_curve(y[order], score[order])
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-12)


def test_gains_curve_of_a_constant_score_is_the_diagonal():
    g = gains_curve([1, 0, 0, 1, 0], [5] * 5, n_points=11)
    np.testing.assert_allclose(g["share_of_conversions"], g["share_of_leads"])


def test_gains_curve_errors():
    with pytest.raises(InsufficientDataError, match="got 3 leads with 0 conversions"):
        gains_curve([0, 0, 0], [1, 2, 3])
    with pytest.raises(ValueError, match="n_points must be an integer of at least 2; got 1"):
        gains_curve([0, 1], [1, 2], n_points=1)
    with pytest.raises(DataError, match="score must be finite; got inf at position 0"):
        gains_curve([0, 1], [np.inf, 2])


def test_rate_at_volume_hand_case():
    assert rate_at_volume([1, 0, 1, 0], [30, 50, 20, 10], 2) == {
        "n_mql": 2,
        "conversions": 1,
        "rate": 0.5,
        "lift": 1.0,
    }
    top3 = rate_at_volume([1, 0, 1, 0, 0], [30, 50, 20, 10, 5], 3)
    assert (top3["conversions"], top3["rate"]) == (2, pytest.approx(2 / 3))
    assert top3["lift"] == pytest.approx((2 / 3) / 0.4)


def test_rate_at_volume_breaks_boundary_ties_by_input_order():
    assert rate_at_volume([1, 0, 1, 0], [50, 40, 40, 10], 2)["conversions"] == 1
    assert rate_at_volume([1, 1, 0, 0], [50, 40, 40, 10], 2)["conversions"] == 2


def test_rate_at_volume_checks_the_volume():
    for bad in (0, 5, 1.5, True):
        with pytest.raises(ValueError, match="n_mql must be an integer from 1 to the number"):
            rate_at_volume([1, 0, 1, 0], [30, 50, 20, 10], bad)
    assert rate_at_volume([0, 0], [1, 2], 1)["lift"] is None
