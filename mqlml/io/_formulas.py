r"""Spreadsheet formulas in the CSV files mqlml writes: neutralised unless asked to keep them.

A CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read as a formula by Excel, LibreOffice and Google Sheets, so a lead id such as
``=HYPERLINK(...)`` or a column named ``=cmd|'/C calc'!A0`` in a reason would run when the
scores are opened (CSV injection). With ``csv_formulas="escape"`` (the default) such
text cells get a leading single quote, as OWASP recommends, which spreadsheets show as
text and do not run; ``"keep"`` writes them as they are (for a program that reads the
file and must see the exact values).

Only text is touched: numeric columns are written as numbers, and a text cell that is a
plain number (``-5``, ``+1.5``, ``-2e3``, as text columns passed through from a CSV hold
them) is left as it is. Header names are text cells too. Arrow columns are escaped with
``pyarrow.compute`` (vectorised; a column with no such cell costs one scan), Python
strings with :func:`escape_cell`.

Examples
--------
>>> [escape_cell(v) for v in ["=1+1", "@SUM(A1)", "-5", "-x", "plain", "\tx"]]
["'=1+1", "'@SUM(A1)", '-5', "'-x", 'plain', "'\tx"]
"""

from __future__ import annotations

import re
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from mqlml.errors import ConfigError

__all__ = [
    "CSV_FORMULAS",
    "FORMULA_CHARS",
    "FORMULA_START",
    "PLAIN_NUMBER",
    "CsvFormulas",
    "check_csv_formulas",
    "escape_array",
    "escape_cell",
    "escape_schema",
    "escape_table",
]

CsvFormulas = Literal["escape", "keep"]
#: The values of the ``csv_formulas`` option (``--csv-formulas``), the default first.
CSV_FORMULAS: tuple[str, ...] = ("escape", "keep")
#: The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_CHARS = "=+-@\t\r"
#: A cell that starts with one of them (the same pattern in Python, RE2 and Java).
FORMULA_START = "^[" + FORMULA_CHARS.replace("-", "\\-") + "]"
#: A cell that is a plain number, left as it is although it may start with + or -.
PLAIN_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"

_START, _NUMBER = re.compile(FORMULA_START), re.compile(PLAIN_NUMBER)
_FIRST = pa.array([c.encode() for c in FORMULA_CHARS], pa.binary())


def check_csv_formulas(value: Any) -> str:
    """Return ``value`` when it is a ``csv_formulas`` option, else raise a ConfigError.

    Examples
    --------
    >>> check_csv_formulas("keep")
    'keep'
    """
    if value not in CSV_FORMULAS:
        raise ConfigError(
            f"csv_formulas must be one of {', '.join(CSV_FORMULAS)}; got {value!r}. Use "
            "'escape' (the default) to neutralise cells a spreadsheet would run as formulas."
        )
    return value


def escape_cell(value: Any) -> Any:
    """One cell: a text that a spreadsheet would run gets a leading ``'``; anything else
    (numbers, None, plain-number text) is returned unchanged."""
    if isinstance(value, str) and _START.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def escape_array(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A text column with :func:`escape_cell` applied to every cell, vectorised.

    Other types (numbers, booleans, dates) are returned unchanged; a dictionary column has
    its dictionary escaped.
    """
    if isinstance(array, pa.ChunkedArray):
        if not _is_text(array.type):
            return array
        return pa.chunked_array([escape_array(c) for c in array.chunks], type=array.type)
    if pa.types.is_dictionary(array.type):
        if not _is_text(array.type):
            return array
        return pa.DictionaryArray.from_arrays(array.indices, escape_array(array.dictionary))
    if not _is_text(array.type):
        return array
    starts = _starts(array)
    if not pc.any(starts).as_py():  # the usual case: one scan, nothing copied
        return array
    found = pc.filter(array, starts)  # the few cells that start like a formula
    quote, empty = pa.scalar("'", array.type), pa.scalar("", array.type)
    escaped = pc.if_else(
        pc.match_substring_regex(found, PLAIN_NUMBER),
        found,
        pc.binary_join_element_wise(quote, found, empty),
    )
    return pc.replace_with_mask(array, starts, escaped)


def escape_table(table: pa.Table) -> pa.Table:
    """A table with its text columns and its column names escaped (:func:`escape_cell`)."""
    names = [escape_cell(name) for name in table.column_names]
    columns = [escape_array(column) for column in table.columns]
    return pa.Table.from_arrays(columns, names=names)


def escape_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of :func:`escape_table`'s result: the same types, escaped names."""
    return pa.schema([field.with_name(escape_cell(field.name)) for field in schema])


def _starts(array: pa.Array) -> pa.Array:
    """Whether each cell's first byte is one of FORMULA_CHARS (all ASCII), as booleans.

    The first byte of the bytes, rather than a regular expression over the text: about
    twice as fast on long reasons, and the same answer for these one-byte characters.
    """
    large = pa.types.is_large_string(array.type)
    first = pc.binary_slice(array.cast(pa.large_binary() if large else pa.binary()), 0, 1)
    return pc.is_in(first, value_set=_FIRST.cast(first.type))


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)
