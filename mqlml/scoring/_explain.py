"""Why a lead scores what it scores: fit and engagement sub-scores and reason codes.

Each lead's log-odds is split into one contribution per original column, so that
``base + sum(contributions) == log-odds``. The fit sub-score is the sum over the fit
columns, the engagement sub-score the sum over the engagement columns; reasons name the
columns that push the lead up (``reasons_for``) or down (``reasons_against``) most, in
business terms: ``pricing_page_visits=4 (+0.81)``.

Two attributions for LightGBM models:

``path`` (default)
    Along each tree's decision path, the change in the node value at every split is
    credited to the split's column (Saabas' path attribution). It is exact in the sense
    that matters here (contributions plus base equal the log-odds) and costs one leaf
    look-up per tree: about as fast as predicting, since the per-leaf sums are computed
    once per model.
``shap``
    Exact TreeSHAP values (LightGBM ``pred_contrib``): consistent Shapley values, but
    about 100x slower than predicting (see bench/RESULTS.md).

The logistic model's contributions are its terms (coefficient x value), summed back over
a column's one-hot parts; both attributions give the same for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.scoring._ahead import cores
from mqlml.scoring._kernels import join_reasons, path_sums, reason_slots

__all__ = [
    "PathAttribution",
    "display_values",
    "feature_contributions",
    "format_reasons",
    "group_matrix",
]


@dataclass(frozen=True)
class PathAttribution:
    """Per-leaf path contributions of a fitted LightGBM booster.

    Attributes
    ----------
    tables : list of numpy.ndarray
        One array per tree, shape (n_leaves, n_features): the contributions collected on
        the way from the root to each leaf.
    base : float
        Sum of the trees' root values: the log-odds before any split.
    """

    tables: list[np.ndarray]
    base: float

    @classmethod
    def from_booster(cls, booster, num_iteration: int | None = None) -> PathAttribution:
        """Build the tables from ``booster.dump_model()``."""
        dump = booster.dump_model(num_iteration=num_iteration)
        n_features = len(dump["feature_names"])
        tables, base = [], 0.0
        for tree in dump["tree_info"]:
            root = tree["tree_structure"]
            table = np.zeros((tree["num_leaves"], n_features), dtype=np.float64)
            if "leaf_value" in root:  # a tree with a single leaf
                base += root["leaf_value"]
            else:
                base += root["internal_value"]
                _walk(root, np.zeros(n_features), table)
            tables.append(table)
        return cls(tables=tables, base=float(base))

    def contributions(
        self, leaves: np.ndarray, columns: np.ndarray | None = None, *, threads: int | None = None
    ) -> np.ndarray:
        """Sum the per-leaf contributions of each row's leaves.

        Parameters
        ----------
        leaves : numpy.ndarray of shape (n_rows, n_trees)
            Leaf index per tree (LightGBM ``pred_leaf=True``).
        columns : numpy.ndarray of shape (n_features, k), optional
            A 0/1 matrix that sums features into k groups first (much cheaper for
            sub-scores than per-feature contributions).
        threads : int, optional
            Slices summed at once (every core when omitted).

        Returns
        -------
        numpy.ndarray of shape (n_rows, n_features) or (n_rows, k)
        """
        flat, _ = self._flat
        table = flat if columns is None else np.ascontiguousarray(flat @ columns)
        return self.sum_leaves(leaves, table, threads=threads)

    def sum_leaves(
        self,
        leaves: np.ndarray,
        table: np.ndarray,
        *,
        threads: int | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Sum a row of ``table`` per tree over each row's leaves, in tree order.

        Parameters
        ----------
        leaves : numpy.ndarray of shape (n_rows, n_trees)
            Leaf index per tree.
        table : numpy.ndarray of shape (n_leaves, k)
            One row per leaf of the model, stacked as the path tables (tree by tree,
            leaves in LightGBM's order): the path tables themselves, or leaf values.
        threads : int, optional
            Slices summed at once (every core when omitted).
        out : numpy.ndarray of float64, shape (n_rows, k), C-contiguous, optional
            Written in place and returned (a new array when omitted).

        Returns
        -------
        numpy.ndarray of shape (n_rows, k)
        """
        _, offsets = self._flat
        table = np.ascontiguousarray(table, dtype=np.float64)
        leaves = np.asarray(leaves)
        if out is None:
            out = np.empty((len(leaves), table.shape[1]), dtype=np.float64)
        if not len(offsets) or not len(leaves):
            out[:] = 0.0
            return out
        # The sums in tree order, a slice of rows at a time, the slices on every core
        # (the loop releases the GIL).
        step = max(1, 2_000_000 // len(offsets))

        def fill(start: int) -> None:
            path_sums(leaves[start : start + step], offsets, table, out[start : start + step])

        starts = range(0, len(leaves), step)
        threads = min(len(starts), threads or cores())
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(fill, starts))
        else:
            for start in starts:
                fill(start)
        return out

    @cached_property
    def _flat(self) -> tuple[np.ndarray, np.ndarray]:
        """The tables stacked, and where each tree's rows start."""
        if not self.tables:
            return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
        offsets = np.cumsum([0] + [len(t) for t in self.tables[:-1]]).astype(np.int64)
        return np.ascontiguousarray(np.concatenate(self.tables)), offsets


def _walk(node: dict, acc: np.ndarray, table: np.ndarray) -> None:
    value = node["internal_value"]
    feature = node["split_feature"]
    for side in ("left_child", "right_child"):
        child = node[side]
        child_value = child["leaf_value"] if "leaf_value" in child else child["internal_value"]
        path = acc.copy()
        path[feature] += child_value - value
        if "leaf_value" in child:
            table[child["leaf_index"]] = path
        else:
            _walk(child, path, table)


def group_matrix(features: Sequence[str], groups: dict[str, Sequence[str]]) -> np.ndarray:
    """A 0/1 matrix (n_features, n_groups) that sums per-feature columns into groups.

    Examples
    --------
    >>> group_matrix(["a", "b", "c"], {"fit": ["a"], "engagement": ["b", "c"]}).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    index = {name: i for i, name in enumerate(features)}
    matrix = np.zeros((len(features), len(groups)))
    for j, members in enumerate(groups.values()):
        matrix[[index[m] for m in members], j] = 1.0
    return matrix


def display_values(values: pd.Series) -> pa.Array:
    """Values as a person reads them: numbers rounded, missing as ``missing``.

    Whole numbers show without decimals, others with two (``0.085833`` reads ``0.09``),
    or with the first significant digit when two decimals would show zero (``0.001``).

    Examples
    --------
    >>> display_values(pd.Series([4.0, 0.085833, 0.0012, None, 12345.678])).to_pylist()
    ['4', '0.09', '0.001', 'missing', '12345.68']
    >>> display_values(pd.Series(["EMEA", None, True])).to_pylist()
    ['EMEA', 'missing', 'True']
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        flags = pa.array(values, from_pandas=True, type=pa.bool_())
        text = pc.if_else(flags, "True", "False")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(
        values.dtype, pd.CategoricalDtype
    ):
        x = values.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            digits = np.maximum(2, -np.floor(np.log10(np.abs(x))))
        digits = np.where(np.isfinite(digits), digits, 2)
        scale = 10.0**digits
        rounded = np.where(np.isfinite(x), np.round(x * scale) / scale, x)
        rounded = np.where(rounded == 0, 0.0, rounded)  # no "-0"
        text = pa.array(rounded, from_pandas=True).cast(pa.string())
    elif pd.api.types.is_string_dtype(values.dtype) or isinstance(
        values.dtype, pd.CategoricalDtype
    ):
        try:
            text = pa.array(values, from_pandas=True).cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            text = _python_strings(values)
    else:
        text = _python_strings(values)
    return pc.fill_null(text, "missing")


def _python_strings(values: pd.Series) -> pa.Array:
    """``str`` of each value (mixed or object columns), missing as null."""
    objects = values.astype(object).to_numpy()
    missing = pd.isna(objects)
    return pa.array(
        [None if m else str(v) for v, m in zip(objects, missing, strict=True)],
        type=pa.string(),
    )


def _pick(raw, name: str, rows: np.ndarray) -> pd.Series:
    """Column ``name`` at ``rows`` of ``raw`` (a DataFrame, or anything with ``pick``)."""
    pick = getattr(raw, "pick", None)
    if pick is not None:
        return pick(name, rows)
    return raw[name].iloc[rows].reset_index(drop=True)


def format_reasons(
    contributions: np.ndarray,
    raw: pd.DataFrame,
    features: Sequence[str],
    *,
    top: int = 3,
    as_arrow: bool = False,
    positions: np.ndarray | None = None,
    length: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Format the ``top`` reasons for and against each row.

    Parameters
    ----------
    contributions : numpy.ndarray of shape (n_rows, n_features)
        Per-feature contributions to the log-odds.
    raw : pandas.DataFrame
        The same rows as read (values are shown as the user knows them, rounded as in
        :func:`display_values`); only the values a reason shows are read, through
        ``raw.pick(name, rows)`` when ``raw`` has it (a column at some rows, as a Series).
    features : sequence of str
        Column names in the order of ``contributions``.
    top : int
        Reasons per side.
    as_arrow : bool
        Return Arrow string arrays instead of object arrays (cheaper to write).
    positions : numpy.ndarray of int, optional
        Increasing output row of each row of ``contributions``: the result then has
        ``length`` rows, empty where no row of ``contributions`` lands.
    length : int
        Rows of the result with ``positions``.

    Returns
    -------
    (reasons_for, reasons_against) : two object arrays of strings
        ``"col=value (+0.81); col=value (+0.22)"``, strongest first; empty when none.
        A contribution that rounds to 0.00 is no reason and is left out.

    Examples
    --------
    >>> raw = pd.DataFrame({"visits": [4.0], "country": [None], "days": [0.085833]})
    >>> f, a = format_reasons(np.array([[0.81, -0.2, 0.004]]), raw, ["visits", "country", "days"])
    >>> f[0], a[0]
    ('visits=4 (+0.81)', 'country=missing (-0.20)')
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    n, k = contributions.shape
    length = n if positions is None else length
    top = min(top, k)
    if n == 0 or top == 0:
        if as_arrow:
            return pa.array([""] * length, pa.string()), pa.array([""] * length, pa.string())
        return np.full(length, "", dtype=object), np.full(length, "", dtype=object)
    # The reasons shown, both sides: row, column and value of each, row by row, strongest
    # first within a row.
    shown = [reason_slots(contributions, top, positive=positive) for positive in (True, False)]
    rows = np.concatenate([s[0] for s in shown])
    columns = np.concatenate([s[1] for s in shown])
    # Each value shown is displayed once, a column at a time (its reasons grouped by a
    # stable sort, a radix sort on 16-bit keys); reason r shows texts[index[r]].
    keys = columns.astype(np.int16) if k < 2**15 else columns
    by_column = np.argsort(keys, kind="stable")
    starts = np.flatnonzero(np.diff(columns[by_column], prepend=-1))
    groups = np.split(by_column, starts[1:]) if len(by_column) else []
    blocks = [display_values(_pick(raw, features[columns[at[0]]], rows[at])) for at in groups]
    texts = pa.concat_arrays(blocks) if blocks else pa.array([], pa.string())
    index = np.empty_like(by_column)
    index[by_column] = np.arange(len(by_column))
    prefixes = [f"{name}=" for name in features]
    out, start = [], 0
    for _, side, values, counts in shown:
        if positions is not None:
            counts, spread = np.zeros(length, dtype=np.int64), counts
            counts[positions] = spread
        joined = join_reasons(
            counts, side, values, prefixes, texts, index[start : start + len(side)]
        )
        start += len(side)
        out.append(
            joined if as_arrow else np.asarray(joined.to_numpy(zero_copy_only=False), object)
        )
    return out[0], out[1]


def feature_contributions(
    model, X: pd.DataFrame, *, method: str = "path"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-column contributions to each lead's log-odds, and the base per lead.

    Parameters
    ----------
    model : mqlml.model.LeadScorer
        A fitted model.
    X : pandas.DataFrame
        Coerced features (``LeadSchema.features_frame``).
    method : {"path", "shap"}
        Path attribution (fast) or exact TreeSHAP; the same for the logistic model.

    Returns
    -------
    (contributions, base)
        ``contributions.sum(axis=1) + base`` equals ``model.decision_function(X)``.
    """
    if method not in ("path", "shap"):
        raise ValueError(f"method must be 'path' or 'shap'; got {method!r}.")
    if model.model != "lightgbm" or method == "shap":
        return model.contributions(X)
    path = PathAttribution.from_booster(model.booster_, model.best_iteration_)
    values = path.contributions(model.leaf_indices(X))
    names = list(model.feature_names_in_)
    return pd.DataFrame(values, index=X.index, columns=names), np.full(len(X), path.base)
