"""Measuring scores on labelled leads: evaluation, drift, calibration diagnostics, exact
rate intervals and paired comparisons."""

from mqlml.metrics._calibration import (
    CalibrationDiagnostics,
    diagnose,
    expected_calibration_error,
    reliability_curve,
)
from mqlml.metrics._drift import (
    KINDS,
    MAX_LEVELS,
    N_KEY,
    PSI_ALERT,
    PSI_EPSILON,
    PSI_WARNING,
    SCORE_KEY,
    bin_shares,
    build_reference,
    psi,
    psi_level,
    reference_distribution,
)
from mqlml.metrics._estimate import BINS, calibration_bins, early_rate, expected_rate, verdict
from mqlml.metrics._evaluate import evaluate, gains_curve, rate_at_volume
from mqlml.metrics._inputs import numbers, outcomes
from mqlml.metrics._paired import compare_at_rate, compare_at_volume, mql_rate, reaches, top_leads
from mqlml.metrics._rates import (
    INTERVAL_LEVEL,
    lower_bound,
    monthly_range,
    rate_curve,
    rate_interval,
    realized,
)

__all__ = [
    "BINS",
    "INTERVAL_LEVEL",
    "KINDS",
    "MAX_LEVELS",
    "N_KEY",
    "PSI_ALERT",
    "PSI_EPSILON",
    "PSI_WARNING",
    "SCORE_KEY",
    "CalibrationDiagnostics",
    "bin_shares",
    "build_reference",
    "calibration_bins",
    "compare_at_rate",
    "compare_at_volume",
    "diagnose",
    "early_rate",
    "evaluate",
    "expected_calibration_error",
    "expected_rate",
    "gains_curve",
    "lower_bound",
    "monthly_range",
    "mql_rate",
    "numbers",
    "outcomes",
    "psi",
    "psi_level",
    "rate_at_volume",
    "rate_curve",
    "rate_interval",
    "reaches",
    "realized",
    "reference_distribution",
    "reliability_curve",
    "top_leads",
    "verdict",
]
