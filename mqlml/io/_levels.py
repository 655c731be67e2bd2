"""The text of a categorical level, whatever the column's storage type.

A column declared categorical (``features.categorical``) may arrive as integers in one
file, floats in another (a blank makes pandas read ``3`` as ``3.0``), text in a CSV and
an Arrow dictionary in a Parquet file. Its levels are text: a number becomes its
canonical text (:func:`level_text`: ``3``, ``3.0`` and ``np.int8(3)`` are all ``"3"``,
``2.5`` is ``"2.5"``) and text stays as written. A value matches a fitted level when
its text equals the level, or else when both spell the same number (``"03"``, ``"3.0"``
and ``"3"``) or the same truth value (``"true"`` and ``"True"``) (:func:`match_levels`).
Training and scoring, through pandas or Arrow, use these two functions, so a lead gets
the same level on every path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["level_key", "level_text", "match_levels"]

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_TRUTH = {"true": "True", "false": "False"}


def _number_text(value: Any) -> Any:
    """The canonical text of one value: numbers as digits, anything else unchanged."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return np.nan
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        if math.isnan(number):
            return np.nan
        if number.is_integer():
            return str(int(number))
        return repr(number)
    return str(value)


def level_text(values: pd.Series) -> pd.Series:
    """A categorical column's values as level text (missing stays missing).

    Parameters
    ----------
    values : pandas.Series
        The column as read: numbers (any width, nullable or not), text, categories.

    Returns
    -------
    pandas.Series
        ``values`` itself when it holds only text; otherwise an object column of text,
        same index: whole numbers as their digits (``3.0`` -> ``"3"``), other numbers as
        Python writes them (``2.5`` -> ``"2.5"``), truth values as ``"True"``/``"False"``.

    Examples
    --------
    >>> level_text(pd.Series([3, 1, 3])).tolist()
    ['3', '1', '3']
    >>> level_text(pd.Series([3.0, None, 2.5])).tolist()
    ['3', nan, '2.5']
    >>> level_text(pd.Series(["gold", "3"])).tolist()
    ['gold', '3']
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.categories.inferred_type in ("string", "empty"):
            return values
        codes, uniques = values.cat.codes.to_numpy(), dtype.categories
    else:
        if pd.api.types.is_string_dtype(dtype) and pd.api.types.infer_dtype(
            values, skipna=True
        ) in ("string", "empty"):
            return values
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([*(_number_text(v) for v in uniques), np.nan], dtype=object)
    return pd.Series(texts[codes], index=values.index, name=values.name, dtype=object)


def level_key(value: Any) -> str | None:
    """What a value spells, when that is a number or a truth value; else None.

    Examples
    --------
    >>> level_key("03"), level_key(" 3.0 "), level_key("2.50"), level_key("TRUE")
    ('3', '3', '2.5', 'True')
    >>> level_key("gold") is None, level_key("nan") is None
    (True, True)
    """
    if not isinstance(value, str):
        text = _number_text(value)
        return text if isinstance(text, str) else None
    text = value.strip()
    if _INTEGER.match(text):
        return str(int(text))
    if _DECIMAL.match(text):
        number = float(text)
        return _number_text(number) if math.isfinite(number) else None
    return _TRUTH.get(text.lower())


def match_levels(values: Sequence[Any] | pd.Index, levels: Sequence[Any] | pd.Index) -> np.ndarray:
    """Position of each value among the fitted levels, -1 where none matches.

    A value matches a level equal to it; failing that, a level that spells the same
    number or truth value (:func:`level_key`; a number level spells itself), the first
    such level when several do.

    Examples
    --------
    >>> match_levels(["3", "3.0", "03", "gold", "4"], ["3", "gold"]).tolist()
    [0, 0, 0, 1, -1]
    >>> match_levels(["7", "7.0"], ["007", "x"]).tolist()
    [0, 0]
    >>> match_levels(["2", "2.0", 2], [1, 2, "__rare__"]).tolist()
    [1, 1, 1]
    """
    values, levels = pd.Index(values), pd.Index(levels)
    found = levels.get_indexer(values)
    missed = np.flatnonzero(found < 0)
    if not len(missed):
        return found
    by_key: dict[str, int] = {}
    for i, level in enumerate(levels):
        key = level_key(level)
        if key is not None:
            by_key.setdefault(key, i)
    if not by_key:
        return found
    for i in missed:
        key = level_key(values[i])
        if key is not None:
            found[i] = by_key.get(key, -1)
    return found
