"""Data checks before training: a profile of the leads and findings about them.

Findings cover the data requirements (enough leads and conversions to calibrate), leakage
(a column that predicts the outcome almost perfectly on its own, one filled in almost
only for converted leads, one whose name is typical of fields sales write after contact
or of a score or rating kept up to date after it), values probably written after the
outcome (a text column naming the lead's last event as of the extract; a column filled
in for a minority of leads who convert far more than the rest),
columns strong enough alone that they must be confirmed as known before the outcome,
id-like, constant and near-constant columns, dates used as features, one category
written in several ways, a conversion rate that moves across the history, and outcomes
recorded only from some date after the first leads (left truncation).

Every column is judged the way the model will see it: a column declared categorical is
ranked by category even when its values are integer codes, a date by its time.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mqlml.config._config import ProjectConfig
from mqlml.errors import ConfigError, DataError
from mqlml.io._dates import looks_like_dates, parse_dates
from mqlml.leads._events import with_event_features
from mqlml.leads._outcome import since_recorded
from mqlml.leads._schema import LeadSchema
from mqlml.metrics._rates import rate_interval

__all__ = [
    "LABEL_COPY_AUC",
    "STRONG_AUC",
    "CheckReport",
    "Finding",
    "check_before_training",
    "check_leads",
    "conversion_by_period",
    "is_date_like",
    "latest_words",
    "leak_words",
    "single_column_auc",
    "spelling_variants",
]

Level = Literal["error", "warning", "info"]

STRONG_AUC = 0.85
"""From this single-column ROC AUC up to ``checks.leakage_auc`` a column is "strong": the
user is asked to confirm its value is known before the outcome."""

# Words in the names of CRM fields that are usually written after sales' contact.
_SUSPECT_WORDS = frozenset(
    "quality status stage disposition tag tags outcome result reason owner lost won closed "
    "opportunity deal sql".split()
)
# Words of a score or rating another system or a person gives the lead and keeps up to
# date (a vendor's lead score, an activity index, a grade): exported, it is the value at
# extraction, after sales' contact and the outcome.
_RATING_WORDS = frozenset("score scores scoring index rating ratings grade grading".split())
# A suspect word right after one of these describes the person, not the sales process
# (Marital_Status, employment status, home owner, credit score).
_PERSONAL = frozenset(
    "marital civil employment family relationship residence residential housing home "
    "education educational student citizenship immigration smoking health veteran military "
    "disability credit body".split()
)
# Words of a column holding the lead's latest event or state (Last Activity): a CRM
# overwrites it on every event, so as exported it names what happened last before the
# extraction, for a converted lead usually after its conversion.
_LATEST_WORDS = frozenset(("last", "latest"))
#: A column filled in for at most this share of the leads ...
PARTLY_FILLED_SHARE = 0.5
#: ... whose filled-in leads convert at least this many times as often as the rest ...
PARTLY_FILLED_RATIO = 2.0
#: ... and at least this many percentage points more is a column probably filled in after
#: contact (sales write it for the leads they worked).
PARTLY_FILLED_GAP = 0.25
_PARTLY_FILLED_MIN = 50  # leads on each side
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SHIFT_RATIO = 1.5  # a rate this many times another (with disjoint intervals) is a shift
_COHORT_MIN_LEADS = 100
_CONFIDENCE = 0.90


@dataclass(frozen=True)
class Finding:
    """One thing ``mqlml check`` found: its level, a short code, the column and a message."""

    level: Level
    code: str
    message: str
    column: str | None = None


@dataclass(frozen=True)
class CheckReport:
    """The profile of a lead table and the findings about it.

    Attributes
    ----------
    profile : dict
        rows, conversions, base_rate, date_from, date_to, features, and the conversion
        rate across the history (``cohorts_by``, ``cohorts``, ``history``).
    columns : pandas.DataFrame
        One row per column: role, kind, missing_share, cardinality, single_column_auc
        (None for the id, time and label columns).
    findings : list of Finding
    schema : LeadSchema
    """

    profile: dict[str, Any]
    columns: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)
    schema: LeadSchema | None = None

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.level == "error" for f in self.findings)

    def flagged(self, code_prefix: str = "leak") -> list[str]:
        """Columns with a finding whose code starts with ``code_prefix``."""
        return sorted({f.column for f in self.findings if f.code.startswith(code_prefix)} - {None})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (``mqlml check --json``)."""
        cols = self.columns.astype(object).where(self.columns.notna(), None)
        return {
            "ok": self.ok,
            "profile": self.profile,
            "columns": cols.to_dict(orient="records"),
            "findings": [f.__dict__ for f in self.findings],
        }


# ---------------------------------------------------------------------------------------
# Single-column evidence
# ---------------------------------------------------------------------------------------


def is_date_like(values: pd.Series) -> bool:
    """True when a column holds dates or date-times (see :func:`mqlml.io.looks_like_dates`).

    At least 95 % of up to 500 distinct non-missing values must be dates in a format
    mqlml reads; numbers are never dates.

    Examples
    --------
    >>> is_date_like(pd.Series(["2012-09-04", "2014-03-08", None]))
    True
    >>> is_date_like(pd.Series(["Google", "2012-09-04"])), is_date_like(pd.Series([20120904]))
    (False, False)
    """
    return looks_like_dates(values)


def _as_time(values: pd.Series) -> pd.Series:
    """A date-like feature's times; NaT throughout when it has no one date format (it is
    ranked as missing: `check` names it as a date to replace by its age anyway)."""
    try:
        return parse_dates(values, str(values.name))
    except DataError:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")


def single_column_auc(
    values: pd.Series,
    y: np.ndarray,
    *,
    kind: str | None = None,
    folds: int = 5,
    seed: int = 0,
) -> float:
    """How well one column alone ranks converted leads, as ROC AUC folded to >= 0.5.

    The column is ranked the way the model sees it. Numeric and yes/no columns rank by
    value (missing values as their own lowest group); dates by their time; categorical
    columns, including integer codes declared ``categorical``, by their out-of-fold
    conversion rate (so that a column with a new value per lead does not look predictive
    just by memorising).

    Parameters
    ----------
    values : pandas.Series
    y : array-like of 0/1
    kind : {"categorical", "numeric", "boolean", "date"}, optional
        How the model sees the column; inferred from the dtype when omitted.
    folds, seed : int
        Folds and seed of the out-of-fold rates.

    Returns
    -------
    float
        NaN when the column has a single value or y has a single class.

    Examples
    --------
    >>> y = np.array([1, 0, 0, 1, 0, 0] * 50)
    >>> codes = pd.Series([2, 1, 3, 2, 1, 3] * 50)  # code 2 converts; 1 and 3 do not
    >>> as_codes = single_column_auc(codes, y)
    >>> as_categories = single_column_auc(codes, y, kind="categorical")
    >>> round(as_codes, 2), round(as_categories, 2)
    (0.5, 1.0)
    """
    y = np.asarray(y)
    if len(np.unique(y)) < 2 or values.nunique(dropna=False) < 2:
        return float("nan")
    if kind is None:
        kind = "numeric" if _numeric(values) else "categorical"
    if kind == "date":
        stamps = _as_time(values)
        x = stamps.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
        x[stamps.isna().to_numpy()] = np.nan
    elif kind == "categorical" or (kind == "boolean" and not _numeric(values)):
        x = None
    else:
        x = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    if x is not None:
        low = np.nanmin(x) - 1.0 if np.isfinite(x).any() else 0.0
        score = np.where(np.isnan(x), low, x)
    else:
        codes = pd.factorize(values.astype(object).where(values.notna(), "__missing__"))[0]
        fold = np.random.default_rng(seed).integers(0, folds, len(codes))
        k = codes.max() + 1
        total_n = np.bincount(codes, minlength=k).astype(float)
        total_y = np.bincount(codes, weights=y, minlength=k)
        prior, strength = y.mean(), 10.0
        score = np.empty(len(codes))
        for f in range(folds):
            mask = fold == f
            n_in = np.bincount(codes[mask], minlength=k)
            y_in = np.bincount(codes[mask], weights=y[mask], minlength=k)
            n_out, y_out = total_n - n_in, total_y - y_in
            rate = (y_out + prior * strength) / (n_out + strength)
            score[mask] = rate[codes[mask]]
    auc = roc_auc_score(y, score)
    return float(max(auc, 1.0 - auc))


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def leak_words(name: str) -> list[str]:
    """The words of a column name typical of fields written after sales' contact.

    Names are split into words at spaces, punctuation and camelCase humps, so
    ``LeadStatus`` and ``lead_status`` match "Status" but ``poutcome`` does not match
    "outcome"; a suspect word that describes the person (``Marital_Status``,
    ``credit_score``) is not one. The words of a score or rating kept up to date (``Lead
    Score``, ``Activity Index``, ``grade``) are suspect too.

    Examples
    --------
    >>> leak_words("Lead Status"), leak_words("lifecycleStage"), leak_words("Marital_Status")
    (['Status'], ['Stage'], [])
    >>> leak_words("Asymmetrique Activity Index"), leak_words("credit_score")
    (['Index'], [])
    """
    words = _WORD.findall(name)
    return [
        w
        for i, w in enumerate(words)
        if w.lower() in _SUSPECT_WORDS | _RATING_WORDS
        and not (i and words[i - 1].lower() in _PERSONAL)
    ]


def latest_words(name: str) -> list[str]:
    """The words of a column name that say it holds the lead's latest event or state.

    Examples
    --------
    >>> latest_words("Last Activity"), latest_words("latestStage"), latest_words("Last Name")
    (['Last'], ['latest'], [])
    """
    words = _WORD.findall(name)
    return [
        w
        for i, w in enumerate(words)
        if w.lower() in _LATEST_WORDS
        and not (i + 1 < len(words) and words[i + 1].lower() in ("name", "names"))
    ]


def spelling_variants(values: pd.Series, *, limit: int = 5_000) -> list[list[tuple[str, int]]]:
    """Groups of category values that differ only in case or white space, largest first.

    Each group lists ``(value as written, leads)``, most frequent spelling first.

    Examples
    --------
    >>> spelling_variants(pd.Series(["Google", "google", "Google ", "Email", "Email"]))
    [[('Google', 1), ('Google ', 1), ('google', 1)]]
    """
    counts = values.dropna().astype(str).value_counts()
    if len(counts) > limit or len(counts) < 2:
        return []
    key = counts.index.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()
    frame = pd.DataFrame({"value": counts.index, "leads": counts.to_numpy(), "key": key})
    groups = []
    for _, group in frame.groupby("key", sort=False):
        if len(group) > 1:
            group = group.sort_values(["leads", "value"], ascending=[False, True])
            groups.append([(str(v), int(c)) for v, c in zip(group.value, group.leads, strict=True)])
    return sorted(groups, key=lambda g: -sum(c for _, c in g))


# ---------------------------------------------------------------------------------------
# The conversion rate across the history
# ---------------------------------------------------------------------------------------


def conversion_by_period(
    y: np.ndarray,
    times: pd.Series | None = None,
    *,
    pieces: int = 10,
    confidence: float = _CONFIDENCE,
) -> pd.DataFrame:
    """The conversion rate by creation month, or by tenth of the rows without times.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes, in row order.
    times : pandas.Series, optional
        Creation times; without them the rows are taken in file order (a table already
        in time order) and cut into ``pieces`` equal slices.
    pieces : int, default=10
        Slices of the rows without times.
    confidence : float, default=0.90
        Coverage of the exact binomial interval of each rate.

    Returns
    -------
    pandas.DataFrame
        One row per period, oldest first: ``period`` (``2024-01`` or ``rows 1-4,119``),
        ``leads``, ``conversions``, ``rate``, ``low``, ``high``.

    Examples
    --------
    >>> t = pd.Series(pd.to_datetime(["2024-01-05", "2024-01-20", "2024-02-03"]))
    >>> conversion_by_period(np.array([1, 0, 0]), t)[["period", "leads", "rate"]].values.tolist()
    [['2024-01', 2, 0.5], ['2024-02', 1, 0.0]]
    """
    y = np.asarray(y, dtype=np.int64)
    if times is not None:
        month = pd.Series(pd.DatetimeIndex(times).to_period("M").astype(str), index=range(len(y)))
        groups = pd.Series(y).groupby(month.to_numpy(), sort=True)
        keys, leads, conversions = (
            list(groups.size().index),
            groups.size().to_numpy(),
            groups.sum().to_numpy(),
        )
    else:
        bounds = np.linspace(0, len(y), min(pieces, max(len(y), 1)) + 1).round().astype(int)
        keys, leads, conversions = [], [], []
        for a, b in itertools.pairwise(bounds):
            keys.append(f"rows {a + 1:,}-{b:,}")
            leads.append(b - a)
            conversions.append(int(y[a:b].sum()))
    rows = []
    for key, n, k in zip(keys, leads, conversions, strict=True):
        low, high = rate_interval(k, n, confidence) or (None, None)
        rows.append(
            {
                "period": key,
                "leads": int(n),
                "conversions": int(k),
                "rate": k / n if n else None,
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame(rows, columns=["period", "leads", "conversions", "rate", "low", "high"])


def _history_parts(y: np.ndarray, order: np.ndarray, fractions: tuple[float, ...]) -> list[dict]:
    """Rates of the oldest, middle and newest parts (as a time or order split cuts them)."""
    n = len(y)
    a = round(n * fractions[0])
    b = round(n * (fractions[0] + fractions[1]))
    out = []
    for name, share, rows in (
        ("train", fractions[0], order[:a]),
        ("calibrate", fractions[1], order[a:b]),
        ("test", fractions[2], order[b:]),
    ):
        k, m = int(y[rows].sum()), len(rows)
        low, high = rate_interval(k, m) or (None, None)
        out.append(
            {
                "part": name,
                "share": share,
                "leads": m,
                "conversions": k,
                "rate": k / m if m else None,
                "low": low,
                "high": high,
            }
        )
    return out


def _shift_finding(parts: list[dict], cohorts: pd.DataFrame, by: str, split: str) -> list[Finding]:
    first, last = parts[0], parts[-1]
    if not first["leads"] or not last["leads"]:
        return []
    disjoint = first["high"] < last["low"] or last["high"] < first["low"]
    lo, hi = sorted((first["rate"], last["rate"]))
    parts_moved = disjoint and (lo == 0 or hi / lo >= _SHIFT_RATIO)
    sized = cohorts[cohorts["leads"] >= _COHORT_MIN_LEADS]
    cohorts_moved = False
    if len(sized) >= 3:
        apart = sized["high"].min() < sized["low"].max()
        low_rate, high_rate = sized["rate"].min(), sized["rate"].max()
        cohorts_moved = apart and (low_rate == 0 or high_rate / low_rate >= 2 * _SHIFT_RATIO)
    if not (parts_moved or cohorts_moved):
        return []
    named = split in ("time", "order")
    labels = {
        "train": "the oldest {:.0f} %" + (" (train part)" if named else ""),
        "calibrate": "the next {:.0f} %" + (" (calibration part)" if named else ""),
        "test": "the newest {:.0f} %" + (" (test part)" if named else ""),
    }
    said = ", ".join(
        f"{100 * p['rate']:.1f} % of {labels[p['part']].format(100 * p['share'])}" for p in parts
    )
    span = ""
    if len(sized) >= 2:
        low_row = sized.loc[sized["rate"].idxmin()]
        high_row = sized.loc[sized["rate"].idxmax()]
        span = (
            f"; by {by}, from {100 * low_row['rate']:.1f} % ({low_row['period']}) to "
            f"{100 * high_row['rate']:.1f} % ({high_row['period']})"
        )
    return [
        Finding(
            "warning",
            "rate-shift",
            f"the conversion rate moves across the history: {said} converted{span} "
            f"({100 * _CONFIDENCE:.0f} % exact intervals do not overlap). A model fitted on "
            "older leads and a threshold chosen on the calibration part will misjudge the "
            "newest ones: find out what changed (a channel, a campaign, what counts as "
            "converted) and train on the history that resembles today.",
        )
    ]


# ---------------------------------------------------------------------------------------
# The whole check
# ---------------------------------------------------------------------------------------


def check_leads(frame: pd.DataFrame, config: ProjectConfig) -> CheckReport:
    """Profile a lead table and look for problems that would make a model dishonest.

    Parameters
    ----------
    frame : pandas.DataFrame
        The leads, as read by :func:`mqlml.io._readers.read_leads` (with ``data.events``,
        the activity log's features are added and checked too).
    config : ProjectConfig
        Column roles, exclusions and the bars in ``checks``.

    Returns
    -------
    CheckReport

    Raises
    ------
    MissingColumnError, ConfigError, DataError
        When the config does not match the frame (named column), or labels are unusable.
    """
    bars = config.checks
    time, formats = config.columns.time, config.columns.date_formats
    frame, unrecorded = since_recorded(frame, time, config.outcome.recorded_from, formats.get(time))
    config, frame, _ = with_event_features(config, frame)
    schema = LeadSchema.resolve(config, frame)
    y = schema.labels(frame)
    times = schema.times(frame)
    n, n_pos = len(frame), int(y.sum())
    findings: list[Finding] = []

    if n < bars.min_leads_error or n_pos < bars.min_conversions_error:
        findings.append(
            Finding(
                "error",
                "too-few",
                f"calibration needs at least {bars.min_leads_error} leads and "
                f"{bars.min_conversions_error} conversions; got {n} leads and {n_pos} "
                "conversions. Add more history (a longer date range) before training.",
            )
        )
    elif n < bars.min_leads_warning or n_pos < bars.min_conversions_warning:
        findings.append(
            Finding(
                "warning",
                "few",
                f"{n} leads and {n_pos} conversions is under the recommended "
                f"{bars.min_leads_warning} leads and {bars.min_conversions_warning} "
                "conversions: probabilities and the threshold will be uncertain.",
            )
        )
    if n_pos == n:
        findings.append(Finding("error", "one-class", "every lead converted; nothing to learn."))

    cohort = _cohort_findings(config, frame, y, times)
    truncated = any(f.code == "left-truncation" for f in cohort)
    findings += cohort

    reasons = {e.column: e.reason for e in config.exclude}
    declared = {
        **dict.fromkeys(config.features.categorical, "categorical"),
        **dict.fromkeys(config.features.numeric, "numeric"),
        **dict.fromkeys(config.features.boolean, "boolean"),
    }
    roles = {schema.id_column: "id", schema.label_column: "label", schema.time_column: "time"}
    rows = []
    for name in frame.columns:
        values = frame[name]
        role = roles.get(name) or (
            "excluded" if name in reasons else "fit" if name in schema.fit else "engagement"
        )
        if name == config.columns.converted_at:
            role = "converted_at"
        kind = schema.kinds.get(name) or declared.get(name) or _kind(values)
        if role == "time":
            kind = "time"
        elif role not in {"id", "label"} and is_date_like(values):
            kind = "date"
        missing = float(values.isna().mean()) if n else 0.0
        row = {
            "column": name,
            "role": role,
            "kind": kind,
            "missing_share": round(missing, 4),
            "cardinality": int(values.nunique(dropna=True)),
            "single_column_auc": None,
        }
        rows.append(row)
        if role in {"id", "label", "time", "converted_at"}:
            continue
        findings += _column_findings(name, values, y, row, reasons.get(name), bars, times)
    columns = pd.DataFrame(rows)
    # None, not NaN, where no AUC is computed (id, time, label, constant columns)
    columns["single_column_auc"] = pd.Series(
        [r["single_column_auc"] for r in rows], index=columns.index, dtype=object
    )
    split = config.split.method
    if split == "auto":
        split = "time" if times is not None else "random"
    fractions = (config.split.train, config.split.calibrate, config.split.test)
    cohorts, parts, by = None, None, None
    if times is not None or split == "order":
        by = "creation month" if times is not None else "tenth of the rows in file order"
        cohorts = conversion_by_period(y, times)
        order = np.argsort(times.to_numpy(), kind="stable") if times is not None else np.arange(n)
        parts = _history_parts(y, order, fractions)
        if n and not truncated:  # left truncation explains the shift: not said twice
            findings += _shift_finding(parts, cohorts, by.split(" in ")[0], split)
    profile = {
        "rows": n,
        "conversions": n_pos,
        "base_rate": round(n_pos / n, 6) if n else None,
        "unrecorded_leads": unrecorded,
        "date_from": str(times.min().date()) if times is not None and n else None,
        "date_to": str(times.max().date()) if times is not None and n else None,
        "fit_features": list(schema.fit),
        "engagement_features": list(schema.engagement),
        "excluded": list(reasons),
        "inferred": list(schema.notes),
        "cohorts_by": by,
        "cohorts": None if cohorts is None else cohorts.to_dict(orient="records"),
        "history": parts,
    }
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order[f.level])
    return CheckReport(profile=profile, columns=columns, findings=findings, schema=schema)


def _kind(values: pd.Series) -> str:
    return "numeric" if _numeric(values) else "categorical"


def _cohort_findings(
    config: ProjectConfig, frame: pd.DataFrame, y: np.ndarray, times: pd.Series | None
) -> list[Finding]:
    """Outcomes recorded late (left truncation, with or without a window), then conversion
    rates by creation month when no outcome window is set (mqlml.leads)."""
    from mqlml.leads._outcome import (
        apply_window,
        cohort_findings,
        converted_times,
        truncation_finding,
    )

    conv = converted_times(frame, config.columns.converted_at)
    window = config.outcome.window_days
    labels, mature = y, None
    if window is not None and times is not None:
        try:
            labels, maturity = apply_window(
                y, times, conv, window_days=window, as_of=config.outcome.as_of
            )
            mature = maturity.mature
        except ConfigError:  # train says what is wrong with the window; judge every lead
            labels = y
    keep = slice(None) if mature is None else mature
    found = truncation_finding(
        labels[keep],
        None if times is None else times[keep].reset_index(drop=True),
        None if conv is None else conv[keep].reset_index(drop=True),
        time_column=config.columns.time or "created_at",
    )
    out = [] if found is None else [Finding("warning", *found)]
    if window is not None:
        return out
    in_order = config.split.method == "order"
    # The shift across the history is its own finding here (with exact intervals).
    return out + [
        Finding("warning", code, message)
        for code, message in cohort_findings(y, times, in_order=in_order)
        if code != "rate-shift"
    ]


def _column_findings(name, values, y, row, excluded_reason, bars, times) -> list[Finding]:
    n = len(values)
    found: list[Finding] = []
    excluded = excluded_reason is not None
    # On an excluded column a finding is information; on a feature a leak blocks training.
    tail = (
        f" (excluded: {excluded_reason})"
        if excluded
        else f". Exclude {name!r} in the config with the reason, or make sure it is known "
        "before the outcome."
    )

    def add(code: str, message: str, level: Level = "warning") -> None:
        found.append(Finding("info" if excluded else level, code, message, name))

    kind = row["kind"]
    if row["cardinality"] <= 1:
        add("constant", f"{name!r} has a single value; it carries no information.")
        return found
    top_share = float(values.value_counts(dropna=False, normalize=True).iloc[0])
    if top_share >= bars.near_constant_share:
        add("near-constant", f"{name!r} has one value in {top_share:.1%} of rows.")
    if kind == "date":
        example = values.dropna().iloc[0]
        age = " (the lead's creation time minus it)" if times is not None else ""
        add(
            "date-like",
            f"{name!r} holds dates (e.g. {str(example)!r}, {row['cardinality']:,} distinct): "
            f"as a feature it would be a category of {row['cardinality']:,} levels that new "
            f"leads never repeat. Give the model its age in days instead{age}, computed in "
            f"the extract, or exclude {name!r} with the reason.",
        )
    elif row["cardinality"] == n and not pd.api.types.is_float_dtype(values):
        add("id-like", f"{name!r} is unique per row like an id; it cannot generalise{tail}")
        return found
    auc = single_column_auc(values, y, kind=kind)
    row["single_column_auc"] = None if np.isnan(auc) else round(auc, 4)
    filled = values.notna().to_numpy()
    where = "alone"
    if filled.mean() <= 0.8 and filled.sum() >= 50:
        # A field sales fill in after contact is often blank elsewhere: judge it also on
        # the leads where it is filled in.
        kept = values[filled].reset_index(drop=True)
        auc_filled = single_column_auc(kept, y[filled], kind=kind)
        if auc_filled > auc:
            auc, where = auc_filled, "where filled in"
    if auc >= bars.leakage_auc:
        add(
            "leak-auc",
            f"{name!r} {where} ranks converted leads with ROC AUC {auc:.3f} "
            f"(>= {bars.leakage_auc}): it is probably written after the outcome{tail}",
            "error",
        )
    elif auc >= STRONG_AUC:
        confirm = (
            f" (excluded: {excluded_reason})"
            if excluded
            else f". Confirm that {name!r} is known when a lead is scored (not filled in or "
            "updated after sales' contact or the conversion); if it is not, exclude it."
        )
        add(
            "strong",
            f"{name!r} {where} ranks converted leads with ROC AUC {auc:.3f}, strong for a "
            f"single column ({STRONG_AUC} to {bars.leakage_auc}){confirm}",
        )
    base = float(np.mean(y))
    if 0 < filled.mean() <= 0.5 and filled.sum() >= 10:
        share = float(y[filled].mean())
        if share >= bars.leakage_fill_ratio and base < bars.leakage_fill_ratio - 0.1:
            add(
                "leak-filled",
                f"{name!r} is filled in for {filled.mean():.1%} of leads and {share:.1%} of "
                f"those converted (base rate {base:.1%}): it looks written after the "
                f"outcome{tail}",
                "error",
            )
    if (
        not any(f.code == "leak-filled" for f in found)
        and 0 < filled.mean() <= PARTLY_FILLED_SHARE
        and min(filled.sum(), n - filled.sum()) >= _PARTLY_FILLED_MIN
    ):
        rate_in, rate_out = float(y[filled].mean()), float(y[~filled].mean())
        if rate_in >= PARTLY_FILLED_RATIO * rate_out and rate_in >= rate_out + PARTLY_FILLED_GAP:
            add(
                "leak-partly-filled",
                f"{name!r} is filled in for {filled.mean():.1%} of leads, who convert at "
                f"{rate_in:.1%} against {rate_out:.1%} for the rest: a field filled in for "
                f"the leads sales worked, probably after contact{tail}",
            )
    words = leak_words(name)
    if words:
        said = " and ".join(repr(w) for w in dict.fromkeys(words))
        rating = all(w.lower() in _RATING_WORDS for w in words)
        what = (
            "typical of a score or rating kept up to date after sales' contact"
            if rating
            else "typical of fields sales fill in after contact"
        )
        add("leak-name", f"{name!r} has the word {said} in its name, {what}{tail}")
    latest = latest_words(name) if kind == "categorical" else []
    if latest:
        add(
            "leak-latest",
            f"{name!r} names the lead's {latest[0].lower()} event or state as of the extract "
            "(the word "
            f"{latest[0]!r}): a CRM updates it on every event, so for a converted lead it "
            f"usually tells what happened after the conversion{tail}",
        )
    if kind == "categorical":
        groups = spelling_variants(values)
        if groups:
            shown = "; ".join(
                " and ".join(f"{v!r} ({c:,} leads)" for v, c in group) for group in groups[:3]
            )
            more = f" and {len(groups) - 3} more groups" if len(groups) > 3 else ""
            add(
                "spelling",
                f"{name!r} writes one value in several ways (case or spaces): {shown}{more}. "
                "The model treats each spelling as its own category: clean the values at "
                "the source or in the extract.",
            )
    return found


#: Single-column ROC AUC at or above which training refuses a feature as a label copy.
LABEL_COPY_AUC = 0.99
_SCREEN_ROWS = 200_000


def check_before_training(
    config: ProjectConfig, X: pd.DataFrame, y: np.ndarray, times: pd.Series | None = None
) -> None:
    """Refuse, before any fitting, a goal that cannot be met or a feature that copies the label.

    Parameters
    ----------
    config : ProjectConfig
        The project config (its threshold goal, split fractions and
        ``checks.allow_strong_features``).
    X : pandas.DataFrame
        The coerced features of every lead.
    y : numpy.ndarray of 0/1
        The outcomes.
    times : pandas.Series, optional
        Creation times (for a capacity per period).

    Raises
    ------
    InsufficientDataError
        When the capacity asks for as many MQLs as there are leads (every lead would be
        an MQL): a total above the calibration part, or a rate per period above the
        leads that arrive per period.
    DataError
        When a feature ranks converted leads with ROC AUC >= :data:`LABEL_COPY_AUC` on
        its own (on up to 200,000 leads), unless listed in
        ``checks.allow_strong_features``.

    Examples
    --------
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "id", "label": "y"})
    >>> y = np.array([0, 1] * 50)
    >>> check_before_training(cfg, pd.DataFrame({"copy": y.astype(float)}), y)
    Traceback (most recent call last):
    ...
    mqlml.errors.DataError: feature 'copy' must not predict the outcome almost perfectly ...
    """
    from mqlml.config._capacity import PERIOD_DAYS, parse_capacity
    from mqlml.errors import DataError, InsufficientDataError

    goal, n = config.threshold, len(y)
    if goal.capacity is not None:
        number, period = parse_capacity(goal.capacity)
        n_cal = round(n * config.split.calibrate)
        if period is None and number >= n_cal:
            raise InsufficientDataError(
                f"capacity must be fewer MQLs than the {n_cal:,} leads the MQL line is "
                f"chosen on (the calibration part, {config.split.calibrate:.0%} of {n:,} "
                f"leads); got {number:,}, so every lead would be an MQL. Ask for fewer "
                "MQLs, give a capacity per period (e.g. 500/month), or add history."
            )
        if period is not None and times is not None and n:
            days = (times.max() - times.min()) / pd.Timedelta(days=1) + 1.0
            per_period = n * PERIOD_DAYS[period] / days
            if number >= per_period:
                raise InsufficientDataError(
                    f"capacity must be fewer MQLs than the leads that arrive; got "
                    f"{number:,}/{period} while the data holds about {per_period:,.0f} leads "
                    f"per {period}, so every lead would be an MQL. Ask for fewer MQLs per "
                    f"{period}."
                )
    allowed = set(config.checks.allow_strong_features)
    rows = np.arange(n)
    if n > _SCREEN_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n, _SCREEN_ROWS, replace=False))
    sample, labels = X.iloc[rows].reset_index(drop=True), np.asarray(y)[rows]
    for name in X.columns:
        if name in allowed:
            continue
        auc = single_column_auc(sample[name], labels)
        if auc >= LABEL_COPY_AUC:
            raise DataError(
                f"feature {name!r} must not predict the outcome almost perfectly on its own; "
                f"its ROC AUC alone is {auc:.3f} (>= {LABEL_COPY_AUC}), as a copy of the label "
                "or a field written after the outcome would. Exclude it in the config, or "
                "list it in checks.allow_strong_features if it is truly known before."
            )
