"""Engagement features from a raw activity log, aggregated as of a cutoff.

A cutoff never depends on the outcome. For training, each lead is observed at several
ages (``events.snapshot_days``: point-in-time snapshots, :func:`snapshot_features`; by
default every age at which leads still convert, :func:`mqlml.leads.snapshot_ages`):
features as of ``created_at + age``, plus the age itself (``lead_age_days``), so two
leads with the same events get the same features whatever happened to them later. For
scoring, one date for all leads, each with its own age at that date, clamped to the
oldest snapshot age (:func:`scoring_ages`). Only events strictly before a lead's cutoff
count; events before ``created_at`` count too (prior touches are real).

The engine maps lead ids and event types to integer positions once, computes every
event's age in int64 nanoseconds, and aggregates with :func:`numpy.bincount` and
``numpy.minimum.at`` / ``numpy.maximum.at`` into arrays of one cell per (lead, event
type). Since numpy 1.25 ``ufunc.at`` has a fast path: on 10M events it took 0.35 s where
sorting the (lead, type) keys for ``reduceat`` took 1.9 s. Temporary memory is a few arrays of one
number per event; ``bench/bench_events.py`` measures it against a pandas groupby.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.errors import ConfigError, DataError, MissingColumnError
from mqlml.io._dates import as_timestamp, parse_dates
from mqlml.io._readers import read_table
from mqlml.leads._outcome import SNAPSHOT_GRID

__all__ = [
    "AGE_FEATURE",
    "add_event_features",
    "engagement_features",
    "feature_names",
    "scoring_ages",
    "snapshot_features",
    "with_event_features",
]

#: The snapshot's age in days (engagement group): how long the lead has existed.
AGE_FEATURE = "lead_age_days"

_DAY_NS = 86_400 * 10**9
# Largest (lead, day) bitmap used to count active days; above it, sort and keep distinct.
_BITMAP_MAX_CELLS = 2**28


def feature_names(event_types: Iterable[Any], windows: Iterable[float] = (7, 30, 90)) -> list[str]:
    """Names of the columns :func:`engagement_features` returns, without the id column.

    Parameters
    ----------
    event_types : iterable
        Event types, in the order their columns should appear.
    windows : iterable of float, default (7, 30, 90)
        Window lengths in days.

    Returns
    -------
    list of str
        Per event type ``T``: ``T_count_{w}d`` for each window, ``T_decayed`` and
        ``T_days_since_last``; then ``active_days``, ``days_since_first_touch`` and
        ``events_total``.

    Examples
    --------
    >>> feature_names(["visit"], windows=(7, 30))
    ['visit_count_7d', 'visit_count_30d', 'visit_decayed', 'visit_days_since_last', \
'active_days', 'days_since_first_touch', 'events_total']
    """
    types = _check_event_types(event_types)
    labels = [_window_label(w) for w in _check_windows(windows)]
    names: list[str] = []
    for t in types:
        names.extend(f"{t}_count_{label}d" for label in labels)
        names.extend([f"{t}_decayed", f"{t}_days_since_last"])
    names.extend(["active_days", "days_since_first_touch", "events_total"])
    return names


def engagement_features(
    events: pd.DataFrame,
    leads: pd.DataFrame,
    *,
    cutoff: Any = None,
    horizon_days: float | None = None,
    windows: Sequence[float] = (7, 30, 90),
    half_life_days: float = 14.0,
    event_types: Iterable[Any] | None = None,
    id_column: str = "lead_id",
    created_column: str = "created_at",
    converted_column: str | None = None,
    timestamp_column: str = "timestamp",
    type_column: str = "event_type",
    value_column: str | None = None,
    date_formats: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Aggregate an activity log into engagement features, one row per lead.

    Parameters
    ----------
    events : pandas.DataFrame
        The activity log: lead id, timestamp, event type and optionally a numeric value.
        Events whose lead id is not in ``leads`` are ignored and counted in
        ``result.attrs["unmatched_events"]``; events of a type not in ``event_types``
        (or with a missing type) are ignored.
    leads : pandas.DataFrame
        One row per lead, with unique ids; ``created_column`` is needed with
        ``horizon_days``, ``converted_column`` when given (missing = not converted).
    cutoff : date-like or "now", optional
        Scoring time: one cutoff for all leads (``"now"`` is ``pandas.Timestamp.now()``).
    horizon_days : float, optional
        Training: lead ``i`` is seen as of ``created_at_i + horizon_days``. Exactly one
        of ``cutoff`` and ``horizon_days`` must be given.
    windows : sequence of float, default (7, 30, 90)
        Window lengths in days; an event is in window ``w`` when its timestamp is in
        ``[cutoff - w days, cutoff)``.
    half_life_days : float, default 14.0
        Half-life of the decayed sums: an event of age ``a`` days weighs
        ``value * 0.5 ** (a / half_life_days)``.
    event_types : iterable, optional
        Event types to build columns for, in this order. Default: the sorted unique
        types of the log. Pass the training types at scoring so the columns match.
    id_column, created_column, timestamp_column, type_column : str
        Column names.
    converted_column : str, optional
        Conversion time in ``leads``; when given, each cutoff is
        ``min(cutoff_i, converted_at_i)`` so nothing after the outcome is seen.
    value_column : str, optional
        Numeric event weight for the decayed sums (1 for every event when omitted).
    date_formats : mapping, optional
        Column -> the format of its dates (:func:`mqlml.io.parse_dates`), for the
        creation, conversion and event times; detected where none is given.

    Returns
    -------
    pandas.DataFrame
        The leads' index and order; ``id_column`` first, then :func:`feature_names`
        columns, all float64 (counts are whole numbers). Leads without events get 0
        counts, 0 decayed sums and NaN recencies. Ages and recencies are in days;
        ``active_days`` counts distinct calendar days with an event in the largest
        window. Time-zone aware values are converted to UTC and compared as naive.

    Raises
    ------
    ConfigError
        Both or neither of ``cutoff`` and ``horizon_days``; bad windows, half-life,
        horizon or event types.
    MissingColumnError
        A column is not in its table.
    DataError
        Duplicated or missing lead ids, unparsable or missing timestamps, missing
        ``created_at`` with ``horizon_days``, non-numeric or non-finite values.

    Examples
    --------
    >>> import pandas as pd
    >>> leads = pd.DataFrame({"lead_id": ["a", "b"],
    ...                       "created_at": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    >>> events = pd.DataFrame({
    ...     "lead_id": ["a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-02", "2024-01-20", "2024-01-03"]),
    ...     "event_type": ["visit", "visit", "demo"]})
    >>> out = engagement_features(events, leads, horizon_days=14, windows=(30,))
    >>> out[["lead_id", "visit_count_30d", "demo_count_30d", "demo_days_since_last"]]
      lead_id  visit_count_30d  demo_count_30d  demo_days_since_last
    0       a              1.0             0.0                   NaN
    1       b              0.0             1.0                  13.0
    """
    windows_days = _check_windows(windows)
    half_life = _check_positive_number(half_life_days, "half_life_days", allow_zero=False)
    needed_leads = [id_column]
    if horizon_days is not None:
        needed_leads.append(created_column)
    if converted_column is not None:
        needed_leads.append(converted_column)
    needed_events = [id_column, timestamp_column, type_column]
    if value_column is not None:
        needed_events.append(value_column)
    _require_columns(leads, needed_leads, "leads")
    _require_columns(events, needed_events, "events")

    lead_index = _lead_index(leads[id_column], id_column)
    formats = dict(date_formats or {})
    cut = _cutoffs(leads, cutoff, horizon_days, created_column, converted_column, formats)
    ts = _datetime_ns(
        events[timestamp_column],
        timestamp_column,
        "events",
        formats.get(timestamp_column),
        allow_missing=False,
    )
    values = None if value_column is None else _numeric(events[value_column], value_column)

    type_codes, types_in_log = _factorize(events[type_column])
    types = (
        _sorted_types(list(types_in_log))
        if event_types is None
        else _check_event_types(event_types)
    )
    type_pos = _positions(type_codes, types_in_log, pd.Index(types, dtype=object))
    del type_codes
    lead_codes, ids_in_log = _factorize(events[id_column])
    lead_pos = _positions(lead_codes, ids_in_log, lead_index)
    del lead_codes
    unmatched = int(np.count_nonzero(lead_pos < 0))

    features = _aggregate(
        lead_pos,
        type_pos,
        ts,
        values,
        cut,
        n_types=len(types),
        windows_ns=[_days_to_ns(w) for w in windows_days],
        half_life_days=half_life,
    )
    out = pd.DataFrame(
        features.T, columns=feature_names(types, windows_days), index=leads.index, copy=False
    )
    out.insert(0, id_column, leads[id_column].array)
    out.attrs["unmatched_events"] = unmatched
    return out


def _aggregate(
    lead_pos: np.ndarray,
    type_pos: np.ndarray,
    ts: np.ndarray,
    values: np.ndarray | None,
    cut: np.ndarray,
    *,
    n_types: int,
    windows_ns: list[int],
    half_life_days: float,
) -> np.ndarray:
    """Features as a (n_features, n_leads) array from per-event positions and times.

    Cells are indexed type-major (``type * n_leads + lead``) so that each feature of a
    type is one contiguous run of the bincount output and of the result, which pandas
    then takes as its float block without copying.
    """
    n_leads = len(cut)
    n_win = len(windows_ns)
    per_type = n_win + 2
    features = np.empty((n_types * per_type + 3, n_leads), dtype=np.float64)

    age = cut[lead_pos] if n_leads else np.zeros(len(lead_pos), dtype=np.int64)
    np.subtract(age, ts, out=age)
    keep = lead_pos >= 0
    keep &= type_pos >= 0
    keep &= age > 0  # strictly before the cutoff
    n_cells = n_leads * n_types
    index_dtype = np.int32 if max(n_cells, 1) < 2**31 else np.int64
    lead = lead_pos[keep].astype(index_dtype)
    del lead_pos
    key = type_pos[keep].astype(index_dtype)
    key *= n_leads
    key += lead
    age = age[keep]
    ts = ts[keep]
    if values is not None:
        values = values[keep]
    del keep
    age_days = age / _DAY_NS

    by_type = features[: n_types * per_type].reshape(n_types, per_type, n_leads)
    for j, w_ns in enumerate(windows_ns):
        counts = np.bincount(key[age <= w_ns], minlength=n_cells)
        by_type[:, j, :] = counts.reshape(n_types, n_leads)
    del counts
    weight = np.exp2(age_days / -half_life_days)
    if values is not None:
        weight *= values
    decayed = np.bincount(key, weights=weight, minlength=n_cells)
    by_type[:, n_win, :] = decayed.reshape(n_types, n_leads)
    del weight, decayed
    last = np.full(n_cells, np.inf)
    np.minimum.at(last, key, age_days)
    last[np.isinf(last)] = np.nan
    by_type[:, n_win + 1, :] = last.reshape(n_types, n_leads)
    del last, key

    total = np.bincount(lead, minlength=n_leads)
    first = np.zeros(n_leads)
    np.maximum.at(first, lead, age_days)
    first[total == 0] = np.nan
    del age_days
    features[-3] = _active_days(lead, ts, age, cut, max(windows_ns))
    features[-2] = first
    features[-1] = total
    return features


def _active_days(
    lead: np.ndarray, ts: np.ndarray, age: np.ndarray, cut: np.ndarray, window_ns: int
) -> np.ndarray:
    """Distinct calendar days with an event in ``[cutoff - window, cutoff)``, per lead."""
    n_leads = len(cut)
    inside = age <= window_ns
    lead = lead[inside].astype(np.int64)
    first_day = (cut - window_ns) // _DAY_NS
    span = math.ceil(window_ns / _DAY_NS) + 2  # calendar days the window can touch
    cell = ts[inside] // _DAY_NS
    cell -= first_day[lead]
    cell += lead * span
    if n_leads * span <= max(_BITMAP_MAX_CELLS, 8 * len(cell)):
        seen = np.zeros(n_leads * span, dtype=bool)
        seen[cell] = True
        return np.count_nonzero(seen.reshape(n_leads, span), axis=1)
    if not len(cell):
        return np.zeros(n_leads, dtype=np.int64)
    cell.sort()  # sort + compare: numpy 2.4's np.unique took 11 s here against 0.3 s
    distinct = cell[np.concatenate(([True], cell[1:] != cell[:-1]))]
    return np.bincount(distinct // span, minlength=n_leads)


def _cutoffs(
    leads: pd.DataFrame,
    cutoff: Any,
    horizon_days: float | None,
    created_column: str,
    converted_column: str | None,
    formats: Mapping[str, str],
) -> np.ndarray:
    """Per-lead cutoff as int64 nanoseconds."""
    if (cutoff is None) == (horizon_days is None):
        raise ConfigError(
            "exactly one of cutoff and horizon_days must be given; "
            f"got cutoff={cutoff!r}, horizon_days={horizon_days!r}. Pass cutoff at scoring "
            "time (one date for all leads) or horizon_days for training "
            "(created_at + horizon per lead)."
        )
    if horizon_days is not None:
        horizon = _check_positive_number(horizon_days, "horizon_days", allow_zero=True)
        created = _datetime_ns(
            leads[created_column],
            created_column,
            "leads",
            formats.get(created_column),
            allow_missing=False,
        )
        cut = created + _days_to_ns(horizon)
    else:
        cut = np.full(len(leads), _timestamp_ns(cutoff), dtype=np.int64)
    if converted_column is not None:
        converted = _datetime_ns(
            leads[converted_column], converted_column, "leads", formats.get(converted_column)
        )
        converted_known = converted != np.iinfo(np.int64).min
        np.minimum(cut, converted, out=cut, where=converted_known)
    return cut


def _timestamp_ns(cutoff: Any) -> int:
    if isinstance(cutoff, str) and cutoff == "now":
        return int(pd.Timestamp.now().as_unit("ns").value)
    try:
        stamp = as_timestamp(cutoff, "cutoff")
    except DataError:
        raise ConfigError(
            f"cutoff must be a date or 'now'; got {cutoff!r}. Pass an ISO 8601 date such as "
            "'2024-06-30'."
        ) from None
    return int(stamp.as_unit("ns").value)


def _datetime_ns(
    column: pd.Series, name: str, table: str, format: str | None, *, allow_missing: bool = True
) -> np.ndarray:
    """A date column as int64 ns (missing = int64 min), read in its one ``format``."""
    parsed = parse_dates(column, name, format=format, what="column", source=f"the {table} table")
    if not allow_missing:
        missing = np.flatnonzero(parsed.isna().to_numpy())
        if len(missing):
            raise DataError(
                f"column {name!r} of the {table} table must have a date in every row; got "
                f"{len(missing)} missing, the first in row {missing[0]}. "
                "Fill or drop those rows."
            )
    return parsed.dt.as_unit("ns").to_numpy().view(np.int64)


def _numeric(column: pd.Series, name: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        raise DataError(
            f"column {name!r} of the events table must be numeric; got dtype {column.dtype}. "
            "Convert it with pandas.to_numeric first."
        )
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise DataError(
            f"column {name!r} of the events table must be finite; got {values[bad[0]]} "
            f"in row {bad[0]} ({len(bad)} rows in all). Fill or drop those rows."
        )
    return values


def _lead_index(ids: pd.Series, name: str) -> pd.Index:
    index = pd.Index(ids)
    if index.hasnans:
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(
            f"column {name!r} of the leads table must have an id in every row; got a "
            f"missing id in row {row}. Drop or fill those rows."
        )
    if not index.is_unique:
        counts = ids.value_counts(sort=False)
        dups = counts[counts > 1]
        first = ids[ids.duplicated()].iloc[0]
        raise DataError(
            f"column {name!r} of the leads table must have unique ids; got {first!r} "
            f"{int(dups[first])} times ({len(dups)} duplicated ids in all). "
            "Keep one row per lead."
        )
    return index


def _factorize(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes (-1 when missing) and distinct values; one hash pass over the column."""
    codes, uniques = pd.factorize(column)
    if isinstance(uniques, pd.CategoricalIndex):
        uniques = uniques.astype(uniques.categories.dtype)
    return codes, pd.Index(uniques)


def _positions(codes: np.ndarray, uniques: pd.Index, target: pd.Index) -> np.ndarray:
    """Position in ``target`` of each coded value, -1 when absent or missing.

    Looking up the distinct values only is several times faster than looking up every
    row when values repeat (string ids: 7 s instead of 17 s for 10M rows).
    """
    found = target.get_indexer(uniques) if len(uniques) else np.empty(0, dtype=np.intp)
    lookup = np.append(found, -1)  # code -1 (missing) -> -1
    return lookup.astype(np.int32 if len(target) < 2**31 else np.int64)[codes]


def _sorted_types(types: list[Any]) -> list[Any]:
    try:
        return sorted(types)
    except TypeError:
        return sorted(types, key=str)


def _check_event_types(event_types: Iterable[Any]) -> list[Any]:
    if isinstance(event_types, str):
        raise ConfigError(
            f"event_types must be a list of event types; got the string {event_types!r}. "
            f"Pass [{event_types!r}]."
        )
    types = list(event_types)
    labels = [str(t) for t in types]
    dups = sorted({s for s in labels if labels.count(s) > 1})
    if dups:
        raise ConfigError(
            f"event_types must be distinct; got {dups[0]!r} more than once. Drop duplicates."
        )
    return types


def _check_windows(windows: Iterable[float]) -> list[float]:
    wins = list(windows)
    if not wins:
        raise ConfigError("windows must hold at least one window in days; got none. Pass (7,).")
    for w in wins:
        _check_positive_number(w, "windows", allow_zero=False)
    labels = [_window_label(w) for w in wins]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"windows must be distinct; got {wins!r}. Drop duplicates.")
    return wins


def _check_positive_number(value: Any, name: str, *, allow_zero: bool) -> float:
    rule = "a finite number >= 0" if allow_zero else "a finite number > 0"
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if not (math.isfinite(number) and (number > 0 or (allow_zero and number == 0))):
        raise ConfigError(f"{name} must be {rule} of days; got {value!r}. Pass e.g. 14.")
    return number


def _window_label(window: float) -> str:
    return f"{float(window):g}"


def _days_to_ns(days: float) -> int:
    return round(days * _DAY_NS)


def _require_columns(frame: pd.DataFrame, columns: list[str], table: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise MissingColumnError(
                f"column {column!r} must be in the {table} table; got columns "
                f"{list(frame.columns)!r}. Rename it or pass the matching *_column argument."
            )


def add_event_features(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    config: ProjectConfig,
    *,
    cutoff: Any = None,
    event_types: Iterable[Any] | None = None,
) -> tuple[pd.DataFrame, list[str], list[Any]]:
    """Append the activity log's engagement features to a leads table, as a config says.

    For scoring (``cutoff`` "now" or a date), every lead is seen as of ``cutoff`` and
    gets :data:`AGE_FEATURE`, its own age in days at that date (the model was trained on
    snapshots of leads at those ages, :func:`snapshot_features`), clamped to the oldest
    ``events.snapshot_days`` (:func:`scoring_ages`); a lead created after ``cutoff`` is an
    error. Without ``cutoff`` (``mqlml check``), each lead is seen as of ``created_at`` +
    the largest ``events.snapshot_days`` (30 days when they are left to the data), a
    cutoff that never depends on the outcome.

    Parameters
    ----------
    leads : pandas.DataFrame
        The leads (id and creation time).
    events : pandas.DataFrame
        The activity log.
    config : ProjectConfig
        Column names and the ``events`` settings.
    cutoff : "now", date or None
        The scoring date, or None for the per-lead cutoff.
    event_types : iterable, optional
        The event types to make columns for (a bundle's, at scoring time).

    Returns
    -------
    (frame, names, event_types)
        The leads with the feature columns appended (same rows and order), the feature
        names, and the event types used.

    Raises
    ------
    ConfigError
        When the config has no id or time column (both are needed to place events).
    DataError
        When a lead was created after the scoring date.
    """
    cols, settings = config.columns, config.events
    if cols.id is None or (cutoff is None and cols.time is None):
        raise ConfigError(
            "columns.id and columns.time must be set to use an activity log (data.events); "
            f"got id={cols.id!r}, time={cols.time!r}. Name them in the config."
        )
    log, types = _log_and_types(events, config, event_types)
    if cutoff is None:
        horizon = max(settings.snapshot_days or SNAPSHOT_GRID[:4])
        features = _features(log, leads, config, types, horizon_days=horizon)
    else:
        if isinstance(cutoff, str) and cutoff == "now":
            cutoff = pd.Timestamp.now()
        features = _features(log, leads, config, types, cutoff=cutoff)
    names = [c for c in features.columns if c != cols.id]
    frame = _append(leads, features, names)
    if cutoff is not None:
        age, _ = scoring_ages(leads, config, cutoff)
        if age is not None:
            frame[AGE_FEATURE] = age
            names.append(AGE_FEATURE)
    return frame, names, list(types or [])


def scoring_ages(
    leads: pd.DataFrame, config: ProjectConfig, cutoff: Any
) -> tuple[np.ndarray | None, int]:
    """Each lead's :data:`AGE_FEATURE` at the scoring date, and how many are past the oldest
    snapshot.

    A lead's age is ``cutoff - created_at`` in days. The model has seen leads only at the
    ages ``events.snapshot_days``; a lead older than the oldest of them is scored as that
    age (its age is clamped to it), with its features as of ``cutoff`` as for every lead.
    The oldest snapshot shows leads that stopped converting when the ages come from the
    data (:func:`mqlml.leads.snapshot_ages`), so older leads get what those got.

    Parameters
    ----------
    leads : pandas.DataFrame
        The leads (the creation-time column ``columns.time``).
    config : ProjectConfig
        A bundle's config (``events.snapshot_days`` set: no clamping when it is not).
    cutoff : "now" or date
        The scoring date.

    Returns
    -------
    (ages, older)
        The ages in days (None without a time column) and the count of leads older than
        the oldest snapshot.

    Raises
    ------
    DataError
        When a lead was created after the scoring date.

    Examples
    --------
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"label": "y", "time": "t"},
    ...                     events={"snapshot_days": [0, 30]})
    >>> leads = pd.DataFrame({"t": pd.to_datetime(["2025-01-01", "2025-03-01"])})
    >>> ages, older = scoring_ages(leads, cfg, "2025-03-11")
    >>> ages.tolist(), older
    ([30.0, 10.0], 1)
    """
    if isinstance(cutoff, str) and cutoff == "now":
        cutoff = pd.Timestamp.now()
    time = config.columns.time
    age = _lead_age(leads, time, cutoff, config.columns.date_formats.get(time))
    ages = config.events.snapshot_days
    if age is None or ages is None:
        return age, 0
    oldest = max(ages)
    older = age > oldest
    return np.minimum(age, oldest), int(older.sum())


def _log_and_types(events: pd.DataFrame, config: ProjectConfig, event_types) -> tuple:
    cols, settings = config.columns, config.events
    log = events.rename(columns={settings.id_column: cols.id}) if settings.id_column else events
    types = event_types if event_types is not None else settings.event_types
    if types is None and settings.type_column in log.columns:
        types = _sorted_types(log[settings.type_column].dropna().unique().tolist())
    return log, types


def _features(log, leads, config, types, **cut) -> pd.DataFrame:
    cols, settings = config.columns, config.events
    return engagement_features(
        log,
        leads,
        **cut,
        windows=settings.windows,
        half_life_days=settings.half_life_days,
        event_types=types,
        id_column=cols.id,
        created_column=cols.time or "created_at",
        timestamp_column=settings.timestamp_column,
        type_column=settings.type_column,
        value_column=settings.value_column,
        date_formats=cols.date_formats,
    )


def _append(leads: pd.DataFrame, features: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    clash = [c for c in names if c in leads.columns]
    if clash:
        raise ConfigError(
            f"activity-log feature names must not clash with lead columns; got {clash}. "
            "Rename those lead columns or exclude them."
        )
    return pd.concat([leads, features[names].set_axis(leads.index)], axis=1)


def snapshot_features(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    config: ProjectConfig,
    *,
    lead: np.ndarray,
    age: np.ndarray,
    event_types: Iterable[Any] | None = None,
) -> tuple[pd.DataFrame, list[str], list[Any]]:
    """One row per snapshot: lead ``lead[i]`` as it looked ``age[i]`` days after creation.

    The features of a snapshot are the activity log's aggregates strictly before
    ``created_at + age`` (never the conversion time: two leads with the same events get
    the same features whatever their outcome), plus :data:`AGE_FEATURE`, the lead's age
    in days at that moment.

    Parameters
    ----------
    leads : pandas.DataFrame
        One row per lead (id and creation time columns of ``config.columns``).
    events : pandas.DataFrame
        The activity log.
    config : ProjectConfig
        Column names and the ``events`` settings.
    lead, age : numpy.ndarray
        Per snapshot, the lead's row position and its age in days
        (:func:`mqlml.leads.snapshot_rows`).
    event_types : iterable, optional
        The event types to make columns for.

    Returns
    -------
    (frame, names, event_types)
        The leads' rows repeated per snapshot (index reset) with the features appended,
        the feature names (``lead_age_days`` last), and the event types used.
    """
    cols = config.columns
    if cols.id is None or cols.time is None:
        raise ConfigError(
            "columns.id and columns.time must be set to use an activity log (data.events); "
            f"got id={cols.id!r}, time={cols.time!r}. Name them in the config."
        )
    log, types = _log_and_types(events, config, event_types)
    lead, age = np.asarray(lead), np.asarray(age, dtype=float)
    blocks = []
    for a in np.unique(age):
        rows = np.flatnonzero(age == a)
        sub = leads.iloc[lead[rows]][[cols.id, cols.time]].reset_index(drop=True)
        blocks.append(_features(log, sub, config, types, horizon_days=float(a)).set_axis(rows))
    if blocks:
        features = pd.concat(blocks).sort_index()
    else:
        empty = leads.iloc[:0][[cols.id, cols.time]]
        features = _features(log, empty, config, types, horizon_days=0.0)
    names = [c for c in features.columns if c != cols.id]
    frame = _append(leads.iloc[lead].reset_index(drop=True), features.reset_index(drop=True), names)
    frame[AGE_FEATURE] = age
    return frame, [*names, AGE_FEATURE], list(types or [])


def _lead_age(
    leads: pd.DataFrame, created_column: str | None, cutoff: Any, format: str | None
) -> np.ndarray | None:
    """Each lead's age in days at the scoring date; an error when it was created after it."""
    if created_column is None or created_column not in leads.columns:
        return None
    cut = _timestamp_ns(cutoff)
    created = _datetime_ns(
        leads[created_column], created_column, "leads", format, allow_missing=False
    )
    age = (cut - created) / _DAY_NS
    future = age < 0
    if future.any():
        first = leads[created_column].iloc[int(np.flatnonzero(future)[0])]
        raise DataError(
            f"leads must be created before the scoring date (--as-of "
            f"{pd.Timestamp(cut)}); got {int(future.sum()):,} leads created after it "
            f"(e.g. {first}). Score as of a later date, or leave those leads out."
        )
    return age


def with_event_features(
    config: ProjectConfig,
    frame: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    cutoff=None,
    event_types=None,
) -> tuple[ProjectConfig, pd.DataFrame, list | None]:
    """Add the activity log's engagement features when the config names one.

    Returns the config with those features in the engagement group, the frame with them
    appended, and the event types (None without a log).
    """
    if config.data.events is None and events is None:
        return config, frame, None
    if events is None:
        events = read_table(config.data.events, missing_tokens=config.missing_tokens)
    frame, names, types = add_event_features(
        frame, events, config, cutoff=cutoff, event_types=event_types
    )
    listed = config.features.engagement
    if listed != "infer":
        config = config.with_overrides(features={"engagement": [*listed, *names]})
    return config, frame, types
