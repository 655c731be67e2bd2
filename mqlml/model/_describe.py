"""Training's third step: what the bundle says about itself (its metadata).

The data, the split and its periods, the model chosen, the calibration method, the
outcome window, the accounts and the backtest's numbers; which fit made which numbers
(:func:`fits`); what sales plans with (:func:`monthly_plan`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mqlml.config._capacity import PERIOD_DAYS
from mqlml.leads._schema import fingerprint
from mqlml.metrics._rates import monthly_range
from mqlml.model._backtest import Backtest
from mqlml.model._bundle import package_versions
from mqlml.model._prepare import Prepared
from mqlml.model._split import PARTS
from mqlml.model._threshold import ThresholdResult

__all__ = [
    "describe",
    "fits",
    "monthly_plan",
    "period_of",
]


def monthly_plan(threshold: ThresholdResult, times: pd.Series | None) -> dict[str, Any] | None:
    """What sales plans with: MQLs per month, and the range of a month's MQL-to-SQL rate.

    The volume is the threshold's MQLs over the calibration slice's span; the range is
    the central 90 % of a month's rate at that volume (mqlml.model._threshold.monthly_range).
    """
    if times is None or threshold.realized_conversions is None or not len(times):
        return None
    days = (times.max() - times.min()) / pd.Timedelta(days=1) + 1.0
    per_month = threshold.n_mql * PERIOD_DAYS["month"] / days
    span = monthly_range(threshold.realized_conversions, threshold.n_mql, per_month)
    return {"mqls_per_month": per_month, "rate_range": None if span is None else list(span)}


def period_of(rows: np.ndarray, times: pd.Series | None) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(rows)}
    if times is not None and len(rows):
        part = times.iloc[rows]
        out["from"], out["to"] = str(part.min()), str(part.max())
    return out


def describe(prepared: Prepared, judged: Backtest) -> dict[str, Any]:
    """The metadata every bundle of this training shares (the backtest's and the deployed)."""
    config, leads, parts = judged.config, prepared.leads, prepared.parts
    X, y, times = leads.X, leads.y, leads.times
    return {
        "data": str(config.data.path),
        "fingerprint": fingerprint(X, y),
        "rows": len(y),
        "conversions": int(y.sum()),
        "date_from": None if times is None else str(times.min()),
        "date_to": None if times is None else str(times.max()),
        "date_formats": leads.date_formats,
        "split": {"method": parts.method, **parts.sizes()},
        "test_from": None if times is None else str(times.iloc[parts.test].min()),
        "model": config.model.kind,
        "model_choice": judged.choice,
        "calibration_method": judged.method,
        "event_types": leads.event_types,
        "parts": {
            name: {
                **period_of(getattr(parts, name), times),
                "base_rate": float(y[getattr(parts, name)].mean()),
            }
            for name in PARTS
        },
        "outcome": leads.maturity.to_dict(),
        "delay": None if leads.delay is None else leads.delay.to_dict(),
        "outcome_warnings": judged.cohort,
        "accounts": judged.accounts,
        "metrics": judged.metrics,
        "versions": package_versions(),
    }


def fits(prepared: Prepared, refit: bool) -> dict[str, Any]:
    """Which leads the backtest's model was fit on, calibrated on and judged on."""
    parts, times = prepared.parts, prepared.leads.times
    A, B = parts.train, parts.calibrate
    return {
        "model_fit_on": period_of(np.sort(np.concatenate([A, B])) if refit else A, times),
        "calibrated_on": period_of(B, times),
        "calibrating_model_fit_on": period_of(A, times),
        "judged_on": period_of(parts.test, times),
    }
