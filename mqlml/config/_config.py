"""The project config: one YAML file read into typed objects, with every default in one place.

A config names where the leads are, which columns are the id, the creation time and the
outcome, which features are "fit" (who the lead is) and which are "engagement" (what
the lead did), which columns must never be used and why, how to split, which model to
fit and which MQL-to-SQL rate (or capacity) the threshold aims for.

Relative paths are resolved against the folder of the config file, and ``${VAR}`` or
``${VAR:-default}`` in a path is replaced from the environment, so one config works on
every machine (``${MQLML_DATA_DIR:-../../shared/data}/leads.csv``).
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mqlml.errors import ConfigError
from mqlml.io._yaml import MAX_BYTES, DuplicateKeyError, load_yaml

__all__ = [
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
    "ProjectConfig",
    "ReportConfig",
    "ScoreConfig",
    "SegmentsConfig",
    "SplitConfig",
    "ThresholdConfig",
    "TrackingConfig",
    "load_config",
    "valid_keys",
]

DEFAULT_MISSING_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
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


class ColumnsConfig(_Section):
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


class FeaturesConfig(_Section):
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


class EventsConfig(_Section):
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


class Exclusion(_Section):
    """A column never used as a feature, and why (leakage, identifier, free text...)."""

    column: str = Field(description="The column never used as a feature.")
    reason: str = Field(description="Why, in words (shown by check and in the report).")


class SplitConfig(_Section):
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


class ModelConfig(_Section):
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


class OutcomeConfig(_Section):
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


class SegmentsConfig(_Section):
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


class ThresholdConfig(_Section):
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


class ScoreConfig(_Section):
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


class BaselineConfig(_Section):
    """The rule-based points system the model is compared to."""

    rules: Path | None = Field(
        None,
        description="Points rules (YAML) the model is compared to; relative to the config.",
    )


class ChecksConfig(_Section):
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


class ReportConfig(_Section):
    """What the comparison report adds: segment tables and readable column names."""

    segments: list[str] = Field(
        default_factory=list, description="Columns to break the MQL-to-SQL rate down by."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Readable names of columns, e.g. {lead_source: Source}."
    )


class OutputConfig(_Section):
    """Default output folders."""

    models: Path = Field(
        Path("models"), description="Where `mqlml train` saves bundles (models/NAME)."
    )
    reports: Path = Field(Path("reports"), description="Where reports go by default.")


class TrackingConfig(_Section):
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


class ProjectConfig(_Section):
    """The whole project config. Build it with :func:`load_config`.

    Attributes
    ----------
    source : Path or None
        The file the config was read from (relative paths were resolved against it).
    """

    data: DataConfig = Field(description="Where the leads are and how to read them.")
    columns: ColumnsConfig = Field(description="The id, creation-time and outcome columns.")
    features: FeaturesConfig = Field(
        FeaturesConfig(),
        description="Fit and engagement features; `features: infer` infers both groups.",
    )
    events: EventsConfig = Field(
        EventsConfig(), description="Engagement features from an activity log."
    )
    outcome: OutcomeConfig = Field(
        OutcomeConfig(), description="The outcome window and the extraction date."
    )
    exclude: list[Exclusion] = Field(
        default_factory=list,
        description="Columns never used, each with a reason; a list of {column, reason} or a "
        "mapping column: reason.",
    )
    missing_tokens: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MISSING_TOKENS),
        description="Cell values read as missing.",
    )
    split: SplitConfig = Field(SplitConfig(), description="Train, calibrate and test parts.")
    model: ModelConfig = Field(ModelConfig(), description="The model and its calibration.")
    threshold: ThresholdConfig = Field(
        ThresholdConfig(), description="The MQL goal: a target rate or a capacity."
    )
    score: ScoreConfig = Field(ScoreConfig(), description="The 0-100 score scale and tiers.")
    baseline: BaselineConfig = Field(
        BaselineConfig(), description="The points system to compare with."
    )
    checks: ChecksConfig = Field(ChecksConfig(), description="Bars for `mqlml check`.")
    report: ReportConfig = Field(ReportConfig(), description="Segments and readable names.")
    output: OutputConfig = Field(OutputConfig(), description="Default output folders.")
    tracking: TrackingConfig = Field(TrackingConfig(), description="MLflow tracking.")
    source: Path | None = Field(
        None, description="The file the config was read from (set on load)."
    )

    @field_validator("features", mode="before")
    @classmethod
    def _features_shorthand(cls, value: Any) -> Any:
        # `features: infer` is both groups inferred.
        return {} if value == "infer" else value

    @field_validator("exclude", mode="before")
    @classmethod
    def _exclusions_from_mapping(cls, value: Any) -> Any:
        # `exclude: {Tags: "written by sales"}` reads as well as a list of pairs.
        if isinstance(value, dict):
            return [{"column": k, "reason": v} for k, v in value.items()]
        return value

    @model_validator(mode="after")
    def _formats_of_date_columns(self) -> ProjectConfig:
        cols = self.columns
        dates = [c for c in (cols.time, cols.converted_at, self.events.timestamp_column) if c]
        unknown = [c for c in cols.date_formats if c not in dates]
        if unknown:
            raise ValueError(
                "columns.date_formats must name the columns.time, columns.converted_at or "
                f"events.timestamp_column column ({', '.join(dates)}); got {unknown[0]!r}. "
                "Fix the name"
            )
        return self

    @property
    def excluded_columns(self) -> list[str]:
        """Names of the excluded columns."""
        return [e.column for e in self.exclude]

    def with_overrides(self, **sections: dict[str, Any]) -> ProjectConfig:
        """Return a copy with some fields of some sections replaced (validated again).

        Examples
        --------
        >>> cfg = ProjectConfig(data={"path": "x.csv"}, columns={"id": "id", "label": "y"})
        >>> cfg.with_overrides(model={"kind": "logistic"}).model.kind
        'logistic'
        """
        raw = self.model_dump()
        for name, fields in sections.items():
            raw[name] = {**raw[name], **fields}
        return ProjectConfig.model_validate(raw)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name) or default
        if value is None:
            raise ConfigError(
                f"environment variable {name} must be set (used in {text!r}); it is not. "
                f"Set it or write ${{{name}:-default}}."
            )
        return value

    return _VAR.sub(replace, text)


def _resolve(path: Path | None, base: Path) -> Path | None:
    if path is None:
        return None
    expanded = Path(_expand(str(path))).expanduser()
    # lexically: "data/../x" stays beside the folder named, even when data/ is a link
    return expanded if expanded.is_absolute() else Path(os.path.normpath(base / expanded))


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config section (model class) that holds the key at ``loc``, or None."""
    model: type[BaseModel] = ProjectConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        inner = _section_of(field.annotation)
        if inner is None:
            return None
        model = inner
    return model


def _section_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _section_of(arg)
        if found is not None:
            return found
    return None


def valid_keys(section: type[BaseModel]) -> list[str]:
    """The keys a config section accepts, in the order the reference lists them.

    Examples
    --------
    >>> valid_keys(OutputConfig)
    ['models', 'reports']
    """
    return [name for name in section.model_fields if name != "source"]


def _unknown_key(key: str, loc: tuple[Any, ...]) -> str:
    section = _section_at(loc)
    if section is None:
        return f"key '{key}' is not a known setting; remove it or check its spelling"
    keys = valid_keys(section)
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    hint = f"did you mean '{'.'.join([*map(str, loc[:-1]), close[0]])}'? " if close else ""
    hint = hint or "remove it or check its spelling; "
    where = ".".join(str(p) for p in loc[:-1] if not isinstance(p, int))
    keys_of = f"the keys of '{where}'" if where else "the top-level keys"
    return (
        f"key '{key}' is not a known setting; {hint}{keys_of} are {', '.join(keys)} "
        "(see docs/config.md)"
    )


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return _unknown_key(key, tuple(error["loc"]))
    if error["type"] == "missing":
        return f"key '{key}' is required; add it"
    message = error["msg"]
    if error["type"] == "value_error":  # our own rule, worded in full
        message = message.removeprefix("Value error, ")
        if "got" in message:
            return f"key '{key}': {message}"
    return f"key '{key}': {message}; got {error.get('input')!r}"


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a project config file (YAML).

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative paths inside it are resolved against its folder.

    Returns
    -------
    ProjectConfig

    Raises
    ------
    ConfigError
        When the file is missing or empty, is not UTF-8 text or not YAML, has an unknown
        key, lacks a required key or has a value of the wrong type; the message names the
        key (or the byte), the file and the expected form.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.yaml").write_text("data: {path: leads.csv}\\ncolumns: {id: id, label: y}\\n")
    >>> load_config(d / "p.yaml").data.path.name
    'leads.csv'
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file must exist; got {str(path)!r}. Check the path.")
    if path.stat().st_size > MAX_BYTES:
        raise ConfigError(
            f"config {path} must be at most {MAX_BYTES:,} bytes; got "
            f"{path.stat().st_size:,}. Point --config at the project's YAML file."
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config {path} must be UTF-8 text; byte {exc.start} (line {line}) is "
            f"{data[exc.start : exc.start + 1]!r}, which is not. Save the file as UTF-8."
        ) from None
    try:
        raw = load_yaml(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ConfigError(
            f"config {path} must write each key once per mapping; got key {exc.problem} a "
            f"second time at line {line} (the later one would silently win). Remove one."
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} must be valid YAML; {exc}") from None
    except RecursionError:
        raise ConfigError(
            f"config {path} must be plain YAML; it nests too deeply to read. Fix the file."
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config {path} must be a YAML mapping with at least 'data' and 'columns'; "
            f"got {type(raw).__name__}. See data/mqlml.yaml for an example."
        )
    if "source" in raw:
        raise ConfigError(
            f"config {path}: key 'source' must not be set (it is where the config was read "
            "from); remove it."
        )
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"config {path}: {problems}.") from None
    # The folder the file was named in (a link to a config is resolved from where the
    # link is, as a user reads it).
    base = Path(os.path.abspath(path)).parent
    data = config.data.model_copy(
        update={
            "path": _resolve(config.data.path, base),
            "events": _resolve(config.data.events, base),
        }
    )
    baseline = config.baseline.model_copy(update={"rules": _resolve(config.baseline.rules, base)})
    return config.model_copy(update={"data": data, "baseline": baseline, "source": path.resolve()})
