"""scikit-learn's own estimator checks, run on every mqlml estimator."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from mqlml.model import LeadScorer

# Small models keep the checks fast; min_child_samples=5 lets the trees split on the
# checks' tiny data sets (a few dozen rows).
ESTIMATORS = [
    LeadScorer(n_estimators=50, min_child_samples=5),
    LeadScorer(model="logistic"),
]

# Every check parametrize_with_checks yields passes; a check that starts failing must be
# listed here, per estimator, with the reason.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {"lightgbm": {}, "logistic": {}}


def _expected_failed_checks(estimator: LeadScorer) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS[estimator.model]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
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
