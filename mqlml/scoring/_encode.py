"""Arrow columns straight into a LightGBM scorer's input matrix, without pandas.

The model's input is a float64 matrix with one column per feature in the fitted order:
numbers as floats (missing as NaN), yes/no columns as 0.0/1.0, categorical columns as
the code of their level among the fitted levels (a value equal to a level, else one
spelling the same number: :func:`mqlml.io.match_levels`), every other value (unseen
in training, too rare there, or the literal ``__rare__``) as the rare level's code,
missing as NaN. That is what ``LeadScorer._prepare`` followed by
``mqlml.scoring.float_matrix`` makes of a pandas frame, and what LightGBM itself makes
of pandas categories.

A text column (plain or dictionary-encoded Arrow strings) is dictionary-encoded once per
batch and its few distinct values looked up in the fitted levels, so a row costs one
gather. Columns of other types (numbers declared categorical, whose level text comes
from :func:`mqlml.io._levels.level_text`, Arrow types pandas would convert differently) go
through the pandas path column by column, so the codes are the same either way; so do
the rare yes/no columns whose values are not all understood, so the error names the row
as it does there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.io._levels import match_levels
from mqlml.leads._schema import NO_WORDS, YES_WORDS, coerce_column
from mqlml.model._estimator import encode_levels, float_column

__all__ = ["ArrowEncoder", "Encoded"]


@dataclass
class Encoded:
    """One batch encoded: the model's matrix and what was odd in it.

    Attributes
    ----------
    matrix : numpy.ndarray of shape (n_rows, n_features)
        C-contiguous float64, columns in the model's fitted order.
    rare : dict
        Categorical feature -> rows whose (present) value maps to the rare level.
    filled : dict
        Feature -> whether any row has a value.
    non_finite : dict
        Numeric feature -> rows holding ``inf`` or ``-inf``.
    """

    matrix: np.ndarray
    rare: dict[str, int]
    filled: dict[str, bool]
    non_finite: dict[str, int]


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


class ArrowEncoder:
    """Encode Arrow columns into a fitted LightGBM scorer's input matrix.

    Parameters
    ----------
    model : mqlml.model.LeadScorer
        A fitted scorer with ``model="lightgbm"``.
    kinds : mapping
        Feature -> ``"categorical"``, ``"numeric"`` or ``"boolean"`` (the bundle's schema).
    missing_tokens : sequence of str
        Values that mean missing (already blanked by the caller in text columns; they
        are recognised again here after trimming and lower-casing yes/no text, as the
        pandas path does).

    Examples
    --------
    >>> import numpy as np, pandas as pd, pyarrow as pa
    >>> from mqlml.model import LeadScorer
    >>> X = pd.DataFrame({"tier": ["gold", "silver"] * 100, "visits": np.arange(200.0) % 5})
    >>> m = LeadScorer(n_estimators=5, min_category_count=1).fit(X, np.arange(200) % 3 == 0)
    >>> enc = ArrowEncoder(m, {"tier": "categorical", "visits": "numeric"})
    >>> out = enc.encode({"tier": pa.array(["silver", None, "new"]),
    ...                   "visits": pa.array([1.0, None, 3.0])})
    >>> out.matrix.tolist(), out.rare
    ([[1.0, 1.0], [nan, nan], [2.0, 3.0]], {'tier': 1})
    """

    def __init__(self, model, kinds: Mapping[str, str], missing_tokens: Sequence[str] = ()):
        self.model = model
        self.names = list(model._names_)
        self.kinds = {name: kinds[name] for name in self.names}
        self.tokens = list(missing_tokens)
        self._lowered_tokens = pa.array({str(t).strip().lower() for t in self.tokens}, pa.string())
        self.dtypes: dict[str, pd.CategoricalDtype] = dict(model._cat_dtypes_)
        for name in self.names:
            if self.kinds[name] == "categorical" and name not in self.dtypes:
                # a bundle whose model learned a declared category as numbers (before
                # mqlml.io._levels): it is scored as numbers, as the pandas path does
                self.kinds[name] = "numeric"
        self.text_levels = {
            name: all(isinstance(v, str) for v in dtype.categories)
            for name, dtype in self.dtypes.items()
        }

    def encode(self, columns: Mapping[str, pa.Array], *, row_offset: int = 0) -> Encoded:
        """Encode one batch (every feature present in ``columns``, equal lengths).

        Raises
        ------
        DataError
            A yes/no column holds a value that is none (the row named, as in
            :meth:`mqlml.leads.LeadSchema.features_frame`).
        """
        n = len(columns[self.names[0]]) if self.names else 0
        matrix = np.empty((n, len(self.names)), dtype=np.float64)
        rare: dict[str, int] = {}
        non_finite: dict[str, int] = {}
        filled: dict[str, bool] = {}
        for j, name in enumerate(self.names):
            column = columns[name]
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            kind = self.kinds[name]
            if kind == "categorical":
                values, rare[name] = self._categorical(name, column, row_offset)
            elif kind == "numeric":
                values = self._numeric(name, column, row_offset)
                non_finite[name] = int(np.isinf(values).sum())
            else:
                values = self._boolean(name, column, row_offset)
            matrix[:, j] = values
            filled[name] = bool(n) and not bool(np.isnan(values).all())
        return Encoded(matrix, rare, filled, non_finite)

    # ------------------------------------------------------------------ kinds
    def _categorical(self, name: str, column: pa.Array, offset: int) -> tuple[np.ndarray, int]:
        categories = self.dtypes[name].categories
        rare_code = len(categories) - 1
        kind = column.type
        text = _is_text(kind) or (
            pa.types.is_dictionary(kind) and _is_text(kind.value_type) and not kind.ordered
        )
        if not self.text_levels[name] or not text:
            return self._categorical_pandas(name, column, offset, rare_code)
        encoded = column if pa.types.is_dictionary(kind) else pc.dictionary_encode(column)
        levels = encoded.dictionary.to_pylist()
        tokens = set(self.tokens)
        # one entry per distinct value, then NaN for null indices
        found = match_levels(levels, categories).astype(np.float64)
        found[found < 0] = rare_code
        blank = [v is None or v in tokens for v in levels]
        table = np.append(np.where(blank, np.nan, found), np.nan)
        indices = pc.fill_null(encoded.indices, len(levels)).to_numpy()
        values = table[indices]
        return values, int(np.count_nonzero(values == rare_code))

    def _categorical_pandas(self, name, column, offset, rare_code) -> tuple[np.ndarray, int]:
        series = coerce_column(column.to_pandas(), "categorical", name, self.tokens, offset)
        codes = encode_levels(series, self.dtypes[name]).codes
        values = codes.astype(np.float64)
        values[codes < 0] = np.nan
        return values, int(np.count_nonzero(codes == rare_code))

    def _numeric(self, name: str, column: pa.Array, offset: int) -> np.ndarray:
        kind = column.type
        if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind):
            if not pa.types.is_float64(kind):
                column = pc.cast(column, pa.float64())
            return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        series = coerce_column(column.to_pandas(), "numeric", name, self.tokens, offset)
        return float_column(series, name)

    def _boolean(self, name: str, column: pa.Array, offset: int) -> np.ndarray:
        kind = column.type
        if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
            values = np.asarray(
                pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
            if np.all(np.isnan(values) | (values == 0.0) | (values == 1.0)):
                return values
        elif _is_text(kind):
            text = pc.utf8_lower(pc.utf8_trim_whitespace(column))
            yes = pc.fill_null(pc.is_in(text, value_set=pa.array(sorted(YES_WORDS))), False)
            no = pc.fill_null(pc.is_in(text, value_set=pa.array(sorted(NO_WORDS))), False)
            token = pc.fill_null(pc.is_in(text, value_set=self._lowered_tokens), False)
            known = pc.or_(pc.or_(pc.or_(yes, no), token), pc.is_null(column))
            if pc.all(known).as_py() is not False:
                yes, no = yes.to_numpy(zero_copy_only=False), no.to_numpy(zero_copy_only=False)
                return np.where(yes, 1.0, np.where(no, 0.0, np.nan))
        # unusual types, or values that are no yes/no: the pandas path (and its error)
        series = coerce_column(column.to_pandas(), "boolean", name, self.tokens, offset)
        return float_column(series, name)
