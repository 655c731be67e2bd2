"""A check of LightGBM model text before LightGBM's own parser reads it.

LightGBM's text parser trusts its input: a child index out of range, a split on a feature
the model does not have, or tree sizes that do not match the text abort or crash the
process. A bundle's ``model.txt`` is covered by its digest, but an unsigned bundle can be
edited and rehashed, so :func:`check_model_text` reads the text as plain data first and
refuses anything that is not a binary model of plain trees over the bundle's features:

* the header: one class, one tree per iteration, a binary objective, ``max_feature_idx``
  and the feature names and infos for exactly the bundle's features;
* each tree: ``Tree=i`` numbered in order; whole counts in range; every array the length
  its node or leaf count says; split features within the features; decision types that
  exist; every node and leaf reached exactly once from the root (no cycle, no sharing, no
  orphan); finite leaf values and shrinkage, thresholds that are numbers; categorical
  splits indexing ``cat_boundaries``, whose bounds rise to the length of ``cat_threshold``;
  no linear trees.

The text handed on has no ``tree_sizes`` line (LightGBM then finds each tree itself,
instead of jumping by sizes that the text may misstate).
"""

from __future__ import annotations

import math
import re

__all__ = ["MAX_LEAVES", "check_model_text"]

#: The most leaves a tree may have (LightGBM's own limit is 131,072).
MAX_LEAVES = 131_072
# The plain ASCII forms LightGBM writes and its own parser reads as Python does (Python's
# int() and float() also take "0_2", "\t4" and non-ASCII digits, which LightGBM reads as 0).
_WHOLE = re.compile(r"-?[0-9]+\Z")
_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\Z|[-+]?inf\Z|nan\Z")
_NODE_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_OPTIONAL_NODE_ARRAYS = ("split_gain", "internal_value", "internal_weight", "internal_count")
_OPTIONAL_LEAF_ARRAYS = ("leaf_weight", "leaf_count")
_KNOWN_TREE_KEYS = {
    "num_leaves", "num_cat", "leaf_value", "cat_boundaries", "cat_threshold", "is_linear",
    "shrinkage", *_NODE_ARRAYS, *_OPTIONAL_NODE_ARRAYS, *_OPTIONAL_LEAF_ARRAYS,
}  # fmt: skip


class ModelTextError(ValueError):
    """The model text is not a binary LightGBM model of plain trees over the features."""


def _fail(where: str, rule: str) -> ModelTextError:
    return ModelTextError(f"{where} must {rule}")


def _whole(value: str, where: str, low: int, high: int) -> int:
    if not _WHOLE.match(value):
        raise _fail(where, f"be a whole number in plain digits; got {value[:40]!r}")
    number = int(value)
    if not low <= number <= high:
        raise _fail(where, f"be in [{low}, {high}]; got {number}")
    return number


def _wholes(text: str, where: str, count: int, low: int, high: int) -> list[int]:
    words = text.split(" ") if text else []
    if len(words) != count:
        raise _fail(where, f"hold {count} values; got {len(words)}")
    return [_whole(word, where, low, high) for word in words]


def _numbers(text: str, where: str, count: int, *, finite: bool) -> list[float]:
    words = text.split(" ") if text else []
    if len(words) != count:
        raise _fail(where, f"hold {count} values; got {len(words)}")
    out = []
    for word in words:
        if not _NUMBER.match(word):
            raise _fail(where, f"hold plain numbers; got {word[:40]!r}")
        value = float(word)
        if math.isnan(value) or (finite and math.isinf(value)):
            raise _fail(where, f"hold {'finite ' if finite else ''}numbers; got {word!r}")
        out.append(value)
    return out


def _header(lines: list[str], n_features: int) -> dict[str, str]:
    if not lines or lines[0] != "tree":
        raise _fail("model text", "start with the line 'tree' (LightGBM's text format)")
    fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    expected = {"num_class": "1", "num_tree_per_iteration": "1"}
    for key, value in expected.items():
        if fields.get(key) != value:
            raise _fail(f"model text {key}", f"be {value}; got {fields.get(key)!r}")
    if not fields.get("objective", "").startswith("binary"):
        raise _fail("model text objective", f"be binary; got {fields.get('objective')!r}")
    top = _whole(fields.get("max_feature_idx", ""), "model text max_feature_idx", 0, 1 << 20)
    if top != n_features - 1:
        raise _fail("model text max_feature_idx", f"be {n_features - 1}; got {top}")
    for key in ("feature_names", "feature_infos"):
        count = len(fields.get(key, "").split(" "))
        if count != n_features:
            raise _fail(f"model text {key}", f"list {n_features} features; got {count}")
    for info in fields["feature_infos"].split(" "):
        _feature_info(info)
    return fields


def _feature_info(info: str) -> None:
    """``none``, ``[min:max]`` of a numeric feature, or a categorical one's codes a:b:c."""
    where = "model text feature_infos"
    if info == "none":
        return
    if info.startswith("[") and info.endswith("]"):
        bounds = info[1:-1].split(":")
        if len(bounds) != 2:
            raise _fail(where, f"give a numeric feature as [min:max]; got {info[:40]!r}")
        low, high = _numbers(" ".join(bounds), where, 2, finite=False)
        if low > high:
            raise _fail(where, f"give a numeric feature as [min:max]; got {info[:40]!r}")
        return
    for code in info.split(":"):
        _whole(code, where, -1, (1 << 31) - 1)


def _tree(fields: dict[str, str], where: str, n_features: int) -> None:
    unknown = sorted(set(fields) - _KNOWN_TREE_KEYS)
    if unknown:
        raise _fail(where, f"hold only LightGBM's tree fields; got {unknown[:3]}")
    if fields.get("is_linear", "0") != "0":
        raise _fail(f"{where} is_linear", "be 0 (linear trees are not supported)")
    n = _whole(fields.get("num_leaves", ""), f"{where} num_leaves", 1, MAX_LEAVES)
    n_cat = _whole(fields.get("num_cat", "0"), f"{where} num_cat", 0, max(n - 1, 0))
    _numbers(fields.get("leaf_value", ""), f"{where} leaf_value", n, finite=True)
    _numbers(fields.get("shrinkage", "1"), f"{where} shrinkage", 1, finite=True)
    for key in _OPTIONAL_LEAF_ARRAYS:
        if fields.get(key):
            _numbers(fields[key], f"{where} {key}", n, finite=False)
    if n == 1:
        if n_cat:
            raise _fail(f"{where} num_cat", f"be 0 for a one-leaf tree; got {n_cat}")
        return
    m = n - 1
    _wholes(fields.get("split_feature", ""), f"{where} split_feature", m, 0, n_features - 1)
    kinds = _wholes(fields.get("decision_type", ""), f"{where} decision_type", m, 0, 11)
    thresholds = _numbers(fields.get("threshold", ""), f"{where} threshold", m, finite=False)
    left = _wholes(fields.get("left_child", ""), f"{where} left_child", m, -n, m - 1)
    right = _wholes(fields.get("right_child", ""), f"{where} right_child", m, -n, m - 1)
    for key in _OPTIONAL_NODE_ARRAYS:
        if fields.get(key):
            _numbers(fields[key], f"{where} {key}", m, finite=False)
    cats = [t for kind, t in zip(kinds, thresholds, strict=True) if kind & 1]
    if len(cats) != n_cat:
        raise _fail(f"{where} num_cat", f"count its {len(cats)} categorical splits; got {n_cat}")
    if n_cat:
        bounds = _wholes(
            fields.get("cat_boundaries", ""), f"{where} cat_boundaries", n_cat + 1, 0, 1 << 26
        )
        words = fields.get("cat_threshold", "").split(" ")
        if bounds[0] != 0 or bounds != sorted(bounds) or bounds[-1] != len(words):
            raise _fail(f"{where} cat_boundaries", f"rise from 0 to {len(words)}")
        for word in words:
            _whole(word, f"{where} cat_threshold", 0, (1 << 32) - 1)
        for t in cats:
            if t != int(t) or not 0 <= t < n_cat:
                raise _fail(f"{where} threshold", f"index cat_boundaries below {n_cat}; got {t}")
    seen_nodes, seen_leaves, stack = [False] * m, [False] * n, [0]
    while stack:
        node = stack.pop()
        if seen_nodes[node]:
            raise _fail(f"{where} left_child/right_child", f"reach node {node} only once")
        seen_nodes[node] = True
        for child in (left[node], right[node]):
            if child >= 0:
                stack.append(child)
            elif seen_leaves[~child]:
                raise _fail(f"{where} left_child/right_child", f"reach leaf {~child} only once")
            else:
                seen_leaves[~child] = True
    if not all(seen_nodes) or not all(seen_leaves):
        raise _fail(f"{where} left_child/right_child", "reach every node and leaf from node 0")


def check_model_text(text: str, n_features: int) -> str:
    """Check LightGBM model text as data; return it ready for LightGBM's parser.

    Parameters
    ----------
    text : str
        The model text (a bundle's ``model.txt``).
    n_features : int
        The number of features the bundle's model takes.

    Returns
    -------
    str
        The same model without its ``tree_sizes`` line.

    Raises
    ------
    ModelTextError
        (a ValueError) naming the first field that breaks a rule, with the rule.

    Examples
    --------
    >>> try:
    ...     check_model_text("not a model", 3)
    ... except ModelTextError as exc:
    ...     print(exc)
    model text must hold its trees before one line 'end of trees'
    """
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("Tree=")]
    ends = [i for i, line in enumerate(lines) if line == "end of trees"]
    if len(ends) != 1 or (starts and starts[-1] > ends[0]):
        raise _fail("model text", "hold its trees before one line 'end of trees'")
    _header(lines[: starts[0] if starts else ends[0]], n_features)
    for number, (a, b) in enumerate(zip(starts, [*starts[1:], ends[0]], strict=True)):
        where = f"model text tree {number}"
        if lines[a] != f"Tree={number}":
            raise _fail(where, f"be headed 'Tree={number}'; got {lines[a][:40]!r}")
        fields: dict[str, str] = {}
        for line in lines[a + 1 : b]:
            if line:
                key, sep, value = line.partition("=")
                if not sep or key in fields:
                    raise _fail(where, f"hold each key=value once; got {line[:40]!r}")
                fields[key] = value
        _tree(fields, where, n_features)
    return "\n".join(line for line in lines if not line.startswith("tree_sizes="))
