"""scikit-learn's own estimator checks, run on every mqlml estimator."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from mqlml.model._estimator import LeadScorer
from mqlml.rules._baseline import PointsBaseline, parse_rules

# Small single-threaded models keep the checks fast (threads only add overhead on data
# this small); min_child_samples=5 lets the trees split on the checks' tiny data sets.
ESTIMATORS = [
    LeadScorer(n_estimators=50, min_child_samples=5, n_jobs=1),
    LeadScorer(model="logistic"),
]

# Every check parametrize_with_checks yields passes; a check that starts failing must be
# listed here, per estimator, with the reason.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {"lightgbm": {}, "logistic": {}}


# PointsBaseline applies rules to named columns, so it takes DataFrames only: every check
# that feeds it a bare array is refused up front (DataError "X must be a pandas DataFrame").
_NAMED_COLUMNS = (
    "rules address named DataFrame columns; an array is refused with DataError before its "
    "shape or values are looked at"
)
BASELINE = PointsBaseline(
    rules=parse_rules(
        {"mql_threshold": 1, "rules": [{"column": "x0", "op": ">=", "value": 0, "points": 1}]}
    )
)
EXPECTED_FAILED_CHECKS["baseline"] = {
    **dict.fromkeys(
        [
            "check_fit_score_takes_y",
            "check_estimators_overwrite_params",
            "check_dont_overwrite_parameters",
            "check_estimators_fit_returns_self",
            "check_readonly_memmap_input",
            "check_n_features_in_after_fitting",
            "check_positive_only_tag_during_fit",
            "check_estimators_dtypes",
            "check_complex_data",
            "check_dtype_object",
            "check_estimators_empty_data_messages",
            "check_pipeline_consistency",
            "check_estimator_sparse_tag",
            "check_estimator_sparse_array",
            "check_estimator_sparse_matrix",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_classifier_data_not_an_array",
            "check_classifiers_classes",
            "check_classifiers_train",
            "check_supervised_y_2d",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_fit2d_1sample",
            "check_fit2d_1feature",
            "check_dict_unchanged",
            "check_fit_idempotent",
            "check_fit_check_is_fitted",
            "check_n_features_in",
            "check_fit2d_predict1d",
        ],
        _NAMED_COLUMNS,
    ),
    "check_classifiers_one_label": "the rules are fixed and learn nothing from y, so a "
    "single class is accepted",
    "check_classifiers_regression_target": "y is only accepted for API symmetry (the rules "
    "are fixed), so a continuous target is not refused",
}


def _expected_failed_checks(estimator) -> dict[str, str]:
    if isinstance(estimator, PointsBaseline):
        return EXPECTED_FAILED_CHECKS["baseline"]
    return EXPECTED_FAILED_CHECKS[estimator.model]


@parametrize_with_checks([*ESTIMATORS, BASELINE], expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "by design: fitted on a DataFrame, LeadScorer selects columns by name, so "
        "reordered or extra columns are accepted and a missing one raises "
        "MissingColumnError (a KeyError), not sklearn's feature-name ValueError"
    ),
)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=["lightgbm", "logistic"])
def test_dataframe_column_names_are_matched_by_name(estimator):
    check_dataframe_column_names_consistency("LeadScorer", estimator)
