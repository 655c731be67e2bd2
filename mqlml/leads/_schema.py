"""LeadSchema: which columns are the id, time, label, fit and engagement features.

A schema is resolved once from the config and the training frame (kinds inferred where
the config does not give them), saved in the bundle, and used to check and coerce every
frame that is scored later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.errors import ConfigError, DataError, MissingColumnError
from mqlml.io._dates import detect_format, parse_dates
from mqlml.io._levels import level_text
from mqlml.io._readers import binary_label

__all__ = ["NO_WORDS", "ROW_ID", "YES_WORDS", "LeadSchema", "coerce_column", "fingerprint"]

Kind = Literal["categorical", "numeric", "boolean"]
ROW_ID = "row"
"""Name of the id column made from row numbers (1-based) when the config names none."""

#: The spellings of yes and of no in a yes/no (boolean) column, compared in lower case.
YES_WORDS = {"yes", "true", "y", "t", "1", "1.0"}
NO_WORDS = {"no", "false", "n", "f", "0", "0.0"}


@dataclass(frozen=True)
class LeadSchema:
    """The columns of a lead table and the kind of each feature.

    Attributes
    ----------
    id_column : str or None
        Lead id column; None means the 1-based row number is the id (column ``row``).
    label_column : str
        The outcome column (converted or not).
    time_column : str or None
        Creation time, used for time-ordered splits and the date range.
    fit, engagement : tuple of str
        Feature groups: who the lead is, and what the lead did.
    kinds : dict
        Feature -> ``"categorical"``, ``"numeric"`` or ``"boolean"``.
    positive_labels : tuple or None
        Label values that count as converted (None: yes/true/1).
    missing_tokens : tuple of str
        Values read as missing.
    date_formats : dict
        Time and conversion-time column -> the one format its dates are read with
        (:mod:`mqlml.io`): from ``columns.date_formats``, else detected in training.
    notes : tuple of str
        What was inferred, in plain words (shown by ``mqlml check``).
    """

    id_column: str | None
    label_column: str
    time_column: str | None
    fit: tuple[str, ...]
    engagement: tuple[str, ...]
    kinds: dict[str, Kind]
    positive_labels: tuple | None = None
    missing_tokens: tuple[str, ...] = ()
    date_formats: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def features(self) -> list[str]:
        """All features, fit first then engagement."""
        return [*self.fit, *self.engagement]

    @property
    def id_name(self) -> str:
        """The id column as written in outputs."""
        return self.id_column or ROW_ID

    # -- building -------------------------------------------------------------------
    @classmethod
    def resolve(cls, config: ProjectConfig, frame: pd.DataFrame) -> LeadSchema:
        """Resolve a config against a training frame, inferring what it leaves open.

        Columns that are neither the id, time, label, conversion time nor excluded are
        features. With both groups set to ``infer``, categorical columns are fit features
        and numeric or yes/no columns are engagement features; with one group listed,
        the other group takes the rest. The time and conversion-time columns get their
        format from ``columns.date_formats`` or, where it has none, from their values
        (:func:`mqlml.io.detect_format`).

        Raises
        ------
        MissingColumnError
            When a configured column is not in the frame.
        ConfigError
            When the id or time column is listed as a feature, a column is both excluded
            and a feature, or no feature is left.
        DataError
            When the time or conversion-time column holds numbers without an epoch format,
            no known date format or day/month dates no value tells apart.
        """
        cols, feats = config.columns, config.features
        roles = (("id", cols.id), ("label", cols.label), ("time", cols.time))
        for role, name in (
            *roles,
            ("account", cols.account),
            ("account_label", cols.account_label),
        ):
            if name is not None and name not in frame.columns:
                raise MissingColumnError(
                    f"columns.{role} must name a column of the data; got {name!r}, which is "
                    f"not among {_preview(frame.columns)}. Fix columns.{role} in the config."
                )
        # An account id identifies a company, like a lead id: never a feature.
        reserved = {
            c
            for c in (
                cols.id,
                cols.label,
                cols.time,
                cols.converted_at,
                cols.account,
                cols.account_label,
            )
            if c
        }
        excluded = set(config.excluded_columns)
        listed = [c for group in (feats.fit, feats.engagement) if group != "infer" for c in group]
        for name in listed:
            if name in reserved:
                raise ConfigError(
                    f"features must not include the id, time or label column; got {name!r}. "
                    "Remove it from features.fit / features.engagement."
                )
            if name in excluded:
                raise ConfigError(
                    f"column {name!r} must be either excluded or a feature, not both. "
                    "Remove it from exclude or from the feature lists."
                )
        missing = [c for c in listed if c not in frame.columns]
        if missing:
            raise MissingColumnError(
                f"feature columns must exist in the data; missing {missing}. "
                "Fix the feature lists in the config or the input file."
            )
        candidates = [c for c in frame.columns if c not in reserved and c not in excluded]
        overrides = {
            **dict.fromkeys(feats.categorical, "categorical"),
            **dict.fromkeys(feats.numeric, "numeric"),
            **dict.fromkeys(feats.boolean, "boolean"),
        }
        notes: list[str] = []
        pool = listed if "infer" not in (feats.fit, feats.engagement) else candidates
        for c in pool:
            if c not in overrides:
                _check_mostly_numeric(frame[c], c, config.missing_tokens)
        kinds = {c: overrides.get(c) or _infer_kind(frame[c]) for c in pool}
        notes += [f"{c}: {k} (inferred)" for c, k in kinds.items() if c not in overrides]
        if feats.fit == "infer" and feats.engagement == "infer":
            fit = [c for c in candidates if kinds[c] == "categorical"]
            engagement = [c for c in candidates if kinds[c] != "categorical"]
            notes.append("fit = categorical columns, engagement = numeric and yes/no columns")
        elif feats.fit == "infer":
            engagement = list(feats.engagement)
            fit = [c for c in candidates if c not in engagement]
        elif feats.engagement == "infer":
            fit = list(feats.fit)
            engagement = [c for c in candidates if c not in fit]
        else:
            fit, engagement = list(feats.fit), list(feats.engagement)
        if not fit and not engagement:
            raise ConfigError(
                "features must leave at least one column to learn from; got none after "
                f"removing id, time, label and {len(excluded)} excluded columns. "
                "List features in the config."
            )
        kinds = {c: kinds[c] for c in [*fit, *engagement]}
        formats = {}
        for name in (cols.time, cols.converted_at):
            if name is None or name not in frame.columns:
                continue  # a missing converted_at column is named where it is read
            # every row is checked here, so that an error names the file
            what = "time column" if name == cols.time else "converted_at column"
            where = {"what": what, "source": _source(config), "missing": config.missing_tokens}
            formats[name] = cols.date_formats.get(name)
            if formats[name] is None:
                formats[name] = detect_format(frame[name], name, **where)
                notes.append(f"{name}: dates read as {formats[name]} (detected)")
            else:
                parse_dates(frame[name], name, format=formats[name], **where)
        return cls(
            id_column=cols.id,
            label_column=cols.label,
            time_column=cols.time,
            fit=tuple(fit),
            engagement=tuple(engagement),
            kinds=kinds,
            positive_labels=tuple(cols.positive_labels) if cols.positive_labels else None,
            missing_tokens=tuple(config.missing_tokens),
            date_formats=formats,
            notes=tuple(notes),
        )

    # -- using ----------------------------------------------------------------------
    def check_columns(self, columns: Sequence[str], *, label: bool = False) -> None:
        """Raise MissingColumnError naming every needed column absent from ``columns``."""
        needed = [*([self.id_column] if self.id_column else []), *self.features]
        if label:
            needed.append(self.label_column)
        absent = [c for c in needed if c not in set(columns)]
        if absent:
            raise MissingColumnError(
                f"the leads must have every column the model was trained on; missing "
                f"{absent}. Add them to the input (empty values are allowed)."
            )

    def ids(self, frame: pd.DataFrame, *, offset: int = 0) -> pd.Series:
        """The lead ids of a frame (row numbers from ``offset + 1`` without an id column)."""
        if self.id_column:
            return frame[self.id_column].reset_index(drop=True)
        return pd.Series(np.arange(offset + 1, offset + len(frame) + 1), name=ROW_ID)

    def features_frame(self, frame: pd.DataFrame, *, row_offset: int = 0) -> pd.DataFrame:
        """Select and coerce the feature columns of ``frame`` (a new frame, same order).

        Numeric columns become float64, yes/no columns 0.0/1.0, categoricals text (numbers
        as their level text, ``3.0`` -> ``"3"``, see :mod:`mqlml.io`, whatever their
        storage type); missing tokens and NaN stay missing.

        Raises
        ------
        MissingColumnError
            When a feature column is absent.
        DataError
            When a numeric or yes/no column holds a value that is not one (the message
            names the column, the first bad row and value).
        """
        self.check_columns(frame.columns)
        out = {}
        for name in self.features:
            out[name] = coerce_column(
                frame[name], self.kinds[name], name, self.missing_tokens, row_offset
            )
        return pd.DataFrame(out, index=frame.index)

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """The 0/1 outcome of every row (see :func:`mqlml.io.binary_label`)."""
        self.check_columns(frame.columns, label=True)
        return binary_label(frame[self.label_column], positive=self.positive_labels)

    def times(self, frame: pd.DataFrame) -> pd.Series | None:
        """The creation times as datetime64, or None without a time column.

        Read with the column's format (:attr:`date_formats`; detected when it has none).

        Raises
        ------
        DataError
            When a value is not a date in that format (the message names the rows), or a
            row has no date.
        """
        if not self.time_column:
            return None
        parsed = self.dates(frame, self.time_column, what="time column")
        if parsed.isna().any():
            raise DataError(
                f"time column {self.time_column!r} must have a date in every row; "
                f"{int(parsed.isna().sum())} rows have none. Fill or drop them."
            )
        return parsed

    def dates(self, frame: pd.DataFrame, column: str, *, what: str = "date column") -> pd.Series:
        """A date column of ``frame`` read with its format (see :func:`mqlml.io.parse_dates`)."""
        return parse_dates(
            frame[column],
            column,
            format=self.date_formats.get(column),
            what=what,
            missing=self.missing_tokens,
        )

    def check_unique_ids(self, frame: pd.DataFrame) -> None:
        """Raise DataError when the id column repeats a value."""
        if not self.id_column:
            return
        dup = frame[self.id_column].duplicated(keep=False)
        if dup.any():
            example = frame[self.id_column][dup].iloc[0]
            raise DataError(
                f"id column {self.id_column!r} must be unique; {int(dup.sum())} rows share "
                f"an id (e.g. {example!r}). Remove duplicated leads before training."
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (for the bundle manifest)."""
        out = asdict(self)
        out["positive_labels"] = list(self.positive_labels) if self.positive_labels else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeadSchema:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        for key in ("fit", "engagement", "missing_tokens", "notes"):
            data[key] = tuple(data.get(key) or ())
        data["date_formats"] = dict(data.get("date_formats") or {})  # older bundles: none
        if data.get("positive_labels") is not None:
            data["positive_labels"] = tuple(data["positive_labels"])
        return cls(**data)


def fingerprint(features: pd.DataFrame, labels: np.ndarray) -> str:
    """sha256 of the feature values and labels (ties a bundle to the data it saw)."""
    hashed = pd.util.hash_pandas_object(features.assign(__label=labels), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()


def _preview(columns: Sequence[str], n: int = 8) -> str:
    names = list(columns)
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return f"{names[:n]}{more}"


def _source(config: ProjectConfig) -> str | None:
    """The leads file a config names, for messages (None for frames given in Python)."""
    path = str(config.data.path)
    return None if path == "-" else path


#: At least this share of a text column's values are numbers: a numeric column with typos.
_MOSTLY_NUMERIC = 0.9


def _check_mostly_numeric(values: pd.Series, name: str, tokens: Sequence[str]) -> None:
    """Refuse a text column whose values are nearly all numbers (a few typos would
    otherwise silently make it categorical)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    present = values.notna() & ~values.isin(list(tokens))
    if present.sum() < 20:
        return
    # each distinct value is read once (a text column holds few of them)
    codes, distinct = pd.factorize(values.where(present))
    is_number = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce").notna()
    bad = present & ~np.append(is_number.to_numpy(), False)[codes]
    share = 1.0 - bad.sum() / present.sum()
    if bad.any() and share >= _MOSTLY_NUMERIC:
        rows = (np.flatnonzero(bad.to_numpy())[:5] + 1).tolist()
        examples = sorted({str(v) for v in values[bad].iloc[:5]})
        raise DataError(
            f"column {name!r} must be numbers or categories, not numbers with a few "
            f"exceptions; {int(present.sum() - bad.sum()):,} of its {int(present.sum()):,} "
            f"values are numbers but {int(bad.sum())} are not (rows {rows}: {examples}). "
            "Fix those values, add them to missing_tokens, or declare the column in "
            "features.categorical."
        )


def _infer_kind(values: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    distinct = values.dropna().unique()
    if pd.api.types.is_numeric_dtype(values):
        return "boolean" if set(distinct.tolist()) <= {0, 1} and len(distinct) == 2 else "numeric"
    lowered = {str(v).strip().lower() for v in distinct}
    if (
        len(lowered) == 2
        and (lowered <= YES_WORDS | NO_WORDS)
        and lowered & YES_WORDS
        and lowered & NO_WORDS
    ):
        return "boolean"
    return "categorical"


def coerce_column(values: pd.Series, kind: Kind, name: str, tokens: Sequence[str], offset: int):
    """One column as its kind reads it: level text, or floats (yes/no as 1.0/0.0), with the
    missing tokens missing; a value of another kind is a DataError naming its row (the
    column's first row is row ``offset + 1``)."""
    if kind == "categorical":  # text as read, numbers as their level text, tokens blanked
        values = level_text(values)
        if tokens and len(values):
            blank = values.isin(list(tokens))
            if blank.any():
                return values.mask(blank)
        return values
    if kind == "numeric":
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return values.astype("float64")
        numbers = pd.to_numeric(values.mask(values.isin(list(tokens))), errors="coerce")
        _raise_bad(
            values,
            numbers.isna() & values.notna() & ~values.isin(list(tokens)),
            name,
            "numbers",
            offset,
        )
        return numbers.astype("float64")
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        _raise_bad(values, values.notna() & ~numbers.isin([0.0, 1.0]), name, "0/1", offset)
        return numbers
    text = values.astype("string").str.strip().str.lower()
    numbers = pd.Series(
        np.where(text.isin(YES_WORDS), 1.0, np.where(text.isin(NO_WORDS), 0.0, np.nan)),
        index=values.index,
    )
    known = values.isna().to_numpy() | text.isin(list(tokens)).to_numpy() | numbers.notna()
    _raise_bad(values, ~known, name, "yes/no, true/false or 0/1", offset)
    return numbers.astype("float64")


def _raise_bad(values: pd.Series, bad: pd.Series, name: str, what: str, offset: int) -> None:
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"column {name!r} must hold {what}; row {offset + pos + 1} has "
            f"{values.iloc[pos]!r} ({int(bad.sum())} such rows). Fix the values or declare "
            f"the column categorical in features.categorical."
        )
