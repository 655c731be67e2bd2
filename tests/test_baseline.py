"""Tests of the rule-based points baseline: operators, per-unit points, decay, windows,
rule-file errors, the scikit-learn contract and the shipped rule files."""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import mqlml.rules._baseline
from mqlml.errors import DataError, MissingColumnError, RuleError
from mqlml.rules._baseline import PointsBaseline, RuleSet, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[1]
LEAKY = {
    "Tags",
    "Lead Quality",
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
    "Last Activity",
    "Last Notable Activity",
    "duration",
}


def _rules(*rules: dict, threshold: float = 50) -> RuleSet:
    return parse_rules({"mql_threshold": threshold, "rules": list(rules)})


def _points(X: pd.DataFrame, *rules: dict, threshold: float = 50) -> np.ndarray:
    return PointsBaseline(rules=_rules(*rules, threshold=threshold)).fit(X).decision_function(X)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num": [0.0, 1.0, 2.0, np.nan, 5.0],
            "txt": ["Foo", "bar", None, "FOOBAR", "baz"],
        }
    )


@pytest.mark.parametrize(
    ("column", "op", "value", "mask"),
    [
        ("num", "==", 1, [0, 1, 0, 0, 0]),
        ("num", "in", [0, 5], [1, 0, 0, 0, 1]),
        ("num", ">=", 2, [0, 0, 1, 0, 1]),
        ("num", ">", 2, [0, 0, 0, 0, 1]),
        ("num", "<=", 1, [1, 1, 0, 0, 0]),
        ("num", "<", 1, [1, 0, 0, 0, 0]),
        ("num", "between", [1, 2], [0, 1, 1, 0, 0]),
        ("num", "between", [2, 2], [0, 0, 1, 0, 0]),
        ("num", "missing", None, [0, 0, 0, 1, 0]),
        ("num", "not missing", None, [1, 1, 1, 0, 1]),
        ("txt", "==", "bar", [0, 1, 0, 0, 0]),
        ("txt", "==", "BAR", [0, 0, 0, 0, 0]),
        ("txt", "in", ["Foo", "baz"], [1, 0, 0, 0, 1]),
        ("txt", "contains", "foo", [1, 0, 0, 1, 0]),
        ("txt", "contains", "A", [0, 1, 0, 1, 1]),
        ("txt", "missing", None, [0, 0, 1, 0, 0]),
        ("txt", "not missing", None, [1, 1, 0, 1, 1]),
    ],
)
def test_each_operator_gives_exact_points(frame, column, op, value, mask):
    rule = {"name": "r", "column": column, "op": op, "points": 7}
    if value is not None:
        rule["value"] = value
    np.testing.assert_array_equal(_points(frame, rule), 7.0 * np.array(mask))


@pytest.mark.parametrize(
    "values",
    [
        pd.array([0, 1, 2, None, 5], dtype="Int64"),
        pd.array([0.0, 1.0, 2.0, None, 5.0], dtype="Float64"),
    ],
)
def test_nullable_numbers_treat_na_as_missing(values):
    X = pd.DataFrame({"num": values})
    np.testing.assert_array_equal(
        _points(X, {"name": "r", "column": "num", "op": ">=", "value": 1, "points": 3}),
        [0, 3, 3, 0, 3],
    )
    np.testing.assert_array_equal(
        _points(X, {"name": "m", "column": "num", "op": "missing", "points": 2}), [0, 0, 0, 2, 0]
    )


@pytest.mark.parametrize("dtype", ["object", "category", "string"])
def test_text_ops_work_for_object_category_and_string_columns(dtype):
    X = pd.DataFrame({"size": pd.Series(["1-10", "51-200", None, "5000+"], dtype=dtype)})
    big = {"name": "big", "column": "size", "op": "in", "value": ["51-200", "5000+"], "points": 10}
    plus = {"name": "plus", "column": "size", "op": "contains", "value": "+", "points": 1}
    unknown = {"name": "unknown", "column": "size", "op": "missing", "points": -3}
    np.testing.assert_array_equal(_points(X, big, plus, unknown), [0, 10, -3, 11])


def test_yes_no_words_match_a_0_1_column_like_the_raw_text():
    raw = pd.DataFrame({"Do Not Email": ["No", "Yes", None]})
    coded = pd.DataFrame({"Do Not Email": [0.0, 1.0, np.nan]})
    rule = {"name": "opt-out", "column": "Do Not Email", "op": "==", "value": "Yes", "points": -20}
    np.testing.assert_array_equal(_points(raw, rule), [0, -20, 0])
    np.testing.assert_array_equal(_points(coded, rule), [0, -20, 0])
    in_rule = {**rule, "op": "in", "value": ["no", "n"]}
    np.testing.assert_array_equal(_points(coded, in_rule), [-20, 0, 0])


def test_boolean_column_compares_with_numbers_and_booleans():
    X = pd.DataFrame({"demo": [True, False, True]})
    one = {"name": "one", "column": "demo", "op": "==", "value": 1, "points": 30}
    true = {"name": "true", "column": "demo", "op": "==", "value": True, "points": 1}
    np.testing.assert_array_equal(_points(X, one, true), [31, 0, 31])


def test_per_unit_with_cap_condition_and_missing_values():
    X = pd.DataFrame({"visits": [0.0, 1.0, 2.5, 10.0, np.nan]})
    capped = {"name": "capped", "column": "visits", "per_unit": 5, "cap": 3}
    base = PointsBaseline(rules=_rules(capped)).fit(X)
    np.testing.assert_array_equal(base.decision_function(X), [0, 5, 12.5, 15, 0])
    uncapped = {"name": "uncapped", "column": "visits", "per_unit": 5}
    np.testing.assert_array_equal(_points(X, uncapped), [0, 5, 12.5, 50, 0])
    conditional = {**capped, "op": ">=", "value": 2}
    np.testing.assert_array_equal(_points(X, conditional), [0, 0, 12.5, 15, 0])


def test_negative_per_unit_gives_negative_points_and_no_negative_zero():
    X = pd.DataFrame({"bounces": [0.0, 1.0, 2.5, 10.0, np.nan]})
    points = _points(X, {"name": "bounce", "column": "bounces", "per_unit": -2, "cap": 3})
    np.testing.assert_array_equal(points, [0, -2, -5, -6, 0])
    assert not np.signbit(points[[0, 4]]).any()


def test_decay_halves_points_every_half_life_and_unknown_days_earn_nothing():
    X = pd.DataFrame({"demo": [1, 1, 1, 1, 1, 0], "days": [0, 30, 60, np.nan, -5, 0]})
    rule = {
        "name": "demo",
        "column": "demo",
        "op": "==",
        "value": 1,
        "points": 40,
        "decay": {"column": "days", "half_life_days": 30},
    }
    np.testing.assert_allclose(_points(X, rule), [40, 20, 10, 0, 40, 0], rtol=0, atol=1e-12)


def test_decay_applies_to_per_unit_points():
    X = pd.DataFrame({"visits": [2.0, 2.0], "days": [0.0, 7.0]})
    rule = {
        "name": "visits",
        "column": "visits",
        "per_unit": 10,
        "decay": {"column": "days", "half_life_days": 7},
    }
    np.testing.assert_allclose(_points(X, rule), [20, 10], rtol=0, atol=1e-12)


def test_window_boundary_is_inclusive_and_unknown_days_are_outside():
    X = pd.DataFrame({"demo": [1, 1, 1, 1], "days": [89.9, 90.0, 90.1, np.nan]})
    rule = {
        "name": "demo",
        "column": "demo",
        "op": "==",
        "value": 1,
        "points": 30,
        "window": {"column": "days", "max_days": 90},
    }
    np.testing.assert_array_equal(_points(X, rule), [30, 30, 0, 0])
    today = {**rule, "window": {"column": "days", "max_days": 0}}
    X0 = pd.DataFrame({"demo": [1, 1], "days": [0.0, 0.5]})
    np.testing.assert_array_equal(_points(X0, today), [30, 0])


def test_window_and_decay_together():
    X = pd.DataFrame({"demo": [1, 1, 1], "days": [10.0, 20.0, 30.0]})
    rule = {
        "name": "demo",
        "column": "demo",
        "op": "==",
        "value": 1,
        "points": 40,
        "decay": {"column": "days", "half_life_days": 10},
        "window": {"column": "days", "max_days": 20},
    }
    np.testing.assert_allclose(_points(X, rule), [20, 10, 0], rtol=0, atol=1e-12)


def test_negative_points_add_up_with_positive_ones():
    X = pd.DataFrame({"seniority": ["Student", "VP", "Student"], "webinars": [1, 1, 0]})
    rules = (
        {"name": "webinar", "column": "webinars", "op": ">=", "value": 1, "points": 20},
        {"name": "student", "column": "seniority", "op": "==", "value": "Student", "points": -20},
    )
    np.testing.assert_array_equal(_points(X, *rules), [0, 20, -20])


def test_predict_marks_an_mql_at_exactly_the_threshold():
    X = pd.DataFrame({"a": [1, 1, 0, 0], "b": [1, 0, 1, 0]})
    rules = _rules(
        {"name": "a", "column": "a", "op": "==", "value": 1, "points": 25},
        {"name": "b", "column": "b", "op": "==", "value": 1, "points": 24.99},
        threshold=49.99,
    )
    base = PointsBaseline(rules=rules).fit(X)
    np.testing.assert_allclose(base.decision_function(X), [49.99, 25, 24.99, 0])
    prediction = base.predict(X)
    assert prediction.dtype.kind == "i"
    np.testing.assert_array_equal(prediction, [1, 0, 0, 0])  # 25 + 24.99 rounds below 49.99
    assert 25 + 24.99 < 49.99
    at_25 = PointsBaseline(rules=_rules(*rules.model_dump()["rules"], threshold=25)).fit(X)
    np.testing.assert_array_equal(at_25.predict(X), [1, 1, 0, 0])


def test_explain_has_one_column_per_rule_and_sums_to_the_points():
    X = pd.DataFrame({"a": [1, 0, 1], "b": [3.0, 1.0, np.nan]}, index=[10, 20, 30])
    base = PointsBaseline(
        rules=_rules(
            {"name": "a is one", "column": "a", "op": "==", "value": 1, "points": 10},
            {"column": "b", "per_unit": 2},
        )
    ).fit(X)
    table = base.explain(X)
    assert list(table.columns) == ["a is one", "rule #2"]
    assert list(table.index) == [10, 20, 30]
    np.testing.assert_array_equal(table.to_numpy(), [[10, 6], [0, 2], [10, 0]])
    np.testing.assert_array_equal(table.sum(axis=1).to_numpy(), base.decision_function(X))


def test_fit_sets_sklearn_attributes_and_ignores_y():
    X = pd.DataFrame({"a": [1, 0], "other": ["x", "y"]})
    rules = _rules({"name": "a", "column": "a", "op": "==", "value": 1, "points": 50})
    base = PointsBaseline(rules=rules)
    assert base.fit(X, [0, 1]) is base
    np.testing.assert_array_equal(base.classes_, [0, 1])
    assert list(base.feature_names_in_) == ["a", "other"]
    assert base.n_features_in_ == 2
    assert base.score(X, [1, 0]) == 1.0
    assert base.rules is rules  # fit learns nothing and keeps the parameter as given


def test_scoring_a_frame_with_other_columns_and_order_works():
    rules = _rules({"name": "a", "column": "a", "op": "==", "value": 1, "points": 50})
    base = PointsBaseline(rules=rules).fit(pd.DataFrame({"a": [1], "b": [2]}))
    np.testing.assert_array_equal(base.predict(pd.DataFrame({"c": [0, 0], "a": [0, 1]})), [0, 1])
    assert base.predict(pd.DataFrame({"a": pd.Series([], dtype=float)})).shape == (0,)


@pytest.mark.parametrize("method", ["predict", "decision_function", "explain"])
def test_unfitted_use_raises_not_fitted(method):
    base = PointsBaseline(rules=_rules({"name": "a", "column": "a", "op": "missing", "points": 1}))
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(base, method)(pd.DataFrame({"a": [1]}))


def test_clone_get_params_and_set_params():
    rules = load_rules(ROOT / "data" / "rules.yaml")
    base = PointsBaseline(rules=rules)
    assert base.get_params() == {"rules": rules}
    copy = clone(base)
    assert copy is not base and copy.rules == rules and copy.rules.source == rules.source
    other = _rules({"name": "a", "column": "a", "op": "missing", "points": 1})
    assert base.set_params(rules=other).rules is other
    assert "classes_" not in vars(clone(PointsBaseline(rules=other).fit(pd.DataFrame({"a": [1]}))))


def test_sklearn_tags_say_y_is_optional_and_text_is_accepted():
    tags = PointsBaseline(rules=_rules({"column": "a", "op": "missing", "points": 1}))
    tags = tags.__sklearn_tags__()
    assert tags.estimator_type == "classifier"
    assert tags.target_tags.required is False
    assert tags.input_tags.string and tags.input_tags.allow_nan


def test_docstring_examples_run():
    result = doctest.testmod(mqlml.rules._baseline, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0


# --- rule files and their errors ---------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


RULE = "  - name: demo request\n    column: demo_requested\n"


def test_load_rules_reads_a_file_and_remembers_it(tmp_path):
    path = _write(
        tmp_path,
        "name: mine\nmql_threshold: 30\nrules:\n"
        + RULE
        + '    op: "=="\n    value: 1\n    points: 30\n'
        + "    decay: {column: days, half_life_days: 30}\n"
        + "    window: {column: days, max_days: 90}\n",
    )
    rules = load_rules(path)
    assert rules.name == "mine" and rules.mql_threshold == 30
    assert rules.rules[0].decay.half_life_days == 30 and rules.rules[0].window.max_days == 90
    assert rules.source == str(path)
    X = pd.DataFrame({"demo_requested": [1, 1], "days": [30, 91]})
    np.testing.assert_array_equal(PointsBaseline.from_yaml(path).fit(X).predict(X), [0, 0])
    np.testing.assert_allclose(PointsBaseline.from_yaml(path).fit(X).decision_function(X), [15, 0])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            RULE + '    op: "=>"\n    value: 1\n    points: 30\n',
            r"rule 'demo request' \(#1\) in .*rules\.yaml: field 'op' must be one of ==, in, "
            r">=, >, <=, <, between, missing, not missing, contains; got '=>'\. Fix the operator",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n',
            r"rule 'demo request' \(#1\) in .*rules\.yaml: field 'points' must be set "
            r"\(or 'per_unit'\); got neither",
        ),
        (
            RULE + "    op: between\n    value: [1]\n    points: 5\n",
            r"rule 'demo request' \(#1\).*field 'value' must be two ascending numbers \[lo, hi\] "
            r"for op 'between'; got \[1\]",
        ),
        (
            RULE + "    op: between\n    value: [5, 1]\n    points: 5\n",
            r"field 'value' must be two ascending numbers.*got \[5, 1\]",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n    colour: red\n',
            r"rule 'demo request' \(#1\).*field 'colour' is not known \(allowed: name, column, ",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    pionts: 30\n',
            r"field 'pionts' is not known.*Did you mean 'points'\?",
        ),
        (
            "  - column: demo_requested\n    op: in\n    value: 1\n    points: 30\n",
            r"rule #1 in .*: field 'value' must be a non-empty list .* for op 'in'; got 1",
        ),
        (
            RULE + "    op: missing\n    value: 1\n    points: 30\n",
            r"field 'value' must be absent for op 'missing'; got 1",
        ),
        (
            RULE + '    op: "=="\n    points: 30\n',
            r"field 'value' must be set for op '=='; got nothing",
        ),
        (
            RULE + '    op: "=="\n    value: [1, 2]\n    points: 30\n',
            r"field 'value' must be one text or number for op '=='; got \[1, 2\]\. Use op 'in'",
        ),
        (
            RULE + '    op: ">="\n    value: "1"\n    points: 30\n',
            r"field 'value' must be a number for op '>='; got '1'",
        ),
        (
            RULE + "    op: contains\n    value: 3\n    points: 30\n",
            r"field 'value' must be non-empty text for op 'contains'; got 3",
        ),
        (
            RULE + "    value: 1\n    points: 30\n",
            r"field 'op' must be set for a rule with 'points'; got nothing",
        ),
        (
            RULE + "    per_unit: 5\n    value: 1\n",
            r"field 'op' must be set when 'value' is; got value 1 without an op",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n    per_unit: 2\n',
            r"field 'points' must not be set together with 'per_unit'; got points 30 and "
            r"per_unit 2",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n    cap: 2\n',
            r"field 'cap' must be used with 'per_unit' only; got cap 2",
        ),
        (
            RULE + "    per_unit: 5\n    cap: 0\n",
            r"rule 'demo request' \(#1\).*field 'cap' must be > 0; got 0",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: ten\n',
            r"field 'points' must be a number; got 'ten'",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: .nan\n',
            r"field 'points' must be a finite number; got nan",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n'
            "    decay: {column: days, half_life_days: 0}\n",
            r"rule 'demo request' \(#1\).*field 'decay\.half_life_days' must be > 0; got 0",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n'
            "    window: {column: days, max_days: -1}\n",
            r"field 'window\.max_days' must be >= 0; got -1",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n    window: {column: days}\n',
            r"field 'window\.max_days' is required; got nothing",
        ),
        (
            RULE + '    op: "=="\n    value: 1\n    points: 30\n'
            "    decay: {column: days, half_life: 3}\n",
            r"field 'decay\.half_life' is not known \(allowed: column, half_life_days\).*"
            r"Did you mean 'half_life_days'",
        ),
        (
            "  - name: demo request\n    op: missing\n    points: 1\n",
            r"rule 'demo request' \(#1\).*field 'column' is required; got nothing",
        ),
        (
            "  - name: 2024\n    column: a\n    op: missing\n    points: 1\n",
            r"rule #1 .*field 'name' must be text; got 2024\. Quote it",
        ),
        (
            "  - just a string\n",
            r"rule #1 .*each rule must be a mapping of fields; got 'just a string'",
        ),
        (
            "  - {name: a, column: a, op: missing, points: 1}\n"
            "  - {name: a, column: b, op: missing, points: 1}\n",
            r"rules file .*: rule names must be unique .*got 'a' for rules #1 and #2",
        ),
    ],
)
def test_rule_file_errors_name_rule_field_and_file(tmp_path, body, match):
    path = _write(tmp_path, "mql_threshold: 50\nrules:\n" + body)
    with pytest.raises(RuleError, match=match):
        load_rules(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("rules:\n  - {column: a, op: missing, points: 1}\n", r"field 'mql_threshold' is required"),
        ("mql_threshold: high\nrules: []\n", r"field 'mql_threshold' must be a number; got 'high'"),
        ("mql_threshold: 50\nrules: []\n", r"field 'rules' must be a non-empty list; got \[\]"),
        ("mql_threshold: 50\n", r"field 'rules' is required"),
        ("mql_threshold: 50\nrules: {a: 1}\n", r"field 'rules' must be a list"),
        (
            "mql_threshold: 50\nthreshold: 40\nrules: [{column: a, op: missing, points: 1}]\n",
            r"rules file .*rules\.yaml: field 'threshold' is not known.*'mql_threshold'",
        ),
        ("- a\n- b\n", r"rules in .*rules\.yaml must be a mapping .*; got list"),
        ("", r"rules file .*rules\.yaml must define mql_threshold and rules; got an empty file"),
        ("# only a comment\n", r"got an empty file\. Start from data/rules\.yaml"),
        (
            "mql_threshold: 50\nrules:\n  - column: a\n    op: >=\n    value: 1\n",
            r"rules file .*rules\.yaml must be valid YAML; got a syntax error at line 4, column "
            r"\d+: .*quote operators",
        ),
        (
            "mql_threshold: 50\nrules:\n  - column: a\n   op: missing\n",
            r"must be valid YAML; got a syntax error at line 4",
        ),
        (
            "mql_threshold: 50\nmql_threshold: 40\nrules: []\n",
            r"must write each key once per mapping; got key 'mql_threshold' a second time at "
            r"line 2",
        ),
    ],
)
def test_rule_file_level_errors(tmp_path, text, match):
    with pytest.raises(RuleError, match=match):
        load_rules(_write(tmp_path, text))


def test_missing_file_folder_and_bad_encoding(tmp_path):
    with pytest.raises(RuleError, match=r"rules file must be an existing file; got .*nope\.yaml"):
        load_rules(tmp_path / "nope.yaml")
    with pytest.raises(RuleError, match=r"rules file must be a file, not a folder"):
        load_rules(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("mql_threshold: 50 # é\n".encode("latin-1"))
    with pytest.raises(RuleError, match=r"latin1\.yaml must be UTF-8 text"):
        load_rules(bad)


def test_parse_rules_rejects_a_non_mapping_and_names_the_source():
    with pytest.raises(RuleError, match=r"rules in x\.yaml must be a mapping .*; got str"):
        parse_rules("mql_threshold: 50", source="x.yaml")
    with pytest.raises(RuleError, match=r"^rule set: field 'mql_threshold' is required"):
        parse_rules({"rules": [{"column": "a", "op": "missing", "points": 1}]})


# --- errors at fit and scoring time -------------------------------------------------------


def test_missing_column_at_fit_names_column_rule_and_field(tmp_path):
    path = _write(
        tmp_path,
        "mql_threshold: 50\nrules:\n"
        + RULE
        + '    op: "=="\n    value: 1\n    points: 30\n'
        + "    window: {column: days_since_last_activity, max_days: 90}\n",
    )
    base = PointsBaseline.from_yaml(path)
    X = pd.DataFrame({"demo_request": [1], "days_since_last_activity": [2.0]})
    with pytest.raises(
        MissingColumnError,
        match=r"column 'demo_requested' \(field 'column' of rule 'demo request' \(#1\) in "
        r".*rules\.yaml\) must be in the data; got no such column \(did you mean "
        r"'demo_request'\?\)",
    ):
        base.fit(X)
    with pytest.raises(MissingColumnError, match=r"column 'days_since_last_activity' \(field "):
        base.fit(pd.DataFrame({"demo_requested": [1]}))


def test_missing_column_at_scoring_time():
    base = PointsBaseline(rules=_rules({"name": "a", "column": "a", "op": "missing", "points": 1}))
    base.fit(pd.DataFrame({"a": [1]}))
    with pytest.raises(MissingColumnError, match=r"column 'a' \(field 'column' of rule 'a'"):
        base.predict(pd.DataFrame({"b": [1]}))


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        (
            {"name": "visits", "column": "txt", "per_unit": 5},
            r"rule 'visits' \(#1\): column 'txt' \(.*\) must be numeric for 'per_unit'; got text",
        ),
        (
            {"name": "size", "column": "txt", "op": ">=", "value": 50, "points": 10},
            r"rule 'size' \(#1\): column 'txt' .*must be numeric for op '>='; got text\. "
            r"Use op 'in'",
        ),
        (
            {"name": "s", "column": "txt", "op": "between", "value": [1, 2], "points": 1},
            r"column 'txt' .*must be numeric for op 'between'",
        ),
        (
            {"name": "c", "column": "num", "op": "contains", "value": "1", "points": 1},
            r"rule 'c' \(#1\): column 'num' \(float64\) must be text for op 'contains'",
        ),
        (
            {"name": "q", "column": "num", "op": "==", "value": "1", "points": 1},
            r"rule 'q' \(#1\): field 'value' must hold numbers .*for numeric column 'num' "
            r"\(float64\); got '1'\. Unquote",
        ),
        (
            {"name": "b", "column": "txt", "op": "==", "value": True, "points": 1},
            r"rule 'b' \(#1\): field 'value' must hold text for text column 'txt' .*; got True\."
            r" Quote the values",
        ),
        (
            {"name": "n", "column": "txt", "op": "in", "value": ["a", 50], "points": 1},
            r"field 'value' must hold text for text column 'txt'.*got \['a', 50\]",
        ),
        (
            {
                "name": "w",
                "column": "num",
                "per_unit": 1,
                "window": {"column": "txt", "max_days": 3},
            },
            r"rule 'w' \(#1\): field 'window\.column' must name a numeric column of days; got "
            r"column 'txt'",
        ),
        (
            {
                "name": "d",
                "column": "num",
                "per_unit": 1,
                "decay": {"column": "txt", "half_life_days": 3},
            },
            r"rule 'd' \(#1\): field 'decay\.column' must name a numeric column of days",
        ),
    ],
)
def test_rule_that_does_not_fit_the_column_type_is_refused(frame, rule, match):
    with pytest.raises(RuleError, match=match):
        PointsBaseline(rules=_rules(rule)).fit(frame)


def test_type_is_checked_again_when_scoring(frame):
    rule = {"name": "big", "column": "num", "op": ">=", "value": 1, "points": 1}
    base = PointsBaseline(rules=_rules(rule)).fit(frame)
    with pytest.raises(RuleError, match=r"rule 'big' \(#1\): column 'num' \(str\) must be numeric"):
        base.predict(pd.DataFrame({"num": ["1", "2"]}, dtype="str"))


def test_bad_inputs_to_fit_are_refused():
    base = PointsBaseline(rules=_rules({"name": "a", "column": "a", "op": "missing", "points": 1}))
    with pytest.raises(DataError, match=r"X must be a pandas DataFrame .*; got ndarray"):
        base.fit(np.zeros((2, 1)))
    with pytest.raises(DataError, match=r"y must have one label per row of X \(2\); got 3"):
        base.fit(pd.DataFrame({"a": [1, 2]}), [0, 1, 1])
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataError, match=r"column names of X must be unique; got \['a'\]"):
        base.fit(twice)
    with pytest.raises(RuleError, match=r"rules must be a RuleSet; got dict\. .*parse_rules"):
        PointsBaseline(rules={"mql_threshold": 50}).fit(pd.DataFrame({"a": [1]}))


# --- the shipped rule files -------------------------------------------------------------


def _shipped(name: str) -> RuleSet:
    return load_rules(ROOT / "data" / name)


@pytest.mark.parametrize("name", ["rules.yaml", "rules_xeducation.yaml", "rules_bank.yaml"])
def test_shipped_rule_files_load_and_never_read_leaky_columns(name):
    rules = _shipped(name)
    used = {r.column for r in rules.rules}
    used |= {r.decay.column for r in rules.rules if r.decay}
    used |= {r.window.column for r in rules.rules if r.window}
    assert not used & LEAKY
    # every rule is explained by a comment in the file
    text = (ROOT / "data" / name).read_text(encoding="utf-8")
    assert text.count("\n  # ") >= len(rules.rules)


def test_classic_rules_give_their_points_on_hand_made_leads():
    base = PointsBaseline(rules=_shipped("rules.yaml"))
    assert base.rules.mql_threshold == 50
    leads = pd.DataFrame(
        {
            "content_downloads": [1, 3, 0, 1],
            "webinars_attended": [1, 0, 0, 2],
            "demo_requested": [1, 0, 0, 0],
            "pricing_page_visits": [2, 1, 0, 5],
            "email_clicks": [1, 0, 0, 1],
            "company_size": ["5000+", "11-50", None, "51-200"],
            "seniority": ["VP", "Manager", "Student", "Student"],
        }
    )
    base.fit(leads)
    # ebook 10, webinar 20, demo 30, pricing 15, click 5, size 10, seniority 15, student -20
    np.testing.assert_array_equal(base.decision_function(leads), [105, 10, -20, 40])
    np.testing.assert_array_equal(base.predict(leads), [1, 0, 0, 0])


def test_classic_rules_on_synthetic_leads_give_a_realistic_mql_share():
    from mqlml.leads._synthetic import make_leads

    leads = make_leads(5_000, seed=3)
    base = PointsBaseline.from_yaml(ROOT / "data" / "rules.yaml").fit(leads, leads["converted"])
    is_mql = base.predict(leads).astype(bool)
    assert 0.05 <= is_mql.mean() <= 0.40
    converted = leads["converted"].to_numpy()
    assert converted[is_mql].mean() > 2 * converted[~is_mql].mean()
    assert (base.explain(leads) != 0).any().all()  # every rule fires on some lead


def _data_dir() -> Path:
    return Path(os.environ.get("MQLML_DATA_DIR") or ROOT.parent / "shared" / "data")


def _real(relative: str) -> Path:
    path = _data_dir() / relative
    if not path.is_file():
        pytest.skip(f"public dataset {relative} not found in {_data_dir()} (set MQLML_DATA_DIR)")
    return path


@pytest.mark.realdata
def test_xeducation_rules_on_the_real_leads():
    leads = pd.read_csv(_real("xeducation/Leads.csv"), na_values=["Select"])
    base = PointsBaseline(rules=_shipped("rules_xeducation.yaml")).fit(leads)
    is_mql = base.predict(leads).astype(bool)
    converted = leads["Converted"].to_numpy()
    assert len(is_mql) == 9_240
    assert 0.10 <= is_mql.mean() <= 0.40
    assert converted[is_mql].mean() > 0.6 > converted.mean()
    assert (base.explain(leads) != 0).any().all()
    # the time rule is capped at 1500 s x 0.02 = 30 points
    assert base.explain(leads)["time on website"].max() == pytest.approx(30)


@pytest.mark.realdata
def test_bank_rules_on_the_real_contacts():
    contacts = pd.read_csv(
        _real("bank_marketing/bank-additional-full.csv"), sep=";", na_values=["unknown"]
    )
    base = PointsBaseline(rules=_shipped("rules_bank.yaml")).fit(contacts)
    is_mql = base.predict(contacts).astype(bool)
    subscribed = (contacts["y"] == "yes").to_numpy()
    assert len(is_mql) == 41_188
    assert 0.03 <= is_mql.mean() <= 0.30
    assert subscribed[is_mql].mean() > 3 * subscribed.mean()
    table = base.explain(contacts)
    assert (table != 0).any().all()
    # pdays = 999 (never contacted) decays the previous-contact points to nothing
    never = contacts["pdays"].to_numpy() == 999
    assert table.loc[never, "recent previous contact"].max() < 1e-6


def test_shipped_rule_files_are_valid_plain_yaml():
    for name in ["rules.yaml", "rules_xeducation.yaml", "rules_bank.yaml"]:
        raw = yaml.safe_load((ROOT / "data" / name).read_text(encoding="utf-8"))
        assert set(raw) == {"name", "mql_threshold", "rules"}
