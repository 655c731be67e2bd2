"""The outcome over time: windows, immature leads and conversion rates by creation month.

A lead's outcome is only known after time has passed. "Converted" therefore means
"converted within ``outcome.window_days`` of the moment the lead was scored" (for leads
scored at creation, of ``columns.time``), and the data was extracted at one moment,
``outcome.as_of`` (by default the latest timestamp in the data). Then:

- a conversion later than the window counts as not converted (with
  ``columns.converted_at``), so every label answers the same question;
- a lead created less than ``window_days`` before ``as_of`` is **immature**: its window
  has not closed, a "not converted" may still turn into a conversion, and it takes no
  part in training, calibration, the threshold or evaluation.

Without a window, :func:`cohort_findings` measures the conversion rate by creation month
and says when the newest months convert well below the earlier ones (outcomes that had
not matured when the data was extracted) or when the rate moved by a large factor across
the history (a model calibrated on older leads will not fit the newest). With or without
one, :func:`truncation_finding` says when outcomes appear recorded only from a date after
the first leads (left truncation); ``outcome.recorded_from`` then leaves the earlier
leads out (:func:`since_recorded`).

With an activity log, each lead is observed at several ages (:func:`snapshot_rows`); by
default every age at which leads still convert (:func:`snapshot_ages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import ConfigError
from mqlml.io._dates import as_timestamp, parse_dates

__all__ = [
    "CONVERSION_SHARE",
    "IMMATURE_RATIO",
    "SHIFT_FACTOR",
    "SNAPSHOT_GRID",
    "TRUNCATION_RATIO",
    "Maturity",
    "apply_window",
    "cohort_findings",
    "converted_times",
    "data_as_of",
    "describe_provenance",
    "monthly_rates",
    "since_recorded",
    "snapshot_ages",
    "snapshot_rows",
    "truncation_finding",
]

#: The newest months are flagged as immature when they convert below this share of the
#: earlier months' rate.
IMMATURE_RATIO = 0.6
#: The rate is flagged as shifting when one third of the history converts at this many
#: times the rate of another.
SHIFT_FACTOR = 2.0
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Maturity:
    """Which leads have a known outcome, and what the window changed.

    Attributes
    ----------
    window_days : float or None
        The outcome window (None: every recorded conversion counts, every lead is mature).
    as_of : pandas.Timestamp or None
        When the data was extracted.
    mature : numpy.ndarray of bool
        Per lead: its window had closed by ``as_of``.
    late_conversions : int
        Mature leads that converted after their window (counted as not converted).
    snapshots : dict or None
        With an activity log, the snapshot counts of :func:`snapshot_rows`.
    unrecorded : int
        Leads created before ``outcome.recorded_from``, left out (:func:`since_recorded`).
    """

    window_days: float | None
    as_of: pd.Timestamp | None
    mature: np.ndarray
    late_conversions: int = 0
    snapshots: dict[str, Any] | None = None
    unrecorded: int = 0

    @property
    def immature(self) -> int:
        """How many leads were left out as immature."""
        return int((~self.mature).sum())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (train summary, bundle metadata, report)."""
        out: dict[str, Any] = {
            "window_days": self.window_days,
            "as_of": None if self.as_of is None else str(self.as_of),
            "mature_leads": int(self.mature.sum()),
            "immature_leads": self.immature,
            "late_conversions": self.late_conversions,
        }
        if self.unrecorded:
            out["unrecorded_leads"] = self.unrecorded
        if self.snapshots is not None:
            snap = self.snapshots
            out["snapshots"] = snap
            window = (
                "its outcome window had not closed"
                if self.window_days is not None
                else "it was after the extraction date"
            )
            origin = ""
            if snap.get("ages_from") == "config":
                origin = " (events.snapshot_days)"
            elif snap.get("ages_from") == "data":
                reach = snap.get("conversion_age")
                origin = (
                    " (from the data: no conversion times)"
                    if reach is None
                    else f" (from the data: {100 * CONVERSION_SHARE:g} % of the conversions "
                    f"within {reach:.0f} days of creation)"
                )
            out["reason"] = (
                f"{snap['snapshots']:,} snapshots of {snap['leads']:,} leads at ages "
                f"{', '.join(f'{a:g}' for a in snap['ages'])} days{origin}; left out: "
                f"{snap['dropped_immature']:,} snapshots whose moment or window ends after "
                f"{out['as_of']} ({window}) and {snap['dropped_converted']:,} of leads "
                "already converted by then"
            )
        elif self.window_days is None:
            out["reason"] = "no outcome.window_days: every recorded conversion counts"
        else:
            out["reason"] = (
                f"{self.immature} leads created less than {self.window_days:g} days before "
                f"{out['as_of']} were left out: their outcome window had not closed"
            )
        if self.unrecorded:
            out["reason"] += (
                f"; {self.unrecorded:,} leads created before outcome.recorded_from were left "
                "out: their outcomes were not recorded"
            )
        return out


def converted_times(
    frame: pd.DataFrame,
    column: str | None,
    format: str | None = None,
    *,
    missing: Sequence[str] = (),
) -> pd.Series | None:
    """The conversion times of ``column`` as datetime64 (NaT: not converted), or None.

    Read with ``format`` (detected when None; see :func:`mqlml.io.parse_dates`).

    Raises
    ------
    MissingColumnError
        When the column is not in the frame.
    DataError
        When a value of the column is not a date in its format.
    """
    if not column:
        return None
    if column not in frame.columns:
        from mqlml.errors import MissingColumnError

        raise MissingColumnError(
            f"columns.converted_at must name a column of the leads; got {column!r}, not among "
            f"{list(frame.columns)[:8]}. Fix the name or remove columns.converted_at."
        )
    return parse_dates(
        frame[column], column, format=format, what="converted_at column", missing=missing
    )


def _dates(values: Any, name: str) -> pd.Series:
    """Times given as datetime64 (text is read by :func:`mqlml.io.parse_dates`)."""
    return parse_dates(pd.Series(values), name)


def data_as_of(times: pd.Series, converted_at: pd.Series | None = None) -> pd.Timestamp:
    """The default extraction date: the latest creation or conversion time in the data."""
    latest = times.max()
    if converted_at is not None and converted_at.notna().any():
        latest = max(latest, converted_at.max())
    return pd.Timestamp(latest)


def apply_window(
    y: np.ndarray,
    times: pd.Series | None,
    converted_at: pd.Series | None,
    *,
    window_days: float | None,
    as_of: Any = None,
) -> tuple[np.ndarray, Maturity]:
    """Labels within the outcome window, and which leads are mature.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
        Recorded outcomes.
    times : pandas.Series of datetime64 or None
        Creation times (``columns.time``); required with a window.
    converted_at : pandas.Series of datetime64 or None
        Conversion times (``columns.converted_at``); with them a conversion after the
        window counts as 0.
    window_days : float or None
        ``outcome.window_days``; None keeps every label and every lead.
    as_of : date, optional
        ``outcome.as_of``; default :func:`data_as_of`.

    Returns
    -------
    (labels, Maturity)
        The labels of all leads (0 for conversions after the window) and the maturity.

    Raises
    ------
    ConfigError
        A window without ``columns.time``; a window longer than the history;
        ``as_of`` before the data.

    Examples
    --------
    >>> times = pd.Series(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-20"]))
    >>> conv = pd.Series(pd.to_datetime(["2025-01-05", "2025-03-15", None]))
    >>> labels, m = apply_window(np.array([1, 1, 0]), times, conv, window_days=30)
    >>> labels.tolist(), m.mature.tolist(), m.late_conversions
    ([1, 0, 0], [True, True, False], 1)
    """
    y = np.asarray(y)
    if window_days is None:
        as_ts = None if as_of is None else as_timestamp(as_of, "outcome.as_of")
        return y, Maturity(None, as_ts, np.ones(len(y), dtype=bool))
    if times is None:
        raise ConfigError(
            "outcome.window_days must come with columns.time (the window starts at each "
            f"lead's creation); got window_days={window_days:g} and no time column. Set "
            "columns.time or remove outcome.window_days."
        )
    if not (np.isfinite(window_days) and window_days > 0):
        raise ConfigError(
            f"outcome.window_days must be a number of days > 0; got {window_days!r}. "
            "Use e.g. 90 for 'converted within 90 days'."
        )
    created = _dates(times, "times").reset_index(drop=True)
    first = created.min()
    latest = data_as_of(created, converted_at)
    if as_of is None:
        as_ts = latest
    else:
        as_ts = as_timestamp(as_of, "outcome.as_of")
        if as_ts < created.max():
            raise ConfigError(
                f"outcome.as_of must not be before the data's newest lead ({created.max()}); "
                f"got {as_ts}. Set it to the date the data was extracted, or leave it out "
                "(default: the latest timestamp in the data)."
            )
    history = (as_ts - first) / _DAY
    if window_days >= history:
        raise ConfigError(
            f"outcome.window_days must be shorter than the history ({history:.0f} days from "
            f"{first.date()} to {as_ts.date()}); got {window_days:g}. Every lead would be "
            "immature: use a shorter window or more history."
        )
    window = pd.Timedelta(days=float(window_days))
    mature = (created + window <= as_ts).to_numpy()
    labels = y.copy()
    late = 0
    if converted_at is not None:
        conv = _dates(converted_at, "converted_at").reset_index(drop=True)
        after = (conv.notna() & (conv > created + window)).to_numpy() & (labels == 1)
        late = int((after & mature).sum())
        labels[after] = 0
    return labels, Maturity(float(window_days), as_ts, mature, late)


def monthly_rates(y: np.ndarray, times: pd.Series) -> pd.DataFrame:
    """Leads, conversions and conversion rate by creation month.

    Returns
    -------
    pandas.DataFrame
        Columns ``month`` (``YYYY-MM``), ``leads``, ``conversions``, ``rate``, oldest first.

    Examples
    --------
    >>> t = pd.Series(pd.to_datetime(["2025-01-03", "2025-01-20", "2025-02-02"]))
    >>> monthly_rates(np.array([1, 0, 0]), t).to_dict("list")["rate"]
    [0.5, 0.0]
    """
    month = _dates(times, "times").dt.strftime("%Y-%m").to_numpy()
    table = (
        pd.DataFrame({"month": month, "y": np.asarray(y, dtype=float)})
        .groupby("month", sort=True)["y"]
        .agg(leads="size", conversions="sum")
        .reset_index()
    )
    table["conversions"] = table["conversions"].astype(int)
    table["rate"] = table["conversions"] / table["leads"]
    return table


def _pct(rate: float) -> str:
    return f"{100 * rate:.1f} %"


def cohort_findings(
    y: np.ndarray,
    times: pd.Series | None,
    *,
    in_order: bool = False,
    min_leads: int = 50,
    immature_ratio: float = IMMATURE_RATIO,
    shift_factor: float = SHIFT_FACTOR,
) -> list[tuple[str, str]]:
    """Warnings about the conversion rate by creation month, for data without a window.

    Two patterns are reported (each at most once):

    - ``outcomes-immature``: the newest one or two months (of at least ``min_leads``
      leads each) convert below ``immature_ratio`` times the median rate of the earlier
      months: their outcomes had likely not matured when the data was extracted.
    - ``rate-shift``: the conversion rate of the oldest and the newest third of the
      history (by leads) differ by more than ``shift_factor``: a model calibrated on
      older leads will not fit the newest.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
    times : pandas.Series or None
        Creation times. Without them, ``in_order=True`` (rows in time order,
        ``split.method: order``) still checks the shift by row position.

    Returns
    -------
    list of (code, message)

    Examples
    --------
    >>> t = pd.Series(pd.date_range("2025-01-01", periods=1200, freq="12h"))
    >>> y = (np.arange(1200) % 10 == 0).astype(int)
    >>> y[-100:] = 0
    >>> [code for code, _ in cohort_findings(y, t)]
    ['outcomes-immature']
    """
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or (times is None and not in_order):
        return []
    found: list[tuple[str, str]] = []
    table = pd.DataFrame() if times is None else monthly_rates(y, times)
    if len(table):
        table = table[table["leads"] >= min_leads].reset_index(drop=True)
    if len(table) >= 4:
        earlier = table.iloc[:-2]
        reference = float(earlier["rate"].median())
        newest = table.iloc[-2:]
        low = newest[newest["rate"] < immature_ratio * reference]
        if reference > 0 and len(low) and low.index[-1] == table.index[-1]:
            pairs = zip(low["month"], low["rate"], strict=True)
            months = ", ".join(f"{m} {_pct(r)}" for m, r in pairs)
            found.append(
                (
                    "outcomes-immature",
                    f"outcomes look immature: set outcome.window_days. The newest months "
                    f"convert well below the earlier ones ({months}, against a median of "
                    f"{_pct(reference)} in {earlier['month'].iloc[0]} to "
                    f"{earlier['month'].iloc[-1]}): leads extracted before their outcome "
                    "was known count as not converted.",
                )
            )
    if times is None:
        order = np.arange(len(y))
    else:
        order = np.argsort(_dates(times, "times").to_numpy(), kind="stable")
    third = len(order) // 3
    if third >= min_leads:
        old, new = y[order[:third]].mean(), y[order[-third:]].mean()
        lo, hi = min(old, new), max(old, new)
        if (lo == 0 and hi > 0) or (lo > 0 and hi / lo > shift_factor):
            if times is None:
                span_old = f"rows 1 to {third:,}"
                span_new = f"rows {len(y) - third + 1:,} to {len(y):,}"
            else:
                t = _dates(times, "times").to_numpy()[order]
                span_old = f"{pd.Timestamp(t[0]).date()} to {pd.Timestamp(t[third - 1]).date()}"
                span_new = f"{pd.Timestamp(t[-third]).date()} to {pd.Timestamp(t[-1]).date()}"
            found.append(
                (
                    "rate-shift",
                    f"the conversion rate moved from {_pct(old)} (oldest third, {span_old}) "
                    f"to {_pct(new)} (newest third, {span_new}), more than {shift_factor:g}x: "
                    "the model will be calibrated on the newest part; check that the newest "
                    "outcomes are complete (outcome.window_days) and that old leads still "
                    "teach something about new ones.",
                )
            )
    return found


def _rows(period: dict[str, Any], *, span: bool = True) -> str:
    text = f"{period['rows']:,}"
    if span and period.get("from"):
        text += f" leads ({period['from'][:10]} to {period['to'][:10]})"
    else:
        text += " leads"
    return text


def describe_provenance(metadata: dict[str, Any]) -> dict[str, Any]:
    """Which fit a report's numbers come from, in plain words, from a bundle's metadata.

    Returns
    -------
    dict
        ``numbers_from`` (``backtest`` or ``deployed``), ``text`` (plain sentences: the
        fits and their periods, the shift of the conversion rate across the parts, the
        immature leads left out), ``part_rates``, ``fits``, ``outcome`` and
        ``warnings`` (the monthly-cohort warnings of the training job).
    """
    fits = metadata.get("fits") or {}
    parts = metadata.get("parts") or {}
    rates = {name: part["base_rate"] for name, part in parts.items()}
    by_time = (metadata.get("split") or {}).get("method") in ("time", "order")
    sentences = []
    if "backtest" in fits and "deployed" in fits:
        bt, dep = fits["backtest"], fits["deployed"]
        older = "older " if by_time else ""
        newest = "newest " if by_time else "held-out "
        sentences.append(
            "Every number on the test leads is from the backtest: a model fit on "
            f"{_rows(bt['model_fit_on'])}, "
            f"with the calibration and threshold learned on {_rows(bt['calibrated_on'])} by a "
            f"model fit on {older}leads only, judged on the {newest}"
            f"{_rows(bt['judged_on'])} that nothing in it saw. The bundle that scores is the "
            f"same procedure one step later: refit on all {_rows(dep['model_fit_on'], span=False)}"
            f" and calibrated on out-of-fold scores of the {newest}"
            f"{_rows(dep['calibrated_on'], span=False)} (each scored by a model fit on the "
            "leads before it)."
        )
        numbers_from = "backtest"
    else:
        only = fits.get("deployed") or {}
        text = "Every number on the test leads is from the bundle that scores (model.refit: false)"
        if only:
            text += (
                f": fit on {_rows(only['model_fit_on'])}, calibrated on "
                f"{_rows(only['calibrated_on'])}, judged on {_rows(only['judged_on'])}"
            )
        sentences.append(text + ".")
        numbers_from = "deployed"
    if rates:
        named = [f"{_pct(rates[k])} in the {k} part" for k in rates]
        lo, hi = min(rates.values()), max(rates.values())
        moved = lo > 0 and hi / lo > SHIFT_FACTOR
        if moved and by_time:
            sentence = f"The conversion rate moved from {named[0]} to {' to '.join(named[1:])}"
        else:
            sentence = f"The conversion rate was {', '.join(named)}"
        if moved:
            sentence += (
                f" (a {hi / lo:.1f}x shift): probabilities calibrated on one period do not "
                "hold in the next, which is why the bundle that scores is calibrated on the "
                "newest parts"
            )
        sentences.append(sentence + ".")
    outcome = metadata.get("outcome") or {}
    if outcome.get("window_days") is not None:
        sentences.append(
            f"Converted means within {outcome['window_days']:g} days of creation, as of "
            f"{outcome['as_of']}: {outcome['immature_leads']:,} leads younger than that were "
            f"left out as immature, and {outcome['late_conversions']:,} later conversions "
            "counted as not converted."
        )
    return {
        "numbers_from": numbers_from,
        "text": " ".join(sentences),
        "part_rates": rates,
        "fits": fits,
        "outcome": outcome or None,
        "warnings": list(metadata.get("outcome_warnings") or []),
    }


def snapshot_rows(
    created: pd.Series,
    converted_at: pd.Series,
    ages: Sequence[float],
    *,
    window_days: float | None,
    as_of: pd.Timestamp,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """The point-in-time snapshots of each lead, their labels, and what was dropped.

    Lead ``i`` observed at age ``a`` is the moment ``s = created_i + a days``. Its label
    is "converted in ``(s, s + window_days]``" (without a window: converted after ``s``);
    it is dropped when the lead had already converted by ``s``, or when the moment (with
    a window: the window's end) is after ``as_of``. Nothing here depends on the outcome
    except the label itself and the "already converted" rule, which only looks at the
    past of ``s``.

    Parameters
    ----------
    created : pandas.Series of datetime64
        Creation times.
    converted_at : pandas.Series of datetime64
        Conversion times, NaT for leads that did not convert.
    ages : sequence of float
        ``events.snapshot_days``.
    window_days : float or None
        ``outcome.window_days``.
    as_of : pandas.Timestamp
        When the data was extracted.

    Returns
    -------
    (lead, age, label, counts)
        Per kept snapshot, ordered by lead then age: the lead's position, its age in days
        and its 0/1 label; ``counts`` has ``ages``, ``leads``, ``snapshots``,
        ``dropped_converted`` and ``dropped_immature``.

    Examples
    --------
    >>> created = pd.Series(pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-01"]))
    >>> conv = pd.Series(pd.to_datetime(["2025-01-05", None, None]))
    >>> lead, age, label, _ = snapshot_rows(created, conv, [0, 7], window_days=30,
    ...                                     as_of=pd.Timestamp("2025-03-20"))
    >>> lead.tolist(), age.tolist(), label.tolist()
    ([0, 1, 1], [0.0, 0.0, 7.0], [1, 0, 0])
    """
    c = _dates(created, "created").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    conv = _dates(converted_at, "converted_at").to_numpy(dtype="datetime64[ns]")
    known = ~np.isnat(conv)
    conv = np.where(known, conv.astype(np.int64), np.iinfo(np.int64).max)
    end = pd.Timestamp(as_of).value
    window = None if window_days is None else round(float(window_days) * _DAY.value)
    leads, age_out, labels = [], [], []
    dropped_converted = dropped_immature = 0
    for age in ages:
        moment = c + round(float(age) * _DAY.value)
        already = conv <= moment
        closes = moment if window is None else moment + window
        mature = closes <= end
        keep = mature & ~already
        dropped_converted += int((mature & already).sum())
        dropped_immature += int((~mature).sum())
        rows = np.flatnonzero(keep)
        later = conv[rows] > moment[rows]
        label = later & known[rows]
        if window is not None:
            label &= conv[rows] <= moment[rows] + window
        leads.append(rows)
        age_out.append(np.full(len(rows), float(age)))
        labels.append(label.astype(np.int64))
    lead = np.concatenate(leads)
    age_arr = np.concatenate(age_out)
    label_arr = np.concatenate(labels)
    order = np.lexsort((age_arr, lead))
    counts = {
        "ages": [float(a) for a in ages],
        "leads": len(np.unique(lead)),
        "snapshots": len(lead),
        "dropped_converted": dropped_converted,
        "dropped_immature": dropped_immature,
    }
    return lead[order], age_arr[order], label_arr[order], counts


#: The ages (days after creation) default snapshots are taken from: 0, 7, 14 and 30 days
#: always, then a roughly geometric grid (x1.5) as far as conversions still happen.
SNAPSHOT_GRID = (0.0, 7.0, 14.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 270.0, 365.0, 545.0, 730.0)
_BASE_AGES = 4  # the first four ages of the grid are always taken
#: Default snapshots reach the age by which this share of the conversions had happened.
CONVERSION_SHARE = 0.99


def snapshot_ages(
    created: pd.Series,
    converted_at: pd.Series,
    *,
    window_days: float | None,
    as_of: pd.Timestamp,
) -> tuple[list[float], dict[str, Any]]:
    """The default snapshot ages: every age at which a lead can still convert, from the data.

    The conversion age of a converted lead is ``converted_at - created`` in days. Its
    :data:`CONVERSION_SHARE` quantile is measured on the leads created in the older half
    of the history (between the first lead and ``as_of``), whose conversions had the most
    time to be recorded (all converted leads when that half holds fewer than 20). The
    ages are 0, 7, 14 and 30 days, then the ages of :data:`SNAPSHOT_GRID` up to the first
    one at or past that quantile, so that the oldest snapshot shows leads that have
    stopped converting. They stop at ``(history - window_days) / 2``: the older half of
    the history must be seen at the oldest age (a snapshot of age ``a`` needs
    ``a + window_days`` days of history after the lead's creation).

    Parameters
    ----------
    created : pandas.Series of datetime64
        Creation times.
    converted_at : pandas.Series of datetime64
        Conversion times, NaT for leads that did not convert.
    window_days : float or None
        ``outcome.window_days``.
    as_of : pandas.Timestamp
        When the data was extracted.

    Returns
    -------
    (ages, info)
        The ages in days, ascending; ``info`` has ``conversion_age`` (the quantile, None
        without conversions), ``share`` and ``longest_age`` (the cap in days).

    Examples
    --------
    >>> created = pd.Series(pd.to_datetime(["2024-01-01"] * 4 + ["2025-06-01"]))
    >>> conv = pd.Series(pd.to_datetime(["2024-01-20", "2024-02-10", "2024-03-01", None, None]))
    >>> ages, info = snapshot_ages(created, conv, window_days=30, as_of=pd.Timestamp("2025-06-30"))
    >>> ages, round(info["conversion_age"])
    ([0.0, 7.0, 14.0, 30.0, 45.0, 60.0], 60)
    """
    c = pd.Series(created).reset_index(drop=True)  # parsed already (mqlml.io)
    conv = pd.Series(converted_at).reset_index(drop=True)
    first = c.min()
    history = (pd.Timestamp(as_of) - first) / _DAY
    longest = max(SNAPSHOT_GRID[_BASE_AGES - 1], (history - (window_days or 0.0)) / 2.0)
    known = conv.notna().to_numpy()
    older = known & (c <= first + (pd.Timestamp(as_of) - first) / 2).to_numpy()
    rows = older if older.sum() >= 20 else known
    info: dict[str, Any] = {"conversion_age": None, "share": CONVERSION_SHARE}
    ages = list(SNAPSHOT_GRID[:_BASE_AGES])
    if rows.any():
        delay = ((conv[rows] - c[rows]) / _DAY).to_numpy(dtype=float)
        reach = float(np.quantile(np.maximum(delay, 0.0), CONVERSION_SHARE))
        info["conversion_age"] = reach
        for age in SNAPSHOT_GRID[_BASE_AGES:]:
            if ages[-1] >= reach or age > longest:
                break
            ages.append(age)
    info["longest_age"] = float(longest)
    return ages, info


#: Without conversion times, the first months (of ``min_leads`` or more) convert below this
#: share of the later rate, and all the months up to the jump below twice this share.
TRUNCATION_RATIO = 0.1
_TRUNCATION_EXPECTED = 10.0  # conversions the early leads should have had, at least


def truncation_finding(
    y: np.ndarray,
    times: pd.Series | None,
    converted_at: pd.Series | None = None,
    *,
    time_column: str = "created_at",
    min_leads: int = 50,
    ratio: float = TRUNCATION_RATIO,
) -> tuple[str, str] | None:
    """Left truncation: conversions recorded only from some date after the first leads.

    When deals were entered in the CRM only from some date on, the leads created before
    it look unconverted: their conversions before that date are missing. The later rate
    is the median conversion rate by creation month of the months from that date on
    (of at least ``min_leads`` leads each). Two ways to see it:

    - with ``converted_at`` (known for 90 % of the conversions or more): no conversion
      is recorded before the first one, ``D``, although at least 10 were expected there
      from the leads created before ``D``: each lead ``i`` created at ``t_i`` converts
      at the later rate, and before ``D`` with the probability ``F(D - t_i)``, where
      ``F`` is the distribution of the times conversions take (``converted_at -
      created``, measured on the leads created from ``D`` on). On a table recorded from
      the start, the first conversion comes as soon as about one was expected;
    - without: the months up to some month convert, together, below twice ``ratio``
      times the later rate where 10 conversions or more were expected, and the first of
      them (of ``min_leads`` leads or more) below ``ratio`` times; outcomes appear
      recorded from the first month after them that converts at 3/4 of the later rate.

    A dip of the rate, or a small first month without conversions, is not reported.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
        Outcomes (with a window, the windowed labels of the mature leads).
    times : pandas.Series or None
        Creation times; nothing is reported without them.
    converted_at : pandas.Series, optional
        Conversion times (NaT: not converted).
    time_column : str
        The creation-time column's name, for the fix in the message.
    min_leads : int
        Leads a month needs to count in the later rate.
    ratio : float
        See above.

    Returns
    -------
    (code, message) or None
        ``("left-truncation", message)``: the date outcomes appear recorded from, the
        evidence, and the fix (``outcome.recorded_from``).

    Examples
    --------
    >>> t = pd.Series(pd.date_range("2024-01-01", periods=3650, freq="4h"))
    >>> y = (np.arange(3650) % 10 == 0).astype(int)
    >>> y[t < "2024-04-01"] = 0
    >>> code, message = truncation_finding(y, t)
    >>> code, message.split(". ")[0]
    ('left-truncation', 'left truncation: outcomes appear recorded only from about 2024-04-01')
    """
    if times is None or len(y) == 0:
        return None
    y = np.asarray(y, dtype=float)
    t = pd.Series(times).reset_index(drop=True)  # parsed already (mqlml.io)
    table = monthly_rates(y, t)
    starts = np.array([pd.Timestamp(f"{m}-01") for m in table["month"]], dtype="datetime64[ns]")
    rates = table["rate"].to_numpy()
    sized = table["leads"].to_numpy() >= min_leads

    def reference(month: int) -> float:
        later = rates[month:][sized[month:]]
        return float(np.median(later)) if len(later) >= 2 else 0.0

    conv = None if converted_at is None else pd.Series(converted_at).reset_index(drop=True)
    if conv is not None:
        conv = conv.where(y == 1)
        if not (y.sum() and conv.notna().sum() >= 0.9 * y.sum()):
            conv = None
    fix = (
        "their conversions were likely never recorded, and they count as not converted. "
        "Train on the leads created from {day} on: set outcome.recorded_from: {day} in the "
        f"config (or filter the leads file to {time_column} >= {{day}})."
    )
    if conv is not None:
        first = conv.min()
        before = (t < first).to_numpy()
        after = ~before & conv.notna().to_numpy()
        delays = np.sort(((conv[after] - t[after]) / _DAY).to_numpy(dtype=float))
        ref = reference(int(np.searchsorted(starts, first.to_datetime64())))
        if len(delays) < 10 or ref <= 0:
            return None
        gaps = ((first - t[before]) / _DAY).to_numpy(dtype=float)
        expected = ref * np.searchsorted(delays, gaps, side="right").sum() / len(delays)
        if expected < _TRUNCATION_EXPECTED:
            return None
        n_before, k_before = int(before.sum()), int(y[before].sum())
        day = str(first.date())
        return (
            "left-truncation",
            f"left truncation: outcomes appear recorded only from {day}. No conversion is "
            f"recorded before {day}, {gaps.max():.0f} days after the first lead, where about "
            f"{expected:.0f} were expected from the {n_before:,} leads created before it "
            f"(at the rate of the later leads, {_pct(ref)} by month (median), and the time "
            f"conversions take, {np.median(delays):.0f} days (median)); those leads convert "
            f"at {_pct(k_before / n_before)} in all: " + fix.format(day=day),
        )
    for k in range(len(table) - 2, 0, -1):
        ref = reference(k)
        n_early = int(table["leads"].iloc[:k].sum())
        k_early = int(table["conversions"].iloc[:k].sum())
        first_sized = np.flatnonzero(sized[:k])
        if (
            ref > 0
            and n_early * ref >= _TRUNCATION_EXPECTED
            and k_early <= 2 * ratio * ref * n_early
            and rates[k - 1] < 0.5 * ref
            and len(first_sized)
            and rates[first_sized[0]] <= ratio * ref
        ):
            cut = pd.Timestamp(starts[k])
            normal = np.flatnonzero((rates >= 0.75 * ref) & (np.arange(len(rates)) >= k))
            day = str(pd.Timestamp(starts[normal[0]] if len(normal) else cut).date())
            return (
                "left-truncation",
                f"left truncation: outcomes appear recorded only from about {day}. The "
                f"{n_early:,} leads created before {cut.date()} converted at "
                f"{_pct(k_early / n_early)} ({k_early:,} conversions) where the later leads "
                f"convert at {_pct(ref)} by month (median): " + fix.format(day=day),
            )
    return None


def since_recorded(
    frame: pd.DataFrame, time_column: str | None, recorded_from: Any, format: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Leave out the leads created before ``outcome.recorded_from`` (left truncation).

    Parameters
    ----------
    frame : pandas.DataFrame
        The leads.
    time_column : str or None
        ``columns.time``.
    recorded_from : date or None
        ``outcome.recorded_from``; None keeps every lead.
    format : str, optional
        The time column's format (``columns.date_formats``; detected when omitted).

    Returns
    -------
    (frame, dropped)
        The leads kept (index reset when some were left out) and how many were left out.

    Raises
    ------
    ConfigError
        ``recorded_from`` without a time column, or after every lead.

    Examples
    --------
    >>> leads = pd.DataFrame({"t": pd.to_datetime(["2024-01-05", "2024-03-01"]), "y": [0, 1]})
    >>> kept, dropped = since_recorded(leads, "t", "2024-02-01")
    >>> kept["y"].tolist(), dropped
    ([1], 1)
    """
    if recorded_from is None:
        return frame, 0
    if time_column is None:
        raise ConfigError(
            "outcome.recorded_from must come with columns.time (leads created before it are "
            f"left out); got recorded_from={recorded_from} and no time column. Set "
            "columns.time or remove outcome.recorded_from."
        )
    from mqlml.io._dates import parse_dates

    if time_column not in frame.columns:
        return frame, 0  # the schema names the missing column with its fix
    t = parse_dates(frame[time_column], time_column, format=format)
    since = pd.Timestamp(recorded_from)
    zone = t.dt.tz
    if zone is not None:
        since = since.tz_localize(zone) if since.tz is None else since.tz_convert(zone)
    elif since.tz is not None:
        since = since.tz_convert(None)
    keep = (t >= since).to_numpy()
    if not keep.any():
        raise ConfigError(
            f"outcome.recorded_from must leave some leads; got {since}, after the newest lead "
            f"({t.max()}). Set it to the date outcomes were first recorded."
        )
    dropped = int((~keep).sum())
    if not dropped:
        return frame, 0
    return frame.loc[keep].reset_index(drop=True), dropped
