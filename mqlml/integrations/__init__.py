"""mqlml in other systems: MLflow tracking and registry, Apache Spark."""

from mqlml.integrations._mlflow import tracking_uri
from mqlml.integrations._registry import promote, resolve_model
from mqlml.integrations._tracking import log_training

__all__ = [
    "log_training",
    "promote",
    "resolve_model",
    "tracking_uri",
]
