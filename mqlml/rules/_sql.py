"""A points rule set as one SQL expression, for warehouses that score leads in SQL.

:func:`sql_expression` writes the points of a :class:`mqlml.rules.RuleSet` as a sum
of ``CASE`` expressions over the lead table's columns, with the same meaning as
:class:`mqlml.rules.PointsBaseline`: a missing value (SQL ``NULL``) never matches a
comparison, only ``missing`` matches it. Fixed-points rules with the operators ``==``,
``in``, ``>=``, ``>``, ``<=``, ``<``, ``between``, ``missing`` and ``not missing`` are
written; ``per_unit``, ``decay``, ``window`` and ``contains`` rules are refused (their
SQL differs between engines). Identifiers are double-quoted and text single-quoted, as
in standard SQL (DuckDB, PostgreSQL, SQLite, Snowflake, BigQuery with ANSI quoting).

Examples
--------
>>> from mqlml.rules import parse_rules
>>> rules = parse_rules({"mql_threshold": 20, "rules": [
...     {"name": "webinar", "column": "webinars", "op": ">=", "value": 1, "points": 20},
...     {"name": "student", "column": "seniority", "op": "==", "value": "Student",
...      "points": -10}]})
>>> print(sql_expression(rules))
  CASE WHEN "webinars" >= 1 THEN 20 ELSE 0 END
+ CASE WHEN "seniority" = 'Student' THEN -10 ELSE 0 END
"""

from __future__ import annotations

import math
from typing import Any

from mqlml.errors import RuleError

__all__ = ["quote_name", "sql_expression", "sql_query"]

_COMPARE = {"==": "=", ">=": ">=", ">": ">", "<=": "<=", "<": "<"}


def quote_name(name: str) -> str:
    """A column or table name as a quoted SQL identifier (``"Lead Source"``)."""
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value: Any) -> str:
    """A value as an SQL literal: text quoted, numbers written exactly."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RuleError(f"an SQL value must be a finite number; got {value!r}. Fix the rule.")
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _condition(rule: Any) -> str:
    column, op, value = quote_name(rule.column), rule.op, rule.value
    if op == "missing":
        return f"{column} IS NULL"
    if op == "not missing":
        return f"{column} IS NOT NULL"
    if op == "in":
        return f"{column} IN ({', '.join(_literal(v) for v in value)})"
    if op == "between":
        return f"{column} BETWEEN {_literal(value[0])} AND {_literal(value[1])}"
    return f"{column} {_COMPARE[op]} {_literal(value)}"


def _cases(rules: Any) -> list[str]:
    """One ``CASE`` expression per rule (a quoted value may hold line breaks: these
    strings are joined, never split into lines)."""
    cases = []
    for i, rule in enumerate(rules.rules, start=1):
        kind = (
            "per_unit"
            if rule.per_unit is not None
            else "decay"
            if rule.decay is not None
            else "window"
            if rule.window is not None
            else "contains"
            if rule.op == "contains"
            else None
        )
        if kind is not None:
            raise RuleError(
                f"rule '{rule.name or f'#{i}'}' must be a fixed-points rule to be written as "
                f"SQL; got a {kind!r} rule. Write it as fixed points with ==, in, >=, >, <=, <, "
                "between, missing or not missing."
            )
        cases.append(f"CASE WHEN {_condition(rule)} THEN {_number(rule.points)} ELSE 0 END")
    return cases


def sql_expression(rules: Any) -> str:
    """The points of each lead as one SQL expression over the lead table's columns.

    Parameters
    ----------
    rules : RuleSet
        Fixed-points rules (see the module docstring for the operators written).

    Returns
    -------
    str
        ``CASE WHEN ... THEN points ELSE 0 END + ...``, one line per rule.

    Raises
    ------
    RuleError
        When a rule uses ``per_unit``, ``decay``, ``window`` or ``contains``.
    """
    return "  " + "\n+ ".join(_cases(rules))


def sql_query(rules: Any, table: str, *, id_column: str | None = None) -> str:
    """A ``SELECT`` of each lead's points and MQL flag from ``table``.

    Examples
    --------
    >>> from mqlml.rules import parse_rules
    >>> rules = parse_rules({"mql_threshold": 20, "rules": [
    ...     {"name": "webinar", "column": "webinars", "op": ">=", "value": 1, "points": 20}]})
    >>> print(sql_query(rules, "leads", id_column="lead_id"))
    SELECT "lead_id", points, points >= 20 AS is_mql
    FROM (
      SELECT *,
      CASE WHEN "webinars" >= 1 THEN 20 ELSE 0 END
      AS points
      FROM "leads"
    ) AS scored
    """
    # indented rule by rule, never line by line: a quoted level may hold a line break
    expression = "  " + "\n  + ".join(_cases(rules))
    selected = f"{quote_name(id_column)}, " if id_column else ""
    return (
        f"SELECT {selected}points, points >= {_number(rules.mql_threshold)} AS is_mql\n"
        "FROM (\n"
        "  SELECT *,\n"
        f"{expression}\n"
        "  AS points\n"
        f"  FROM {quote_name(table)}\n"
        ") AS scored"
    )
