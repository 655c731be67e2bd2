"""The rule-based points baseline: the scoring that marketing teams use today.

Each rule gives points when a lead matches it (+10 for an ebook, +20 for a webinar, +30
for a demo request...) and a lead is an MQL when its points reach ``mql_threshold``.
Rules are read from a YAML file (see ``data/rules.yaml``)::

    name: classic points
    mql_threshold: 50
    rules:
      - name: ebook download
        column: content_downloads
        op: ">="
        value: 1
        points: 10
      - name: pricing page visits
        column: pricing_page_visits
        per_unit: 5          # 5 points per visit...
        cap: 3               # ...for at most 3 visits
      - name: demo request
        column: demo_requested
        op: "=="
        value: 1
        points: 30
        decay: {column: days_since_last_activity, half_life_days: 30}
        window: {column: days_since_last_activity, max_days: 90}

Operators: ``==``, ``in`` (a list), ``>=``, ``>``, ``<=``, ``<``, ``between`` (``[lo, hi]``,
both ends included), ``missing``, ``not missing`` (no value) and ``contains``
(case-insensitive substring of text). A missing value never matches a comparison;
only ``missing`` matches it. ``==``, ``in`` and ``contains`` work on text columns; the
ordering operators, ``per_unit``, ``decay`` and ``window`` need numeric columns. On a
numeric (0/1) column, ``==`` and ``in`` read the words yes/no/true/false as 1/0, so one
rule file serves a raw ``Yes``/``No`` column and its 0/1 coding alike.

A ``per_unit`` rule gives ``per_unit * min(value, cap)`` points (a missing value counts
0 units); its optional ``op``/``value`` is a condition on the same column. A ``window``
keeps the rule only when ``days <= max_days``; a ``decay`` multiplies its points by
``0.5 ** (days / half_life_days)`` (negative days count as 0). Unknown recency (missing
days) earns no time-sensitive points: a rule with a ``window`` or a ``decay`` gives 0
points to a lead whose days are missing, rather than full, undecayed points.

In ``op`` write the comparison quoted (``op: ">="``): unquoted, YAML reads ``>`` as the
start of a block of text. Quote text values that YAML would read otherwise
(``value: "yes"``; unquoted ``yes``/``no`` are booleans).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from mqlml.errors import DataError, MissingColumnError, RuleError
from mqlml.io._yaml import DuplicateKeyError, load_yaml
from mqlml.metrics._paired import reaches

__all__ = [
    "Decay",
    "PointsBaseline",
    "Rule",
    "RuleSet",
    "Window",
    "condition_text",
    "load_rules",
    "parse_rules",
]

Op = Literal["==", "in", ">=", ">", "<=", "<", "between", "missing", "not missing", "contains"]
OPS: tuple[str, ...] = Op.__args__
_ORDERING = {">=", ">", "<=", "<", "between"}
_NO_VALUE = {"missing", "not missing"}
_YES_NO = {"yes": 1.0, "y": 1.0, "true": 1.0, "no": 0.0, "n": 0.0, "false": 0.0}

_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Text = Annotated[str, Field(strict=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decay(_Strict):
    """Halve a rule's points every ``half_life_days`` of the ``column`` (days since)."""

    column: _Text
    half_life_days: Annotated[_Number, Field(gt=0)]


class Window(_Strict):
    """Apply a rule only when the ``column`` (days since) is at most ``max_days``."""

    column: _Text
    max_days: Annotated[_Number, Field(ge=0)]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not (
        isinstance(value, float) and not np.isfinite(value)
    )


def _is_number(value: Any) -> bool:
    return _is_scalar(value) and not isinstance(value, str | bool)


def _check_value(op: str | None, value: Any) -> None:
    """Raise ValueError("field 'value' ...") when ``value`` does not fit ``op``."""
    if op is None:
        if value is not None:
            raise ValueError(
                f"field 'op' must be set when 'value' is; got value {value!r} without an op. "
                'Add an op (for example op: ">=") or remove the value.'
            )
        return
    if op in _NO_VALUE:
        if value is not None:
            raise ValueError(
                f"field 'value' must be absent for op '{op}'; got {value!r}. Remove the value."
            )
        return
    if value is None:
        raise ValueError(f"field 'value' must be set for op '{op}'; got nothing. Add a value.")
    if op == "in":
        if not isinstance(value, list) or not value or not all(map(_is_scalar, value)):
            raise ValueError(
                f"field 'value' must be a non-empty list of texts or numbers for op 'in'; "
                f"got {value!r}. Write value: [a, b, c]."
            )
    elif op == "between":
        ok = isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))
        if not ok or value[0] > value[1]:
            raise ValueError(
                f"field 'value' must be two ascending numbers [lo, hi] for op 'between'; "
                f"got {value!r}. Write value: [lo, hi] with lo <= hi."
            )
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"field 'value' must be non-empty text for op 'contains'; got {value!r}. "
                "Quote the text to look for."
            )
    elif op == "==":
        if not _is_scalar(value):
            raise ValueError(
                f"field 'value' must be one text or number for op '=='; got {value!r}. "
                "Use op 'in' for a list."
            )
    elif not _is_number(value):
        raise ValueError(
            f"field 'value' must be a number for op '{op}'; got {value!r}. "
            "Use '==', 'in' or 'contains' for text."
        )


class Rule(_Strict):
    """One points rule. Set ``points`` (with ``op``) or ``per_unit`` (``op`` optional)."""

    name: _Text | None = None
    column: _Text
    op: Op | None = None
    value: Any = None
    points: _Number | None = None
    per_unit: _Number | None = None
    cap: Annotated[_Number, Field(gt=0)] | None = None
    decay: Decay | None = None
    window: Window | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.points is None and self.per_unit is None:
            raise ValueError(
                "field 'points' must be set (or 'per_unit'); got neither. "
                "Add points: 10 for fixed points, or per_unit: 5 for points per unit."
            )
        if self.points is not None and self.per_unit is not None:
            raise ValueError(
                f"field 'points' must not be set together with 'per_unit'; got points "
                f"{self.points:g} and per_unit {self.per_unit:g}. Keep one of them."
            )
        if self.points is not None and self.op is None:
            raise ValueError(
                "field 'op' must be set for a rule with 'points'; got nothing. "
                'Add op and value, for example op: ">=" and value: 1.'
            )
        if self.cap is not None and self.per_unit is None:
            raise ValueError(
                f"field 'cap' must be used with 'per_unit' only; got cap {self.cap:g} with "
                "points. Remove the cap or use per_unit."
            )
        _check_value(self.op, self.value)
        return self


class RuleSet(_Strict):
    """A validated points system: rules and the MQL threshold. Read one with :func:`load_rules`.

    Examples
    --------
    >>> rules = parse_rules({"mql_threshold": 20, "rules": [
    ...     {"name": "webinar", "column": "webinars", "op": ">=", "value": 1, "points": 20}]})
    >>> rules.rule_names
    ['webinar']
    """

    name: _Text | None = None
    mql_threshold: _Number
    rules: Annotated[list[Rule], Field(min_length=1)]
    _source: str | None = PrivateAttr(default=None)

    @property
    def rule_names(self) -> list[str]:
        """Each rule's name, or ``rule #i`` (1-based) for a rule without one."""
        return [r.name or f"rule #{i}" for i, r in enumerate(self.rules, start=1)]

    @property
    def source(self) -> str | None:
        """The file the rules were read from, if any."""
        return self._source

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        seen: dict[str, int] = {}
        for i, name in enumerate(self.rule_names, start=1):
            if name in seen:
                raise ValueError(
                    f"rule names must be unique (each names a column of explain()); got "
                    f"'{name}' for rules #{seen[name]} and #{i}. Rename one of them."
                )
            seen[name] = i
        return self


# ---------------------------------------------------------------------------------------
# Reading rule files and turning validation errors into messages that name rule and field
# ---------------------------------------------------------------------------------------

_EXPECTED = {
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "string_too_short": "non-empty text",
    "list_type": "a list",
    "too_short": "a non-empty list",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "dict_type": "a mapping of fields",
}
_FIX_RULE = (
    "Write each rule as a mapping: {name: ..., column: ..., op: ..., value: ..., points: ...}."
)
_FIX = {
    "op": 'Fix the operator (quote it: op: ">=").',
    "mql_threshold": "Write a number, for example mql_threshold: 50.",
    "rules": "Write a list of rules, each with name, column, op, value and points.",
    "string_type": "Quote it.",
}


def _fields_of(loc: Sequence[Any]) -> str:
    """The allowed fields of the model that holds the last key of ``loc``."""
    model: type[BaseModel] = RuleSet
    for part in loc[:-1]:
        model = {"rules": Rule, "decay": Decay, "window": Window}.get(part, model)
    return ", ".join(model.model_fields)


def _describe(error: Mapping[str, Any], field_loc: Sequence[Any], full_loc: Sequence[Any]) -> str:
    kind, got, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    field = ".".join(str(p) for p in field_loc)
    leaf = str(field_loc[-1]) if field_loc else ""
    subject = f"field '{field}'" if field else "each rule"
    if kind == "missing":
        return f"field '{field}' is required; got nothing. Add it."
    if kind == "extra_forbidden":
        allowed = _fields_of(full_loc)
        close = difflib.get_close_matches(leaf, allowed.split(", "), n=1)
        hint = f"Did you mean '{close[0]}'?" if close else "Remove it or fix its spelling."
        return f"field '{field}' is not known (allowed: {allowed}); got {got!r}. {hint}"
    if kind == "literal_error" and leaf == "op":
        return f"field 'op' must be one of {', '.join(OPS)}; got {got!r}. {_FIX['op']}"
    if kind in ("greater_than", "greater_than_equal"):
        rule = f"> {ctx['gt']:g}" if "gt" in ctx else f">= {ctx['ge']:g}"
        return f"{subject} must be {rule}; got {got!r}. Change the value."
    expected = _EXPECTED.get(kind, error["msg"].removeprefix("Input should be ").lower())
    fix = _FIX.get(leaf) or _FIX.get(kind) or (_FIX_RULE if not field else "Fix the value.")
    return f"{subject} must be {expected}; got {got!r}. {fix}"


def _rule_label(index: int, name: Any) -> str:
    return f"rule '{name}' (#{index})" if isinstance(name, str) and name else f"rule #{index}"


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


def _translate(exc: ValidationError, raw: Mapping[str, Any], source: str | None) -> RuleError:
    lines = []
    raw_rules = raw.get("rules")
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            item = raw_rules[loc[1]] if isinstance(raw_rules, list) else None
            name = item.get("name") if isinstance(item, Mapping) else None
            where = _rule_label(loc[1] + 1, name) + _where(source)
            field_loc = loc[2:]
        else:
            where = f"rules file {source}" if source else "rule set"
            field_loc = loc
        lines.append(f"{where}: {_describe(error, field_loc, loc)}")
    return RuleError("\n".join(lines))


def parse_rules(data: Mapping[str, Any], *, source: str | Path | None = None) -> RuleSet:
    """Validate a mapping (as read from YAML) into a :class:`RuleSet`.

    Parameters
    ----------
    data : mapping
        ``{"name": ..., "mql_threshold": ..., "rules": [...]}``.
    source : str or Path, optional
        Where the mapping comes from, named in error messages.

    Returns
    -------
    RuleSet

    Raises
    ------
    RuleError
        When a key is unknown or missing, a value has the wrong type, or an operator does
        not fit its value; the message names the rule (name and 1-based number), the
        field and the fix.

    Examples
    --------
    >>> parse_rules({"mql_threshold": 50, "rules": [
    ...     {"column": "demo_requested", "op": "==", "value": 1, "points": 30}]}).rule_names
    ['rule #1']
    """
    where = str(source) if source is not None else None
    if not isinstance(data, Mapping):
        raise RuleError(
            f"rules{_where(where)} must be a mapping with mql_threshold and rules; got "
            f"{type(data).__name__}. See data/rules.yaml for an example."
        )
    try:
        ruleset = RuleSet.model_validate(dict(data))
    except ValidationError as exc:
        raise _translate(exc, data, where) from None
    ruleset._source = where
    return ruleset


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a points rule file (YAML).

    Parameters
    ----------
    path : str or Path
        The YAML file, shaped as in ``data/rules.yaml``.

    Returns
    -------
    RuleSet

    Raises
    ------
    RuleError
        When the file is missing or empty, is not valid YAML (or writes a key twice), or
        a rule is malformed; the message names the file, the rule, the field and the fix.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "rules.yaml"
    >>> _ = f.write_text('mql_threshold: 10\\nrules:\\n'
    ...     '  - {name: webinar, column: webinars, op: ">=", value: 1, points: 20}\\n')
    >>> load_rules(f).mql_threshold
    10.0
    """
    path = Path(path)
    if not path.is_file():
        what = "a file, not a folder" if path.is_dir() else "an existing file"
        raise RuleError(
            f"rules file must be {what}; got {str(path)!r}. Check the path "
            "(data/rules.yaml is an example to start from)."
        )
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RuleError(
            f"rules file {path} must be UTF-8 text; got undecodable bytes ({exc.reason}). "
            "Save it as UTF-8."
        ) from None
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise RuleError(
            f"rules file {path} must write each key once per mapping; got key {exc.problem} "
            f"a second time at line {line}. Remove one of them."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError(
            f"rules file {path} must be valid YAML; got a syntax error{at}: {problem}. "
            'Fix the indentation, and quote operators and special text (op: ">=").'
        ) from None
    if raw is None:
        raise RuleError(
            f"rules file {path} must define mql_threshold and rules; got an empty file. "
            "Start from data/rules.yaml."
        )
    return parse_rules(raw, source=path)


# ---------------------------------------------------------------------------------------
# Applying rules to a frame
# ---------------------------------------------------------------------------------------


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype)


def _numbers(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=float, na_value=np.nan)


def _as_number(value: Any) -> Any:
    """A yes/no word compares as 1/0 with a numeric (0/1) column; other values as they are."""
    if isinstance(value, str):
        return _YES_NO.get(value.strip().lower(), value)
    return value


def _match(op: str, value: Any, values: pd.Series) -> np.ndarray:
    """Boolean mask of the rows where ``values`` satisfies ``op value``."""
    if op in _NO_VALUE:
        found = values.isna().to_numpy(dtype=bool)
        return found if op == "missing" else ~found
    if op == "contains":
        text = values.astype("string").str.contains(value, case=False, regex=False, na=False)
        return text.to_numpy(dtype=bool)
    if not _is_numeric(values):  # text: == and in
        wanted = value if op == "in" else [value]
        return values.isin(wanted).to_numpy(dtype=bool)
    v = _numbers(values)
    if op == "==":
        return v == _as_number(value)
    if op == "in":
        return np.isin(v, np.asarray([_as_number(x) for x in value], dtype=float))
    if op == "between":
        return (v >= value[0]) & (v <= value[1])
    return {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}[op](
        v, value
    )


def _columns_used(rule: Rule) -> list[tuple[str, str]]:
    used = [("column", rule.column)]
    if rule.decay is not None:
        used.append(("decay.column", rule.decay.column))
    if rule.window is not None:
        used.append(("window.column", rule.window.column))
    return used


def _type_problem(rule: Rule, X: pd.DataFrame) -> str | None:
    """Describe a mismatch between a rule and the dtype of a column it reads, if any."""
    values = X[rule.column]
    numeric = _is_numeric(values)
    col = f"column '{rule.column}' ({values.dtype})"
    for field, name in _columns_used(rule)[1:]:
        if not _is_numeric(X[name]):
            return (
                f"field '{field}' must name a numeric column of days; got column '{name}' "
                f"({X[name].dtype}). Convert it to numbers of days."
            )
    if rule.per_unit is not None and not numeric:
        return (
            f"{col} must be numeric for 'per_unit'; got text. Convert the column to numbers "
            "or give fixed points with op '==' or 'in'."
        )
    if rule.op in _ORDERING and not numeric:
        return (
            f"{col} must be numeric for op '{rule.op}'; got text. Use op 'in' or '==' with "
            "the text values, or convert the column to numbers."
        )
    if rule.op == "contains" and numeric:
        return f"{col} must be text for op 'contains'; got numbers. Use '==', 'in' or '>='."
    if rule.op in ("==", "in"):
        values_ = rule.value if rule.op == "in" else [rule.value]
        if numeric and any(isinstance(_as_number(v), str) for v in values_):
            return (
                f"field 'value' must hold numbers (or yes/no for a 0/1 column) for numeric "
                f"{col}; got {rule.value!r}. Unquote the numbers."
            )
        if not numeric and any(not isinstance(v, str) for v in values_):
            return (
                f"field 'value' must hold text for text {col}; got {rule.value!r}. Quote the "
                'values (unquoted yes/no/true/false are booleans in YAML: write "yes").'
            )
    return None


def _check_frame(ruleset: RuleSet, X: Any) -> None:
    if not isinstance(X, pd.DataFrame):
        raise DataError(
            f"X must be a pandas DataFrame with named columns; got {type(X).__name__}. "
            "Wrap it: pandas.DataFrame(X, columns=[...])."
        )
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataError(
            f"column names of X must be unique; got {duplicated} more than once. "
            "Rename or drop the duplicated columns."
        )
    labels = [_rule_label(i, r.name) for i, r in enumerate(ruleset.rules, start=1)]
    missing = [
        f"column '{name}' (field '{field}' of {label}{_where(ruleset.source)}) must be in the "
        f"data; got no such column"
        + (f" (did you mean '{close[0]}'?)" if close else "")
        + ". Add the column or fix the rule."
        for label, rule in zip(labels, ruleset.rules, strict=True)
        for field, name in _columns_used(rule)
        if name not in X.columns
        for close in [difflib.get_close_matches(name, [str(c) for c in X.columns], n=1)]
    ]
    if missing:
        raise MissingColumnError("\n".join(missing))
    for label, rule in zip(labels, ruleset.rules, strict=True):
        problem = _type_problem(rule, X)
        if problem:
            raise RuleError(f"{label}{_where(ruleset.source)}: {problem}")


def _rule_points(rule: Rule, X: pd.DataFrame) -> np.ndarray:
    values = X[rule.column]
    if rule.per_unit is not None:
        units = _numbers(values)
        if rule.cap is not None:
            units = np.minimum(units, rule.cap)
        points = rule.per_unit * np.where(np.isnan(units), 0.0, units)
    else:
        points = np.full(len(X), rule.points, dtype=float)
    if rule.op is not None:
        points = np.where(_match(rule.op, rule.value, values), points, 0.0)
    if rule.window is not None:
        days = _numbers(X[rule.window.column])
        points = np.where(days <= rule.window.max_days, points, 0.0)  # NaN days: no points
    if rule.decay is not None:
        days = _numbers(X[rule.decay.column])
        factor = 0.5 ** (np.maximum(days, 0.0) / rule.decay.half_life_days)
        points = points * np.where(np.isnan(days), 0.0, factor)  # NaN days: no points
    return points + 0.0  # no negative zeros


class PointsBaseline(ClassifierMixin, BaseEstimator):
    """Rule-based lead points, an MQL when the points reach the rule set's threshold.

    It learns nothing: ``fit`` only checks that the data holds every column the rules
    read, with a fitting type. It stands beside a model for an honest comparison on the
    same leads.

    Parameters
    ----------
    rules : RuleSet
        The points system, from :func:`load_rules` or :func:`parse_rules`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``[0, 1]``.
    feature_names_in_ : ndarray of str
        The columns of the frame given to ``fit``.
    n_features_in_ : int
        Their number.

    Examples
    --------
    >>> import pandas as pd
    >>> rules = parse_rules({"mql_threshold": 30, "rules": [
    ...     {"name": "webinar", "column": "webinars", "op": ">=", "value": 1, "points": 20},
    ...     {"name": "demo", "column": "demo", "op": "==", "value": 1, "points": 30}]})
    >>> leads = pd.DataFrame({"webinars": [0, 2, 1], "demo": [1, 0, 1]})
    >>> baseline = PointsBaseline(rules=rules).fit(leads)
    >>> baseline.decision_function(leads).tolist()
    [30.0, 20.0, 50.0]
    >>> baseline.predict(leads).tolist()
    [1, 0, 1]
    """

    def __init__(self, *, rules: RuleSet) -> None:
        self.rules = rules

    @classmethod
    def from_yaml(cls, path: str | Path) -> PointsBaseline:
        """Build an unfitted baseline from a rules file (see :func:`load_rules`)."""
        return cls(rules=load_rules(path))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        return tags

    def _ruleset(self) -> RuleSet:
        if not isinstance(self.rules, RuleSet):
            raise RuleError(
                f"rules must be a RuleSet; got {type(self.rules).__name__}. Build one with "
                "load_rules(path) or parse_rules(mapping)."
            )
        return self.rules

    def fit(self, X: pd.DataFrame, y: Any = None) -> PointsBaseline:
        """Check that ``X`` has every column the rules read; learn nothing.

        Parameters
        ----------
        X : DataFrame
            Leads, one row each.
        y : array-like, optional
            Ignored (accepted for API symmetry); its length must match ``X`` if given.

        Returns
        -------
        self

        Raises
        ------
        MissingColumnError
            When a rule (or its decay or window) reads a column that ``X`` lacks.
        RuleError
            When a rule does not fit its column's type (``>=`` on text, ``contains`` on
            numbers, a quoted number for a numeric column...).
        DataError
            When ``X`` is not a DataFrame or ``y`` has another length.
        """
        ruleset = self._ruleset()
        _check_frame(ruleset, X)
        if y is not None and len(y) != len(X):
            raise DataError(
                f"y must have one label per row of X ({len(X)}); got {len(y)}. "
                "Pass the labels of the same leads, or no y."
            )
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _points(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        ruleset = self._ruleset()
        _check_frame(ruleset, X)
        return np.column_stack([_rule_points(rule, X) for rule in ruleset.rules])

    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per rule for each lead: one column per rule, named by the rule.

        Returns
        -------
        DataFrame
            Same index as ``X``; its row sums are :meth:`decision_function`.
        """
        return pd.DataFrame(self._points(X), index=X.index, columns=self._ruleset().rule_names)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Total points of each lead (float)."""
        return self._points(X).sum(axis=1)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 for an MQL (points >= ``mql_threshold``), else 0.

        Points that miss the threshold only by floating-point rounding (1e-9 relative,
        as in 25 + 24.99 against 49.99) count as reaching it.
        """
        points = self.decision_function(X)
        threshold = self._ruleset().mql_threshold
        return reaches(points, threshold).astype(int)


def condition_text(rule: Any) -> str:
    """One rule's condition in words (the points are shown beside it)."""
    value = rule.value
    if rule.op in ("in",):
        said = f"{rule.column} is one of {', '.join(map(str, value))}"
    elif rule.op == "between":
        said = f"{rule.column} between {value[0]:g} and {value[1]:g}"
    elif rule.op == "missing":
        said = f"{rule.column} is missing"
    elif rule.op == "not missing":
        said = f"{rule.column} is filled in"
    elif rule.op == "contains":
        said = f"{rule.column} contains {value!r}"
    elif rule.op is not None:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        said = f"{rule.column} {rule.op} {shown}"
    else:
        said = ""
    if rule.per_unit is not None:
        unit = f"{rule.per_unit:g} per unit of {rule.column}"
        unit += f", at most {rule.cap:g} units" if rule.cap is not None else ""
        said = f"{unit}{' when ' + said if said else ''}"
    if rule.window is not None:
        said += f", only if {rule.window.column} <= {rule.window.max_days:g}"
    if rule.decay is not None:
        said += f", halved every {rule.decay.half_life_days:g} days of {rule.decay.column}"
    return said
