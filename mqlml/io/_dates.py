"""Reading date columns: one format per column, from the config or detected from the values.

Every date mqlml reads (the leads' creation and conversion times, an activity log's
timestamps, ``--as-of``) goes through :func:`parse_dates`, so a column is read the same
way everywhere: when training, when scoring and in reports. A column has one format:

- ``ISO8601``: ``2025-03-01``, with or without a time (``2025-03-01T09:30:00``,
  ``2025-03-01 09:30``) and a zone (all rows with one, or none). Columns the reader
  already typed as dates (Parquet timestamps, ISO text in a CSV) count as ISO 8601.
- a ``strftime`` pattern such as ``%d/%m/%Y`` or ``%m-%d-%Y %H:%M``. Detected for
  day/month/year, month/day/year and year/month/day with ``/``, ``-`` or ``.``; the order
  of day and month is decided by values where a field above 12 proves it. A column whose
  every value has both fields at 12 or below is ambiguous (``05/03/2025`` is 5 March or 3
  May): its format must be given.
- ``epoch_s``, ``epoch_ms``, ``epoch_us``, ``epoch_ns``: numbers since 1970-01-01 UTC in
  that unit. Numbers are never taken for dates without one of these.

The format is given per column in the config (``columns.date_formats``); training
detects the others, records them in the bundle's config and schema, and every later
read of that column uses the recorded format. Times with a zone are converted to UTC
and returned without one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.errors import DataError

__all__ = [
    "EPOCH_UNITS",
    "ISO",
    "as_timestamp",
    "check_format",
    "describe",
    "detect_format",
    "looks_like_dates",
    "parse_dates",
]

ISO = "ISO8601"
#: Epoch formats and their pandas units.
EPOCH_UNITS = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us", "epoch_ns": "ns"}
# Epoch dates outside these years come from a wrong unit (seconds read as milliseconds
# land in January 1970, milliseconds read as seconds some 50,000 years ahead).
_EPOCH_RANGE = (pd.Timestamp("1971-01-01"), pd.Timestamp("2200-01-01"))
_SHOWN = 5  # offending rows named in an error

_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})"
_TIME = r"[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
# Regular expressions run by Arrow (RE2) on the distinct values of a column.
_ISO_TEXT = rf"^\d{{4}}-\d{{2}}-\d{{2}}(?:{_TIME}(?:\s?{_ZONE})?)?$"
_ZONED = rf":\d{{2}}(?:[.,]\d+)?\s?{_ZONE}$"  # a zone after a time
_NUMBERS = (
    r"^(?P<a>\d{1,4})(?P<s1>[/.-])(?P<b>\d{1,2})(?P<s2>[/.-])(?P<c>\d{1,4})"
    r"(?P<time>[T ]\d{1,2}:\d{2}(?P<sec>:\d{2}(?P<frac>\.\d{1,9})?)?)?$"
)
_NUMBER_PARTS = ("a", "s1", "b", "s2", "c", "time", "sec", "frac")
_NUMBER_TEXT = r"^[+-]?\d+(?:\.\d*)?$"


def check_format(value: str) -> str:
    """``value`` if it is a date format mqlml reads, else ValueError ("must be ...").

    Examples
    --------
    >>> check_format("%d/%m/%Y"), check_format("epoch_ms")
    ('%d/%m/%Y', 'epoch_ms')
    """
    if value == ISO or value in EPOCH_UNITS or "%" in value:
        return value
    raise ValueError(
        f"must be ISO8601, {', '.join(EPOCH_UNITS)} or a strftime pattern such as "
        f"'%d/%m/%Y'; got {value!r}"
    )


def describe(format: str) -> str:
    """The format in words, e.g. ``day/month/year`` or ``epoch seconds``.

    Examples
    --------
    >>> describe("%d/%m/%Y %H:%M"), describe("epoch_ms"), describe("ISO8601")
    ('day/month/year', 'epoch milliseconds', 'year-month-day')
    """
    if format == ISO:
        return "year-month-day"
    if format in EPOCH_UNITS:
        unit = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
        return f"epoch {unit[EPOCH_UNITS[format]]}"
    words = {"d": "day", "m": "month", "b": "month", "B": "month", "Y": "year", "y": "year"}
    fields = [words[c] for c in re.findall(r"%([dmbBYy])", format)]
    return "/".join(fields) if fields else format


@dataclass(frozen=True)
class _Column:
    """How messages name a column: ``time column 'created_at'``, `` of leads.csv``."""

    name: str
    what: str = "date column"
    source: str | None = None

    def __str__(self) -> str:
        return f"{self.what} {self.name!r}".lstrip()

    @property
    def of(self) -> str:
        return f" of {self.source}" if self.source else ""

    def hint(self, example: str) -> str:
        return f"columns.date_formats: {{{self.name}: '{example}'}}"


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _rows(positions: np.ndarray, values: pd.Series) -> str:
    shown = ", ".join(f"row {p + 1}: {_show(values.iloc[p])}" for p in positions[:_SHOWN])
    return shown + (", ..." if len(positions) > _SHOWN else "")


def _typed(values: pd.Series) -> bool:
    """The values are dates already (datetime dtype, or date / datetime objects)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if values.dtype != object:
        return False
    return pd.api.types.infer_dtype(values, skipna=True) in ("date", "datetime", "datetime64")


def _numbers(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    found = pc.match_substring_regex(text, pattern)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


class _Distinct:
    """A text column as its distinct values (stripped; empty and missing tokens are
    missing), the code of each row's value (-1: missing) and the rows of each."""

    def __init__(self, values: pd.Series, missing: Sequence[str]) -> None:
        text = pc.utf8_trim_whitespace(pa.array(values.astype("string"), type=pa.string()))
        blank = pc.or_(pc.equal(text, ""), pc.is_in(text, pa.array(list(missing), pa.string())))
        text = pc.if_else(pc.fill_null(blank, True), None, text)
        if len(pc.unique(text.slice(0, 10_000))) > 5_000:  # nearly all distinct: keep all
            valid = text.is_valid().to_numpy(zero_copy_only=False)
            self.text = text.drop_null()
            self.codes = np.where(valid, np.cumsum(valid) - 1, -1)
        else:
            encoded = pc.dictionary_encode(text)
            self.text = encoded.dictionary
            self.codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        self.values = values
        present = self.codes[self.codes >= 0]
        self.counts = np.bincount(present, minlength=len(self.text))
        self.present = len(present)

    def rows(self, marked: np.ndarray) -> np.ndarray:
        """Row positions whose value is one of the distinct values ``marked``."""
        return np.flatnonzero(np.append(marked, False)[self.codes])


def _epoch_error(values: pd.Series, column: _Column) -> DataError:
    first = int(np.flatnonzero(values.notna().to_numpy())[0])
    return DataError(
        f"{column} must hold dates, not numbers; got {_show(values.iloc[first])} (row "
        f"{first + 1}{column.of}). If these are epoch times, give their unit in the config: "
        f"{column.hint('epoch_s')} (or epoch_ms, epoch_us, epoch_ns)."
    )


def detect_format(
    values: pd.Series,
    column: str,
    *,
    what: str = "date column",
    source: str | None = None,
    missing: Sequence[str] = (),
) -> str:
    """The one format of a date column, read from its values.

    The format of most rows is the column's, and every other row must be in it too; day
    and month are told apart by values above 12.

    Parameters
    ----------
    values : pandas.Series
        The column as read.
    column : str
        Its name, for messages.
    what, source : str
        How messages name the column (``"time column"``) and where it is from (a file).
    missing : sequence of str
        Values that mean missing.

    Returns
    -------
    str
        ``ISO8601`` (also for columns already typed as dates) or a strftime pattern.

    Raises
    ------
    DataError
        For numbers (epoch times need their unit in the config), values in no date format
        mqlml knows, a day/month column that no value tells apart, and rows in another
        format than most (the message names the format, how many rows and the first).

    Examples
    --------
    >>> detect_format(pd.Series(["05/03/2025", "25/12/2024", None]), "created_at")
    '%d/%m/%Y'
    >>> detect_format(pd.Series(["2025-03-05", "2025-03-06T10:00:00"]), "created_at")
    'ISO8601'
    """
    named = _Column(column, what, source)
    if _typed(values) or not values.notna().any():
        return ISO  # no text to read: any format reads it
    if _numbers(values):
        raise _epoch_error(values, named)
    distinct = _Distinct(values, missing)
    format = _detect(distinct, named)
    _read(distinct, format, named, detected=True)  # every row is in it
    return format


def _detect(distinct: _Distinct, column: _Column) -> str:
    text = distinct.text
    if not len(text):
        return ISO
    family, first_field, second_field = _families(text)
    rows = pd.Series(distinct.counts).groupby(family, sort=False).sum().drop("", errors="ignore")
    if rows.empty:
        if _matches(text, _NUMBER_TEXT).all():
            raise _epoch_error(distinct.values, column)
        first = int(distinct.rows(np.ones(len(text), dtype=bool))[0])
        raise DataError(
            f"{column} must hold dates such as 2025-03-01 (ISO 8601) or 01/03/2025; got "
            f"{_show(distinct.values.iloc[first])} (row {first + 1}{column.of}). Export the "
            f"dates as ISO 8601, or give their format in the config, e.g. "
            f"{column.hint('%d %b %Y')}."
        )
    best = str(rows.idxmax())
    if not best.startswith("?"):
        return best
    mine = family == best
    weight = distinct.counts[mine]
    day_first = int(weight[first_field[mine] > 12].sum())
    month_first = int(weight[second_field[mine] > 12].sum())
    day = best[1:].replace("?1", "%d").replace("?2", "%m")
    month = best[1:].replace("?1", "%m").replace("?2", "%d")
    if not day_first and not month_first:
        example = text[int(np.flatnonzero(mine)[0])].as_py()
        raise DataError(
            f"{column} must tell the day from the month; every date{column.of} has both "
            f"fields at 12 or below (e.g. {example!r}: day/month or month/day?). Give its "
            f"format in the config: {column.hint(day)} (or '{month}')."
        )
    return day if day_first >= month_first else month


def _families(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value: its format ("" for none; "?"-prefixed with ?1/?2 where day and
    month are still open) and its first two numeric fields (0 where none)."""
    family = np.full(len(text), "", dtype=object)
    fields = np.zeros((2, len(text)), dtype=np.int64)
    iso = _matches(text, _ISO_TEXT)
    family[iso] = ISO
    rest = np.flatnonzero(~iso)
    found = pc.extract_regex(text.take(rest), _NUMBERS)
    matched = pc.fill_null(found.is_valid(), False).to_numpy(zero_copy_only=False)
    rows, found = rest[matched], found.filter(matched)
    if not len(rows):
        return family, fields[0], fields[1]
    part = {name: pc.struct_field(found, name) for name in _NUMBER_PARTS}
    columns = {
        "a": pc.utf8_length(part["a"]),
        "s1": part["s1"],
        "s2": part["s2"],
        "c": pc.utf8_length(part["c"]),
        "t": pc.utf8_slice_codeunits(part["time"], 0, 1),
        "sec": pc.not_equal(part["sec"], ""),
        "frac": pc.not_equal(part["frac"], ""),
    }
    shape = pd.DataFrame({k: v.to_numpy(zero_copy_only=False) for k, v in columns.items()})
    group = shape.groupby(list(shape.columns), sort=False).ngroup().to_numpy()
    formats = [_family(*key) for key in shape.drop_duplicates().itertuples(index=False)]
    family[rows] = np.array(formats, dtype=object)[group]
    fields[0, rows] = pc.cast(part["a"], pa.int64()).to_numpy()
    fields[1, rows] = pc.cast(part["b"], pa.int64()).to_numpy()
    return family, fields[0], fields[1]


def _family(a: int, s1: str, s2: str, c: int, t: str, sec: bool, frac: bool) -> str:
    """The format of one shape of numeric date (field lengths, separators, time)."""
    time = (t + "%H:%M" + (":%S" if sec else "") + (".%f" if frac else "")) if t else ""
    if s1 != s2:
        return ""
    if a == 4 and c <= 2:
        return f"%Y{s1}%m{s1}%d{time}"
    if a <= 2 and c in (2, 4):
        return f"??1{s1}?2{s1}{'%Y' if c == 4 else '%y'}{time}"
    return ""


def looks_like_dates(values: pd.Series, *, share: float = 0.95) -> bool:
    """True when a column holds dates: typed as dates, or text of which at least ``share``
    of up to 500 distinct values are in a format :func:`detect_format` knows (numbers never
    are: epoch times need their unit in the config).

    Examples
    --------
    >>> looks_like_dates(pd.Series(["04/09/2012 10:30", "2014-03-08", None]))
    True
    >>> looks_like_dates(pd.Series(["Google", "2012-09-04"])), looks_like_dates(pd.Series([1]))
    (False, False)
    """
    if _typed(values):
        return True
    if _numbers(values):
        return False
    text = values.dropna().astype(str).str.strip().unique()[:500]
    if not len(text):
        return False
    family, _, _ = _families(pa.array(text, pa.string()))
    return bool(np.mean(family != "") >= share)


def parse_dates(
    values: pd.Series,
    column: str,
    *,
    format: str | None = None,
    what: str = "date column",
    source: str | None = None,
    missing: Sequence[str] = (),
) -> pd.Series:
    """Read a date column with one format: ``format``, else the one detected.

    Parameters
    ----------
    values : pandas.Series
        The column as read (text, numbers or dates).
    column : str
        Its name, for messages.
    format : str, optional
        ``ISO8601``, a strftime pattern or ``epoch_s`` / ``epoch_ms`` / ``epoch_us`` /
        ``epoch_ns``; default: :func:`detect_format`. Values already typed as dates are
        taken as they are, whatever the format.
    what, source : str
        How messages name the column (``"time column"``) and where it is from (a file).
    missing : sequence of str
        Values that mean missing.

    Returns
    -------
    pandas.Series
        datetime64 without a zone (zoned times converted to UTC), same index and name;
        missing values are NaT.

    Raises
    ------
    DataError
        When a value is not a date in the column's format (the message names the format,
        how many rows are not in it and the first of them), when some dates have a zone
        and others none, for numbers without an epoch format, for epoch dates before 1971
        or after 2199 (a wrong unit) and for an ambiguous day/month column (see
        :func:`detect_format`).

    Examples
    --------
    >>> parse_dates(pd.Series(["05/03/2025", "25/12/2024"]), "created_at").tolist()
    [Timestamp('2025-03-05 00:00:00'), Timestamp('2024-12-25 00:00:00')]
    >>> parse_dates(pd.Series([1741132800]), "created_at", format="epoch_s").tolist()
    [Timestamp('2025-03-05 00:00:00')]
    """
    named = _Column(column, what, source)
    if _typed(values) or not values.notna().any():
        parsed = pd.to_datetime(values)
        if getattr(parsed.dtype, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed
    if format in EPOCH_UNITS:
        return _epoch(values, format, named, missing)
    if _numbers(values):
        raise _epoch_error(values, named)
    distinct = _Distinct(values, missing)
    detected = format is None
    return _read(distinct, format or _detect(distinct, named), named, detected=detected)


def _read(distinct: _Distinct, format: str, column: _Column, *, detected: bool) -> pd.Series:
    """The dates of a text column in ``format``; an error naming the rows not in it."""
    text, values = distinct.text, distinct.values
    parsed = pd.to_datetime(text.to_pandas(), format=format, errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if format == ISO:  # pandas reads "2025-03" or "20250301" as ISO too: not here
        iso = _matches(text, _ISO_TEXT)
        zoned = iso & _matches(text, _ZONED)
        if zoned.any() and (iso & ~zoned).any():
            raise _mixed_zones(distinct, zoned, iso & ~zoned, column)
        bad = bad | ~iso
    if bad.any():
        positions = distinct.rows(bad)
        if detected:
            how = ", the format of most rows"
            fix = (
                "Export every date of the column in one format; if it is not this one, give "
                f"it in the config, e.g. {column.hint('%d/%m/%Y')}."
            )
        else:
            how, fix = "", f"Export every date of the column as {format}."
        raise DataError(
            f"{column} must hold every date in one format; it is read as {format} "
            f"({describe(format)}{how}) and {len(positions):,} of {distinct.present:,} dates"
            f"{column.of} are not ({_rows(positions, values)}). {fix}"
        )
    stamps = parsed.dt.tz_localize(None).to_numpy()
    stamps = np.append(stamps, np.array("NaT", dtype=stamps.dtype))[distinct.codes]
    return pd.Series(stamps, index=values.index, name=values.name)


def _epoch(values: pd.Series, format: str, column: _Column, missing: Sequence[str]) -> pd.Series:
    if _numbers(values):
        numbers, present = values, values.notna().to_numpy()
    else:
        text = values.astype("string").str.strip()
        blank = text.eq("") | text.isin(list(missing))
        present = ~blank.to_numpy(dtype=bool, na_value=True)
        numbers = pd.to_numeric(text.where(present), errors="coerce")
    parsed = pd.to_datetime(numbers, unit=EPOCH_UNITS[format], errors="coerce")
    low, high = _EPOCH_RANGE
    bad = present & ~((parsed >= low) & (parsed < high)).to_numpy(dtype=bool)
    if bad.any():
        positions = np.flatnonzero(bad)
        raise DataError(
            f"{column} must hold {describe(format)} of dates from {low.year} to "
            f"{high.year - 1}; {len(positions):,} of {int(present.sum()):,} values{column.of} "
            f"are not ({_rows(positions, values)}). Check the unit in columns.date_formats: "
            "epoch_s counts seconds (10 digits today), epoch_ms milliseconds (13), epoch_us "
            "microseconds (16), epoch_ns nanoseconds (19)."
        )
    return parsed.rename(values.name)


def _mixed_zones(
    distinct: _Distinct, zoned: np.ndarray, naive: np.ndarray, column: _Column
) -> DataError:
    """The error for dates of which some carry a time zone and some do not."""
    with_zone, without = distinct.rows(zoned), distinct.rows(naive)
    values = distinct.values
    return DataError(
        f"{column} must hold dates all with a time zone or all without; {len(with_zone):,} "
        f"rows{column.of} have one (first row {with_zone[0] + 1}: "
        f"{values.iloc[with_zone[0]]!r}) and others none (row {without[0] + 1}: "
        f"{values.iloc[without[0]]!r}). Export every date in one zone, e.g. UTC."
    )


def as_timestamp(value: Any, name: str) -> pd.Timestamp:
    """One date given by a person or a program (``--as-of``, a cutoff): a datetime, or
    ISO 8601 text; without a zone (zoned times converted to UTC).

    Raises
    ------
    DataError
        For text that is not an ISO 8601 date (``05/03/2025`` is refused: day or month?).

    Examples
    --------
    >>> as_timestamp("2025-03-05", "--as-of"), as_timestamp("2025-03-05T10:00+01:00", "x")
    (Timestamp('2025-03-05 00:00:00'), Timestamp('2025-03-05 09:00:00'))
    """
    problem = f"{name} must be a date such as 2025-03-01 or 2025-03-01T09:30"
    if isinstance(value, str):
        if not _matches(pa.array([value.strip()]), _ISO_TEXT)[0]:
            raise DataError(f"{problem} (ISO 8601); got {value!r}. Write the date year first.")
        value = value.strip()
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise DataError(f"{problem}; got {value!r}. Pass a date.") from None
    if pd.isna(stamp):
        raise DataError(f"{problem}; got {value!r}. Pass a date.")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
