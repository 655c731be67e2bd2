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
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from mqlml.config._sections import (
    DEFAULT_MISSING_TOKENS,
    BaselineConfig,
    ChecksConfig,
    ColumnsConfig,
    DataConfig,
    EventsConfig,
    Exclusion,
    FeaturesConfig,
    ModelConfig,
    OutcomeConfig,
    OutputConfig,
    ReportConfig,
    ScoreConfig,
    Section,
    SplitConfig,
    ThresholdConfig,
    TrackingConfig,
)
from mqlml.errors import ConfigError
from mqlml.io._yaml import MAX_BYTES, DuplicateKeyError, load_yaml

__all__ = [
    "ProjectConfig",
    "load_config",
    "valid_keys",
]


class ProjectConfig(Section):
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
