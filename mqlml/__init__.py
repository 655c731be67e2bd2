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
    "ProjectConfig": "config._config",
    "load_config": "config._config",
    "LeadSchema": "leads._schema",
    "read_table": "io._readers",
    "read_leads": "leads._read",
    "iter_batches": "io._readers",
    "LeadFile": "io._readers",
    "binary_label": "io._readers",
    "make_leads": "leads._synthetic",
    "write_sample": "leads._synthetic",
    "example_file": "leads._synthetic",
    "check_leads": "leads._checks",
    "CheckReport": "leads._checks",
    "LeadScorer": "model._estimator",
    "choose_threshold": "model._threshold",
    "ThresholdResult": "model._threshold",
    "evaluate": "metrics._evaluate",
    "PointsBaseline": "rules._baseline",
    "load_rules": "rules._baseline",
    "engagement_features": "leads._events",
    "train": "model._train",
    "TrainResult": "model._train",
    "holdout": "model._train",
    "Bundle": "model._bundle",
    "load_bundle": "model._bundle",
    "score_frame": "scoring._scorer",
    "score_file": "scoring._scorer",
    "Scorer": "scoring._scorer",
    "account_scores": "model._accounts",
    "SegmentLines": "model._segments",
    "compare": "report._compare",
    "build_report": "report._files",
    "scorecard": "rules._scorecard",
    "Scorecard": "rules._scorecard",
    "monitor": "monitoring._monitor",
    "recalibrate": "monitoring._recalibrate",
    "log_training": "integrations._tracking",
    "promote": "integrations._tracking",
    "resolve_model": "integrations._tracking",
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
