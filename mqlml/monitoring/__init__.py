"""A bundle in service: monitoring new leads and recalibrating on recent outcomes."""
