"""The training job: split, fit, calibrate, choose the threshold, evaluate, build the bundle.

This is the one place that strings the steps together::

    leads ─► schema ─► split by time (or stratified random)
                       train ─► LeadScorer.fit
                       calibrate ─► calibrator (model frozen) ─► threshold for the target
                       test ─► evaluate (never fitted on)

Splits are by time when the config names a time column: the oldest leads train, the
next calibrate, the newest test, so the test numbers say how the model does on leads
that come after the ones it learned from. Without a time column the split is random and
stratified; ``split.method: order`` keeps the file's row order (rows already in time
order, no date column).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mqlml.bundle import Bundle, package_versions
from mqlml.calibration import choose_method, diagnose, fit_score_map
from mqlml.checks import check_before_training
from mqlml.config import ProjectConfig
from mqlml.drift import build_reference
from mqlml.errors import DataError, InsufficientDataError
from mqlml.evaluate import evaluate
from mqlml.events import with_event_features
from mqlml.model import LeadScorer
from mqlml.points import ScoreScale, reference_quantiles
from mqlml.readers import read_leads
from mqlml.schema import LeadSchema, fingerprint
from mqlml.threshold import choose_threshold

__all__ = [
    "Leads",
    "Parts",
    "TrainResult",
    "holdout",
    "prepare_leads",
    "split_leads",
    "train",
]

_PARTS = ("train", "calibrate", "test")


@dataclass(frozen=True)
class Parts:
    """Row positions of the train, calibrate and test parts, and how they were made."""

    train: np.ndarray
    calibrate: np.ndarray
    test: np.ndarray
    method: str

    def sizes(self) -> dict[str, int]:
        """Rows per part."""
        return {name: len(getattr(self, name)) for name in _PARTS}


def split_leads(
    y: np.ndarray,
    *,
    times: pd.Series | None = None,
    method: str = "auto",
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> Parts:
    """Split leads into train, calibrate and test parts.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
        Outcomes (for stratification).
    times : pandas.Series, optional
        Creation times; with ``method="auto"`` they make the split time-ordered.
    method : {"auto", "time", "order", "random"}
        ``time``: by creation time (stable for ties); ``order``: by row order;
        ``random``: stratified random.
    fractions : tuple of three floats
        Train, calibrate and test shares (summing to 1).
    seed : int
        Seed of the random split.

    Returns
    -------
    Parts

    Examples
    --------
    >>> parts = split_leads(np.array([0, 1] * 50), method="order")
    >>> parts.sizes()
    {'train': 60, 'calibrate': 20, 'test': 20}
    """
    n = len(y)
    if method == "auto":
        method = "time" if times is not None else "random"
    if method == "time" and times is None:
        raise InsufficientDataError(
            "split.method 'time' must have a time column; got none. Set columns.time or use "
            "split.method: random."
        )
    if method in ("time", "order"):
        order = np.arange(n) if method == "order" else np.argsort(times.to_numpy(), kind="stable")
        a = round(n * fractions[0])
        b = round(n * (fractions[0] + fractions[1]))
        return Parts(np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]), method)
    rows = np.arange(n)
    rest_share = fractions[1] + fractions[2]
    train, rest = train_test_split(rows, test_size=rest_share, stratify=y, random_state=seed)
    cal, test = train_test_split(
        rest, test_size=fractions[2] / rest_share, stratify=y[rest], random_state=seed
    )
    return Parts(np.sort(train), np.sort(cal), np.sort(test), "random")


@dataclass
class TrainResult:
    """What :func:`train` made: the bundle, where it went, and the numbers."""

    bundle: Bundle
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    parts: Parts
    path: Path | None = None

    def summary(self) -> dict[str, Any]:
        """The headline numbers (the keys ``mqlml train --json`` prints)."""
        m, t = self.metrics, self.bundle.threshold
        return {
            "roc_auc": m["roc_auc"],
            "pr_auc": m["pr_auc"],
            "brier": m["brier"],
            "ece": m["ece"],
            "threshold": t.threshold,
            "target_rate": t.target_rate,
            "capacity": t.capacity_per_period if t.period else t.capacity,
            "expected_rate": m["expected_rate"],
            "realized_rate": m["realized_rate"],
            "realized_interval": m["realized_interval"],
            "mql_share": m["mql_share"],
            "drift_warning": m["drift_warning"],
            "rows": self.parts.sizes(),
            "bundle": str(self.path) if self.path else None,
        }


@dataclass(frozen=True)
class Leads:
    """Checked leads, ready to split: the frame, its schema, features, labels and times."""

    frame: pd.DataFrame
    schema: LeadSchema
    X: pd.DataFrame
    y: np.ndarray
    times: pd.Series | None
    event_types: list | None = None


def prepare_leads(
    config: ProjectConfig, frame: pd.DataFrame | None = None, events: pd.DataFrame | None = None
) -> Leads:
    """Read (unless given) and check the leads: schema, features, labels, times.

    With an activity log (``data.events`` or ``events``), its engagement features are
    computed as of each lead's horizon (mqlml.events) and appended first.

    Raises
    ------
    MissingColumnError, DataError, ConfigError
        For columns, ids, labels or dates the config and the data disagree on.
    InsufficientDataError
        Under the config's minimum leads or conversions (``checks``).
    """
    if frame is None:
        frame = read_leads(config)
    config, frame, event_types = with_event_features(config, frame, events)
    schema = LeadSchema.resolve(config, frame)
    schema.check_unique_ids(frame)
    y = schema.labels(frame)
    times = schema.times(frame)
    bars = config.checks
    n, n_pos = len(y), int(y.sum())
    if n < bars.min_leads_error or n_pos < bars.min_conversions_error or n_pos == n:
        raise InsufficientDataError(
            f"training data must have at least {bars.min_leads_error} leads and "
            f"{bars.min_conversions_error} conversions (and some non-conversions); got {n} "
            f"leads and {n_pos} conversions in {config.data.path}. Add more history."
        )
    return Leads(frame, schema, schema.features_frame(frame), y, times, event_types)


def _split(config: ProjectConfig, y: np.ndarray, times: pd.Series | None) -> Parts:
    split = config.split
    fractions = (split.train, split.calibrate, split.test)
    return split_leads(y, times=times, method=split.method, fractions=fractions, seed=split.seed)


def train(
    config: ProjectConfig,
    *,
    frame: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    target_rate: float | None = None,
    capacity: int | str | None = None,
    model: str | None = None,
    out: str | Path | None = None,
) -> TrainResult:
    """Train, calibrate, choose the MQL threshold and evaluate on the newest leads.

    Parameters
    ----------
    config : ProjectConfig
        The project config.
    frame : pandas.DataFrame, optional
        The leads; read from ``config.data`` when omitted.
    events : pandas.DataFrame, optional
        An activity log; read from ``config.data.events`` when that is set.
    target_rate, capacity : optional
        Override the config's threshold goal (one of them).
    model : {"lightgbm", "logistic"}, optional
        Override the config's model kind.
    out : str or Path, optional
        Save the bundle to this folder.

    Returns
    -------
    TrainResult

    Raises
    ------
    InsufficientDataError
        Too few leads or conversions overall or in a part.
    UnreachableTargetError
        No threshold reaches the target rate on the calibration part.

    Examples
    --------
    >>> from mqlml.datasets import make_leads
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id", "label": "converted",
    ...     "time": "created_at"}, threshold={"target_rate": 0.3})
    >>> result = train(cfg, frame=make_leads(5000, seed=1))
    >>> 0.0 < result.bundle.threshold.threshold < 1.0
    True
    """
    if target_rate is not None or capacity is not None:
        config = config.with_overrides(threshold={"target_rate": target_rate, "capacity": capacity})
    if model is not None:
        config = config.with_overrides(model={"kind": model})
    leads = prepare_leads(config, frame, events)
    schema, X, y, times = leads.schema, leads.X, leads.y, leads.times
    check_before_training(config, X, y, times)
    parts = _split(config, y, times)
    for name in _PARTS:
        rows = getattr(parts, name)
        if y[rows].sum() < 10 or y[rows].sum() == len(rows):
            raise InsufficientDataError(
                f"the {name} part must hold at least 10 conversions and some non-conversions; "
                f"got {int(y[rows].sum())} of {len(rows)} leads. Add more history or change "
                "the split fractions."
            )

    settings = config.model
    scorer = LeadScorer(
        model=settings.kind,
        n_estimators=settings.n_estimators,
        learning_rate=settings.learning_rate,
        num_leaves=settings.num_leaves,
        min_child_samples=settings.min_child_samples,
        early_stopping_rounds=settings.early_stopping_rounds,
        min_category_count=settings.min_category_count,
        C=settings.C,
        random_state=settings.seed,
    )
    X_train, X_cal, X_test = (X.iloc[getattr(parts, name)] for name in _PARTS)
    y_train, y_cal, y_test = (y[getattr(parts, name)] for name in _PARTS)
    scorer.fit(X_train, y_train)

    method = settings.calibration
    if method == "auto":
        method = choose_method(len(y_cal), int(y_cal.sum()))
    score_map = fit_score_map(scorer, X_cal, y_cal, method=method)
    p_cal = score_map(scorer.decision_function(X_cal))
    goal = config.threshold
    threshold = choose_threshold(
        p_cal,
        target_rate=None if goal.capacity is not None else goal.target_rate,
        capacity=goal.capacity,
        labels=y_cal,
        times=None if times is None else times.iloc[parts.calibrate],
        confidence=None if goal.capacity is not None else goal.confidence,
    )

    p_test = score_map(scorer.decision_function(X_test))
    metrics = evaluate(
        y_test,
        p_test,
        threshold=threshold.threshold,
        expected_rate=threshold.expected_rate,
        target_rate=threshold.target_rate,
    )
    metadata = {
        "data": str(config.data.path),
        "fingerprint": fingerprint(X, y),
        "rows": len(y),
        "conversions": int(y.sum()),
        "date_from": None if times is None else str(times.min()),
        "date_to": None if times is None else str(times.max()),
        "split": {"method": parts.method, **parts.sizes()},
        "test_from": None if times is None else str(times.iloc[parts.test].min()),
        "model": settings.kind,
        "best_iteration": getattr(scorer, "best_iteration_", None),
        "calibration_method": method,
        "event_types": leads.event_types,
        "metrics": metrics,
        "versions": package_versions(),
    }
    scale = ScoreScale(threshold.threshold, config.score.mql_at, config.score.points_to_double_odds)
    bundle = Bundle(
        model=scorer,
        score_map=score_map,
        threshold=threshold,
        schema=schema,
        tiers=scale.tiers(config.score.tiers),
        scale=scale,
        config=config.model_dump(mode="json"),
        # Percentiles against leads the model did not learn from.
        reference={
            "quantiles": reference_quantiles(p_cal),
            "features": build_reference(X_cal, schema.kinds, p_cal),
        },
        metadata=metadata,
    )
    path = bundle.save(out) if out is not None else None
    return TrainResult(
        bundle=bundle,
        metrics=metrics,
        calibration={
            "method": method,
            "calibrate_part": diagnose(y_cal, p_cal).to_dict(),
            "test_part": diagnose(y_test, p_test).to_dict(),
        },
        parts=parts,
        path=path,
    )


def holdout(
    bundle: Bundle, frame: pd.DataFrame | None = None, events: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """The test part of a bundle's training data, split again exactly as in training.

    Parameters
    ----------
    bundle : Bundle
        A trained bundle (its config says where the leads are and how they were split).
    frame : pandas.DataFrame, optional
        The leads; read from the bundle's config when omitted.
    events : pandas.DataFrame, optional
        The activity log, when the bundle was trained from one (read from the config
        when omitted).

    Returns
    -------
    (frame, labels)
        The raw rows of the test part (all columns, in file order) and their 0/1 labels.

    Raises
    ------
    DataError
        When the leads are not the ones the bundle was trained on (fingerprint differs).
    """
    config = ProjectConfig.model_validate(bundle.config)
    if frame is None:
        frame = read_leads(config)
    leads = prepare_leads(config, frame, events)
    X, y = leads.X, leads.y
    if fingerprint(X, y) != bundle.metadata.get("fingerprint"):
        raise DataError(
            f"the leads must be the ones the model was trained on to find its test part; "
            f"{config.data.path} has changed since. Retrain, or pass the leads to compare "
            "on explicitly."
        )
    parts = _split(config, y, leads.times)
    return leads.frame.iloc[parts.test].reset_index(drop=True), y[parts.test]
