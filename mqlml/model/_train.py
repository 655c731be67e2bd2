"""The training job: split, fit, calibrate, choose the threshold, evaluate, build the bundle.

This is the one place that strings the steps together. One procedure (fit a model on
older leads, calibrate it and choose the threshold on the next ones) is applied at two
points in time::

    leads ─► schema ─► outcome window (immature leads left out) ─► split
             train │ calibrate │ test   (by creation time, or stratified random)

    M1 = fit(train)               C1, T1 on M1's scores of calibrate
    M2 = fit(train + calibrate)   BACKTEST = C1∘M2 with T1, judged on test
    M3 = fit(all mature leads)    C2, T2 on the out-of-fold scores M1(calibrate) and
                                  M2(test), pooled
                                  DEPLOYED = C2∘M3 with T2 (the bundle that scores)

The backtest is the deployed procedure one step back in time; every number in the summary
and the report comes from it, on the test part that nothing in it saw. The deployed
calibrator and line are fitted, as ``CalibratedClassifierCV(ensemble=False)`` pools
folds, on out-of-fold scores of models trained like M3 (each on every lead before the part
it scores, forward in time), never on one other model's scores of one part. Measured:
after a late doubling of the conversion odds (a synthetic history with known
probabilities), this pool gives ECE 0.008-0.010 and an MQL rate of 25-27 % for a 25 %
target on the later leads, against 0.014-0.021 and 28-30 % when the deployed bundle keeps
the backtest's calibrator (fitted on the calibration part alone, before the change); on
the real tables of ``make validate`` both held the target equally often. The price: the
test part that judges the backtest also supplies half of the deployed calibration.
``model.refit: false`` keeps a single fit: the bundle is (M1, C1, T1).

Splits are by time when the config names a time column: the oldest leads train, the
next calibrate, the newest test. Without a time column the split is random and
stratified; ``split.method: order`` keeps the file's row order (rows already in time
order, no date column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

from mqlml.config._capacity import PERIOD_DAYS
from mqlml.config._config import ProjectConfig
from mqlml.errors import ConfigError, DataError, InsufficientDataError, MissingColumnError
from mqlml.io._dates import detect_format
from mqlml.io._readers import read_table
from mqlml.leads._checks import check_before_training
from mqlml.leads._delay import ConversionDelay, fit_delay
from mqlml.leads._events import snapshot_features
from mqlml.leads._outcome import (
    Maturity,
    apply_window,
    cohort_findings,
    converted_times,
    data_as_of,
    since_recorded,
    snapshot_ages,
    snapshot_rows,
    truncation_finding,
)
from mqlml.leads._read import read_leads
from mqlml.leads._schema import LeadSchema, fingerprint
from mqlml.metrics._calibration import diagnose
from mqlml.metrics._drift import build_reference
from mqlml.metrics._estimate import calibration_bins
from mqlml.metrics._evaluate import evaluate
from mqlml.metrics._rates import monthly_range
from mqlml.model._accounts import account_evaluation
from mqlml.model._bundle import Bundle, package_versions
from mqlml.model._calibration import ScoreMap, choose_method, fit_score_map
from mqlml.model._choice import choose_model
from mqlml.model._estimator import LeadScorer
from mqlml.model._points import ScoreScale, reference_quantiles
from mqlml.model._segments import SegmentLines, fit_segment_lines
from mqlml.model._threshold import ThresholdResult, choose_threshold, guarantee_check

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
_DEPLOYED_CALIBRATION = (
    "out-of-fold scores of models fit on every lead before the part they score, pooled: "
    "the train-part model's scores of the calibration part and the train-and-calibrate "
    "model's scores of the test part"
)


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
    outcome: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The headline numbers (the keys ``mqlml train --json`` prints)."""
        m, t = self.metrics, self.bundle.threshold
        return {
            "roc_auc": m["roc_auc"],
            "pr_auc": m["pr_auc"],
            "brier": m["brier"],
            "ece": m["ece"],
            "threshold": t.threshold,
            "backtest_threshold": (self.bundle.backtest or self.bundle).threshold.threshold,
            "target_rate": t.target_rate,
            "capacity": t.capacity_per_period if t.period else t.capacity,
            # What the bundle that scores promises (monitor judges against it) ...
            "expected_rate": t.expected_rate,
            "lower_bound": t.lower_bound,
            "confidence": t.confidence,
            "guarantee": t.guarantee,  # "met" / "not met" with a confidence, else None
            # How far the line's own rate may sit from what it promises, given the
            # leads it was chosen on (exact 90 % interval of its MQLs' rate there).
            "line_interval": (None if t.realized_interval is None else list(t.realized_interval)),
            "line_calibration_mqls": t.n_mql,
            "model_chosen": (self.bundle.metadata.get("model_choice") or {}).get("chosen"),
            "guarantee_cost": (
                None if t.n_mql_expected_rule is None else t.n_mql_expected_rule - t.n_mql
            ),
            # ... and the backtest's promise against what its MQLs did on the test part.
            "monthly": self.bundle.metadata.get("monthly"),
            "split": {
                "method": self.parts.method,
                "parts": self.bundle.metadata.get("parts"),
            },
            "backtest_expected_rate": m["expected_rate"],
            "realized_rate": m["realized_rate"],
            "realized_interval": m["realized_interval"],
            "mql_share": m["mql_share"],
            "segments": m.get("segments"),  # the backtest's lines on the test part
            "segment_thresholds": (
                None
                if self.bundle.segments is None
                else {x.value: x.threshold.threshold for x in self.bundle.segments.lines}
            ),
            "drift_warning": m["drift_warning"],
            "rows": self.parts.sizes(),
            "date_formats": self.bundle.metadata.get("date_formats") or {},
            "numbers_from": self.bundle.metadata.get("numbers_from"),
            "fits": self.bundle.metadata.get("fits"),
            "outcome": self.outcome,
            "warnings": list(self.warnings),
            "bundle": str(self.path) if self.path else None,
        }


@dataclass(frozen=True)
class Leads:
    """Checked mature leads, ready to split: the frame, its schema, features, labels, times.

    ``maturity`` says which leads of the input were kept (the others were immature) and
    what the outcome window changed; ``date_formats`` how each date column was read (the
    leads' and the activity log's), to record in the bundle's config; ``findings`` are
    (code, message) pairs about the outcomes of the leads (left truncation,
    :func:`mqlml.leads._outcome.truncation_finding`).
    """

    frame: pd.DataFrame
    schema: LeadSchema
    X: pd.DataFrame
    y: np.ndarray
    times: pd.Series | None
    event_types: list | None = None
    maturity: Maturity | None = None
    groups: np.ndarray | None = None
    date_formats: dict[str, str] = field(default_factory=dict)
    findings: tuple[tuple[str, str], ...] = ()
    delay: ConversionDelay | None = None


def prepare_leads(
    config: ProjectConfig, frame: pd.DataFrame | None = None, events: pd.DataFrame | None = None
) -> Leads:
    """Read (unless given) and check the leads: schema, features, labels, times.

    With ``outcome.window_days``, conversions after the window count as not converted and
    immature leads are dropped (:func:`mqlml.leads._outcome.apply_window`). With
    ``outcome.recorded_from``, leads created before it are left out first. With an
    activity log (``data.events`` or ``events``), each lead becomes point-in-time
    snapshots at the ages ``events.snapshot_days``, by default found in the data
    (:func:`mqlml.leads._outcome.snapshot_ages`, :func:`mqlml.leads._outcome.snapshot_rows`,
    :func:`mqlml.leads._events.snapshot_features`): one row per kept snapshot, ``groups`` the
    lead of each row.

    Raises
    ------
    MissingColumnError, DataError, ConfigError
        For columns, ids, labels or dates the config and the data disagree on.
    InsufficientDataError
        Under the config's minimum leads or conversions (``checks``).
    """
    if frame is None:
        frame = read_leads(config)
    time, formats = config.columns.time, config.columns.date_formats
    frame, unrecorded = since_recorded(frame, time, config.outcome.recorded_from, formats.get(time))
    if config.data.events is not None or events is not None:
        return _prepare_snapshots(config, frame, events, unrecorded)
    schema = LeadSchema.resolve(config, frame)
    schema.check_unique_ids(frame)
    y = schema.labels(frame)
    times = schema.times(frame)
    conv = _converted_times(frame, schema, config.columns.converted_at)
    y, maturity = apply_window(
        y, times, conv, window_days=config.outcome.window_days, as_of=config.outcome.as_of
    )
    maturity = replace(maturity, unrecorded=unrecorded)
    delay = _delay(config, frame, times, conv, maturity)
    if maturity.immature:
        keep = maturity.mature
        frame = frame.loc[keep].reset_index(drop=True)
        y = y[keep]
        times = times[keep].reset_index(drop=True)
        conv = None if conv is None else conv[keep].reset_index(drop=True)
    found = _truncation(config, y, times, conv)
    _check_size(config, y, maturity)
    X = schema.features_frame(frame)
    return Leads(
        frame, schema, X, y, times, None, maturity,
        date_formats=schema.date_formats, findings=found, delay=delay,
    )  # fmt: skip


def _delay(
    config: ProjectConfig,
    frame: pd.DataFrame,
    times: pd.Series | None,
    conv: pd.Series | None,
    maturity: Maturity,
) -> ConversionDelay | None:
    """The conversion-delay curve (mqlml.leads._delay), per segment too, when conversion times
    are known."""
    if times is None or conv is None:
        return None
    segments = config.threshold.segments
    values = None
    if segments is not None and segments.column in frame.columns:
        values = frame[segments.column].to_numpy(dtype=object)
    return fit_delay(
        times,
        conv,
        as_of=maturity.as_of or data_as_of(times, conv),
        window_days=maturity.window_days,
        segment=values,
    )


def _converted_times(frame: pd.DataFrame, schema: LeadSchema, column: str | None):
    fmt = schema.date_formats.get(column)
    return converted_times(frame, column, fmt, missing=schema.missing_tokens)


def _truncation(
    config: ProjectConfig, y: np.ndarray, times: pd.Series | None, conv: pd.Series | None
) -> tuple[tuple[str, str], ...]:
    """Left truncation of the outcomes (mqlml.leads._outcome.truncation_finding), per lead."""
    found = truncation_finding(y, times, conv, time_column=config.columns.time or "created_at")
    return () if found is None else (found,)


def _check_size(config: ProjectConfig, y: np.ndarray, maturity: Maturity) -> None:
    bars = config.checks
    n, n_pos = len(y), int(y.sum())
    left_out = f" ({maturity.immature} immature leads left out)" if maturity.immature else ""
    if n < bars.min_leads_error or n_pos < bars.min_conversions_error or n_pos == n:
        raise InsufficientDataError(
            f"training data must have at least {bars.min_leads_error} leads and "
            f"{bars.min_conversions_error} conversions (and some non-conversions); got {n} "
            f"leads and {n_pos} conversions in {config.data.path}{left_out}. Add more history."
        )


def _prepare_snapshots(
    config: ProjectConfig, frame: pd.DataFrame, events: pd.DataFrame | None, unrecorded: int = 0
) -> Leads:
    """Leads from an activity log: point-in-time snapshots (mqlml.leads._events, mqlml.leads._outcome)."""
    cols = config.columns
    if cols.converted_at is None:
        raise ConfigError(
            "columns.converted_at must be set to train from an activity log (data.events): "
            "each snapshot's label is 'converted in the window after the snapshot'; got "
            "none. Name the column with each lead's conversion time."
        )
    if events is None:
        events = read_table(config.data.events, missing_tokens=config.missing_tokens)
    raw_schema = LeadSchema.resolve(config.with_overrides(features={"engagement": []}), frame)
    raw_schema.check_unique_ids(frame)
    # Every later read of the dates (per snapshot, at scoring) uses these formats.
    stamp = config.events.timestamp_column
    formats = {**raw_schema.date_formats}
    if stamp in events.columns:
        formats[stamp] = cols.date_formats.get(stamp) or detect_format(
            events[stamp], stamp, what="column", source=_log_name(config)
        )
    config = config.with_overrides(columns={"date_formats": formats})
    y_lead = raw_schema.labels(frame)
    times = raw_schema.times(frame)
    if times is None:
        raise ConfigError(
            "columns.time must be set to use an activity log (data.events); got none. "
            "Name the creation-time column."
        )
    conv = _converted_times(frame, raw_schema, cols.converted_at)
    conv = conv.where(y_lead == 1)
    unknown = (y_lead == 1) & conv.isna().to_numpy()
    if unknown.any():
        raise DataError(
            f"columns.converted_at {cols.converted_at!r} must hold the conversion time of every "
            f"converted lead; {int(unknown.sum()):,} converted leads have none. Fill them in "
            "or drop those leads."
        )
    # Validates the window against the history and resolves as_of.
    y_window, by_lead = apply_window(
        y_lead, times, conv, window_days=config.outcome.window_days, as_of=config.outcome.as_of
    )
    as_of = by_lead.as_of or data_as_of(times, conv)
    window = config.outcome.window_days
    ages = config.events.snapshot_days
    origin: dict[str, Any] = {"ages_from": "config"}
    if ages is None:
        ages, reach = snapshot_ages(times, conv, window_days=window, as_of=as_of)
        origin = {"ages_from": "data", "conversion_age": reach["conversion_age"]}
    lead, age, y, counts = snapshot_rows(times, conv, ages, window_days=window, as_of=as_of)
    counts.update(origin)
    expanded, names, types = snapshot_features(frame, events, config, lead=lead, age=age)
    listed = config.features.engagement
    if listed != "infer":
        config = config.with_overrides(features={"engagement": [*listed, *names]})
    schema = LeadSchema.resolve(config, expanded)
    row_times = times.iloc[lead].reset_index(drop=True)
    maturity = Maturity(
        by_lead.window_days,
        as_of,
        np.ones(len(y), dtype=bool),
        snapshots=counts,
        unrecorded=unrecorded,
    )
    # Left truncation is judged per mature lead: its outcome, within the window if any.
    mature = by_lead.mature
    found = _truncation(
        config, y_window[mature], times[mature].reset_index(drop=True), conv[mature]
    )
    _check_size(config, y, maturity)
    X = schema.features_frame(expanded)
    return Leads(
        expanded, schema, X, y, row_times, types, maturity,
        groups=lead, date_formats=formats, findings=found,
        delay=_delay(config, frame, times, conv, maturity),
    )  # fmt: skip


def _log_name(config: ProjectConfig) -> str:
    return "the events table" if config.data.events is None else str(config.data.events)


def _split(config: ProjectConfig, leads: Leads) -> Parts:
    """Split the leads; with snapshots, split LEADS first so no lead sits in two parts."""
    split = config.split
    fractions = (split.train, split.calibrate, split.test)
    y, times, groups = leads.y, leads.times, leads.groups
    if groups is None:
        return split_leads(
            y, times=times, method=split.method, fractions=fractions, seed=split.seed
        )
    owners, first = np.unique(groups, return_index=True)
    ever = np.zeros(len(owners), dtype=y.dtype)
    np.maximum.at(ever, np.searchsorted(owners, groups), y)
    lead_times = None if times is None else times.iloc[first].reset_index(drop=True)
    by_lead = split_leads(
        ever, times=lead_times, method=split.method, fractions=fractions, seed=split.seed
    )
    rows = {
        name: np.flatnonzero(np.isin(groups, owners[getattr(by_lead, name)])) for name in _PARTS
    }
    return Parts(rows["train"], rows["calibrate"], rows["test"], by_lead.method)


def _scorer(config: ProjectConfig) -> LeadScorer:
    settings = config.model
    return LeadScorer(
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


@dataclass(frozen=True)
class _Stage:
    """One calibration step: a score map and a threshold fitted on one slice."""

    score_map: ScoreMap
    threshold: ThresholdResult
    probabilities: np.ndarray  # the slice's calibrated probabilities
    log_odds: np.ndarray  # the model's scores of the slice
    labels: np.ndarray  # the slice's outcomes
    segments: SegmentLines | None = None


class _GivenScores(ClassifierMixin, BaseEstimator):
    """Scores already computed (one column of log-odds) as a fitted model, so the
    calibration steps fit on out-of-fold scores pooled from several models."""

    classes_ = np.array([0, 1])

    def fit(self, X, y):  # nothing to learn
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).ravel()

    def predict_proba(self, X) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


def _segment_values(config: ProjectConfig, leads: Leads) -> np.ndarray | None:
    """The segment value of each row (threshold.segments.column), or None without segments."""
    settings = config.threshold.segments
    if settings is None:
        return None
    if settings.column not in leads.frame.columns:
        raise MissingColumnError(
            f"threshold.segments.column must name a column of the leads; got "
            f"{settings.column!r}, which is not among {list(leads.frame.columns)[:8]}. Fix "
            "threshold.segments.column in the config."
        )
    return leads.frame[settings.column].to_numpy(dtype=object)


def _calibrate_stage(
    config: ProjectConfig,
    scorer: LeadScorer,
    X: pd.DataFrame,
    y: np.ndarray,
    times: pd.Series | None,
    method: str,
    segment_values: np.ndarray | None = None,
) -> _Stage:
    # The model scores the slice once; every calibration step below fits on those scores.
    log_odds = scorer.decision_function(X)
    given = pd.DataFrame({"log_odds": log_odds}, index=X.index)
    score_map = fit_score_map(_GivenScores(), given, y, method=method)
    p = score_map(log_odds)
    goal = config.threshold
    threshold = choose_threshold(
        p,
        target_rate=None if goal.capacity is not None else goal.target_rate,
        capacity=goal.capacity,
        labels=y,
        times=times,
        confidence=None if goal.capacity is not None else goal.confidence,
        unreachable="strictest",
    )
    if goal.segments is None or segment_values is None:
        return _Stage(score_map, threshold, p, log_odds, y)
    segments = fit_segment_lines(
        goal.segments,
        goal,
        segment_values,
        _GivenScores(),
        given,
        y,
        times,
        score_map,
        threshold,
        method=config.model.calibration,
        missing_tokens=config.missing_tokens,
    )
    codes = segments.codes(segment_values)
    p = segments.probabilities(log_odds, codes, score_map)
    return _Stage(score_map, threshold, p, log_odds, y, segments)


def _accounts(
    config: ProjectConfig,
    leads: Leads,
    fit_rows: np.ndarray,
    fit_p: np.ndarray,
    test_rows: np.ndarray,
    test_p: np.ndarray,
) -> dict[str, Any] | None:
    """Account probabilities fitted on one part's scores, judged on another's (mqlml.model._accounts).

    The account outcome is ``columns.account_label`` when set (then calibrated), else
    "any lead converted" (independence, checked).
    """
    cols = config.columns
    if cols.account is None or leads.groups is not None:
        return None
    accounts = leads.frame[cols.account].to_numpy(dtype=object)
    if cols.account_label is not None:
        from mqlml.io._readers import binary_label

        labels = binary_label(leads.frame[cols.account_label])
    else:
        labels = leads.y
    _, report = account_evaluation(
        fit_p,
        accounts[fit_rows],
        labels[fit_rows],
        test_p,
        accounts[test_rows],
        labels[test_rows],
        calibrate=cols.account_label is not None,
    )
    return {"column": cols.account, "label": cols.account_label, **report}


#: Most leads a bundle's feature drift reference is built from (the model scores each).
REFERENCE_ROWS = 50_000


def _make_bundle(
    config: ProjectConfig,
    schema: LeadSchema,
    scorer: LeadScorer,
    stage: _Stage,
    X_reference: pd.DataFrame,
    metadata: dict[str, Any],
    backtest: Bundle | None = None,
) -> Bundle:
    """The one place a Bundle is built (the deployed one and its backtest)."""
    p = stage.probabilities
    score = config.score
    if len(X_reference) > REFERENCE_ROWS:  # evenly spread over the part, in its order
        X_reference = X_reference.iloc[
            np.linspace(0, len(X_reference) - 1, REFERENCE_ROWS).astype(int)
        ]
    scale = ScoreScale(stage.threshold.threshold, score.mql_at, score.points_to_double_odds)
    return Bundle(
        model=scorer,
        score_map=stage.score_map,
        threshold=stage.threshold,
        schema=schema,
        tiers=scale.tiers(score.tiers),
        scale=scale,
        config=config.model_dump(mode="json"),
        # Percentiles against leads the calibrating model did not learn from; the score
        # drift reference is what this bundle's own model gives those leads, as it will
        # score new ones (the calibrating model's probabilities differ from a refit's).
        reference={
            "quantiles": reference_quantiles(p),
            # the calibration part's conversions by probability: the uncertainty of an
            # expected rate before outcomes arrive (mqlml.metrics._estimate.expected_rate)
            "calibration_bins": calibration_bins(p, stage.labels),
            "features": build_reference(
                X_reference, schema.kinds, stage.score_map(scorer.decision_function(X_reference))
            ),
        },
        metadata=metadata,
        backtest=backtest,
        segments=stage.segments,
    )


def _monthly(threshold: ThresholdResult, times: pd.Series | None) -> dict[str, Any] | None:
    """What sales plans with: MQLs per month, and the range of a month's MQL-to-SQL rate.

    The volume is the threshold's MQLs over the calibration slice's span; the range is
    the central 90 % of a month's rate at that volume (mqlml.model._threshold.monthly_range).
    """
    if times is None or threshold.realized_conversions is None or not len(times):
        return None
    days = (times.max() - times.min()) / pd.Timedelta(days=1) + 1.0
    per_month = threshold.n_mql * PERIOD_DAYS["month"] / days
    span = monthly_range(threshold.realized_conversions, threshold.n_mql, per_month)
    return {"mqls_per_month": per_month, "rate_range": None if span is None else list(span)}


def _period(rows: np.ndarray, times: pd.Series | None) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(rows)}
    if times is not None and len(rows):
        part = times.iloc[rows]
        out["from"], out["to"] = str(part.min()), str(part.max())
    return out


def _cohort_warnings(config: ProjectConfig, leads: Leads) -> list[str]:
    """Left truncation (any outcome), then, without a window, the monthly cohorts' warnings;
    a rate shift is not reported again when left truncation explains it."""
    truncated = [message for _, message in leads.findings]
    if config.outcome.window_days is not None or leads.groups is not None:
        return truncated
    found = cohort_findings(leads.y, leads.times, in_order=config.split.method == "order")
    return truncated + [m for code, m in found if not (truncated and code == "rate-shift")]


def _guarantee_warnings(
    config: ProjectConfig, y: np.ndarray, calibrate: np.ndarray, test: np.ndarray | None
) -> list[str]:
    """Before any fitting: the parts on which no line could be certified, whatever the model.

    The lines are chosen on the calibration part (the backtest's, or the only one with
    ``model.refit: false``) and on the test part (the bundle that scores).
    """
    goal = config.threshold
    if goal.confidence is None or goal.capacity is not None or goal.target_rate is None:
        return []
    parts = [("calibration", calibrate, "the backtest's" if test is not None else "the bundle's")]
    if test is not None:
        parts.append(("test", test, "the deployed bundle's"))
    out = []
    for name, rows, whose in parts:
        why = guarantee_check(len(rows), int(y[rows].sum()), goal.target_rate, goal.confidence)
        if why is not None:
            out.append(
                f"threshold.confidence: on the {name} part, where {whose} MQL line is chosen, "
                f"{why} Training goes on: the line will be the strictest that reaches the "
                "target taken alone, else the expected-rate one."
            )
    return out


def _check_capacity_period(config: ProjectConfig) -> None:
    """A capacity per period needs creation times to count periods: say so before any work."""
    from mqlml.config._capacity import parse_capacity

    capacity = config.threshold.capacity
    if capacity is None or config.columns.time is not None:
        return
    _, period = parse_capacity(capacity)
    if period is not None:
        where = f" in {config.source}" if config.source is not None else ""
        raise ConfigError(
            f"threshold.capacity {str(capacity)!r} (--capacity) counts MQLs per {period}, so "
            f"columns.time must name the leads' creation-time column; it is not set{where}. "
            f"Set columns.time, or give a total capacity over the history (e.g. --capacity "
            f"1200)."
        )


def train(
    config: ProjectConfig,
    *,
    frame: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    target_rate: float | None = None,
    capacity: int | str | None = None,
    confidence: float | None = None,
    model: str | None = None,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train, calibrate, choose the MQL threshold, backtest on the newest leads and refit.

    See the module docstring for the three fits. With ``outcome.window_days``, leads
    whose window had not closed by ``outcome.as_of`` are left out of everything (the
    summary's ``outcome`` says how many and why).

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
    model : {"auto", "lightgbm", "logistic"}, optional
        Override the config's model kind (``auto``: chosen by forward validation on the
        history, mqlml.model._choice).
    out : str or Path, optional
        Save the bundle to this folder.
    progress : callable, optional
        Called with the name of each stage as it starts (reading, each fit, calibrating,
        saving), e.g. to show progress.

    Returns
    -------
    TrainResult
        ``metrics`` are the backtest's on the test part; ``bundle`` is the deployed
        bundle (``bundle.backtest`` the backtest's, None with ``model.refit: false``).

    Raises
    ------
    InsufficientDataError
        Too few leads or conversions overall or in a part.
    UnreachableTargetError
        Even the most likely leads of a calibration slice are expected to convert below
        the target rate. A guarantee (``confidence``) that no line meets does not raise:
        the bundle's ``metadata["guarantee"]`` is then ``"not met"`` and ``warnings`` say
        which line it uses instead.
    ConfigError
        A bad outcome window (see :func:`mqlml.leads._outcome.apply_window`).

    Examples
    --------
    >>> from mqlml.leads._synthetic import make_leads
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id", "label": "converted",
    ...     "time": "created_at"}, threshold={"target_rate": 0.3})
    >>> result = train(cfg, frame=make_leads(5000, seed=1))
    >>> 0.0 < result.bundle.threshold.threshold < 1.0
    True
    >>> result.bundle.backtest is not None
    True
    """
    if target_rate is not None or capacity is not None:
        config = config.with_overrides(threshold={"target_rate": target_rate, "capacity": capacity})
    if confidence is not None:
        config = config.with_overrides(threshold={"confidence": confidence})
    if model is not None:
        config = config.with_overrides(model={"kind": model})
    _check_capacity_period(config)
    stage = progress or (lambda name: None)
    stage("reading and preparing the leads")
    leads = prepare_leads(config, frame, events)
    # Record how each date column was read: scoring and reports read it the same way.
    config = config.with_overrides(columns={"date_formats": leads.date_formats})
    maturity = leads.maturity
    if maturity.window_days is not None and config.outcome.as_of is None:
        # Record the extraction date, so the test part is found again exactly.
        config = config.with_overrides(outcome={"as_of": maturity.as_of.to_pydatetime()})
    if maturity.snapshots is not None and config.events.snapshot_days is None:
        # Record the ages found in the data: scoring clamps older leads to the oldest.
        config = config.with_overrides(events={"snapshot_days": maturity.snapshots["ages"]})
    schema, X, y, times = leads.schema, leads.X, leads.y, leads.times
    seg = _segment_values(config, leads)
    check_before_training(config, X, y, times)
    parts = _split(config, leads)
    for name in _PARTS:
        rows = getattr(parts, name)
        if y[rows].sum() < 10 or y[rows].sum() == len(rows):
            raise InsufficientDataError(
                f"the {name} part must hold at least 10 conversions and some non-conversions; "
                f"got {int(y[rows].sum())} of {len(rows)} leads. Add more history or change "
                "the split fractions."
            )

    A, B, C = parts.train, parts.calibrate, parts.test
    choice, m1 = None, None
    if config.model.kind == "auto":
        stage(f"choosing the model on the calibration part ({len(B):,} leads)")
        config, choice, m1 = choose_model(config, _scorer, X, y, A, B, times)
    settings = config.model
    refit = settings.refit
    AB = np.sort(np.concatenate([A, B]))
    early = _guarantee_warnings(config, y, B, C if refit else None)
    for line in early:
        stage(f"warning: {line}")
    X_cal, X_test = X.iloc[B], X.iloc[C]
    y_cal, y_test = y[B], y[C]

    def part_times(rows: np.ndarray) -> pd.Series | None:
        return None if times is None else times.iloc[rows]

    def part_values(rows: np.ndarray) -> np.ndarray | None:
        return None if seg is None else seg[rows]

    method = settings.calibration
    if method == "auto":
        method = choose_method(len(y_cal), int(y_cal.sum()))
    stage(f"fitting the model on the train part ({len(A):,} leads)")
    m1 = m1 or _scorer(config).fit(X.iloc[A], y[A])
    stage("calibrating and choosing the MQL threshold on the calibration part")
    stage1 = _calibrate_stage(config, m1, X_cal, y_cal, part_times(B), method, part_values(B))
    # The backtest: the deployed procedure one step back (M2 fit on train + calibrate,
    # with M1's calibrator and threshold), judged on the test part nothing in it saw.
    if refit:
        stage(f"backtest: refitting on the train and calibration parts ({len(AB):,} leads)")
    judged = m2 = _scorer(config).fit(X.iloc[AB], y[AB]) if refit else m1
    threshold = stage1.threshold
    lines = stage1.segments
    codes_test = None if lines is None else lines.codes(part_values(C))
    test_log_odds = judged.decision_function(X_test)
    p_test = (
        stage1.score_map(test_log_odds)
        if lines is None
        else lines.probabilities(test_log_odds, codes_test, stage1.score_map)
    )
    line_test = threshold.threshold if lines is None else lines.thresholds(codes_test)
    accounts = _accounts(config, leads, B, stage1.probabilities, C, p_test)
    promised = threshold.expected_rate
    if lines is not None and (p_test >= line_test).any():
        # each test MQL was promised its own segment line's rate: the mean of those
        by_line = np.array([x.threshold.expected_rate for x in lines.lines])
        promised = float(by_line[codes_test][p_test >= line_test].mean())
    metrics = evaluate(
        y_test,
        p_test,
        threshold=line_test,
        expected_rate=promised,
        target_rate=threshold.target_rate,
    )
    cohort = _cohort_warnings(config, leads)
    warnings = [*early, *cohort]
    if threshold.note is not None:  # guarantee not met, or target out of reach (calibration)
        warnings.append(f"backtest: {threshold.note}" if refit else threshold.note)
    if lines is not None:
        # The backtest's segment lines judged on the test part nothing in them saw.
        metrics["segments"] = lines.table(y_test, p_test, codes_test)
        warnings += [f"backtest: {w}" if refit else w for w in lines.warnings]
    base = {
        "data": str(config.data.path),
        "fingerprint": fingerprint(X, y),
        "rows": len(y),
        "conversions": int(y.sum()),
        "date_from": None if times is None else str(times.min()),
        "date_to": None if times is None else str(times.max()),
        "date_formats": leads.date_formats,
        "split": {"method": parts.method, **parts.sizes()},
        "test_from": None if times is None else str(times.iloc[C].min()),
        "model": settings.kind,
        "model_choice": choice,
        "calibration_method": method,
        "event_types": leads.event_types,
        "parts": {
            name: {
                **_period(getattr(parts, name), times),
                "base_rate": float(y[getattr(parts, name)].mean()),
            }
            for name in _PARTS
        },
        "outcome": maturity.to_dict(),
        "delay": None if leads.delay is None else leads.delay.to_dict(),
        "outcome_warnings": cohort,
        "accounts": accounts,
        "metrics": metrics,
        "versions": package_versions(),
    }
    backtest_fits = {
        "model_fit_on": _period(AB if refit else A, times),
        "calibrated_on": _period(B, times),
        "calibrating_model_fit_on": _period(A, times),
        "judged_on": _period(C, times),
    }
    if not refit:
        metadata = {
            **base,
            "best_iteration": getattr(m1, "best_iteration_", None),
            "numbers_from": "the deployed fit (model.refit: false)",
            "fits": {"deployed": backtest_fits},
        }
        metadata["monthly"] = _monthly(stage1.threshold, part_times(B))
        metadata["guarantee"] = stage1.threshold.guarantee
        bundle = _make_bundle(config, schema, m1, stage1, X_cal, metadata)
    else:
        backtest = _make_bundle(
            config,
            schema,
            m2,
            stage1,
            X_cal,
            {
                **base,
                "best_iteration": getattr(m2, "best_iteration_", None),
                "guarantee": stage1.threshold.guarantee,
                "role": "backtest",
                "fits": {"backtest": backtest_fits},
            },
        )
        # The deployed calibrator and line: on out-of-fold scores of models trained like
        # the deployed one (each on every lead before the part it scores), pooled: M1's of
        # the calibration part and M2's of the test part.
        pool = np.concatenate([B, C])
        scores = np.concatenate([stage1.log_odds, test_log_odds])  # M1's and M2's
        method2 = settings.calibration
        if method2 == "auto":
            method2 = choose_method(len(pool), int(y[pool].sum()))
        deployed = _calibrate_stage(
            config,
            _GivenScores(),
            pd.DataFrame({"log_odds": scores}, index=X.index[pool]),
            y[pool],
            part_times(pool),
            method2,
            part_values(pool),
        )
        if deployed.threshold.note is not None:  # guarantee not met, or target out of reach
            warnings.append(f"the bundle that scores: {deployed.threshold.note}")
        if deployed.segments is not None:
            warnings += deployed.segments.warnings
        stage(f"refitting the deployed model on every lead ({len(y):,})")
        m3 = _scorer(config).fit(X, y)
        metadata = {
            **base,
            "calibration_method": method2,
            "best_iteration": getattr(m3, "best_iteration_", None),
            "numbers_from": "the backtest",
            "fits": {
                "backtest": backtest_fits,
                "deployed": {
                    "model_fit_on": _period(np.arange(len(y)), times),
                    "calibrated_on": _period(pool, times),
                    "calibration": _DEPLOYED_CALIBRATION,
                },
            },
        }
        metadata["monthly"] = _monthly(deployed.threshold, part_times(pool))
        metadata["guarantee"] = deployed.threshold.guarantee
        if accounts is not None and "calibration" in accounts:
            # The deployed account calibration: on the pooled out-of-fold probabilities
            # (the backtest's, fitted on the calibration part, was judged above).
            p_pool = deployed.probabilities
            redo = _accounts(config, leads, pool, p_pool, pool, p_pool)
            metadata["accounts"] = {**accounts, "calibration": redo["calibration"]}
        bundle = _make_bundle(config, schema, m3, deployed, X_test, metadata, backtest=backtest)
    if out is not None:
        stage("saving the bundle")
    path = bundle.save(out) if out is not None else None
    return TrainResult(
        bundle=bundle,
        metrics=metrics,
        calibration={
            "method": method,
            "calibrate_part": diagnose(y_cal, stage1.probabilities).to_dict(),
            "test_part": diagnose(y_test, p_test).to_dict(),
        },
        parts=parts,
        path=path,
        outcome=maturity.to_dict(),
        warnings=warnings,
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
    parts = _split(config, leads)
    return leads.frame.iloc[parts.test].reset_index(drop=True), y[parts.test]
