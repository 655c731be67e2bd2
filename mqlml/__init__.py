"""mqlml: calibrated, explainable lead-conversion probabilities in place of fixed points.

The public API. Each name is imported from its subpackage on first use, so ``import mqlml``
stays light (no scikit-learn, LightGBM, MLflow, matplotlib or pyspark until needed);
``__init__.pyi`` states the same names for type checkers and editors. No public name is
also the name of a module of the package, so importing any module never hides one.

The subpackages, by concept: :mod:`mqlml.config`, :mod:`mqlml.io`, :mod:`mqlml.metrics`,
:mod:`mqlml.leads`, :mod:`mqlml.model`, :mod:`mqlml.scoring`, :mod:`mqlml.rules`,
:mod:`mqlml.report`, :mod:`mqlml.monitoring`, :mod:`mqlml.integrations` and the command,
:mod:`mqlml.cli`. :mod:`mqlml.pyfunc` and :mod:`mqlml.trust` are the MLflow loader and the
check it runs first: this file imports nothing, so loading a logged model runs no other code
of its code copy before the check.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the subpackage (or module) that exports it
_EXPORTS = {
    "MqlmlError": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "MissingColumnError": "errors",
    "InsufficientDataError": "errors",
    "UnreachableTargetError": "errors",
    "MqlLineError": "errors",
    "BundleError": "errors",
    "RuleError": "errors",
    "ProjectConfig": "config",
    "load_config": "config",
    "LeadSchema": "leads",
    "read_table": "io",
    "read_leads": "leads",
    "iter_batches": "io",
    "LeadFile": "io",
    "binary_label": "io",
    "make_leads": "leads",
    "write_sample": "leads",
    "example_file": "leads",
    "check_leads": "leads",
    "CheckReport": "leads",
    "LeadScorer": "model",
    "choose_threshold": "model",
    "ThresholdResult": "model",
    "evaluate": "metrics",
    "PointsBaseline": "rules",
    "load_rules": "rules",
    "engagement_features": "leads",
    "train": "model",
    "TrainResult": "model",
    "holdout": "model",
    "Bundle": "model",
    "load_bundle": "model",
    "score_frame": "scoring",
    "score_file": "scoring",
    "Scorer": "scoring",
    "account_scores": "model",
    "SegmentLines": "model",
    "compare": "report",
    "build_report": "report",
    "scorecard": "rules",
    "Scorecard": "rules",
    "monitor": "monitoring",
    "recalibrate": "monitoring",
    "log_training": "integrations",
    "promote": "integrations",
    "resolve_model": "integrations",
    "compare_champion": "monitoring",
    "ChampionComparison": "monitoring",
    "demo": "_demo",
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
