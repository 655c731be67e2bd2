"""The sections of the project config: typed models, each key with its default and meaning.

:class:`mqlml.config.ProjectConfig` holds one of each; the field descriptions are also the
config reference (``docs/config.md``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_MISSING_TOKENS",
    "BaselineConfig",
    "ChecksConfig",
    "ColumnsConfig",
    "DataConfig",
    "EventsConfig",
    "Exclusion",
    "FeaturesConfig",
    "ModelConfig",
    "OutcomeConfig",
    "OutputConfig",
    "ReportConfig",
    "ScoreConfig",
    "Section",
    "SegmentsConfig",
    "SplitConfig",
    "ThresholdConfig",
    "TrackingConfig",
]


DEFAULT_MISSING_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Section):
    """Where the leads (and optionally an activity log) are and how to read them."""

    path: Path = Field(
        description="CSV (.csv, .csv.gz) or Parquet file with one row per lead; relative to "
        "the config file's folder; ${VAR} and ${VAR:-default} are read from the environment."
    )
    format: Literal["auto", "csv", "parquet"] = Field(
        "auto", description="File format; auto: from the file name's extension."
    )
    delimiter: str = Field("auto", description="CSV delimiter, or 'auto' to sniff it.")
    encoding: str = Field("utf-8", description="Text encoding of a CSV file, e.g. latin-1.")
    events: Path | None = Field(
        None,
        description="Activity log (lead id, timestamp, event type, optional value) that "
        "engagement features are computed from; see the events section.",
    )


class ColumnsConfig(Section):
    """The id, creation-time and outcome columns."""

    id: str | None = Field(None, description="Lead id; without one, the row number is the id.")
    label: str = Field(
        description="The outcome column: converted (1, true, yes) or not (0, false, no)."
    )
    time: str | None = Field(
        None,
        description="Creation time of the lead; with it the split is by time (train on "
        "older leads, judge on newer) and a capacity per period can be counted.",
    )
    converted_at: str | None = Field(
        None,
        description="When the lead converted, if known; needed by outcome windows with an "
        "activity log (snapshots).",
    )
    account: str | None = Field(
        None,
        description="Account (company) id: never a feature; `mqlml score --accounts` rolls "
        "the leads up to one row per account.",
    )
    account_label: str | None = Field(
        None,
        description="An account-level outcome (the account converted, e.g. became an "
        "opportunity), the same on all of its leads: account probabilities are then "
        "calibrated on it instead of assuming independent leads. Never a feature.",
    )
    positive_labels: list[str | int | bool] | None = Field(
        None, description="Label values that count as converted (default: yes/true/1)."
    )
    date_formats: dict[str, str] = Field(
        default_factory=dict,
        description="Date column -> its one format: ISO8601, a strftime pattern such as "
        "'%d/%m/%Y', or epoch_s / epoch_ms / epoch_us / epoch_ns for numbers since 1970 "
        "(numbers are never read as dates without one). Default: detected from the values "
        "(ambiguous day/month columns must be given) and recorded in the bundle.",
    )

    @field_validator("date_formats")
    @classmethod
    def _formats(cls, value: dict[str, str]) -> dict[str, str]:
        from mqlml.io._dates import check_format  # pandas and pyarrow: only when formats are given

        for column, text in value.items():
            try:
                check_format(text)
            except ValueError as exc:
                raise ValueError(f"columns.date_formats.{column} {exc}") from None
        return value


class FeaturesConfig(Section):
    """Fit and engagement feature groups, or ``infer`` to take every other column."""

    fit: list[str] | Literal["infer"] = Field(
        "infer",
        description="Who the lead is (title, company size, industry...); infer: the "
        "categorical columns when engagement is infer too, else every column not in "
        "engagement.",
    )
    engagement: list[str] | Literal["infer"] = Field(
        "infer",
        description="What the lead did (visits, downloads, webinars...); infer: the numeric "
        "and yes/no columns when fit is infer too, else every column not in fit.",
    )
    categorical: list[str] = Field(
        default_factory=list,
        description="Columns read as categories whatever they look like or are stored as "
        "(e.g. integer codes): 3, 3.0 and '3' are the same level, in training and scoring.",
    )
    numeric: list[str] = Field(
        default_factory=list, description="Columns read as numbers (default: inferred)."
    )
    boolean: list[str] = Field(
        default_factory=list, description="Columns read as yes/no (default: inferred)."
    )

    @model_validator(mode="after")
    def _one_group_each(self) -> FeaturesConfig:
        if self.fit == "infer" or self.engagement == "infer":
            return self
        both = [c for c in self.fit if c in set(self.engagement)]
        if both:
            raise ValueError(
                f"a feature must be in one group; got {both[0]!r} in both features.fit and "
                "features.engagement. Remove it from one of them"
            )
        return self


class EventsConfig(Section):
    """How an activity log (``data.events``) becomes engagement features (mqlml.leads)."""

    snapshot_days: list[float] | None = Field(
        None,
        description="Training: each lead is observed at these ages (days after creation), "
        "features as of that moment, label = converted in the outcome window after it. "
        "Default (null): from the data, 0, 7, 14 and 30 days, then 45, 60, 90, 120, 180, "
        "270, 365... up to the first age by which 99 % of the conversions had happened "
        "(converted_at - time), and at most (history - outcome.window_days) / 2; the bundle "
        "records the ages used. Scoring takes a lead older than the oldest age as that age.",
    )
    windows: list[float] = Field(
        default_factory=lambda: [7.0, 30.0, 90.0],
        description="Count events of each type over these many days before the cutoff.",
    )
    half_life_days: float = Field(
        14.0, gt=0, description="Half-life of the decayed counts, in days."
    )
    event_types: list[str] | None = Field(
        None, description="Event types to make features of (default: the types in the log)."
    )
    id_column: str | None = Field(None, description="Lead id in the log (default columns.id).")
    timestamp_column: str = Field("timestamp", description="When the event happened.")
    type_column: str = Field("event_type", description="What kind of event it was.")
    value_column: str | None = Field(
        None, description="An optional number per event, summed per type and window."
    )

    @model_validator(mode="before")
    @classmethod
    def _horizon_replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "horizon_days" in data:
            raise ValueError(
                "events.horizon_days was replaced by events.snapshot_days (features as of "
                "creation + each age, never cut at the conversion): write e.g. "
                f"snapshot_days: [0, 7, {data['horizon_days']}, 30]"
            )
        return data

    @field_validator("snapshot_days")
    @classmethod
    def _ages(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if not value or any(not (a >= 0) for a in value) or len(set(value)) != len(value):
            raise ValueError("events.snapshot_days must be distinct ages in days >= 0, e.g. [0, 7]")
        return sorted(float(a) for a in value)


class Exclusion(Section):
    """A column never used as a feature, and why (leakage, identifier, free text...)."""

    column: str = Field(description="The column never used as a feature.")
    reason: str = Field(description="Why, in words (shown by check and in the report).")


class SplitConfig(Section):
    """How leads are split into train, calibrate and test parts."""

    method: Literal["auto", "time", "order", "random"] = Field(
        "auto",
        description="auto: by time when columns.time is set, else stratified random; "
        "order: keep the file's row order (rows already in time order).",
    )
    train: float = Field(0.6, gt=0, lt=1, description="Share of the oldest leads fit on.")
    calibrate: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the next leads the calibration and threshold are learned on.",
    )
    test: float = Field(
        0.2, gt=0, lt=1, description="Share of the newest leads the backtest is judged on."
    )
    seed: int = Field(0, description="Seed of the random split.")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitConfig:
        total = self.train + self.calibrate + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"split.train + split.calibrate + split.test must sum to 1; got {total:g}"
            )
        return self


class ModelConfig(Section):
    """Model settings passed to :class:`mqlml.model.LeadScorer`."""

    kind: Literal["auto", "lightgbm", "logistic"] = Field(
        "auto",
        description="auto: chosen among LightGBM (as set here, and a smaller one) and the "
        "logistic regression (C and C/10) by ROC AUC on the calibration part, each fit on "
        "the train part; or gradient-boosted trees (LightGBM) or a one-hot logistic "
        "regression.",
    )
    n_estimators: int = Field(
        1000, gt=0, description="Most trees to fit; early stopping usually stops sooner."
    )
    learning_rate: float = Field(0.05, gt=0, description="LightGBM's shrinkage per tree.")
    num_leaves: int = Field(31, gt=1, description="LightGBM's leaves per tree.")
    min_child_samples: int = Field(20, gt=0, description="LightGBM's fewest leads per leaf.")
    early_stopping_rounds: int = Field(
        50,
        gt=0,
        description="Stop when the log loss on a held-out slice of the training part has "
        "not improved for this many trees.",
    )
    min_category_count: int = Field(
        20,
        gt=0,
        description="Category levels seen fewer times in training are pooled as 'rare'.",
    )
    C: float = Field(1.0, gt=0, description="Inverse regularisation of the logistic model.")
    calibration: Literal["auto", "isotonic", "sigmoid"] = Field(
        "auto",
        description="auto: isotonic from 1,000 leads and 100 conversions in the calibration "
        "part, sigmoid below.",
    )
    seed: int = Field(0, description="Seed of the model's randomness.")
    refit: bool = Field(
        True,
        description="Deploy a refit on the newest mature history (the backtest stays for the "
        "report); false: deploy the backtest's own fit on the oldest part.",
    )


class OutcomeConfig(Section):
    """What "converted" means: within ``window_days`` of creation, as of ``as_of``."""

    window_days: float | None = Field(
        None,
        gt=0,
        description="The label is 'converted within this many days of columns.time'; leads "
        "younger than this at as_of are immature and left out.",
    )
    as_of: datetime | None = Field(
        None, description="When the data was extracted (default: its latest timestamp)."
    )
    recorded_from: datetime | None = Field(
        None,
        description="Outcomes are recorded from this date on (left truncation: deals before "
        "it were never entered): leads created before it are left out of check and train.",
    )


class SegmentsConfig(Section):
    """An MQL line per segment: a column and a target rate (or a capacity) per value.

    Values not listed (and missing values) form one more group, "the rest", which aims
    for the top-level ``threshold.target_rate`` (or ``capacity``).
    """

    column: str = Field(description="The column whose values are the segments, e.g. region.")
    targets: dict[str, float] = Field(
        default_factory=dict, description="Value -> MQL-to-SQL rate aimed for in that segment."
    )
    capacities: dict[str, str | int] = Field(
        default_factory=dict, description="Value -> MQLs that segment's sales can take."
    )
    min_leads: int = Field(
        300, gt=0, description="Calibration leads a segment needs for a line of its own."
    )
    min_conversions: int = Field(
        30, gt=0, description="Calibration conversions a segment needs for a line of its own."
    )
    calibrate_min_leads: int = Field(
        1000, gt=0, description="Calibration leads a segment needs for a calibration of its own."
    )
    calibrate_min_conversions: int = Field(
        100,
        gt=0,
        description="Calibration conversions a segment needs for a calibration of its own.",
    )

    @field_validator("targets", "capacities", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        # YAML reads `1: 0.2` with an integer key; segment values are compared as text.
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("targets")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 < v < 1}
        if bad:
            raise ValueError(
                f"threshold.segments.targets must be rates in (0, 1), e.g. 0.25; got {bad}"
            )
        return value

    @model_validator(mode="after")
    def _one_goal_per_value(self) -> SegmentsConfig:
        both = sorted(set(self.targets) & set(self.capacities))
        if both:
            raise ValueError(
                f"a segment takes a target or a capacity, not both; got both for {both}"
            )
        if not self.targets and not self.capacities:
            raise ValueError(
                "threshold.segments must list targets or capacities, e.g. "
                "targets: {EMEA: 0.20, APAC: 0.35}"
            )
        return self


class ThresholdConfig(Section):
    """What the MQL line aims for: an MQL-to-SQL rate, or a capacity such as ``500/month``."""

    target_rate: float | None = Field(
        0.25,
        gt=0,
        lt=1,
        description="The MQL-to-SQL rate the MQL line aims for (the lowest threshold whose "
        "expected rate reaches it).",
    )
    confidence: float | None = Field(
        None,
        ge=0.5,
        lt=1,
        description="Guarantee: the MQLs' rate is at least target_rate with this confidence "
        "(e.g. 0.9), by exact binomial tests; default: the expected-rate rule. When no line "
        "passes, training still writes the bundle, with guarantee 'not met' and a warning: "
        "the strictest line reaching the target on its own, else the expected-rate line.",
    )
    capacity: str | int | None = Field(
        None,
        description="Instead of a rate: how many MQLs sales can take, in total (1200) or per "
        "period (500/month; day, week, month, quarter, year; needs columns.time).",
    )
    segments: SegmentsConfig | None = Field(
        None,
        description="An MQL line per segment (mqlml.model); the goal above for the rest.",
    )

    @model_validator(mode="after")
    def _one_goal(self) -> ThresholdConfig:
        explicit_rate = "target_rate" in self.model_fields_set and self.target_rate is not None
        if self.capacity is not None and explicit_rate:
            raise ValueError("set threshold.target_rate or threshold.capacity, not both")
        if self.capacity is not None and self.confidence is not None:
            raise ValueError(
                "threshold.confidence guarantees a target_rate; it does not apply to a capacity"
            )
        return self


class ScoreConfig(Section):
    """The 0-100 score: where the MQL line sits, how many points double the odds, tiers."""

    mql_at: float = Field(50.0, gt=0, lt=100, description="The score of the MQL threshold.")
    points_to_double_odds: float = Field(
        10.0, gt=0, description="Score points that double the odds of converting."
    )
    tiers: list[float] | None = Field(
        None,
        description="Score cut points of the tiers below A, ascending and below mql_at "
        "(default: [mql_at - 2 x points_to_double_odds, mql_at - points_to_double_odds]).",
    )


class BaselineConfig(Section):
    """The rule-based points system the model is compared to."""

    rules: Path | None = Field(
        None,
        description="Points rules (YAML) the model is compared to; relative to the config.",
    )


class ChecksConfig(Section):
    """Bars for ``mqlml check``: data requirements and leakage detection."""

    min_leads_error: int = Field(200, description="Fewer leads than this is an error.")
    min_conversions_error: int = Field(30, description="Fewer conversions than this is an error.")
    min_leads_warning: int = Field(1000, description="Fewer leads than this is a warning.")
    min_conversions_warning: int = Field(
        120, description="Fewer conversions than this is a warning."
    )
    leakage_auc: float = Field(
        0.95,
        gt=0.5,
        le=1,
        description="A column whose ROC AUC alone reaches this is flagged as leakage.",
    )
    leakage_fill_ratio: float = Field(
        0.9, gt=0, le=1, description="Share of a column's values that belong to converted leads."
    )
    near_constant_share: float = Field(
        0.995,
        gt=0.5,
        le=1,
        description="A column whose most common value has this share is near-constant.",
    )
    allow_strong_features: list[str] = Field(
        default_factory=list,
        description="Features allowed to rank converted leads with ROC AUC >= 0.99 alone "
        "(training refuses them otherwise, as label copies).",
    )


class ReportConfig(Section):
    """What the comparison report adds: segment tables and readable column names."""

    segments: list[str] = Field(
        default_factory=list, description="Columns to break the MQL-to-SQL rate down by."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Readable names of columns, e.g. {lead_source: Source}."
    )


class OutputConfig(Section):
    """Default output folders."""

    models: Path = Field(
        Path("models"), description="Where `mqlml train` saves bundles (models/NAME)."
    )
    reports: Path = Field(Path("reports"), description="Where reports go by default.")


class TrackingConfig(Section):
    """MLflow tracking; the default is a SQLite store under the project folder."""

    uri: str | None = Field(
        None,
        description="MLflow tracking URI; MLFLOW_TRACKING_URI wins; default: a SQLite store "
        "mlruns/mlflow.db under the current folder.",
    )
    experiment: str = Field("mqlml", description="MLflow experiment of the training runs.")
    registered_model: str = Field(
        "mqlml-lead-scorer", description="Registered model name of each trained bundle."
    )
