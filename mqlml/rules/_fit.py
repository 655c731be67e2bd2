"""Fitting a scorecard: candidate criteria, a lasso path, integer points, points rules.

:func:`fit_cards` returns the cards along a lasso path over the candidate criteria of a
bundle's features (steps at rounded quantiles for numbers, nested groups of levels for
categories, the yes spelling for yes/no columns, a row for missing values); each card is
refit by least squares and rounded to integer points. :func:`card_rules` turns one card
into points rules (:mod:`mqlml.rules`). :mod:`mqlml.rules` strings them together.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["best_card", "card_rules", "fit_cards", "native", "score_target"]

_N_EDGES = 12
_MAX_LEVELS = 30
_P_CLIP = 1e-9

# ---------------------------------------------------------------------------------------
# Candidate criteria
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """One candidate criterion: a 0/1 column of the design and the rule it becomes."""

    feature: str
    kind: str  # "step" (>= edge), "missing", "level" (== level), "group" (in levels), "yes"
    value: Any = None  # the edge, the level, the levels, or the raw spellings of yes


def native(value: Any) -> Any:
    """A numpy scalar as the Python value YAML and SQL write (3.0 -> 3)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _round_edge(edge: float, floor: float) -> float:
    """``edge`` rounded down to 2 significant digits (more if needed to stay above ``floor``).

    >>> _round_edge(999.0, 27.0), _round_edge(3.2817, 2.0), _round_edge(437.0, 432.0)
    (990.0, 3.2, 437.0)
    """
    if edge == 0 or not math.isfinite(edge):
        return edge
    top = math.floor(math.log10(abs(edge)))
    for k in range(top - 1, top - 10, -1):
        step = 10.0**k
        candidate = round(math.floor(edge / step) * step, 12)
        if floor < candidate <= edge:
            return candidate
    return edge


def _numeric_candidates(name: str, values: np.ndarray) -> list[_Candidate]:
    present = values[~np.isnan(values)]
    out: list[_Candidate] = []
    if present.size:
        distinct = np.unique(present)
        if distinct.size <= _N_EDGES + 1:  # every value its own band
            kept = [float(e) for e in distinct[1:]]
        else:  # bands between quantiles, their edges rounded for readers
            shares = np.arange(1, _N_EDGES + 1) / (_N_EDGES + 1)
            edges = np.unique(np.quantile(present, shares, method="inverted_cdf"))
            kept = []
            for edge in edges:
                floor = kept[-1] if kept else float(distinct[0])
                if edge > floor:
                    kept.append(_round_edge(float(edge), floor))
        out += [_Candidate(name, "step", native(e)) for e in kept]
    if np.isnan(values).any():
        out.append(_Candidate(name, "missing"))
    return out


def _level_candidates(name: str, values: pd.Series) -> list[_Candidate]:
    counts = values.dropna().value_counts()
    floor = max(30, int(0.002 * len(values)))
    levels = [v for v, c in counts.items() if c >= floor][:_MAX_LEVELS]
    out = [_Candidate(name, "level", native(v)) for v in levels]
    if values.isna().any():
        out.append(_Candidate(name, "missing"))
    return out


def _yes_candidates(name: str, coded: np.ndarray, raw: pd.Series) -> list[_Candidate]:
    yes = coded == 1.0
    out: list[_Candidate] = []
    if yes.any() and (~yes & ~np.isnan(coded)).any():
        if pd.api.types.is_numeric_dtype(raw.dtype):
            spellings: Any = 1
        else:
            spellings = sorted({str(v) for v in raw[yes]})
        out.append(_Candidate(name, "yes", spellings))
    if np.isnan(coded).any():
        out.append(_Candidate(name, "missing"))
    return out


def _candidates(schema: Any, X: pd.DataFrame, raw: pd.DataFrame) -> list[_Candidate]:
    out: list[_Candidate] = []
    for name in schema.features:
        kind = schema.kinds[name]
        if kind == "numeric":
            out += _numeric_candidates(name, X[name].to_numpy(dtype=float, na_value=np.nan))
        elif kind == "boolean":
            coded = X[name].to_numpy(dtype=float, na_value=np.nan)
            out += _yes_candidates(name, coded, raw[name])
        else:
            out += _level_candidates(name, X[name])
    return out


def _column(c: _Candidate, X: pd.DataFrame) -> np.ndarray:
    """The 0/1 design column of a candidate on the coerced features."""
    values = X[c.feature]
    if c.kind == "missing":
        return values.isna().to_numpy(dtype=float)
    if c.kind == "level":
        return (values == c.value).fillna(False).to_numpy(dtype=float)
    if c.kind == "group":
        return values.isin(list(c.value)).to_numpy(dtype=float)
    coded = values.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        hit = coded >= float(c.value) if c.kind == "step" else coded == 1.0
    return hit.astype(float)


# ---------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    """A candidate card: integer points per candidate index, and its training fit."""

    points: dict[int, int]
    offset: float
    n_criteria: int
    r2: float


def _grouped(candidates: list[_Candidate], D: np.ndarray, target: np.ndarray):
    """Level candidates replaced by nested groups of levels ordered by their effect.

    A first ridge fit over every candidate estimates each level's effect against the
    levels without a candidate (rare and unseen ones, at 0; below every listed level
    when no fitting lead has a rare level). Sorting a column's levels
    and that 0 by effect, each cut between neighbours becomes a candidate: "in the
    levels above the cut" when the cut is above 0, "in the levels below it" otherwise.
    A lasso over these cuts merges levels of similar effect (a fused lasso on the
    order), and the levels without a candidate always get 0 points.
    """
    Dc, tc = D - D.mean(axis=0), target - target.mean()
    ridge = 1e-3 * len(target) * np.eye(D.shape[1])
    beta = np.linalg.solve(Dc.T @ Dc + ridge, Dc.T @ tc)
    out: list[_Candidate] = []
    levels: dict[str, list[tuple[float, Any]]] = {}
    covered: dict[str, np.ndarray] = {}
    for j, (c, b) in enumerate(zip(candidates, beta, strict=True)):
        if c.kind == "level":
            levels.setdefault(c.feature, []).append((float(b), c.value))
        else:
            out.append(c)
        if c.kind in ("level", "missing"):
            covered[c.feature] = covered.get(c.feature, 0) + D[:, j]
    for feature, effects in levels.items():
        # Without a rare level among the fitting leads, the levels without a candidate
        # (unseen ones) have no effect to estimate: they go last, at 0 points, and every
        # listed level earns points (as hand-set points do).
        unseen_only = bool(np.all(covered[feature] > 0))
        other = min(e for e, _ in effects) - 1.0 if unseen_only else 0.0
        ordered = sorted([*effects, (other, None)], key=lambda e: -e[0])
        names = [v for _, v in ordered]
        other = names.index(None)
        for cut in range(1, len(names)):
            group = names[:cut] if cut <= other else names[cut:]
            out.append(_Candidate(feature, "group", tuple(group)))
    return out


def _level_points(points: dict[int, int], candidates: list[_Candidate]) -> dict[str, dict]:
    """Each level's points per categorical column: the sum of the groups it is in."""
    out: dict[str, dict[Any, int]] = {}
    for i, value in points.items():
        c = candidates[i]
        if c.kind == "group":
            column = out.setdefault(c.feature, {})
            for level in c.value:
                column[level] = column.get(level, 0) + value
    return out


def _group_count(points: dict[int, int], candidates: list[_Candidate]) -> int:
    """Criteria: one per distinct non-zero points value of a column's levels, one per other."""
    plain = sum(1 for i, v in points.items() if v != 0 and candidates[i].kind != "group")
    groups = sum(
        len({v for v in column.values() if v != 0})
        for column in _level_points(points, candidates).values()
    )
    return plain + groups


def _path_cards(
    D: np.ndarray, target: np.ndarray, candidates: list[_Candidate], max_rules: int
) -> list[_Card]:
    """Cards along a lasso path: support by the path, least-squares refit, integer points.

    The path runs from few criteria to many; it stops once the cards have well over
    ``max_rules`` criteria (none of those could be kept).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import lasso_path

    mean_d, mean_t = D.mean(axis=0), float(target.mean())
    Dc, tc = D - mean_d, target - mean_t
    gram, moment = Dc.T @ Dc, Dc.T @ tc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, coefs, _ = lasso_path(
            Dc, tc, alphas=100, eps=1e-4, precompute=gram, Xy=moment, max_iter=3000
        )
    total = float(tc @ tc) or 1.0
    cards, seen, over = [], set(), 0
    for k in range(coefs.shape[1]):
        support = tuple(np.flatnonzero(np.abs(coefs[:, k]) > 1e-9))
        if not support or support in seen:
            continue
        if len(support) > 2 * max_rules + 10:
            break
        seen.add(support)
        idx = np.asarray(support)
        ridge = 1e-6 * len(target) * np.eye(idx.size)
        beta = np.linalg.solve(gram[np.ix_(idx, idx)] + ridge, moment[idx])
        rounded = np.round(beta).astype(int)
        points = {int(i): int(v) for i, v in zip(idx, rounded, strict=True) if v != 0}
        if not points:
            continue
        keep = np.asarray(sorted(points))
        fitted = D[:, keep] @ np.asarray([points[i] for i in keep], dtype=float)
        offset = float(np.mean(target - fitted))
        residual = target - fitted - offset
        card = _Card(
            points=points,
            offset=offset,
            n_criteria=_group_count(points, candidates),
            r2=1.0 - float(residual @ residual) / total,
        )
        cards.append(card)
        over = over + 1 if card.n_criteria > max_rules else 0
        if over >= 5:
            break
    return cards


def score_target(judge: Any, X: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    """Each lead's score on the bundle's scale, through a straight line in log-odds.

    The calibrated probability is a monotone map of the model's log-odds ``z`` (isotonic
    steps, or a sigmoid). Its steps are not additive even when the model is, so the
    target is a straight line ``a + b z`` in log-odds, on the score scale: through the
    MQL threshold (the log-odds where the calibrated probability reaches it), with the
    slope closest to the calibrated log-odds (least squares on the fitting leads). It
    ranks as the model does, its MQL line is the model's, and ``points_to_double_odds``
    points double the calibrated odds.
    """
    scale = judge.scale
    z = judge.model.decision_function(X)
    p = np.clip(judge.calibrate(z), _P_CLIP, 1 - _P_CLIP)
    calibrated = np.log(p / (1 - p))
    t = scale.threshold
    at = math.log(t / (1 - t))
    above, below = z[p >= t], z[p < t]
    if above.size and below.size:  # the line goes through the MQL threshold
        z_t = (float(above.min()) + float(below.max())) / 2
    else:
        z_t = float(np.median(z))
    dz = z - z_t
    b = float(dz @ (calibrated - at)) / float(dz @ dz) if float(dz @ dz) > 0 else 0.0
    a = at - b * z_t
    line = a + b * z
    residual = calibrated - line
    spread = float(((calibrated - calibrated.mean()) ** 2).sum()) or 1.0
    target = scale.mql_at + scale.points_to_double_odds * (
        line / math.log(2) - math.log2(t / (1 - t))
    )
    return target, {
        "slope": float(b),
        "intercept": float(a),
        "r2": 1 - float(residual @ residual) / spread,
    }


def best_card(cards: list[_Card], max_rules: int) -> _Card | None:
    """Of the cards with at most ``max_rules`` criteria, the closest to the target."""
    fitting = [c for c in cards if c.n_criteria <= max_rules]
    return max(fitting, key=lambda c: (c.r2, -c.n_criteria)) if fitting else None


# ---------------------------------------------------------------------------------------
# From fitted points to rules
# ---------------------------------------------------------------------------------------


def _label(values: list[Any], width: int = 60) -> str:
    text = ", ".join(str(v) for v in values)
    return text if len(text) <= width else text[: width - 1].rstrip(", ") + "…"


def card_rules(card: _Card, candidates: list[_Candidate], features: list[str]) -> list[dict]:
    """The card as rule mappings (mqlml.rules format), most influential column first."""
    by_feature: dict[str, list[dict]] = {}
    for feature, column in _level_points(card.points, candidates).items():
        rows = by_feature.setdefault(feature, [])
        for value in sorted({v for v in column.values() if v != 0}, reverse=True):
            group = [level for level, v in column.items() if v == value]
            rows.append({"column": feature, "levels": group, "points": value})
    for i in sorted(card.points):
        c, value = candidates[i], card.points[i]
        if c.kind == "group" or value == 0:
            continue
        rows = by_feature.setdefault(c.feature, [])
        if c.kind == "step":
            rows.append(
                {
                    "name": f"{c.feature} {c.value:g} or more",
                    "column": c.feature,
                    "op": ">=",
                    "value": c.value,
                    "points": value,
                }
            )
        elif c.kind == "missing":
            rows.append(
                {
                    "name": f"{c.feature} missing",
                    "column": c.feature,
                    "op": "missing",
                    "points": value,
                }
            )
        else:
            spelled = c.value if isinstance(c.value, list) else None
            rule = {"name": f"{c.feature} yes", "column": c.feature}
            if spelled is None:
                rule.update(op="==", value=1)
            elif len(spelled) == 1:
                rule.update(op="==", value=spelled[0])
            else:
                rule.update(op="in", value=list(spelled))
            rows.append({**rule, "points": value})
    for rows in by_feature.values():
        for row in rows:
            if "levels" in row:
                group = row.pop("levels")
                row["name"] = f"{row['column']}: {_label(group)}"
                if len(group) == 1:
                    row.update(op="==", value=group[0])
                else:
                    row.update(op="in", value=list(group))
                row["points"] = row.pop("points")

    def spread(rows: list[dict]) -> int:
        pts = [r["points"] for r in rows]
        return max(max(pts), 0) - min(min(pts), 0)

    order = sorted(by_feature, key=lambda f: (-spread(by_feature[f]), features.index(f)))
    out, names = [], set()
    for feature in order:
        for row in by_feature[feature]:
            name, k = row["name"], 2
            while name in names:
                name, k = f"{row['name']} #{k}", k + 1
            names.add(name)
            out.append({**row, "name": name})
    return out


def fit_cards(
    schema: Any, X: pd.DataFrame, raw: pd.DataFrame, target: np.ndarray, max_rules: int
) -> tuple[list[_Card], list[_Candidate]]:
    """Cards along the lasso path over the candidate criteria, and those candidates."""
    candidates = _candidates(schema, X, raw)
    D = np.column_stack([_column(c, X) for c in candidates])
    candidates = _grouped(candidates, D, target)
    D = np.column_stack([_column(c, X) for c in candidates])
    return _path_cards(D, target, candidates, max_rules), candidates
