"""mqlml in other systems: MLflow tracking and registry, Apache Spark."""
