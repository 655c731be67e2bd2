"""A LightGBM model's text, rewritten for the compiled predictors (:mod:`mqlml.scoring._predict`).

:class:`ModelText` reads the trees and writes them back with other leaf values: the path
attribution's per-leaf values, several outputs at once, or the leaves' numbers packed into
one output; subtrees whose leaves all hold one value are pruned to a leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ModelText"]


class ModelText:
    """A LightGBM model text, split into its header, its trees and the rest."""

    def __init__(self, text: str) -> None:
        lines = text.split("\n")
        starts = [i for i, line in enumerate(lines) if line.startswith("Tree=")]
        end = lines.index("end of trees")
        self.header = [line for line in lines[: starts[0] if starts else end]]
        self.footer = lines[end:]
        self.trees: list[dict[str, str]] = []
        for a, b in zip(starts, [*starts[1:], end], strict=True):
            fields = {}
            for line in lines[a + 1 : b]:
                if "=" in line:
                    key, value = line.split("=", 1)
                    fields[key] = value
            self.trees.append(fields)

    def _render(self, header: Sequence[str], trees: Sequence[dict[str, str]]) -> str:
        # tree_sizes would no longer match the trees: readers then parse them in order.
        out = [line for line in header if not line.startswith("tree_sizes=")]
        if out and out[-1] != "":
            out.append("")
        for i, fields in enumerate(trees):
            out.append(f"Tree={i}")
            out += [f"{k}={v}" for k, v in fields.items()]
            out.append("")
            out.append("")
        return "\n".join(out + self.footer)

    def with_leaf_values(self, values: Sequence[np.ndarray]) -> str:
        """The same ensemble with other leaf values (one array per tree).

        A subtree whose leaves all get the same value becomes one leaf (the sub-score of
        a group does not change below the last split on one of its columns), so the
        result walks fewer nodes than the model.
        """
        trees = [
            _pruned(fields, np.ravel(leaf)) for fields, leaf in zip(self.trees, values, strict=True)
        ]
        return self._render(self.header, trees)

    def _multiclass_header(self, k: int) -> list[str]:
        """The header of a multiclass model with ``k`` outputs (trees per iteration)."""
        header = []
        for line in self.header:
            if line.startswith("num_class="):
                line = f"num_class={k}"
            elif line.startswith("num_tree_per_iteration="):
                line = f"num_tree_per_iteration={k}"
            elif line.startswith("objective="):
                line = f"objective=multiclass num_class:{k}"
            header.append(line)
        return header

    def multi_output(self, values: Sequence[Sequence[np.ndarray]]) -> str:
        """A multiclass ensemble with one output per entry of ``values``.

        Output k is the model's trees with leaf values ``values[k][t]`` (pruned as in
        :meth:`with_leaf_values`); its raw scores are the k-th column of the prediction.
        """
        k = len(values)
        header = self._multiclass_header(k)
        trees = [
            _pruned(self.trees[t], np.ravel(values[j][t]))
            for t in range(len(self.trees))
            for j in range(k)
        ]
        return self._render(header, trees)

    def leaf_numbers(self, bits: int) -> str:
        """A multiclass ensemble whose outputs hold every tree's leaf number, packed.

        With ``k = ceil(trees / (52 // bits))`` outputs, tree ``t = i * k + j`` is output
        ``j``'s tree of iteration ``i``, with leaf values ``leaf number * 2 ** (bits * i)``:
        each output is a whole number below ``2 ** 52``, exact in a double, and
        :func:`mqlml.scoring.unpack_leaves` reads the leaves back from its bits. One walk of
        the trees then writes ``k`` numbers a row instead of one per tree. One-leaf trees of
        value 0 fill the last iteration.
        """
        t, per = len(self.trees), 52 // bits
        k = -(-t // per)
        header = self._multiclass_header(k)
        trees = []
        for i in range(-(-t // k)):
            for j in range(k):
                if i * k + j >= t:
                    first = self.trees[0]
                    trees.append(_pruned(first, np.zeros(int(first["num_leaves"]))))
                    continue
                fields = self.trees[i * k + j]
                numbers = range(int(fields["num_leaves"]))
                values = " ".join(f"{n << (bits * i)}.0" for n in numbers)
                trees.append(dict(fields, leaf_value=values))
        return self._render(header, trees)

    def split_points(self) -> list[np.ndarray]:
        """Per feature: numeric thresholds with their neighbours, or category codes."""
        names = next(x for x in self.header if x.startswith("feature_names=")).split("=", 1)
        infos = next(x for x in self.header if x.startswith("feature_infos=")).split("=", 1)
        n = len(names[1].split(" "))
        points: list[list[float]] = [[] for _ in range(n)]
        cats: list[set[int]] = [set() for _ in range(n)]
        for j, info in enumerate(infos[1].split(" ")):
            if info.startswith("["):  # numeric: [min:max]
                lo, hi = (float(v) for v in info[1:-1].split(":"))
                points[j] += [lo - 1, lo, hi, hi + 1]
            elif info != "none":  # categorical: the levels seen, ':'-separated
                cats[j] |= {int(v) for v in info.split(":")}
        for fields in self.trees:
            if not fields.get("split_feature"):
                continue
            features = [int(v) for v in fields["split_feature"].split(" ")]
            thresholds = [float(v) for v in fields["threshold"].split(" ")]
            kinds = [int(v) for v in fields["decision_type"].split(" ")]
            for f, t, d in zip(features, thresholds, kinds, strict=True):
                if d & 1:  # categorical split: its threshold indexes cat_boundaries
                    continue
                points[f] += [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)]
        out = []
        for j in range(n):
            if cats[j]:
                codes = sorted(c for c in cats[j] if c >= 0)
                out.append(np.asarray([*codes, max(codes) + 1], dtype=np.float64))
            else:
                out.append(np.unique(np.asarray(points[j], dtype=np.float64)))
        return out


_NODE_FIELDS = ("split_feature", "split_gain", "threshold", "decision_type")


_INTERNAL_FIELDS = ("internal_value", "internal_weight", "internal_count")


def _pruned(fields: dict[str, str], leaf_values: np.ndarray) -> dict[str, str]:
    """One tree of a model text with new leaf values, equal-valued subtrees merged."""
    n_leaves = int(fields["num_leaves"])
    out = {k: v for k, v in fields.items() if k not in ("leaf_weight", "leaf_count")}
    if n_leaves <= 1:
        out["leaf_value"] = repr(float(leaf_values[0]))
        return _with_counts(out, 1)
    arrays = {k: fields[k].split(" ") for k in (*_NODE_FIELDS, *_INTERNAL_FIELDS) if fields.get(k)}
    left = [int(v) for v in fields["left_child"].split(" ")]
    right = [int(v) for v in fields["right_child"].split(" ")]
    bounds = [int(v) for v in fields.get("cat_boundaries", "0").split(" ") if v]
    cat_words = fields.get("cat_threshold", "").split(" ")

    def constant(child: int) -> float | None:  # the one value of a subtree, if it has one
        if child < 0:
            return float(leaf_values[~child])
        a, b = constant(left[child]), constant(right[child])
        return a if a is not None and a == b else None

    nodes: list[int] = []  # kept internal nodes, in the new order
    leaves: list[float] = []
    new_left: list[int] = []
    new_right: list[int] = []

    def build(child: int) -> int:  # the new reference (node index, or ~leaf index)
        value = constant(child)
        if value is not None:
            leaves.append(value)
            return ~(len(leaves) - 1)
        index = len(nodes)
        nodes.append(child)
        new_left.append(0)
        new_right.append(0)
        new_left[index] = build(left[child])
        new_right[index] = build(right[child])
        return index

    root = build(0)
    if root < 0:  # the whole tree is one value
        single = {k: "" for k in (*_NODE_FIELDS, "left_child", "right_child", *_INTERNAL_FIELDS)}
        out.update(single, num_leaves="1", num_cat="0", leaf_value=repr(leaves[0]))
        out.pop("cat_boundaries", None)
        out.pop("cat_threshold", None)
        return _with_counts(out, 1)
    for key, values in arrays.items():
        out[key] = " ".join(values[i] for i in nodes)
    # Categorical splits index their bitsets in cat_boundaries: renumber the kept ones.
    kinds = [int(arrays["decision_type"][i]) for i in nodes]
    thresholds = out["threshold"].split(" ")
    new_bounds, new_words = [0], []
    for j, (node, kind) in enumerate(zip(nodes, kinds, strict=True)):
        if kind & 1:
            cat = int(float(arrays["threshold"][node]))
            new_words += cat_words[bounds[cat] : bounds[cat + 1]]
            thresholds[j] = str(len(new_bounds) - 1)
            new_bounds.append(len(new_words))
    out["threshold"] = " ".join(thresholds)
    out["num_cat"] = str(len(new_bounds) - 1)
    if len(new_bounds) > 1:
        out["cat_boundaries"] = " ".join(map(str, new_bounds))
        out["cat_threshold"] = " ".join(new_words)
    else:
        out.pop("cat_boundaries", None)
        out.pop("cat_threshold", None)
    out["left_child"] = " ".join(map(str, new_left))
    out["right_child"] = " ".join(map(str, new_right))
    out["num_leaves"] = str(len(leaves))
    out["leaf_value"] = " ".join(repr(v) for v in leaves)
    return _with_counts(out, len(leaves))


def _with_counts(fields: dict[str, str], n_leaves: int) -> dict[str, str]:
    """Leaf weights and counts (unused by prediction) as zeros, in the reader's order."""
    order = [
        "num_leaves", "num_cat", *_NODE_FIELDS, "left_child", "right_child", "leaf_value",
        "leaf_weight", "leaf_count", *_INTERNAL_FIELDS, "cat_boundaries", "cat_threshold",
    ]  # fmt: skip
    fields = dict(fields, leaf_weight=" ".join(["0"] * n_leaves))
    fields["leaf_count"] = " ".join(["0"] * n_leaves)
    head = {k: fields[k] for k in order if k in fields}
    return head | {k: v for k, v in fields.items() if k not in head}
