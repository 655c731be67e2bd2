"""Data checks before training: a profile of the leads and findings about them.

Findings cover the data requirements (enough leads and conversions to calibrate) and
leakage: a column that predicts the outcome almost perfectly on its own, a column filled
in almost only for converted leads (written after the outcome), id-like columns, and
constant or near-constant ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mqlml.config import ProjectConfig
from mqlml.events import with_event_features
from mqlml.schema import LeadSchema

__all__ = ["CheckReport", "Finding", "check_leads", "single_column_auc"]

Level = Literal["error", "warning", "info"]

# Words in the names of CRM fields that are usually written after sales' contact.
_SUSPECT_WORDS = frozenset(
    "quality status stage disposition tag tags outcome result reason owner lost won closed "
    "opportunity deal sql".split()
)


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
        rows, conversions, base_rate, date_from, date_to, features.
    columns : pandas.DataFrame
        One row per column: role, kind, missing_share, cardinality, single_column_auc.
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
        cols = self.columns.replace({np.nan: None}).to_dict(orient="records")
        return {
            "ok": self.ok,
            "profile": self.profile,
            "columns": cols,
            "findings": [f.__dict__ for f in self.findings],
        }


def single_column_auc(values: pd.Series, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> float:
    """How well one column alone ranks converted leads, as ROC AUC folded to >= 0.5.

    Numeric columns rank by value (missing values as their own lowest group);
    other columns by their out-of-fold conversion rate (so that a column with a new
    value per lead does not look predictive just by memorising).

    Returns
    -------
    float
        NaN when the column has a single value or y has a single class.
    """
    y = np.asarray(y)
    if len(np.unique(y)) < 2 or values.nunique(dropna=False) < 2:
        return float("nan")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        x = values.astype("float64").to_numpy()
        score = np.where(np.isnan(x), np.nanmin(x) - 1.0 if np.isfinite(x).any() else 0.0, x)
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


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "numeric"
    return "categorical"


def check_leads(frame: pd.DataFrame, config: ProjectConfig) -> CheckReport:
    """Profile a lead table and look for problems that would make a model dishonest.

    Parameters
    ----------
    frame : pandas.DataFrame
        The leads, as read by :func:`mqlml.readers.read_leads` (with ``data.events``,
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

    findings += _cohort_findings(config, y, times)

    reasons = {e.column: e.reason for e in config.exclude}
    roles = {schema.id_column: "id", schema.label_column: "label", schema.time_column: "time"}
    rows = []
    for name in frame.columns:
        values = frame[name]
        role = roles.get(name) or (
            "excluded" if name in reasons else "fit" if name in schema.fit else "engagement"
        )
        if name == config.columns.converted_at:
            role = "converted_at"
        missing = float(values.isna().mean()) if n else 0.0
        distinct = int(values.nunique(dropna=True))
        row = {
            "column": name,
            "role": role,
            "kind": schema.kinds.get(name, _kind(values)),
            "missing_share": round(missing, 4),
            "cardinality": distinct,
            "single_column_auc": None,
        }
        rows.append(row)
        if role in {"id", "label", "time", "converted_at"}:
            continue
        findings += _column_findings(name, values, y, row, reasons.get(name), bars)
    columns = pd.DataFrame(rows)
    profile = {
        "rows": n,
        "conversions": n_pos,
        "base_rate": round(n_pos / n, 6) if n else None,
        "date_from": str(times.min().date()) if times is not None and n else None,
        "date_to": str(times.max().date()) if times is not None and n else None,
        "fit_features": list(schema.fit),
        "engagement_features": list(schema.engagement),
        "excluded": list(reasons),
        "inferred": list(schema.notes),
    }
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order[f.level])
    return CheckReport(profile=profile, columns=columns, findings=findings, schema=schema)


def _cohort_findings(
    config: ProjectConfig, y: np.ndarray, times: pd.Series | None
) -> list[Finding]:
    """Conversion rates by creation month (mqlml.outcome), when no outcome window is set."""
    from mqlml.outcome import cohort_findings

    if config.outcome.window_days is not None:
        return []
    in_order = config.split.method == "order"
    return [
        Finding("warning", code, message)
        for code, message in cohort_findings(y, times, in_order=in_order)
    ]


def _column_findings(name, values, y, row, excluded_reason, bars) -> list[Finding]:
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

    if row["cardinality"] <= 1:
        add("constant", f"{name!r} has a single value; it carries no information.")
        return found
    top_share = float(values.value_counts(dropna=False, normalize=True).iloc[0])
    if top_share >= bars.near_constant_share:
        add("near-constant", f"{name!r} has one value in {top_share:.1%} of rows.")
    if row["cardinality"] == n and not pd.api.types.is_float_dtype(values):
        add("id-like", f"{name!r} is unique per row like an id; it cannot generalise{tail}")
        return found
    auc = single_column_auc(values, y)
    row["single_column_auc"] = None if np.isnan(auc) else round(auc, 4)
    filled = values.notna().to_numpy()
    where = "alone"
    if filled.mean() <= 0.8 and filled.sum() >= 50:
        # A field sales fill in after contact is often blank elsewhere: judge it also on
        # the leads where it is filled in.
        auc_filled = single_column_auc(values[filled].reset_index(drop=True), y[filled])
        if auc_filled > auc:
            auc, where = auc_filled, "where filled in"
    if auc >= bars.leakage_auc:
        add(
            "leak-auc",
            f"{name!r} {where} ranks converted leads with ROC AUC {auc:.3f} "
            f"(>= {bars.leakage_auc}): it is probably written after the outcome{tail}",
            "error",
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
    words = set(re.split(r"[^a-z0-9]+", name.lower())) & _SUSPECT_WORDS
    if words:
        add(
            "leak-name",
            f"{name!r} has a name typical of fields sales fill in after contact "
            f"({', '.join(sorted(words))}){tail}",
        )
    return found
