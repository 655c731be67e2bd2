"""mqlml in other systems: MLflow tracking and registry, Apache Spark."""

from mqlml.integrations._tracking import log_training, promote, resolve_model, tracking_uri

__all__ = [
    "log_training",
    "promote",
    "resolve_model",
    "tracking_uri",
]
