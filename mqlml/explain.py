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
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PathAttribution", "feature_contributions", "format_reasons", "group_matrix"]


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

    def contributions(self, leaves: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Sum the per-leaf contributions of each row's leaves.

        Parameters
        ----------
        leaves : numpy.ndarray of shape (n_rows, n_trees)
            Leaf index per tree (LightGBM ``pred_leaf=True``).
        columns : numpy.ndarray of shape (n_features, k), optional
            A 0/1 matrix that sums features into k groups first (much cheaper for
            sub-scores than per-feature contributions).

        Returns
        -------
        numpy.ndarray of shape (n_rows, n_features) or (n_rows, k)
        """
        tables = self.tables if columns is None else [t @ columns for t in self.tables]
        width = tables[0].shape[1] if tables else 0
        out = np.zeros((len(leaves), width), dtype=np.float64)
        if not tables or not len(leaves):
            return out
        # Per output column, one 1-d gather per tree into a contiguous accumulator: the
        # fastest of the layouts measured (2-d row gathers, one 3-d gather, np.take).
        flat = np.concatenate(tables)
        offsets = np.cumsum([0] + [len(t) for t in tables[:-1]])
        by_tree = np.ascontiguousarray(leaves.T)
        for j in range(width):
            values = np.ascontiguousarray(flat[:, j])
            column = out[:, j].copy()
            for t, offset in enumerate(offsets):
                column += values[offset + by_tree[t]]
            out[:, j] = column
        return out


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


def _display(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_float_dtype(values):
        text = values.map(lambda v: f"{v:g}")
    else:
        text = values.astype(object).map(str)
    return text.where(values.notna(), "missing").to_numpy(dtype=object)


def format_reasons(
    contributions: np.ndarray, raw: pd.DataFrame, features: Sequence[str], *, top: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Format the ``top`` reasons for and against each row.

    Parameters
    ----------
    contributions : numpy.ndarray of shape (n_rows, n_features)
        Per-feature contributions to the log-odds.
    raw : pandas.DataFrame
        The same rows as read (values are shown as the user knows them).
    features : sequence of str
        Column names in the order of ``contributions``.
    top : int
        Reasons per side.

    Returns
    -------
    (reasons_for, reasons_against) : two object arrays of strings
        ``"col=value (+0.81); col=value (+0.22)"``, strongest first; empty when none.

    Examples
    --------
    >>> raw = pd.DataFrame({"visits": [4.0], "country": [None]})
    >>> f, a = format_reasons(np.array([[0.81, -0.2]]), raw, ["visits", "country"])
    >>> f[0], a[0]
    ('visits=4 (+0.81)', 'country=missing (-0.20)')
    """
    n, k = contributions.shape
    top = min(top, k)
    labels = np.empty((n, k), dtype=object)
    for j, name in enumerate(features):
        labels[:, j] = name + "=" + _display(raw[name].reset_index(drop=True))
    order = np.argsort(-contributions, axis=1, kind="stable")
    rows = np.arange(n)[:, None]

    def pick(columns: np.ndarray, positive: bool) -> np.ndarray:
        values = contributions[rows, columns]
        keep = values > 0 if positive else values < 0
        names = labels[rows, columns]
        out = np.empty(n, dtype=object)
        for i in range(n):
            out[i] = "; ".join(
                f"{names[i, j]} ({values[i, j]:+.2f})" for j in range(top) if keep[i, j]
            )
        return out

    return pick(order[:, :top], True), pick(order[:, ::-1][:, :top], False)


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
