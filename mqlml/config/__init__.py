"""The project config: one YAML file read into typed objects, and its generated reference."""

from mqlml.config._capacity import PERIOD_DAYS, parse_capacity
from mqlml.config._config import ProjectConfig, load_config, valid_keys
from mqlml.config._reference import json_schema, markdown
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
    SegmentsConfig,
    SplitConfig,
    ThresholdConfig,
    TrackingConfig,
)

__all__ = [
    "DEFAULT_MISSING_TOKENS",
    "PERIOD_DAYS",
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
    "Section",
    "SegmentsConfig",
    "SplitConfig",
    "ThresholdConfig",
    "TrackingConfig",
    "json_schema",
    "load_config",
    "markdown",
    "parse_capacity",
    "valid_keys",
]
