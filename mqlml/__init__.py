"""mqlml: calibrated, explainable lead-conversion probabilities in place of fixed points.

The public API is re-exported here. Names are imported on first use, so ``import mqlml``
stays light (no scikit-learn, LightGBM, MLflow, matplotlib or pyspark until needed).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "MqlmlError": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "MissingColumnError": "errors",
    "InsufficientDataError": "errors",
    "UnreachableTargetError": "errors",
    "BundleError": "errors",
    "RuleError": "errors",
    "ProjectConfig": "config",
    "load_config": "config",
    "LeadSchema": "schema",
    "read_table": "readers",
    "read_leads": "readers",
    "iter_batches": "readers",
    "LeadFile": "readers",
    "binary_label": "readers",
    "make_leads": "datasets",
    "write_sample": "datasets",
    "example_file": "datasets",
    "check_leads": "checks",
    "CheckReport": "checks",
    "LeadScorer": "model",
    "choose_threshold": "threshold",
    "ThresholdResult": "threshold",
    "evaluate": "evaluate",
    "PointsBaseline": "baseline",
    "load_rules": "baseline",
    "engagement_features": "events",
    "train": "train",
    "TrainResult": "train",
    "holdout": "train",
    "Bundle": "bundle",
    "load_bundle": "bundle",
    "score_frame": "scoring",
    "score_file": "scoring",
    "Scorer": "scoring",
    "account_scores": "accounts",
    "SegmentLines": "segments",
    "compare": "compare",
    "build_report": "report",
    "scorecard": "scorecards",
    "Scorecard": "scorecards",
    "monitor": "monitor",
    "recalibrate": "recalibrate",
    "compare_champion": "champion",
    "ChampionComparison": "champion",
    "log_training": "tracking",
    "promote": "tracking",
    "resolve_model": "tracking",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mqlml' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mqlml.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
