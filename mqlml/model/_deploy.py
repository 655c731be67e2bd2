"""Training's last step: the bundle that scores.

With ``model.refit`` (the default) M3 is fit on every mature lead, and its calibrator and
MQL line on out-of-fold scores pooled from the backtest (M1's of the calibration part and
M2's of the test part); the backtest's bundle travels inside it. With ``model.refit:
false`` the backtest's M1 is the bundle. :func:`make_bundle` is the one place a
:class:`Bundle` is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.errors import MqlLineError
from mqlml.leads._schema import LeadSchema
from mqlml.metrics._drift import build_reference
from mqlml.metrics._estimate import calibration_bins
from mqlml.model._backtest import (
    Backtest,
    CalibratedSlice,
    GivenScores,
    account_report,
    calibrate_slice,
)
from mqlml.model._bundle import Bundle
from mqlml.model._calibration import choose_method
from mqlml.model._describe import fits, monthly_plan, period_of
from mqlml.model._estimator import LeadScorer
from mqlml.model._points import ScoreScale, reference_quantiles
from mqlml.model._prepare import Prepared

__all__ = [
    "DEPLOYED_CALIBRATION",
    "REFERENCE_ROWS",
    "deploy",
    "make_bundle",
]


DEPLOYED_CALIBRATION = (
    "out-of-fold scores of models fit on every lead before the part they score, pooled: "
    "the train-part model's scores of the calibration part and the train-and-calibrate "
    "model's scores of the test part"
)


#: Most leads a bundle's feature drift reference is built from (the model scores each).
REFERENCE_ROWS = 50_000


def make_bundle(
    config: ProjectConfig,
    schema: LeadSchema,
    scorer: LeadScorer,
    stage: CalibratedSlice,
    X_reference: pd.DataFrame,
    metadata: dict[str, Any],
    backtest: Bundle | None = None,
) -> Bundle:
    """The one place a Bundle is built (the deployed one and its backtest)."""
    p = stage.probabilities
    score = config.score
    if len(X_reference) > REFERENCE_ROWS:  # evenly spread over the part, in its order
        X_reference = X_reference.iloc[
            np.linspace(0, len(X_reference) - 1, REFERENCE_ROWS).astype(int)
        ]
    scale = ScoreScale(stage.threshold.threshold, score.mql_at, score.points_to_double_odds)
    try:
        tiers = scale.tiers(score.tiers)
    except ValueError as exc:
        if score.tiers is not None:
            raise
        # The default tiers sit below the line: a line at probability 0 leaves them none.
        goal = config.threshold
        raise MqlLineError(target_rate=goal.target_rate, capacity=goal.capacity) from exc
    return Bundle(
        model=scorer,
        score_map=stage.score_map,
        threshold=stage.threshold,
        schema=schema,
        tiers=tiers,
        scale=scale,
        config=config.model_dump(mode="json"),
        # Percentiles against leads the calibrating model did not learn from; the score
        # drift reference is what this bundle's own model gives those leads, as it will
        # score new ones (the calibrating model's probabilities differ from a refit's).
        reference={
            "quantiles": reference_quantiles(p),
            # the calibration part's conversions by probability: the uncertainty of an
            # expected rate before outcomes arrive (mqlml.metrics.expected_rate)
            "calibration_bins": calibration_bins(p, stage.labels),
            "features": build_reference(
                X_reference, schema.kinds, stage.score_map(scorer.decision_function(X_reference))
            ),
        },
        metadata=metadata,
        backtest=backtest,
        segments=stage.segments,
    )


def deploy(
    prepared: Prepared,
    judged: Backtest,
    metadata: dict[str, Any],
    scorer: Callable[[ProjectConfig], LeadScorer],
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[Bundle, list[str]]:
    """The bundle that scores, and the warnings about its calibration and line."""
    config, leads, parts = judged.config, prepared.leads, prepared.parts
    schema, X, y = leads.schema, leads.X, leads.y
    B, C = parts.calibrate, parts.test
    stage1 = judged.stage
    if not config.model.refit:
        single = {
            **metadata,
            "best_iteration": getattr(judged.calibrating, "best_iteration_", None),
            "numbers_from": "the deployed fit (model.refit: false)",
            "fits": {"deployed": fits(prepared, False)},
        }
        single["monthly"] = monthly_plan(stage1.threshold, prepared.times(B))
        single["guarantee"] = stage1.threshold.guarantee
        return make_bundle(config, schema, judged.calibrating, stage1, X.iloc[B], single), []
    backtest = make_bundle(
        config,
        schema,
        judged.judged,
        stage1,
        X.iloc[B],
        {
            **metadata,
            "best_iteration": getattr(judged.judged, "best_iteration_", None),
            "guarantee": stage1.threshold.guarantee,
            "role": "backtest",
            "fits": {"backtest": fits(prepared, True)},
        },
    )
    pool = np.concatenate([B, C])
    deployed, warnings = _pooled_calibration(prepared, judged, pool)
    (progress or (lambda name: None))(f"refitting the deployed model on every lead ({len(y):,})")
    m3 = scorer(config).fit(X, y)
    out = {
        **metadata,
        "calibration_method": deployed.method,
        "best_iteration": getattr(m3, "best_iteration_", None),
        "numbers_from": "the backtest",
        "fits": {
            "backtest": fits(prepared, True),
            "deployed": {
                "model_fit_on": period_of(np.arange(len(y)), leads.times),
                "calibrated_on": period_of(pool, leads.times),
                "calibration": DEPLOYED_CALIBRATION,
            },
        },
    }
    out["monthly"] = monthly_plan(deployed.stage.threshold, prepared.times(pool))
    out["guarantee"] = deployed.stage.threshold.guarantee
    accounts = judged.accounts
    if accounts is not None and "calibration" in accounts:
        # The deployed account calibration: on the pooled out-of-fold probabilities
        # (the backtest's, fitted on the calibration part, was judged above).
        p_pool = deployed.stage.probabilities
        redo = account_report(config, leads, pool, p_pool, pool, p_pool)
        out["accounts"] = {**accounts, "calibration": redo["calibration"]}
    bundle = make_bundle(config, schema, m3, deployed.stage, X.iloc[C], out, backtest=backtest)
    return bundle, warnings


@dataclass(frozen=True)
class _Pooled:
    stage: CalibratedSlice
    method: str


def _pooled_calibration(
    prepared: Prepared, judged: Backtest, pool: np.ndarray
) -> tuple[_Pooled, list[str]]:
    """The deployed calibrator and line: on out-of-fold scores of models trained like the
    deployed one (each on every lead before the part it scores), pooled: M1's of the
    calibration part and M2's of the test part."""
    config, X, y = judged.config, prepared.leads.X, prepared.leads.y
    scores = np.concatenate([judged.stage.log_odds, judged.test_log_odds])  # M1's and M2's
    method = config.model.calibration
    if method == "auto":
        method = choose_method(len(pool), int(y[pool].sum()))
    deployed = calibrate_slice(
        config,
        GivenScores(),
        pd.DataFrame({"log_odds": scores}, index=X.index[pool]),
        y[pool],
        prepared.times(pool),
        method,
        prepared.segment_values(pool),
    )
    warnings = []
    if deployed.threshold.note is not None:  # guarantee not met, or target out of reach
        warnings.append(f"the bundle that scores: {deployed.threshold.note}")
    if deployed.segments is not None:
        warnings += deployed.segments.warnings
    return _Pooled(deployed, method), warnings
