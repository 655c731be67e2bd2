"""Model-derived points: a scorecard that rule engines can run, and what it keeps of the model.

HubSpot's lead scoring, Marketo smart campaigns, CRM formula fields and warehouse SQL take
points per criterion, not a Python model. :func:`scorecard` turns a trained bundle into
integer points per criterion, fitted to reproduce the model's log-odds, on the bundle's
own score scale (:class:`mqlml.points.ScoreScale`: ``points_to_double_odds`` points double
the odds of converting), with the MQL threshold in points::

    criteria   numbers: steps "COLUMN >= EDGE" at (rounded) quantiles of the column, so a
               band's points are the sum of the steps it reaches; a row for missing
               categories: groups of levels with the same points ("COLUMN in [...]"),
               a row for missing; rare and unseen levels get 0
               yes/no: the "yes" spelling(s), and missing
    fit        the target is each lead's unclipped score on the bundle's scale,
               mql_at + pdo x log2(odds(p) / odds(threshold)), p the calibrated probability
               of the model that judges the test part (``bundle.backtest or bundle``);
               a lasso path over all candidate criteria picks the support, least squares
               refits it, points are rounded to integers and levels of equal points merged;
               of the cards with at most ``max_rules`` criteria the one closest to the
               model's scores on the fitting leads is kept
    fitted on  the leads that model learned from (train + calibrate with the default refit,
               the train part with ``model.refit: false``), split again exactly as in
               training; nothing is fitted on the test part
    threshold  a lead's points + ``offset`` is its score on the model's scale, so it is an
               MQL at ``ceil(mql_at - offset)`` points or more

The fidelity is judged on the test part: ROC AUC of the points against the model's and
the hand-set points' (the config's ``baseline.rules``), the MQL-to-SQL rate at each one's
own MQL line and at equal volume (exact 90 % intervals, and a paired bootstrap interval on
the difference), the agreement on who is an MQL, and the same for fewer criteria (the
trade-off). :func:`scorecard` writes ``scorecard.yaml`` (the points-rules format of
:mod:`mqlml.baseline`, so ``mqlml report --baseline DIR/scorecard.yaml`` compares it with
the model), ``scorecard.csv`` (criterion, column, condition, points), ``scorecard.sql``
(a ``CASE`` expression over the lead table's columns, :mod:`mqlml.rules_sql`),
``scorecard.json`` (every number) and ``scorecard.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mqlml.errors import ConfigError, DataError

__all__ = [
    "SCORECARD_FORMAT",
    "Scorecard",
    "fidelity",
    "fidelity_markdown",
    "report_section",
    "report_tables",
    "scorecard",
]

SCORECARD_FORMAT = "mqlml.scorecard/1"
DEFAULT_MAX_RULES = 30
_TRADEOFF = (3, 5, 10, 15, 20, 25, 30, 40)
_MAX_FIT_ROWS = 50_000
_N_EDGES = 12
_MAX_LEVELS = 30
_CONFIDENCE = 0.90
_P_CLIP = 1e-9
_FILES = ("yaml", "csv", "sql", "json", "markdown")
_EXTENSIONS = ("yaml", "csv", "sql", "json", "md")


# ---------------------------------------------------------------------------------------
# Candidate criteria
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """One candidate criterion: a 0/1 column of the design and the rule it becomes."""

    feature: str
    kind: str  # "step" (>= edge), "missing", "level" (== level), "group" (in levels), "yes"
    value: Any = None  # the edge, the level, the levels, or the raw spellings of yes


def _native(value: Any) -> Any:
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
        out += [_Candidate(name, "step", _native(e)) for e in kept]
    if np.isnan(values).any():
        out.append(_Candidate(name, "missing"))
    return out


def _level_candidates(name: str, values: pd.Series) -> list[_Candidate]:
    counts = values.dropna().value_counts()
    floor = max(30, int(0.002 * len(values)))
    levels = [v for v, c in counts.items() if c >= floor][:_MAX_LEVELS]
    out = [_Candidate(name, "level", _native(v)) for v in levels]
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


def _target(judge: Any, X: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
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


def _best(cards: list[_Card], max_rules: int) -> _Card | None:
    fitting = [c for c in cards if c.n_criteria <= max_rules]
    return max(fitting, key=lambda c: (c.r2, -c.n_criteria)) if fitting else None


# ---------------------------------------------------------------------------------------
# From fitted points to rules
# ---------------------------------------------------------------------------------------


def _label(values: list[Any], width: int = 60) -> str:
    text = ", ".join(str(v) for v in values)
    return text if len(text) <= width else text[: width - 1].rstrip(", ") + "…"


def _rules(card: _Card, candidates: list[_Candidate], features: list[str]) -> list[dict]:
    """The card as rule mappings (mqlml.baseline format), most influential column first."""
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


@dataclass
class Scorecard:
    """Integer points per criterion on the bundle's score scale, with the MQL line in points.

    Attributes
    ----------
    rules : mqlml.baseline.RuleSet
        The criteria as a points rule set (``mql_threshold`` in points).
    offset : float
        A lead's points + ``offset`` is its score on the bundle's 0-100 scale (unclipped).
    threshold_points : int
        The MQL line in points: ``ceil(mql_at - offset)``.
    scale : dict
        The bundle's score scale (threshold, mql_at, points_to_double_odds).
    fit : dict
        Where and how it was fitted (rows, R squared of its score on them).
    fidelity : dict
        Its numbers on the test part (:func:`fidelity`), against the model and the
        hand-set points.
    tradeoff : list of dict
        The same cards with fewer criteria and their test-part numbers.
    source : dict
        The bundle and the data it came from (digest, data fingerprint, paths).
    paths : dict
        The files written (empty when none).
    """

    rules: Any
    offset: float
    threshold_points: int
    scale: dict[str, float]
    fit: dict[str, Any]
    fidelity: dict[str, Any]
    tradeoff: list[dict[str, Any]]
    source: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def n_criteria(self) -> int:
        """How many criteria (rules) the card has."""
        return len(self.rules.rules)

    def points(self, frame: pd.DataFrame) -> np.ndarray:
        """Each lead's points, by the rules engine of :mod:`mqlml.baseline` (raw columns)."""
        return _points(self.rules, frame)

    def to_yaml(self) -> str:
        """The rules file (``mqlml report --baseline`` reads it)."""
        scale = self.scale
        head = [
            f"# Scorecard: points fitted to reproduce the model's log-odds ({self.source['model']}",
            f"# model, {self.fit['rows']:,} leads of its own training data; never the test part).",
            f"# {scale['points_to_double_odds']:g} points double the odds of converting. A lead is "
            f"an MQL at {self.threshold_points} points",
            f"# or more: its points + {self.offset:.1f} are its score on the model's scale, whose "
            f"MQL line is {scale['mql_at']:g}.",
            "# Numbers: the steps add up (a lead with 5 visits gets every '>=' step up to 5).",
            "# Columns not listed, unseen categories and missing values without a rule give 0.",
        ]
        body = {
            "name": self.rules.name,
            "mql_threshold": self.threshold_points,
            "rules": _rule_dicts(self.rules),
        }
        text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
        return "\n".join(head) + "\n" + text

    def to_csv(self) -> str:
        """criterion, column, condition, points: one row per criterion."""
        from mqlml.report_tables import _condition

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["criterion", "column", "condition", "points"])
        for rule in self.rules.rules:
            writer.writerow([rule.name, rule.column, _condition(rule), _native(rule.points)])
        return buffer.getvalue()

    def to_sql(self, table: str = "leads", id_column: str | None = None) -> str:
        """A ``SELECT`` of each lead's points and MQL flag (see :mod:`mqlml.rules_sql`)."""
        from mqlml.rules_sql import sql_query

        head = (
            f"-- Scorecard points ({self.n_criteria} criteria); an MQL at "
            f"{self.threshold_points} points or more.\n-- NULL is missing: it matches only "
            "the 'IS NULL' criteria.\n"
        )
        return head + sql_query(self.rules, table, id_column=id_column) + ";\n"

    def to_dict(self) -> dict[str, Any]:
        """Every number, JSON-safe (``scorecard.json``)."""
        from mqlml.compare import _json_safe

        return _json_safe(
            {
                "format": SCORECARD_FORMAT,
                "source": self.source,
                "scale": self.scale,
                "offset": self.offset,
                "mql_threshold_points": self.threshold_points,
                "n_criteria": self.n_criteria,
                "criteria": _rule_dicts(self.rules),
                "fit": self.fit,
                "fidelity": self.fidelity,
                "tradeoff": self.tradeoff,
            }
        )

    def to_markdown(self) -> str:
        """The card and its fidelity in words and tables (``scorecard.md``)."""
        lines = [f"# {self.rules.name}", ""]
        lines += [
            f"{self.n_criteria} criteria, an MQL at **{self.threshold_points} points** or more; "
            f"{self.scale['points_to_double_odds']:g} points double the odds of converting "
            f"(points + {self.offset:.1f} = the model's score, MQL line "
            f"{self.scale['mql_at']:g}). Fitted on {self.fit['rows']:,} leads the model "
            f"learned from ({self.fit['part']}); judged below on the "
            f"{self.fidelity['n']:,} test leads.",
            "",
            "| criterion | condition | points |",
            "|---|---|---:|",
        ]
        from mqlml.report_tables import _condition

        lines += [
            f"| {r.name} | {_condition(r)} | {_native(r.points):+d} |" for r in self.rules.rules
        ]
        lines += ["", *fidelity_markdown(self.fidelity, self.tradeoff), ""]
        return "\n".join(lines)


def _rule_dicts(rules: Any) -> list[dict[str, Any]]:
    """Each rule as the mapping a rules file writes (integer points as integers)."""
    out = []
    for rule in rules.rules:
        row = {k: v for k, v in rule.model_dump().items() if v is not None}
        row["points"] = _native(row["points"])
        out.append(row)
    return out


def _points(rules: Any, frame: pd.DataFrame, features: pd.DataFrame | None = None) -> np.ndarray:
    """Points of a rule set on raw rows, or on the coerced features if a rule needs them."""
    from mqlml.baseline import PointsBaseline
    from mqlml.errors import RuleError

    scorer = PointsBaseline(rules=rules)
    try:
        return scorer.fit(frame).decision_function(frame)
    except RuleError:
        if features is None:
            raise
        merged = pd.concat([frame.drop(columns=list(features.columns)), features], axis=1)
        return scorer.fit(merged).decision_function(merged)


# ---------------------------------------------------------------------------------------
# Fidelity on the test part
# ---------------------------------------------------------------------------------------


def _line(y: np.ndarray, mql: np.ndarray) -> dict[str, Any]:
    from mqlml.threshold import rate_interval

    n, k = int(mql.sum()), int(y[mql].sum())
    interval = rate_interval(k, n, _CONFIDENCE)
    return {
        "n_mql": n,
        "share": n / y.size,
        "conversions": k,
        "rate": k / n if n else None,
        "interval": None if interval is None else list(interval),
    }


def _top(score: np.ndarray, n: int) -> np.ndarray:
    mql = np.zeros(score.size, dtype=bool)
    mql[np.argsort(-score, kind="stable")[:n]] = True
    return mql


def fidelity(
    y: Any,
    model_p: Any,
    model_threshold: float,
    card_points: Any,
    card_threshold: float,
    hand_points: Any = None,
    hand_threshold: float | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """What a scorecard keeps of the model, and how it does against the hand-set points.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes of the test leads.
    model_p, model_threshold
        The model's probabilities and its MQL threshold.
    card_points, card_threshold
        The scorecard's points and its MQL line in points.
    hand_points, hand_threshold : optional
        The hand-set points and their MQL threshold.
    n_boot, seed
        Bootstrap of the paired intervals (:func:`mqlml.compare.compare_at_volume`).

    Returns
    -------
    dict
        ``n``, ``n_converted``; ``ranking`` (ROC AUC of ``model``, ``scorecard``,
        ``points``; ``kept``: (AUC_card - 0.5) / (AUC_model - 0.5)); ``at_line`` (each
        side at its own MQL line: ``n_mql``, ``share``, ``conversions``, ``rate``,
        ``interval``); ``at_volume`` (at the hand-set points' MQL volume: each side's
        top leads, and ``vs_points``, the paired comparison scorecard - points);
        ``vs_model`` (at the scorecard's own volume: model - scorecard); ``agreement``
        (share of leads the model and the card both call MQL or both not).

    Examples
    --------
    >>> f = fidelity([1, 0, 1, 0], [0.9, 0.2, 0.7, 0.1], 0.5, [40, 0, 30, 10], 25,
    ...              [10, 30, 30, 0], 20, n_boot=50)
    >>> f["ranking"]["scorecard"], f["at_line"]["scorecard"]["rate"], f["agreement"]
    (1.0, 1.0, 1.0)
    """
    from sklearn.metrics import roc_auc_score

    from mqlml.compare import _TOLERANCE, compare_at_volume
    from mqlml.inputs import numbers, outcomes

    labels = outcomes(y)
    p = numbers(model_p, "model_p", n=labels.size)
    card = numbers(card_points, "card_points", n=labels.size)
    model_mql = p >= model_threshold
    card_mql = card >= card_threshold - _TOLERANCE * max(1.0, abs(card_threshold))
    auc_model = float(roc_auc_score(labels, p))
    auc_card = float(roc_auc_score(labels, card))
    out: dict[str, Any] = {
        "n": int(labels.size),
        "n_converted": int(labels.sum()),
        "base_rate": float(labels.mean()),
        "confidence": _CONFIDENCE,
        "ranking": {
            "model": auc_model,
            "scorecard": auc_card,
            "points": None,
            "kept": (auc_card - 0.5) / (auc_model - 0.5) if auc_model != 0.5 else None,
        },
        "at_line": {
            "model": {"threshold": float(model_threshold), **_line(labels, model_mql)},
            "scorecard": {"threshold": float(card_threshold), **_line(labels, card_mql)},
            "points": None,
        },
        "at_volume": None,
        "vs_model": None,
        "agreement": float(np.mean(model_mql == card_mql)),
    }
    if card_mql.any():
        out["vs_model"] = compare_at_volume(
            labels, p, card, card_threshold, n_boot=n_boot, seed=seed
        )
    if hand_points is not None and hand_threshold is not None:
        hand = numbers(hand_points, "hand_points", n=labels.size)
        hand_mql = hand >= hand_threshold - _TOLERANCE * max(1.0, abs(hand_threshold))
        out["ranking"]["points"] = float(roc_auc_score(labels, hand))
        out["at_line"]["points"] = {"threshold": float(hand_threshold), **_line(labels, hand_mql)}
        n_mql = int(hand_mql.sum())
        if n_mql:
            out["at_volume"] = {
                "n_mql": n_mql,
                "model": _line(labels, _top(p, n_mql)),
                "scorecard": _line(labels, _top(card, n_mql)),
                "points": _line(labels, hand_mql),
                "vs_points": compare_at_volume(
                    labels, card, hand, hand_threshold, n_boot=n_boot, seed=seed
                ),
            }
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _with_interval(side: dict[str, Any] | None) -> str:
    if not side:
        return "n/a"
    text = _pct(side["rate"])
    if side.get("interval"):
        lo, hi = side["interval"]
        text += f" ({100 * lo:.1f}-{100 * hi:.1f})"
    return text


def fidelity_markdown(fid: dict[str, Any], tradeoff: list[dict[str, Any]]) -> list[str]:
    """The fidelity and the trade-off as Markdown lines (``scorecard.md``, ``report.md``)."""
    rank, line, vol = fid["ranking"], fid["at_line"], fid["at_volume"]
    kept = rank["kept"]
    lines = [
        "## What the scorecard keeps of the model",
        "",
        f"On the {fid['n']:,} test leads ({fid['n_converted']:,} converted), never used to fit "
        f"the model or the card: ROC AUC {rank['scorecard']:.3f} against the model's "
        f"{rank['model']:.3f}"
        + (f" and the hand-set points' {rank['points']:.3f}" if rank["points"] is not None else "")
        + (f"; it keeps {100 * kept:.1f} % of the model's AUC above 0.5" if kept else "")
        + f". The model and the card agree on who is an MQL for {100 * fid['agreement']:.1f} % "
        "of the leads. Rates with their 90 % exact interval.",
        "",
        "| on the test leads | model | scorecard | hand-set points |",
        "|---|---:|---:|---:|",
        f"| ROC AUC | {rank['model']:.3f} | {rank['scorecard']:.3f} | "
        f"{'n/a' if rank['points'] is None else format(rank['points'], '.3f')} |",
    ]
    sides = ("model", "scorecard", "points")
    mqls = [line[s]["n_mql"] if line[s] else None for s in sides]
    lines.append(
        "| MQLs at its own MQL line | "
        + " | ".join("n/a" if m is None else f"{m:,}" for m in mqls)
        + " |"
    )
    lines.append(
        "| MQL-to-SQL rate at its own MQL line | "
        + " | ".join(_with_interval(line[s]) for s in sides)
        + " |"
    )
    if vol:
        lines.append(
            f"| MQL-to-SQL rate at the points' volume ({vol['n_mql']:,} MQLs) | "
            + " | ".join(_with_interval(vol[s]) for s in sides)
            + " |"
        )
        diff = vol["vs_points"]
        spread = (
            f" (90 % interval {100 * diff['interval'][0]:+.1f} to {100 * diff['interval'][1]:+.1f})"
            if diff["interval"]
            else ""
        )
        lines += [
            "",
            f"At the hand-set points' volume the scorecard's MQLs convert "
            f"{100 * diff['difference']:+.1f} percentage points against the points'{spread}.",
        ]
    if tradeoff:
        lines += [
            "",
            "## Fewer criteria (the trade-off, on the test leads)",
            "",
            "| criteria | ROC AUC | AUC kept | MQL-to-SQL rate at the points' volume |",
            "|---:|---:|---:|---:|",
        ]
        for row in tradeoff:
            kept_k = "n/a" if row["kept"] is None else f"{100 * row['kept']:.1f} %"
            lines.append(
                f"| {row['n_criteria']} | {row['roc_auc']:.3f} | {kept_k} | "
                f"{_pct(row['rate_at_points_volume'])} |"
            )
    return lines


# ---------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------


def _check_max_rules(max_rules: Any) -> int:
    if isinstance(max_rules, bool) or not isinstance(max_rules, int | np.integer) or max_rules < 1:
        raise ConfigError(
            f"max_rules must be a positive whole number of criteria; got {max_rules!r}. "
            f"Use e.g. {DEFAULT_MAX_RULES}."
        )
    return int(max_rules)


def _leads(bundle: Any, data: str | Path | None, frame: pd.DataFrame | None):
    """The bundle's leads split again exactly as in training (fit rows, test rows)."""
    from mqlml.config import ProjectConfig
    from mqlml.readers import read_leads
    from mqlml.schema import fingerprint
    from mqlml.train import _split, prepare_leads

    config = ProjectConfig.model_validate(bundle.config)
    if data is not None:
        config = config.with_overrides(data={"path": Path(data)})
    if frame is None:
        frame = read_leads(config)
    leads = prepare_leads(config, frame)
    if fingerprint(leads.X, leads.y) != bundle.metadata.get("fingerprint"):
        raise DataError(
            f"the leads must be the ones the model was trained on, to fit on its training part "
            f"and judge on its test part; {config.data.path} differs from them (another file, "
            "or changed since). Pass the training leads with --data, or retrain."
        )
    parts = _split(config, leads)
    return config, leads, parts


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scorecard(
    model: Any,
    *,
    data: str | Path | None = None,
    frame: pd.DataFrame | None = None,
    max_rules: int = DEFAULT_MAX_RULES,
    out: str | Path | None = None,
    table: str = "leads",
    n_boot: int = 1000,
    seed: int = 0,
) -> Scorecard:
    """Fit integer points per criterion that reproduce a bundle's scores; judge them honestly.

    Parameters
    ----------
    model : Bundle or path
        The trained bundle (or its folder).
    data : str or Path, optional
        The leads it was trained on, in place of its config's ``data.path``.
    frame : pandas.DataFrame, optional
        The same leads, already read.
    max_rules : int, default=30
        At most this many criteria.
    out : str or Path, optional
        A folder to write ``scorecard.yaml``, ``.csv``, ``.sql``, ``.json`` and ``.md`` to.
    table : str, default="leads"
        The table the SQL reads.
    n_boot, seed
        The paired bootstrap of the fidelity's intervals.

    Returns
    -------
    Scorecard

    Raises
    ------
    ConfigError
        When ``max_rules`` is not a positive whole number.
    DataError
        When the leads are not the ones the bundle was trained on, or ``out`` is the
        bundle's folder or inside it.
    InsufficientDataError
        When no card with at most ``max_rules`` criteria gives any lead points.

    Examples
    --------
    >>> from mqlml.config import ProjectConfig
    >>> from mqlml.datasets import make_leads
    >>> from mqlml.train import train
    >>> leads = make_leads(4000, seed=3)
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id", "label": "converted",
    ...     "time": "created_at"}, threshold={"target_rate": 0.3}, model={"refit": False})
    >>> card = scorecard(train(cfg, frame=leads).bundle, frame=leads, max_rules=10, n_boot=50)
    >>> card.n_criteria <= 10, card.fidelity["ranking"]["scorecard"] > 0.8
    (True, True)
    """
    from mqlml.baseline import load_rules, parse_rules
    from mqlml.bundle import Bundle, load_bundle
    from mqlml.errors import InsufficientDataError

    max_rules = _check_max_rules(max_rules)
    if not isinstance(model, Bundle):
        model = load_bundle(model)
    bundle = model
    if out is not None and bundle.path is not None:
        from mqlml.atomic import inside

        if inside(out, bundle.path):
            raise DataError(
                f"--out must be a folder outside the bundle; got {str(out)!r} inside the bundle "
                f"{str(bundle.path)!r}. Give another folder, e.g. scorecards/NAME."
            )
    judge = bundle.backtest or bundle
    config, leads, parts = _leads(bundle, data, frame)
    if out is not None:
        from mqlml.atomic import same_path

        source = Path(config.data.path)
        if any(same_path(Path(out) / f"scorecard.{ext}", source) for ext in _EXTENSIONS):
            raise DataError(
                f"--out must not hold the leads file; got {str(out)!r}, where "
                f"{source.name} would be replaced. Give another folder."
            )
    refit = bundle.backtest is not None
    fit_rows = np.sort(np.concatenate([parts.train, parts.calibrate])) if refit else parts.train
    part = "train + calibrate parts" if refit else "train part"
    if fit_rows.size > _MAX_FIT_ROWS:
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(fit_rows, _MAX_FIT_ROWS, replace=False))
    schema = judge.schema
    raw_fit = leads.frame.iloc[fit_rows].reset_index(drop=True)
    X_fit = schema.features_frame(raw_fit)
    scale = judge.scale
    target, calibration_fit = _target(judge, X_fit)
    candidates = _candidates(schema, X_fit, raw_fit)
    D = np.column_stack([_column(c, X_fit) for c in candidates])
    candidates = _grouped(candidates, D, target)
    D = np.column_stack([_column(c, X_fit) for c in candidates])
    cards = _path_cards(D, target, candidates, max_rules)
    chosen = _best(cards, max_rules)
    if chosen is None:
        raise InsufficientDataError(
            f"a scorecard must give some lead points with at most {max_rules} criteria; got "
            "none (the model's scores barely vary on its training leads). Raise --max-rules."
        )

    raw_test = leads.frame.iloc[parts.test].reset_index(drop=True)
    y_test = leads.y[parts.test]
    X_test = schema.features_frame(raw_test)
    p_test = judge.predict_proba(X_test)
    hand_rules = (config.baseline.rules and Path(config.baseline.rules)) or None
    hand_points = hand_threshold = None
    if hand_rules is not None and hand_rules.is_file():
        hand = load_rules(hand_rules)
        hand_points, hand_threshold = _points(hand, raw_test, X_test), hand.mql_threshold

    def ruleset(card: _Card):
        threshold_points = math.ceil(scale.mql_at - card.offset - 1e-9)
        mapping = {
            "name": f"scorecard of the {bundle.model.model} model",
            "mql_threshold": threshold_points,
            "rules": _rules(card, candidates, schema.features),
        }
        return parse_rules(mapping), threshold_points

    rules, threshold_points = ruleset(chosen)
    card_points = _points(rules, raw_test, X_test)
    fid = fidelity(
        y_test,
        p_test,
        judge.threshold.threshold,
        card_points,
        threshold_points,
        hand_points,
        hand_threshold,
        n_boot=n_boot,
        seed=seed,
    )
    tradeoff = []
    for k in sorted({k for k in _TRADEOFF if k < max_rules} | {max_rules}):
        card_k = _best(cards, k)
        if card_k is None or any(row["n_criteria"] == card_k.n_criteria for row in tradeoff):
            continue
        rules_k, _ = ruleset(card_k)
        pts = _points(rules_k, raw_test, X_test)
        f_k = fidelity(y_test, p_test, judge.threshold.threshold, pts, 0.0, n_boot=1)
        at_volume = None
        if hand_points is not None and fid["at_volume"]:
            at_volume = _line(y_test, _top(pts, fid["at_volume"]["n_mql"]))["rate"]
        tradeoff.append(
            {
                "max_rules": k,
                "n_criteria": len(rules_k.rules),
                "fit_r2": card_k.r2,
                "roc_auc": f_k["ranking"]["scorecard"],
                "kept": f_k["ranking"]["kept"],
                "rate_at_points_volume": at_volume,
            }
        )
    result = Scorecard(
        rules=rules,
        offset=chosen.offset,
        threshold_points=threshold_points,
        scale=scale.to_dict(),
        fit={
            "rows": int(fit_rows.size),
            "part": part,
            "target": "the model's score on its scale, by a straight line in log-odds",
            "calibration_line": calibration_fit,
            "r2": chosen.r2,
            "candidates": len(candidates),
            "max_rules": max_rules,
        },
        fidelity=fid,
        tradeoff=tradeoff,
        source={
            "bundle": None if bundle.path is None else str(bundle.path),
            "digest": bundle.digest,
            "judge": "backtest" if refit else "deployed",
            "model": bundle.model.model,
            "fingerprint": bundle.metadata.get("fingerprint"),
            "data": str(config.data.path),
            "hand_set_rules": None if hand_points is None else str(hand_rules),
        },
    )
    if out is not None:
        result.paths = _write(result, Path(out), table, schema.id_column)
    return result


def _write(card: Scorecard, folder: Path, table: str, id_column: str | None) -> dict[str, Path]:
    from mqlml.atomic import atomic_output

    paths = {
        "yaml": folder / "scorecard.yaml",
        "csv": folder / "scorecard.csv",
        "sql": folder / "scorecard.sql",
        "json": folder / "scorecard.json",
        "markdown": folder / "scorecard.md",
    }
    rules_text = card.to_yaml()
    record = card.to_dict()
    record["source"]["rules_sha256"] = _sha256(rules_text)
    texts = {
        "yaml": rules_text,
        "csv": card.to_csv(),
        "sql": card.to_sql(table, id_column),
        "json": json.dumps(record, indent=2, allow_nan=False) + "\n",
        "markdown": card.to_markdown(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key in _FILES:
        with atomic_output(paths[key]) as tmp:
            tmp.write_text(texts[key], encoding="utf-8")
    return paths


def report_section(rules_file: str | Path | None, bundle: Any) -> dict[str, Any] | None:
    """The scorecard's fidelity for the report, when the rules compared are a scorecard.

    A rules file is a scorecard when ``scorecard.json`` lies beside it, records the
    file's sha256 and was made from leads with the bundle's data fingerprint; otherwise
    (hand-set rules, an edited card, another bundle's card) this returns None.
    """
    if rules_file is None:
        return None
    path = Path(rules_file)
    record_path = path.with_name("scorecard.json")
    if not path.is_file() or not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    source = record.get("source") or {}
    if (
        record.get("format") != SCORECARD_FORMAT
        or source.get("rules_sha256") != _sha256(path.read_text(encoding="utf-8"))
        or source.get("fingerprint") != bundle.metadata.get("fingerprint")
    ):
        return None
    keys = ("n_criteria", "mql_threshold_points", "offset", "scale", "fit", "fidelity", "tradeoff")
    return {key: record.get(key) for key in keys}


def report_tables(section: dict[str, Any] | None) -> list[tuple[str, str, list[str], list]]:
    """The report's scorecard tables (title, caption, header, rows); none without a card."""
    if not section:
        return []
    fid, tradeoff = section["fidelity"], section["tradeoff"] or []
    rank, line, vol = fid["ranking"], fid["at_line"], fid["at_volume"]
    sides = ("model", "scorecard", "points")

    def auc(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    rows = [
        ["ROC AUC", *(auc(rank[s]) for s in sides)],
        [
            "MQLs at its own MQL line",
            *("n/a" if not line[s] else f"{line[s]['n_mql']:,}" for s in sides),
        ],
        ["MQL-to-SQL rate at its own MQL line", *(_with_interval(line[s]) for s in sides)],
    ]
    if vol:
        rows.append(
            [
                f"MQL-to-SQL rate at the points' volume ({vol['n_mql']:,} MQLs)",
                *(_with_interval(vol[s]) for s in sides),
            ]
        )
    kept = rank["kept"]
    caption = (
        f"The rules compared are a scorecard: {section['n_criteria']} criteria fitted to the "
        f"model's log-odds on the leads it learned from ({section['fit']['part']}), an MQL at "
        f"{section['mql_threshold_points']} points. On the test leads it keeps "
        + ("n/a" if kept is None else f"{100 * kept:.1f} %")
        + " of the model's ROC AUC above 0.5; beside it, the model and the hand-set points of "
        "the config (rates with their 90 % exact interval)."
    )
    header = ["on the test leads", "model", "scorecard", "hand-set points"]
    tables = [("The scorecard, the model and the hand-set points", caption, header, rows)]
    if tradeoff:
        trade_rows = [
            [
                f"{row['n_criteria']}",
                f"{row['roc_auc']:.3f}",
                "n/a" if row["kept"] is None else f"{100 * row['kept']:.1f} %",
                _pct(row["rate_at_points_volume"]),
            ]
            for row in tradeoff
        ]
        tables.append(
            (
                "Fewer criteria",
                "The same fit with at most so many criteria (mqlml scorecard --max-rules), "
                "judged on the same test leads.",
                ["criteria", "ROC AUC", "AUC kept", "MQL-to-SQL rate at the points' volume"],
                trade_rows,
            )
        )
    return tables
