"""Measuring scores on labelled leads: evaluation, drift, calibration diagnostics, exact
rate intervals and paired comparisons."""
