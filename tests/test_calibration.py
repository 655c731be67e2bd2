"""Calibration: the method rule, fitting on a held-out part, ECE and the reliability curve."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression

from mqlml.errors import DataError, InsufficientDataError
from mqlml.metrics._calibration import (
    CalibrationDiagnostics,
    diagnose,
    expected_calibration_error,
    reliability_curve,
)
from mqlml.model._calibration import choose_method, fit_calibrator


class _Cubed(ClassifierMixin, BaseEstimator):
    """A fitted classifier that reports p**3 for a lead whose true probability is X[:, 0]."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        q = np.asarray(X, dtype=float)[:, 0] ** 3
        return np.column_stack([1 - q, q])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _leads(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.6, n)
    return p[:, None], rng.binomial(1, p)


@pytest.mark.parametrize(
    ("n_rows", "n_positive", "expected"),
    [
        (1000, 100, "isotonic"),
        (1000, 900, "isotonic"),
        (50_000, 5_000, "isotonic"),
        (999, 100, "sigmoid"),
        (1000, 99, "sigmoid"),
        (1000, 901, "sigmoid"),
        (200, 20, "sigmoid"),
    ],
)
def test_choose_method_rule(n_rows, n_positive, expected):
    assert choose_method(n_rows, n_positive) == expected


def test_fit_calibrator_isotonic_fixes_a_miscalibrated_model():
    X, y = _leads(40_000, seed=1)
    model = _Cubed().fit(X, y)
    calibrator = fit_calibrator(model, X[:20_000], y[:20_000])
    assert calibrator.method == "isotonic"
    assert calibrator.estimator.estimator is model  # frozen, not refitted
    assert isinstance(calibrator.calibrated_classifiers_[0].calibrators[0], IsotonicRegression)
    before = expected_calibration_error(y[20_000:], model.predict_proba(X[20_000:])[:, 1])
    after = expected_calibration_error(y[20_000:], calibrator.predict_proba(X[20_000:])[:, 1])
    assert before > 0.2
    assert after < 0.02


def test_fit_calibrator_uses_sigmoid_on_a_small_part_and_still_improves():
    X, y = _leads(20_500, seed=2)
    model = _Cubed().fit(X, y)
    calibrator = fit_calibrator(model, X[:500], y[:500])
    assert calibrator.method == "sigmoid"
    before = expected_calibration_error(y[500:], model.predict_proba(X[500:])[:, 1])
    after = expected_calibration_error(y[500:], calibrator.predict_proba(X[500:])[:, 1])
    # a sigmoid of p**3 cannot bend into p exactly, but removes most of the gap
    assert before > 0.2
    assert after < 0.1


def test_fit_calibrator_explicit_method_overrides_the_rule():
    X, y = _leads(4_000, seed=3)
    model = _Cubed().fit(X, y)
    assert fit_calibrator(model, X, y, method="sigmoid").method == "sigmoid"
    assert fit_calibrator(model, X[:300], y[:300], method="isotonic").method == "isotonic"


def test_fit_calibrator_rejects_an_unknown_method():
    X, y = _leads(200, seed=4)
    with pytest.raises(
        ValueError, match="method must be one of auto, isotonic, sigmoid; got 'platt'"
    ):
        fit_calibrator(_Cubed().fit(X, y), X, y, method="platt")


def test_fit_calibrator_needs_both_classes():
    X = np.full((50, 1), 0.5)
    with pytest.raises(InsufficientDataError, match="got 50 leads with 0 conversions and 50 non"):
        fit_calibrator(_Cubed().fit(X, None), X, np.zeros(50, dtype=int))
    y = np.zeros(50, dtype=int)
    y[:3] = 1
    with pytest.raises(InsufficientDataError, match=r"at least 5 conversions.*got 50 leads with 3"):
        fit_calibrator(_Cubed().fit(X, None), X, y)


def test_fit_calibrator_rejects_labels_that_are_not_0_1():
    X = np.full((10, 1), 0.5)
    y = np.array([0, 1] * 4 + [2, 1])
    with pytest.raises(DataError, match="y must contain only 0 and 1; got 2 at position 8"):
        fit_calibrator(_Cubed().fit(X, None), X, y)


def test_ece_of_calibrated_draws_is_small_and_of_squared_probabilities_large():
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 100_000)
    y = rng.binomial(1, p)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, p, strategy="uniform") < 0.01
    # E|p - p**2| over U(0, 1) is 1/6
    assert expected_calibration_error(y, p**2) == pytest.approx(1 / 6, abs=0.01)


def test_ece_hand_cases():
    assert expected_calibration_error([0, 0, 1, 1], [0.2, 0.2, 0.6, 0.6], n_bins=2) == (
        pytest.approx(0.3)
    )
    # all probabilities equal: one bin, |0.75 - 0.5|
    assert expected_calibration_error([0, 1, 1, 1], [0.5] * 4) == pytest.approx(0.25)
    uniform = expected_calibration_error([0, 0, 1], [0.05, 0.15, 0.95], strategy="uniform")
    assert uniform == pytest.approx((0.05 + 0.15 + 0.05) / 3)


def test_quantile_bins_merge_tied_edges():
    p = np.array([0.1] * 8 + [0.9] * 2)
    y = np.array([0] * 7 + [1] + [1, 1])
    curve = reliability_curve(y, p, n_bins=10)
    assert curve["count"].tolist() == [8, 2]
    assert curve["mean_predicted"].to_numpy() == pytest.approx([0.1, 0.9])
    assert curve["observed_rate"].to_numpy() == pytest.approx([0.125, 1.0])
    assert expected_calibration_error(y, p) == pytest.approx((8 * 0.025 + 2 * 0.1) / 10)


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_reliability_curve_matches_sklearn_and_counts_sum_to_n(strategy):
    rng = np.random.default_rng(6)
    p = rng.beta(2, 5, 3_000)
    y = rng.binomial(1, p)
    curve = reliability_curve(y, p, n_bins=8, strategy=strategy)
    observed, predicted = calibration_curve(y, p, n_bins=8, strategy=strategy)
    assert list(curve.columns) == ["mean_predicted", "observed_rate", "count"]
    assert curve["count"].sum() == 3_000
    assert curve["observed_rate"].to_numpy() == pytest.approx(observed)
    assert curve["mean_predicted"].to_numpy() == pytest.approx(predicted)


def test_diagnose_hand_case_and_json():
    d = diagnose([0, 0, 1, 1], [0.2, 0.2, 0.6, 0.6], n_bins=2)
    assert isinstance(d, CalibrationDiagnostics)
    assert d.ece == pytest.approx(0.3)
    assert d.brier == pytest.approx(0.1)
    assert d.n == 4
    out = json.loads(json.dumps(d.to_dict()))
    assert out["curve"] == [
        {"mean_predicted": pytest.approx(0.2), "observed_rate": 0.0, "count": 2},
        {"mean_predicted": pytest.approx(0.6), "observed_rate": 1.0, "count": 2},
    ]
    with pytest.raises(AttributeError):
        d.ece = 0.0  # frozen


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="strategy must be one of quantile, uniform; got 'kmeans'"):
        expected_calibration_error([0, 1], [0.2, 0.8], strategy="kmeans")
    with pytest.raises(ValueError, match="n_bins must be a positive integer; got 0"):
        reliability_curve([0, 1], [0.2, 0.8], n_bins=0)
    with pytest.raises(DataError, match="y and p must have the same length; got 2 outcomes and 3"):
        expected_calibration_error([0, 1], [0.2, 0.8, 0.5])
    with pytest.raises(DataError, match=r"p must be finite and in \[0, 1\]; got nan"):
        expected_calibration_error([0, 1], [np.nan, 0.8])
    with pytest.raises(DataError, match=r"got 1\.5 at position 1"):
        diagnose([0, 1], [0.2, 1.5])
    with pytest.raises(DataError, match=r"p must be a non-empty 1-d array.*got shape \(0,\)"):
        expected_calibration_error([1], [])
    with pytest.raises(DataError, match="y must be a non-empty 1-d array"):
        expected_calibration_error([[0, 1]], [0.2, 0.8])
    with pytest.raises(DataError, match="p must be numeric probabilities"):
        expected_calibration_error([0, 1], ["a", "b"])


class _Score(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose decision function is X[:, 0]."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=float)[:, 0]

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)


def test_no_lead_gets_probability_exactly_zero_or_one():
    from mqlml.model._calibration import fit_score_map

    # 40 leads at the lowest scores never convert, 30 at the top always do, in between
    # half convert: isotonic steps of rate 0 and 1 at the ends.
    scores = np.concatenate([np.linspace(-5, -4, 40), np.linspace(-1, 1, 1000), [5.0] * 30])
    y = np.concatenate([np.zeros(40), (np.arange(1000) + 1) % 2, np.ones(30)]).astype(int)
    X = scores[:, None]
    model = _Score().fit(X, y)
    score_map = fit_score_map(model, X, y, method="isotonic")
    p = score_map(np.array([-10.0, -5.0, 0.0, 5.0, 10.0]))
    assert 0 < p.min() and p.max() < 1
    assert p[0] == pytest.approx(0.5 / 41)  # Jeffreys: (0 + 0.5) / (40 + 1)
    assert p[-1] == pytest.approx(30.5 / 31)
    assert np.all(np.diff(score_map(np.linspace(-10, 10, 501))) >= 0)
    again = type(score_map).from_dict(json.loads(json.dumps(score_map.to_dict())))
    np.testing.assert_array_equal(again(scores), score_map(scores))


def test_sigmoid_map_is_sklearns_within_bounds():
    from mqlml.model._calibration import fit_score_map

    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 1)) * 6
    y = rng.binomial(1, 1 / (1 + np.exp(-X[:, 0])))
    model = _Score().fit(X, y)
    score_map = fit_score_map(model, X, y, method="sigmoid")
    reference = fit_calibrator(model, X, y, method="sigmoid").predict_proba(X)[:, 1]
    lo, hi = score_map.bounds
    assert lo == pytest.approx(0.5 / 601) and hi == pytest.approx(1 - 0.5 / 601)
    np.testing.assert_allclose(score_map(X[:, 0]), np.clip(reference, lo, hi), atol=1e-12)
    assert 0 < score_map(np.array([-1e3]))[0] and score_map(np.array([1e3]))[0] < 1
