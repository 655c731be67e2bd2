"""Training's first step: the leads read, checked, made mature and split.

:func:`prepare_leads` reads the leads (or takes them), resolves the schema, applies the
outcome window and, with an activity log, builds point-in-time snapshots;
:func:`split_parts` splits them (by lead, with snapshots); :func:`prepare` does both for
training, and :func:`holdout` finds a bundle's test part again exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

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
    converted_times,
    data_as_of,
    since_recorded,
    snapshot_ages,
    snapshot_rows,
    truncation_finding,
)
from mqlml.leads._read import read_leads
from mqlml.leads._schema import LeadSchema, fingerprint
from mqlml.model._bundle import Bundle
from mqlml.model._split import PARTS, Parts, split_leads

__all__ = [
    "Leads",
    "Prepared",
    "holdout",
    "prepare",
    "prepare_leads",
    "segment_column",
    "split_parts",
]


@dataclass(frozen=True)
class Leads:
    """Checked mature leads, ready to split: the frame, its schema, features, labels, times.

    ``maturity`` says which leads of the input were kept (the others were immature) and
    what the outcome window changed; ``date_formats`` how each date column was read (the
    leads' and the activity log's), to record in the bundle's config; ``findings`` are
    (code, message) pairs about the outcomes of the leads (left truncation,
    :func:`mqlml.leads.truncation_finding`).
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
    immature leads are dropped (:func:`mqlml.leads.apply_window`). With
    ``outcome.recorded_from``, leads created before it are left out first. With an
    activity log (``data.events`` or ``events``), each lead becomes point-in-time
    snapshots at the ages ``events.snapshot_days``, by default found in the data
    (:func:`mqlml.leads.snapshot_ages`, :func:`mqlml.leads.snapshot_rows`,
    :func:`mqlml.leads.snapshot_features`): one row per kept snapshot, ``groups`` the
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
    """The conversion-delay curve (mqlml.leads), per segment too, when conversion times
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
    """Left truncation of the outcomes (mqlml.leads.truncation_finding), per lead."""
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
    """Leads from an activity log: point-in-time snapshots (mqlml.leads)."""
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


def split_parts(config: ProjectConfig, leads: Leads) -> Parts:
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
    rows = {name: np.flatnonzero(np.isin(groups, owners[getattr(by_lead, name)])) for name in PARTS}
    return Parts(rows["train"], rows["calibrate"], rows["test"], by_lead.method)


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
    parts = split_parts(config, leads)
    return leads.frame.iloc[parts.test].reset_index(drop=True), y[parts.test]


def segment_column(config: ProjectConfig, leads: Leads) -> np.ndarray | None:
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


@dataclass(frozen=True)
class Prepared:
    """Training's first step: the config with how the leads were read recorded, the
    checked mature leads, their train, calibrate and test parts and, with
    ``threshold.segments``, each row's segment value."""

    config: ProjectConfig
    leads: Leads
    parts: Parts
    segments: np.ndarray | None = None

    def times(self, rows: np.ndarray) -> pd.Series | None:
        """The creation times of these rows (None without a time column)."""
        return None if self.leads.times is None else self.leads.times.iloc[rows]

    def segment_values(self, rows: np.ndarray) -> np.ndarray | None:
        """The segment values of these rows (None without segments)."""
        return None if self.segments is None else self.segments[rows]


def prepare(
    config: ProjectConfig,
    frame: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Prepared:
    """Prepare training: read and check the leads (:func:`prepare_leads`), record in the
    config how they were read, check them before any fit and split them.

    Raises
    ------
    InsufficientDataError
        When a part holds fewer than 10 conversions or no non-conversion.
    """
    (progress or (lambda name: None))("reading and preparing the leads")
    leads = prepare_leads(config, frame, events)
    config = _recorded(config, leads)
    segments = segment_column(config, leads)
    check_before_training(config, leads.X, leads.y, leads.times)
    parts = split_parts(config, leads)
    y = leads.y
    for name in PARTS:
        rows = getattr(parts, name)
        if y[rows].sum() < 10 or y[rows].sum() == len(rows):
            raise InsufficientDataError(
                f"the {name} part must hold at least 10 conversions and some non-conversions; "
                f"got {int(y[rows].sum())} of {len(rows)} leads. Add more history or change "
                "the split fractions."
            )
    return Prepared(config, leads, parts, segments)


def _recorded(config: ProjectConfig, leads: Leads) -> ProjectConfig:
    """The config with how the leads were read, so that scoring and reports read alike."""
    # Record how each date column was read: scoring and reports read it the same way.
    config = config.with_overrides(columns={"date_formats": leads.date_formats})
    maturity = leads.maturity
    if maturity.window_days is not None and config.outcome.as_of is None:
        # Record the extraction date, so the test part is found again exactly.
        config = config.with_overrides(outcome={"as_of": maturity.as_of.to_pydatetime()})
    if maturity.snapshots is not None and config.events.snapshot_days is None:
        # Record the ages found in the data: scoring clamps older leads to the oldest.
        config = config.with_overrides(events={"snapshot_days": maturity.snapshots["ages"]})
    return config
