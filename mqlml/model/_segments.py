"""An MQL line per segment: one model, a calibration check and a threshold per segment.

Regions, products or inbound and outbound teams agree to their own MQL-to-SQL rates
(``threshold.segments``)::

    threshold:
      target_rate: 0.25            # the rest: values not listed, and missing values
      segments:
        column: region
        targets: {EMEA: 0.20, AMER: 0.25, APAC: 0.35}

One model scores every lead. On the calibration part, for each listed value and for
"the rest" (one more group):

1. the overall calibration is checked on the segment's leads: expected conversions (the
   sum of its probabilities) against observed ones, as a z statistic;
2. a segment with at least ``calibrate_min_leads`` leads and ``calibrate_min_conversions``
   conversions (and as many non-conversions) gets a calibration of its own, fitted like
   the overall one (mqlml.model) on its leads only;
3. a segment with at least ``min_leads`` leads and ``min_conversions`` conversions gets a
   threshold of its own, chosen by :func:`mqlml.model.choose_threshold` on its
   calibrated probabilities with the same rules (expected rate, or the guarantee with
   ``threshold.confidence``) and its own target or capacity;
4. a smaller segment falls back to the overall calibration and line (chosen on all the
   calibration leads with the top-level goal), with a warning that says so.

Segment values are compared as text, after the config's missing tokens are read as
missing (so a value ``NA`` is missing unless ``missing_tokens`` is changed); a value
not seen in training is scored with the rest's line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mqlml.config._sections import SegmentsConfig, ThresholdConfig
from mqlml.errors import ConfigError, MissingColumnError, UnreachableTargetError
from mqlml.io._levels import match_levels
from mqlml.metrics._rates import rate_interval
from mqlml.model._calibration import ScoreMap, choose_method, fit_score_map
from mqlml.model._threshold import ThresholdResult, choose_threshold

__all__ = ["REST", "SegmentLine", "SegmentLines", "fit_segment_lines", "segment_values"]

#: The label of the group of values no target names (and of missing values).
REST = "(rest)"
#: |z| of expected against observed conversions above which the check fails.
CHECK_Z = 3.0


def segment_values(values: Any, missing_tokens: Sequence[str] = ()) -> np.ndarray:
    """Segment values as text (object array), ``None`` where missing.

    Whole floats read as integers (``1.0`` -> ``"1"``), text is stripped, and the
    ``missing_tokens`` (and blanks) are missing.

    Examples
    --------
    >>> segment_values(["EMEA", " APAC ", None, 1.0, "NA"], ["NA"]).tolist()
    ['EMEA', 'APAC', None, '1', None]
    """
    tokens = set(missing_tokens) | {""}
    # Normalise each distinct value once (a segment column has few), then spread.
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    texts = np.empty(len(uniques) + 1, dtype=object)  # the last slot: missing
    texts[-1] = None
    for i, v in enumerate(uniques):
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        text = str(v).strip()
        texts[i] = None if text in tokens else text
    return texts[codes]


@dataclass(frozen=True)
class SegmentLine:
    """One segment's calibration and MQL line.

    Attributes
    ----------
    value : str
        The segment value, or :data:`REST`.
    goal : dict
        ``{"target_rate": r}`` or ``{"capacity": c}``: what its line aims for.
    n, conversions : int
        Its calibration leads and their conversions.
    threshold : ThresholdResult
        The line it uses: its own (``own_threshold``) or the overall one.
    own_threshold : bool
        Whether the threshold was chosen on its own leads.
    score_map : ScoreMap or None
        Its own calibration; None: the overall one.
    check : dict
        The overall calibration on its leads: ``expected`` and ``observed``
        conversions, ``z`` and ``ok`` (``|z| <= CHECK_Z``); then, with its own
        calibration, ``expected_after`` and ``z_after``.
    note : str or None
        Why it falls back to the overall line or calibration (a warning), if it does.
    """

    value: str
    goal: dict[str, Any]
    n: int
    conversions: int
    threshold: ThresholdResult
    own_threshold: bool
    score_map: ScoreMap | None
    check: dict[str, Any]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "value": self.value,
            "goal": dict(self.goal),
            "n": self.n,
            "conversions": self.conversions,
            "threshold": self.threshold.to_dict(),
            "own_threshold": self.own_threshold,
            "score_map": None if self.score_map is None else self.score_map.to_dict(),
            "check": dict(self.check),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentLine:
        """Inverse of :meth:`to_dict`."""
        score_map = data.get("score_map")
        return cls(
            value=str(data["value"]),
            goal=dict(data["goal"]),
            n=int(data["n"]),
            conversions=int(data["conversions"]),
            threshold=ThresholdResult.from_dict(data["threshold"]),
            own_threshold=bool(data["own_threshold"]),
            score_map=None if score_map is None else ScoreMap.from_dict(score_map),
            check=dict(data.get("check") or {}),
            note=data.get("note"),
        )


@dataclass(frozen=True)
class SegmentLines:
    """The lines of every segment: listed values in config order, then :data:`REST`.

    Attributes
    ----------
    column : str
        The segment column.
    lines : tuple of SegmentLine
        One per listed value, the rest last.
    missing_tokens : tuple of str
        Values read as missing (the rest).
    """

    column: str
    lines: tuple[SegmentLine, ...]
    missing_tokens: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """The segment of each line, the rest last."""
        return [line.value for line in self.lines]

    @property
    def warnings(self) -> list[str]:
        """One sentence per segment that falls back to the overall line or calibration."""
        return [line.note for line in self.lines if line.note]

    def codes(self, values: Any) -> np.ndarray:
        """The line (index into :attr:`lines`) of each lead, from its segment value."""
        return _codes(segment_values(values, self.missing_tokens), self.names[:-1])

    def codes_of(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`codes` of a frame's segment column.

        Raises
        ------
        MissingColumnError
            When the frame lacks the segment column.
        """
        if self.column not in frame.columns:
            raise MissingColumnError(
                f"the leads must have the segment column {self.column!r} (threshold.segments."
                f"column), whose value picks each lead's MQL line; it is not among "
                f"{list(frame.columns)[:8]}. Add the column to the input."
            )
        return self.codes(frame[self.column])

    def probabilities(self, log_odds: np.ndarray, codes: np.ndarray, overall: ScoreMap):
        """Calibrated probabilities: each segment's own map, else the overall one."""
        log_odds = np.asarray(log_odds, dtype=np.float64)
        p = overall(log_odds)
        for i, line in enumerate(self.lines):
            if line.score_map is not None:
                rows = codes == i
                if rows.any():
                    p[rows] = line.score_map(log_odds[rows])
        return p

    def thresholds(self, codes: np.ndarray) -> np.ndarray:
        """The MQL threshold of each lead (its segment's line)."""
        return np.array([line.threshold.threshold for line in self.lines], dtype=float)[codes]

    def table(self, y: np.ndarray, p: np.ndarray, codes: np.ndarray) -> list[dict[str, Any]]:
        """Per segment on other leads (the test part): leads, MQLs, expected and realized rate.

        The expected rate is the one the line promised on the calibration part; the
        realized rate comes with its exact 90 % interval.
        """
        y = np.asarray(y)
        mql = p >= self.thresholds(codes)
        rows = []
        for i, line in enumerate(self.lines):
            inside = codes == i
            n, m = int(inside.sum()), int((inside & mql).sum())
            k = int(y[inside & mql].sum())
            interval = rate_interval(k, m)
            rows.append(
                {
                    "segment": line.value,
                    "target_rate": line.goal.get("target_rate"),
                    "capacity": line.goal.get("capacity"),
                    "threshold": line.threshold.threshold,
                    "own_threshold": line.own_threshold,
                    "own_calibration": line.score_map is not None,
                    "leads": n,
                    "base_rate": float(y[inside].mean()) if n else None,
                    "n_mql": m,
                    "expected_rate": line.threshold.expected_rate,
                    "mean_probability": float(p[inside & mql].mean()) if m else None,
                    "realized_rate": k / m if m else None,
                    "realized_conversions": k,
                    "realized_interval": None if interval is None else list(interval),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (stored in a bundle's manifest)."""
        return {
            "column": self.column,
            "missing_tokens": list(self.missing_tokens),
            "lines": [line.to_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentLines:
        """Inverse of :meth:`to_dict`."""
        return cls(
            column=str(data["column"]),
            lines=tuple(SegmentLine.from_dict(d) for d in data["lines"]),
            missing_tokens=tuple(data.get("missing_tokens") or ()),
        )


def _codes(text: np.ndarray, listed: Sequence[str]) -> np.ndarray:
    """Index of each value in ``listed``; ``len(listed)`` (the rest) for others and missing.

    A value matches a listed one equal to it, else one spelling the same number
    (:func:`mqlml.io.match_levels`: ``"3.0"`` in a CSV is the segment ``3``).
    """
    found, uniques = pd.factorize(pd.Series(text, dtype=object), use_na_sentinel=True)
    lookup = match_levels(uniques, list(listed)).astype(np.int64)
    lookup[lookup < 0] = len(listed)
    return np.append(lookup, len(listed))[found]


def _check(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    expected, observed = float(p.sum()), int(y.sum())
    sd = float(np.sqrt((p * (1 - p)).sum()))
    z = (observed - expected) / sd if sd > 0 else 0.0
    return {"expected": expected, "observed": observed, "z": z, "ok": bool(abs(z) <= CHECK_Z)}


def _goal_text(goal: dict[str, Any]) -> str:
    if "target_rate" in goal:
        return f"target {goal['target_rate']:.0%}"
    return f"capacity {goal['capacity']}"


def fit_segment_lines(
    settings: SegmentsConfig,
    goal: ThresholdConfig,
    values: Any,
    scorer: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    times: pd.Series | None,
    overall_map: ScoreMap,
    overall_threshold: ThresholdResult,
    *,
    method: str = "auto",
    missing_tokens: Sequence[str] = (),
) -> SegmentLines:
    """Check, calibrate and choose each segment's line on one calibration slice.

    Parameters
    ----------
    settings : SegmentsConfig
        ``threshold.segments``.
    goal : ThresholdConfig
        The top-level goal (the rest's, and the guarantee's confidence).
    values : array-like
        The segment value of each lead of the slice.
    scorer : fitted model with ``decision_function``
        The model that scores the slice (frozen).
    X, y, times
        The slice's features, outcomes and creation times.
    overall_map, overall_threshold
        The calibration and line fitted on the whole slice (the fallback).
    method : {"auto", "isotonic", "sigmoid"}
        ``model.calibration``: the method of the segment calibrations.
    missing_tokens : sequence of str
        Segment values read as missing.

    Returns
    -------
    SegmentLines

    Raises
    ------
    ConfigError
        When a listed value is one of the missing tokens (it could never match).
    UnreachableTargetError
        When a segment's target is out of reach of its leads (the segment named).
    """
    listed = [*settings.targets, *(v for v in settings.capacities if v not in settings.targets)]
    tokens = set(missing_tokens) | {""}
    clash = [v for v in listed if v.strip() in tokens]
    if clash:
        raise ConfigError(
            f"threshold.segments values must not be missing-value tokens; got {clash}, which "
            "are read as missing (missing_tokens) and would never match. Remove them from "
            "missing_tokens in the config, or rename the values in the data."
        )
    y = np.asarray(y)
    log_odds = scorer.decision_function(X)
    p_overall = overall_map(log_odds)
    rest_goal = (
        {"capacity": goal.capacity}
        if goal.capacity is not None
        else {"target_rate": goal.target_rate}
    )
    goals = [
        {"target_rate": settings.targets[v]}
        if v in settings.targets
        else {"capacity": settings.capacities[v]}
        for v in listed
    ]
    names = [*listed, REST]
    codes = _codes(segment_values(values, missing_tokens), listed)
    lines = []
    for i, (name, line_goal) in enumerate(zip(names, [*goals, rest_goal], strict=True)):
        rows = np.flatnonzero(codes == i)
        n, k = len(rows), int(y[rows].sum())
        check = _check(y[rows], p_overall[rows])
        notes = []
        score_map = None
        enough_cal = min(k, n - k) >= settings.calibrate_min_conversions
        if n >= settings.calibrate_min_leads and enough_cal:
            kind = choose_method(n, k) if method == "auto" else method
            score_map = fit_score_map(scorer, X.iloc[rows], y[rows], method=kind)
            p_rows = score_map(log_odds[rows])
            after = _check(y[rows], p_rows)
            check.update(expected_after=after["expected"], z_after=after["z"])
        else:
            p_rows = p_overall[rows]
            if n and not check["ok"]:
                notes.append(
                    f"the overall calibration is off on its leads ({check['expected']:.0f} "
                    f"conversions expected, {k} observed) and it has too few for a "
                    f"calibration of its own ({n:,} leads, {k:,} conversions; needs "
                    f"{settings.calibrate_min_leads:,} and {settings.calibrate_min_conversions:,})"
                )
        own = n >= settings.min_leads and min(k, n - k) >= settings.min_conversions
        if own:
            try:
                threshold = choose_threshold(
                    p_rows,
                    target_rate=line_goal.get("target_rate"),
                    capacity=line_goal.get("capacity"),
                    labels=y[rows],
                    times=None if times is None else times.iloc[rows],
                    confidence=goal.confidence if "target_rate" in line_goal else None,
                )
            except UnreachableTargetError as exc:
                raise UnreachableTargetError(
                    f"segment {settings.column}={name!r}: {exc} (threshold.segments)"
                ) from None
            if threshold.note is not None:  # a guarantee not met on its leads
                notes.append(threshold.note.rstrip("."))
        else:
            threshold = overall_threshold
            if n or name != REST:
                notes.append(
                    f"too few calibration leads for a line of its own ({n:,} leads, {k:,} "
                    f"conversions; needs {settings.min_leads:,} and "
                    f"{settings.min_conversions:,} conversions): it gets the overall line "
                    f"{overall_threshold.threshold:.4g} instead of its {_goal_text(line_goal)}"
                )
        note = None
        if notes:
            note = f"segment {settings.column}={name!r}: " + "; ".join(notes) + "."
        lines.append(
            SegmentLine(
                value=name,
                goal=line_goal,
                n=n,
                conversions=k,
                threshold=threshold,
                own_threshold=own,
                score_map=score_map,
                check=check,
                note=note,
            )
        )
    return SegmentLines(settings.column, tuple(lines), tuple(missing_tokens))
