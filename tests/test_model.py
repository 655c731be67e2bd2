"""LeadScorer: accuracy against a known truth, preprocessing, contributions, errors."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from mqlml.errors import ConfigError, DataError, InsufficientDataError, MissingColumnError
from mqlml.model._estimator import RARE_LEVEL, LeadScorer

MODELS = ["lightgbm", "logistic"]
FAST = {"learning_rate": 0.2, "n_jobs": 1}  # where the defaults are not under test
COUNTRY_EFFECT = {"US": 0.6, "DE": 0.3, "FR": 0.0, "IN": -0.5, "BR": -0.2}
SENIORITY_EFFECT = {"ic": -0.4, "manager": 0.0, "director": 0.5, "vp": 0.9}


def make_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Leads with a known logistic truth; returns X, y and the true probability."""
    rng = np.random.default_rng(seed)
    country = rng.choice(list(COUNTRY_EFFECT), n, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    seniority = rng.choice(list(SENIORITY_EFFECT), n, p=[0.5, 0.3, 0.15, 0.05])
    industry = rng.choice(["saas", "retail", "finance", "health"], n)
    visits = rng.poisson(3.0, n).astype(float)
    pricing_views = rng.poisson(0.8, n)
    recency_days = rng.exponential(30.0, n)
    demo = rng.random(n) < 0.08
    logit = (
        -2.6
        + pd.Series(country).map(COUNTRY_EFFECT).to_numpy()
        + pd.Series(seniority).map(SENIORITY_EFFECT).to_numpy()
        + 0.15 * visits
        + 0.5 * pricing_views
        - 0.02 * recency_days
        + 1.5 * demo
    )
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    visits[rng.random(n) < 0.05] = np.nan  # missing at random: no signal lost on average
    X = pd.DataFrame(
        {
            "country": country,
            "seniority": pd.Categorical(seniority),
            "industry": industry,
            "visits": visits,
            "pricing_views": pricing_views,
            "recency_days": recency_days,
            "demo_requested": demo,
        },
        index=pd.Index([f"lead-{i}" for i in range(n)], name="lead_id"),
    )
    return X, y, p


@pytest.fixture(scope="module")
def data():
    X, y, p = make_frame(30_000, seed=1)
    return X.iloc[:20_000], y[:20_000], X.iloc[20_000:], y[20_000:], p[20_000:]


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data[0], data[1]
    return {m: LeadScorer(model=m, n_jobs=1).fit(X, y) for m in MODELS}


@pytest.mark.parametrize("model", MODELS)
def test_auc_within_002_of_the_truth(model, data, fitted):
    _, _, X_test, y_test, p_true = data
    truth_auc = roc_auc_score(y_test, p_true)
    auc = roc_auc_score(y_test, fitted[model].predict_proba(X_test)[:, 1])
    assert truth_auc > 0.7  # the signal is real
    assert abs(auc - truth_auc) < 0.02


def test_feature_kinds_are_inferred(fitted):
    scorer = fitted["lightgbm"]
    assert scorer.categorical_features_ == ["country", "seniority", "industry"]
    assert scorer.numeric_features_ == [
        "visits",
        "pricing_views",
        "recency_days",
        "demo_requested",
    ]
    assert scorer.categories_["country"] == ["BR", "DE", "FR", "IN", "US"]
    assert scorer.n_features_in_ == 7
    assert scorer.feature_names_in_.tolist() == [
        "country",
        "seniority",
        "industry",
        "visits",
        "pricing_views",
        "recency_days",
        "demo_requested",
    ]


def test_declared_categorical_features_override_inference():
    X, y, _ = make_frame(2_000, seed=2)
    scorer = LeadScorer(
        model="logistic", categorical_features=["country", "pricing_views"], min_category_count=1
    ).fit(X.drop(columns=["seniority", "industry"]), y)
    assert scorer.categorical_features_ == ["country", "pricing_views"]
    assert scorer.numeric_features_ == ["visits", "recency_days", "demo_requested"]
    levels = sorted(np.unique(X["pricing_views"]).astype(str).tolist())
    assert sorted(scorer.categories_["pricing_views"]) == levels


@pytest.mark.parametrize("model", MODELS)
def test_early_stopping_and_honest_fit(model, fitted):
    scorer = fitted[model]
    if model == "lightgbm":
        assert 10 < scorer.best_iteration_ < 1000
        assert scorer.booster_.current_iteration() == scorer.best_iteration_
    else:
        assert not hasattr(scorer, "best_iteration_")


def test_early_stopping_picks_few_trees_on_noise():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=5_000), "b": rng.choice(["x", "y", "z"], 5_000)})
    y = (rng.random(5_000) < 0.2).astype(int)  # labels unrelated to X
    scorer = LeadScorer(n_estimators=1000, learning_rate=0.1, n_jobs=1).fit(X, y)
    assert scorer.best_iteration_ < 100


def test_tiny_data_skips_early_stopping():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=60)})
    y = (X["a"] > 0).astype(int)
    scorer = LeadScorer(n_estimators=7, min_child_samples=5, n_jobs=1).fit(X, y)
    assert scorer.best_iteration_ == 7
    assert scorer.booster_.current_iteration() == 7


@pytest.mark.parametrize("model", MODELS)
def test_unseen_levels_and_missing_values_score(model, fitted, data):
    X_new = data[2].iloc[:4].copy()
    X_new["country"] = ["Narnia", None, np.nan, "US"]
    X_new["seniority"] = pd.Categorical(["intern", None, "vp", "ic"])
    X_new["visits"] = [np.nan, np.nan, 1.0, np.nan]
    X_new["industry"] = np.nan
    proba = fitted[model].predict_proba(X_new)
    assert proba.shape == (4, 2)
    assert np.isfinite(proba).all()
    assert ((proba > 0) & (proba < 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("model", MODELS)
def test_rare_level_is_grouped_with_unseen_levels(model):
    X, y, _ = make_frame(3_000, seed=5)
    X["country"] = X["country"].astype(object)
    X.iloc[:3, X.columns.get_loc("country")] = "Atlantis"  # seen 3 times
    scorer = LeadScorer(model=model, min_category_count=20, **FAST).fit(X, y)
    assert "Atlantis" not in scorer.categories_["country"]
    assert scorer.categories_["country"] == ["BR", "DE", "FR", "IN", "US"]
    rows = X.iloc[:3].copy()
    unseen = rows.assign(country="Narnia")
    np.testing.assert_array_equal(scorer.decision_function(rows), scorer.decision_function(unseen))
    frequent = rows.assign(country="US")
    assert not np.allclose(scorer.decision_function(rows), scorer.decision_function(frequent))


def test_lightgbm_sees_the_fixed_category_list(fitted, data):
    scorer = fitted["lightgbm"]
    stored = scorer.booster_.pandas_categorical  # the lists LightGBM recodes with
    assert stored[0] == [*scorer.categories_["country"], RARE_LEVEL]
    assert stored[1] == [*scorer.categories_["seniority"], RARE_LEVEL]
    rows = data[2].iloc[:3].assign(country=["US", "Narnia", None])
    frame, index = scorer._prepare(rows)
    assert frame["f0"].tolist()[:2] == ["US", RARE_LEVEL]
    assert pd.isna(frame["f0"].iloc[2])
    assert index.equals(rows.index)


@pytest.mark.parametrize("model", MODELS)
def test_contributions_sum_to_the_log_odds(model, fitted, data):
    scorer, X_test = fitted[model], data[2].iloc[:2_000]
    contrib, base = scorer.contributions(X_test)
    assert list(contrib.columns) == list(X_test.columns)
    assert contrib.index.equals(X_test.index)
    assert base.shape == (2_000,)
    np.testing.assert_allclose(base, scorer.base_value_)
    total = contrib.sum(axis=1).to_numpy() + base
    np.testing.assert_allclose(total, scorer.decision_function(X_test), rtol=0, atol=1e-6)
    # the strongest truth effect (a demo request, +1.5 log-odds) shows in its column
    demo = X_test["demo_requested"].to_numpy()
    gap = contrib["demo_requested"][demo].mean() - contrib["demo_requested"][~demo].mean()
    assert 1.0 < gap < 2.0


def test_logistic_contribution_of_a_numeric_is_its_centred_term(fitted, data):
    scorer = fitted["logistic"]
    X_test = data[2].iloc[:500]
    contrib, _ = scorer.contributions(X_test)
    steps = scorer.estimator_[0].named_transformers_["num"]
    mean, scale = steps[-1].mean_[2], steps[-1].scale_[2]  # recency_days
    coef = scorer.estimator_[-1].coef_[0][-len(scorer.numeric_features_) - 1 :]
    expected = coef[2] * (X_test["recency_days"].to_numpy() - mean) / scale
    np.testing.assert_allclose(contrib["recency_days"], expected, atol=1e-9)
    assert coef[2] < 0  # recency lowers the odds, as in the truth


@pytest.mark.parametrize("model", MODELS)
def test_extra_columns_ignored_and_order_irrelevant(model, fitted, data):
    scorer, X_test = fitted[model], data[2].iloc[:500]
    expected = scorer.predict_proba(X_test)
    shuffled = X_test[X_test.columns[::-1]].assign(unused=1.0, lead_score_points=50)
    np.testing.assert_array_equal(scorer.predict_proba(shuffled), expected)
    contrib, _ = scorer.contributions(shuffled)
    assert list(contrib.columns) == list(X_test.columns)


@pytest.mark.parametrize("model", MODELS)
def test_missing_column_is_named(model, fitted, data):
    X_test = data[2].drop(columns=["pricing_views"])
    with pytest.raises(MissingColumnError, match="pricing_views"):
        fitted[model].predict_proba(X_test)
    with pytest.raises(MissingColumnError, match="pricing_views"):
        fitted[model].contributions(X_test)


@pytest.mark.parametrize("model", MODELS)
def test_not_fitted(model, data):
    scorer = LeadScorer(model=model)
    for method in (scorer.predict_proba, scorer.predict, scorer.contributions):
        with pytest.raises(NotFittedError):
            method(data[2])


@pytest.mark.parametrize("model", MODELS)
def test_deterministic_for_a_fixed_seed(model):
    X, y, _ = make_frame(4_000, seed=6)
    first = LeadScorer(model=model, random_state=7, **FAST).fit(X, y).predict_proba(X)
    second = LeadScorer(model=model, random_state=7, **FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    if model == "lightgbm":  # another seed draws another inner validation fold
        third = LeadScorer(model=model, random_state=8, **FAST).fit(X, y).predict_proba(X)
        assert not np.array_equal(first, third)


def test_no_class_weights_or_resampling(fitted):
    assert "class_weight" not in LeadScorer().get_params()
    lgbm = fitted["lightgbm"].estimator_
    assert lgbm.get_params()["class_weight"] is None
    assert lgbm.get_params()["subsample"] == 1.0
    params = fitted["lightgbm"].booster_.params
    assert not params.get("is_unbalance", False)
    assert params.get("scale_pos_weight", 1.0) == 1.0
    assert fitted["logistic"].estimator_[-1].class_weight is None


@pytest.mark.parametrize("model", MODELS)
def test_pickle_and_joblib_round_trip(model, fitted, data, tmp_path):
    scorer, X_test = fitted[model], data[2].iloc[:1_000]
    expected = scorer.predict_proba(X_test)
    restored = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)
    joblib.dump(scorer, tmp_path / "scorer.joblib")
    restored = joblib.load(tmp_path / "scorer.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)
    np.testing.assert_array_equal(
        restored.contributions(X_test)[0].to_numpy(), scorer.contributions(X_test)[0].to_numpy()
    )


def test_threads_can_change_after_fit(fitted, data):
    scorer = fitted["lightgbm"]
    X_test = data[2].iloc[:1_000]
    expected = scorer.predict_proba(X_test)
    two_threads = pickle.loads(pickle.dumps(scorer)).set_params(n_jobs=2)
    np.testing.assert_allclose(two_threads.predict_proba(X_test), expected, rtol=0, atol=1e-12)


def test_predict_uses_classes_and_the_half_cut():
    X, y, _ = make_frame(3_000, seed=9)
    labels = np.where(y == 1, "won", "lost")
    scorer = LeadScorer(model="logistic").fit(X, labels)
    assert scorer.classes_.tolist() == ["lost", "won"]
    proba = scorer.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(scorer.predict(X), np.where(proba > 0.5, "won", "lost"))
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-scorer.decision_function(X))))


@pytest.mark.parametrize("model", MODELS)
def test_numpy_input_names_columns_by_position(model):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + rng.normal(size=600) > 0).astype(int)
    scorer = LeadScorer(model=model, n_estimators=30, n_jobs=1).fit(X, y)
    assert scorer.numeric_features_ == ["x0", "x1", "x2"]
    assert not hasattr(scorer, "feature_names_in_")
    contrib, base = scorer.contributions(X[:5])
    assert list(contrib.columns) == ["x0", "x1", "x2"]
    np.testing.assert_allclose(contrib.sum(axis=1) + base, scorer.decision_function(X[:5]))
    with pytest.raises(ValueError, match="X has 2 features"):
        scorer.predict_proba(X[:, :2])


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"model": "xgboost"}, "model must be 'lightgbm' or 'logistic'; got 'xgboost'"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
        ({"n_estimators": 0}, "n_estimators must be an integer >= 1"),
        ({"min_category_count": 2.5}, "min_category_count must be an integer"),
        ({"num_leaves": 1}, "num_leaves must be an integer >= 2"),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds must be"),
        ({"learning_rate": 0}, "learning_rate must be a number > 0"),
        ({"C": -1.0}, "C must be a number > 0"),
        ({"n_jobs": "all"}, "n_jobs must be an integer or None"),
        ({"categorical_features": "country"}, "categorical_features must be a list"),
    ],
)
def test_invalid_parameters(params, match):
    X, y, _ = make_frame(200, seed=11)
    with pytest.raises(ConfigError, match=match):
        LeadScorer(**params).fit(X, y)


def test_declared_categorical_must_exist():
    X, y, _ = make_frame(200, seed=12)
    with pytest.raises(MissingColumnError, match="job_title"):
        LeadScorer(categorical_features=["country", "job_title"]).fit(X, y)


def test_unsupported_dtype_is_named():
    X, y, _ = make_frame(200, seed=13)
    X["created_at"] = pd.Timestamp("2026-01-01")
    with pytest.raises(DataError, match="column 'created_at' must be numeric"):
        LeadScorer().fit(X, y)
    with pytest.raises(DataError, match=r"column 'country' must be numeric.*categorical_features"):
        LeadScorer(categorical_features=["seniority"]).fit(X.drop(columns="created_at"), y)


def test_empty_and_duplicated_frames():
    X, y, _ = make_frame(200, seed=14)
    with pytest.raises(DataError, match="at least one row"):
        LeadScorer().fit(X.iloc[:0], y[:0])
    with pytest.raises(DataError, match="at least one column"):
        LeadScorer().fit(X[[]], y)
    duplicated = pd.concat([X, X[["visits"]]], axis=1)
    with pytest.raises(DataError, match=r"unique; got duplicates \['visits'\]"):
        LeadScorer().fit(duplicated, y)


def test_duplicated_column_at_predict(fitted, data):
    X_test = data[2].iloc[:10]
    with pytest.raises(DataError, match=r"duplicates \['visits'\]"):
        fitted["logistic"].predict(pd.concat([X_test, X_test[["visits"]]], axis=1))


def test_non_numeric_value_in_a_numeric_column(fitted, data):
    X_test = data[2].iloc[:10].assign(visits="many")
    with pytest.raises(DataError, match="column 'visits' must be numeric as in training"):
        fitted["lightgbm"].predict_proba(X_test)
    as_text = data[2].iloc[:10].assign(visits=lambda d: d["visits"].astype(str))
    np.testing.assert_allclose(
        fitted["lightgbm"].predict_proba(as_text), fitted["lightgbm"].predict_proba(data[2][:10])
    )


def test_labels_must_be_binary():
    X, _, _ = make_frame(300, seed=15)
    with pytest.raises(DataError, match="Only binary classification is supported"):
        LeadScorer().fit(X, np.arange(300) % 3)
    with pytest.raises(InsufficientDataError, match="both classes"):
        LeadScorer().fit(X, np.zeros(300, dtype=int))


def test_logistic_terms_equal_the_fitted_pipeline(fitted, data):
    scorer = fitted["logistic"]
    X = data[2]
    frame = scorer._logistic_frame(X)
    np.testing.assert_allclose(
        scorer.decision_function(X), scorer.estimator_.decision_function(frame), atol=1e-10
    )
    again = LeadScorer.from_state(*scorer.to_state())
    np.testing.assert_array_equal(again.decision_function(X), scorer.decision_function(X))
    assert again.estimator_ is None


def test_lightgbm_state_round_trip_is_bit_identical(fitted, data):
    scorer = fitted["lightgbm"]
    X = data[2]
    again = LeadScorer.from_state(*scorer.to_state())
    np.testing.assert_array_equal(again.decision_function(X), scorer.decision_function(X))
    np.testing.assert_array_equal(again.leaf_indices(X), scorer.leaf_indices(X))
