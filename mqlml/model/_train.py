"""The training job: split, fit, calibrate, choose the threshold, evaluate, build the bundle.

:func:`train` strings four named steps together, each in its own module:

1. :func:`~mqlml.model._prepare.prepare`: read and check the leads, record how they were
   read, split them;
2. :func:`~mqlml.model._backtest.backtest`: M1 and M2 below, calibrated and judged on the
   test part;
3. :func:`~mqlml.model._describe.describe`: the metadata the bundles carry;
4. :func:`~mqlml.model._deploy.deploy`: M3 and the pooled calibration, the bundle that
   scores.

One procedure (fit a model on
older leads, calibrate it and choose the threshold on the next ones) is applied at two
points in time::

    leads ─► schema ─► outcome window (immature leads left out) ─► split
             train │ calibrate │ test   (by creation time, or stratified random)

    M1 = fit(train)               C1, T1 on M1's scores of calibrate
    M2 = fit(train + calibrate)   BACKTEST = C1∘M2 with T1, judged on test
    M3 = fit(all mature leads)    C2, T2 on the out-of-fold scores M1(calibrate) and
                                  M2(test), pooled
                                  DEPLOYED = C2∘M3 with T2 (the bundle that scores)

The backtest is the deployed procedure one step back in time; every number in the summary
and the report comes from it, on the test part that nothing in it saw. The deployed
calibrator and line are fitted, as ``CalibratedClassifierCV(ensemble=False)`` pools
folds, on out-of-fold scores of models trained like M3 (each on every lead before the part
it scores, forward in time), never on one other model's scores of one part. Measured:
after a late doubling of the conversion odds (a synthetic history with known
probabilities), this pool gives ECE 0.008-0.010 and an MQL rate of 25-27 % for a 25 %
target on the later leads, against 0.014-0.021 and 28-30 % when the deployed bundle keeps
the backtest's calibrator (fitted on the calibration part alone, before the change); on
the real tables of ``make validate`` both held the target equally often. The price: the
test part that judges the backtest also supplies half of the deployed calibration.
``model.refit: false`` keeps a single fit: the bundle is (M1, C1, T1).

Splits are by time when the config names a time column: the oldest leads train, the
next calibrate, the newest test. Without a time column the split is random and
stratified; ``split.method: order`` keeps the file's row order (rows already in time
order, no date column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.errors import ConfigError
from mqlml.metrics._calibration import diagnose
from mqlml.model._backtest import backtest
from mqlml.model._bundle import Bundle
from mqlml.model._deploy import deploy
from mqlml.model._describe import describe
from mqlml.model._estimator import LeadScorer
from mqlml.model._prepare import prepare
from mqlml.model._split import Parts

__all__ = [
    "TrainResult",
    "train",
]


@dataclass
class TrainResult:
    """What :func:`train` made: the bundle, where it went, and the numbers."""

    bundle: Bundle
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    parts: Parts
    path: Path | None = None
    outcome: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The headline numbers (the keys ``mqlml train --json`` prints)."""
        m, t = self.metrics, self.bundle.threshold
        return {
            "roc_auc": m["roc_auc"],
            "pr_auc": m["pr_auc"],
            "brier": m["brier"],
            "ece": m["ece"],
            "threshold": t.threshold,
            "backtest_threshold": (self.bundle.backtest or self.bundle).threshold.threshold,
            "target_rate": t.target_rate,
            "capacity": t.capacity_per_period if t.period else t.capacity,
            # What the bundle that scores promises (monitor judges against it) ...
            "expected_rate": t.expected_rate,
            "lower_bound": t.lower_bound,
            "confidence": t.confidence,
            "guarantee": t.guarantee,  # "met" / "not met" with a confidence, else None
            # How far the line's own rate may sit from what it promises, given the
            # leads it was chosen on (exact 90 % interval of its MQLs' rate there).
            "line_interval": (None if t.realized_interval is None else list(t.realized_interval)),
            "line_calibration_mqls": t.n_mql,
            "model_chosen": (self.bundle.metadata.get("model_choice") or {}).get("chosen"),
            "guarantee_cost": (
                None if t.n_mql_expected_rule is None else t.n_mql_expected_rule - t.n_mql
            ),
            # ... and the backtest's promise against what its MQLs did on the test part.
            "monthly": self.bundle.metadata.get("monthly"),
            "split": {
                "method": self.parts.method,
                "parts": self.bundle.metadata.get("parts"),
            },
            "backtest_expected_rate": m["expected_rate"],
            "realized_rate": m["realized_rate"],
            "realized_interval": m["realized_interval"],
            "mql_share": m["mql_share"],
            "segments": m.get("segments"),  # the backtest's lines on the test part
            "segment_thresholds": (
                None
                if self.bundle.segments is None
                else {x.value: x.threshold.threshold for x in self.bundle.segments.lines}
            ),
            "drift_warning": m["drift_warning"],
            "rows": self.parts.sizes(),
            "date_formats": self.bundle.metadata.get("date_formats") or {},
            "numbers_from": self.bundle.metadata.get("numbers_from"),
            "fits": self.bundle.metadata.get("fits"),
            "outcome": self.outcome,
            "warnings": list(self.warnings),
            "bundle": str(self.path) if self.path else None,
        }


def _scorer(config: ProjectConfig) -> LeadScorer:
    settings = config.model
    return LeadScorer(
        model=settings.kind,
        n_estimators=settings.n_estimators,
        learning_rate=settings.learning_rate,
        num_leaves=settings.num_leaves,
        min_child_samples=settings.min_child_samples,
        early_stopping_rounds=settings.early_stopping_rounds,
        min_category_count=settings.min_category_count,
        C=settings.C,
        random_state=settings.seed,
    )


def _check_capacity_period(config: ProjectConfig) -> None:
    """A capacity per period needs creation times to count periods: say so before any work."""
    from mqlml.config._capacity import parse_capacity

    capacity = config.threshold.capacity
    if capacity is None or config.columns.time is not None:
        return
    _, period = parse_capacity(capacity)
    if period is not None:
        where = f" in {config.source}" if config.source is not None else ""
        raise ConfigError(
            f"threshold.capacity {str(capacity)!r} (--capacity) counts MQLs per {period}, so "
            f"columns.time must name the leads' creation-time column; it is not set{where}. "
            f"Set columns.time, or give a total capacity over the history (e.g. --capacity "
            f"1200)."
        )


def train(
    config: ProjectConfig,
    *,
    frame: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    target_rate: float | None = None,
    capacity: int | str | None = None,
    confidence: float | None = None,
    model: str | None = None,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train, calibrate, choose the MQL threshold, backtest on the newest leads and refit.

    See the module docstring for the three fits. With ``outcome.window_days``, leads
    whose window had not closed by ``outcome.as_of`` are left out of everything (the
    summary's ``outcome`` says how many and why).

    Parameters
    ----------
    config : ProjectConfig
        The project config.
    frame : pandas.DataFrame, optional
        The leads; read from ``config.data`` when omitted.
    events : pandas.DataFrame, optional
        An activity log; read from ``config.data.events`` when that is set.
    target_rate, capacity : optional
        Override the config's threshold goal (one of them).
    model : {"auto", "lightgbm", "logistic"}, optional
        Override the config's model kind (``auto``: chosen by forward validation on the
        history, mqlml.model).
    out : str or Path, optional
        Save the bundle to this folder.
    progress : callable, optional
        Called with the name of each stage as it starts (reading, each fit, calibrating,
        saving), e.g. to show progress.

    Returns
    -------
    TrainResult
        ``metrics`` are the backtest's on the test part; ``bundle`` is the deployed
        bundle (``bundle.backtest`` the backtest's, None with ``model.refit: false``).

    Raises
    ------
    InsufficientDataError
        Too few leads or conversions overall or in a part.
    UnreachableTargetError
        Even the most likely leads of a calibration slice are expected to convert below
        the target rate. A guarantee (``confidence``) that no line meets does not raise:
        the bundle's ``metadata["guarantee"]`` is then ``"not met"`` and ``warnings`` say
        which line it uses instead.
    ConfigError
        A bad outcome window (see :func:`mqlml.leads.apply_window`).

    Examples
    --------
    >>> from mqlml.leads import make_leads
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id", "label": "converted",
    ...     "time": "created_at"}, threshold={"target_rate": 0.3})
    >>> result = train(cfg, frame=make_leads(5000, seed=1))
    >>> 0.0 < result.bundle.threshold.threshold < 1.0
    True
    >>> result.bundle.backtest is not None
    True
    """
    if target_rate is not None or capacity is not None:
        config = config.with_overrides(threshold={"target_rate": target_rate, "capacity": capacity})
    if confidence is not None:
        config = config.with_overrides(threshold={"confidence": confidence})
    if model is not None:
        config = config.with_overrides(model={"kind": model})
    _check_capacity_period(config)
    stage = progress or (lambda name: None)
    prepared = prepare(config, frame, events, progress=stage)
    judged = backtest(prepared, _scorer, progress=stage)
    metadata = describe(prepared, judged)
    bundle, warnings = deploy(prepared, judged, metadata, _scorer, progress=stage)
    if out is not None:
        stage("saving the bundle")
    path = bundle.save(out) if out is not None else None
    y, parts = prepared.leads.y, prepared.parts
    return TrainResult(
        bundle=bundle,
        metrics=judged.metrics,
        calibration={
            "method": judged.method,
            "calibrate_part": diagnose(y[parts.calibrate], judged.stage.probabilities).to_dict(),
            "test_part": diagnose(y[parts.test], judged.test_p).to_dict(),
        },
        parts=parts,
        path=path,
        outcome=prepared.leads.maturity.to_dict(),
        warnings=[*judged.warnings, *warnings],
    )
