"""Recalibrating a bundle on recent outcomes without retraining: the trees stay.

Probabilities go stale when base rates move; the ranking often holds. :func:`recalibrate`
refits only the calibrator (on the frozen model) and the MQL threshold on the older part
of recent labelled leads, judges the current bundle and the candidate on the newer part
(leads neither was fitted on), and writes the candidate, whose metadata points to its
parent, only when it is better there (or when forced). ``force`` is also the permission
to replace an existing ``out`` bundle: without it an existing ``out`` is refused before
any work (:func:`check_out`).

Better means both, on the newer part:

- a lower log loss of the calibrated probabilities (the trees are the same, so the
  difference is the calibration's; ECE is shown beside it but is not the judge, as its
  bins make it noisy on a few thousand leads);
- for a target rate, the candidate's MQLs not converting clearly below the target: a
  candidate whose realized MQL-to-SQL rate has its exact 90 % interval wholly below the
  target is refused, unless the current bundle's is too and falls further short. (A rate
  above the target costs MQLs, not trust; a rate a little below it, within the noise, is
  what a threshold aimed at the target gives about half the time.)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import BundleError, InsufficientDataError
from mqlml.leads._schema import fingerprint
from mqlml.metrics._calibration import expected_calibration_error
from mqlml.metrics._drift import build_reference
from mqlml.metrics._evaluate import evaluate
from mqlml.metrics._rates import realized
from mqlml.model._bundle import Bundle, load_bundle, read_manifest
from mqlml.model._calibration import choose_method, fit_score_map
from mqlml.model._points import ScoreScale, reference_quantiles
from mqlml.model._threshold import ThresholdResult, choose_threshold

__all__ = ["check_out", "recalibrate"]


def recalibrate(
    bundle: Bundle | str | Path,
    data: pd.DataFrame,
    *,
    target_rate: float | None = None,
    out: str | Path | None = None,
    evaluation_share: float = 0.5,
    force: bool = False,
    source: str | None = None,
) -> tuple[Bundle, dict[str, Any]]:
    """Refit the calibrator and the MQL threshold on recent labelled leads; keep the trees.

    The leads are ordered by creation time (row order without a time column) and cut in
    two: the older part (``1 - evaluation_share``) fits the calibrator (on the frozen
    model) and chooses the threshold; the newer part judges old and new calibration on
    leads neither saw, as they would meet the future. The new bundle's percentile and
    drift references are rebuilt on the calibration part (the probabilities changed).

    Parameters
    ----------
    bundle : Bundle or path
        The bundle to recalibrate (a path is recorded as the parent).
    data : pandas.DataFrame
        Recent leads with the model's columns and the label column.
    target_rate : float in (0, 1), optional
        MQL-to-SQL rate the threshold aims for; by default the bundle's goal (its
        target rate, or its capacity: per period as is, a total scaled to the number
        of leads).
    out : str or Path, optional
        Save the new bundle to this folder, when it is better (see the module docstring)
        or ``force`` is set. It is checked before any work (:func:`check_out`).
    evaluation_share : float in (0, 1), default=0.5
        Share of the newest leads kept to judge the recalibration.
    force : bool, default=False
        Save the new bundle to ``out`` even when it is not better, and replace an existing
        ``out`` bundle (refused otherwise).
    source : str, optional
        Where the bundle came from (e.g. ``models:/NAME@ALIAS``), recorded as the parent's
        ``source`` when ``bundle`` is a Bundle object.

    Returns
    -------
    (Bundle, dict)
        The new bundle (the same model object, a new calibrator, score map, threshold,
        tiers, references; metadata with ``parent`` and ``recalibration``) and a summary
        with the rates, log loss and ECE ``before`` and ``after`` on the evaluation part,
        ``better`` (bool), ``verdict`` (a sentence), ``written`` (bool) and the folder
        written (``bundle``, None when nothing was written).

    Raises
    ------
    ValueError
        If ``evaluation_share`` is not in (0, 1).
    DataError
        If ``out`` exists and ``force`` is not set, or would destroy the bundle
        (:func:`check_out`).
    MissingColumnError, DataError
        If the data lacks a model column or the label, or holds bad values.
    InsufficientDataError
        If either part has fewer than 10 conversions or no non-conversion.
    UnreachableTargetError
        If no threshold reaches the target on the calibration part.
    """
    if not 0.0 < evaluation_share < 1.0:
        raise ValueError(
            f"evaluation_share must be in (0, 1); got {evaluation_share!r}. Use e.g. 0.5."
        )
    parent = _parent(bundle)
    parent["source"] = source or parent["path"]
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    if out is not None:
        check_out(Path(out), {"model": bundle.path}, force=force)
    schema = bundle.schema
    y = schema.labels(data)
    X = schema.features_frame(data)
    times = schema.times(data)
    order = np.arange(len(y)) if times is None else np.argsort(times.to_numpy(), kind="stable")
    cut = round(len(y) * (1.0 - evaluation_share))
    cal, held = order[:cut], order[cut:]
    for name, rows in (("calibration", cal), ("evaluation", held)):
        n_pos = int(y[rows].sum())
        if n_pos < 10 or n_pos == len(rows):
            raise InsufficientDataError(
                f"the {name} part of the recent leads must hold at least 10 conversions and "
                f"some non-conversions; got {n_pos} of {len(rows)} leads. Give more recent "
                "labelled leads."
            )
    X_cal, y_cal = X.iloc[cal], y[cal]
    method = bundle.config.get("model", {}).get("calibration", "auto")
    if method == "auto":
        method = choose_method(len(y_cal), int(y_cal.sum()))
    score_map = fit_score_map(bundle.model, X_cal, y_cal, method=method)
    p_cal = score_map(bundle.model.decision_function(X_cal))
    goal = _goal(bundle, target_rate, len(cal))
    threshold = choose_threshold(
        p_cal,
        **goal,
        labels=y_cal,
        times=None if times is None else times.iloc[cal],
    )
    config = dict(bundle.config)
    if target_rate is not None:
        config["threshold"] = {
            **config.get("threshold", {}),
            "target_rate": float(target_rate),
            "capacity": None,
        }
    scale = ScoreScale(threshold.threshold, bundle.scale.mql_at, bundle.scale.points_to_double_odds)
    tiers = scale.tiers((config.get("score") or {}).get("tiers"))

    segments = _segment_lines(bundle, config, data, X_cal, y_cal, times, cal, score_map, threshold)

    X_eval, y_eval = X.iloc[held], y[held]
    raw_eval = data.iloc[held]
    codes = bundle.segment_codes(raw_eval)
    before = _rates(
        bundle.predict_proba(X_eval, raw_eval),
        y_eval,
        bundle.threshold,
        None if codes is None else bundle.thresholds(len(held), codes),
    )
    log_odds = bundle.model.decision_function(X_eval)
    if segments is None:
        p_eval, lines = score_map(log_odds), None
    else:
        codes = segments.codes_of(raw_eval)
        p_eval, lines = (
            segments.probabilities(log_odds, codes, score_map),
            segments.thresholds(codes),
        )
    after = _rates(p_eval, y_eval, threshold, lines)

    span = (None, None) if times is None else (str(times.min()), str(times.max()))
    record = {
        "recalibrated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": len(y),
        "conversions": int(y.sum()),
        "calibration_rows": len(cal),
        "evaluation_rows": len(held),
        "split": "order" if times is None else "time",
        "date_from": span[0],
        "date_to": span[1],
        "evaluation_from": None if times is None else str(times.iloc[held].min()),
        "fingerprint": fingerprint(X, y),
        "calibration_method": method,
        "evaluation": after,
    }
    metadata = {
        **bundle.metadata,
        "parent": parent,
        "recalibration": record,
        "calibration_method": method,
    }
    new = replace(
        bundle,
        score_map=score_map,
        threshold=threshold,
        tiers=tiers,
        scale=scale,
        config=config,
        reference={
            **bundle.reference,
            "quantiles": reference_quantiles(p_cal),
            "features": build_reference(X_cal, schema.kinds, p_cal),
        },
        metadata=metadata,
        segments=segments,
    )
    better, verdict = _judge(before, after, threshold.target_rate)
    written = out is not None and (better or force)
    path = new.save(out) if written else None
    summary = {
        "parent": parent,
        **{key: record[key] for key in ("rows", "calibration_rows", "evaluation_rows")},
        **{key: record[key] for key in ("split", "date_from", "date_to", "evaluation_from")},
        "calibration_method": method,
        "target_rate": threshold.target_rate,
        "capacity": threshold.capacity,
        "threshold_before": float(bundle.threshold.threshold),
        "threshold_after": float(threshold.threshold),
        "before": before,
        "after": after,
        "measure": "log loss on the evaluation part; at a target rate, also no realized "
        "MQL-to-SQL rate clearly (90 % interval) below the target",
        "better": better,
        "verdict": verdict,
        "forced": bool(force and not better and out is not None),
        "written": written,
        "bundle": None if path is None else str(path),
    }
    return new, summary


def check_out(out: Path, sources: dict[str, Any], *, force: bool = False) -> None:
    """Refuse, before any work, an ``out`` bundle folder that would destroy a source, or an
    existing one without ``force``.

    Parameters
    ----------
    out : Path
        The new bundle's folder.
    sources : dict
        What must survive, by role (``{"model": folder, "data file": path}``).
    force : bool
        Whether an existing ``out`` may be replaced (``--force``).

    Raises
    ------
    DataError
        When ``out`` is, holds or lies inside a source folder or a bundle folder, is a
        file, or exists without ``force`` (see :func:`mqlml.io.check_output_folder`).
    """
    from mqlml.io._atomic import check_output_folder

    check_output_folder(out, sources, name="--out", own=None, kind="a bundle", replace=force)


def _parent(bundle: Bundle | str | Path) -> dict[str, Any]:
    """What the new bundle records about the one it came from."""
    loaded = isinstance(bundle, Bundle)
    folder = bundle.path if loaded else bundle
    manifest: dict[str, Any] = {}
    if folder is not None:
        try:
            manifest = read_manifest(folder)
        except BundleError:
            if not loaded:  # a loaded bundle's folder may have gone since: it is in memory
                raise
            folder = None
    metadata = bundle.metadata if loaded else manifest.get("metadata", {})
    threshold = bundle.threshold.threshold if loaded else None
    if threshold is None:
        threshold = manifest.get("threshold", {}).get("threshold")
    return {
        "path": None if folder is None else str(Path(folder).resolve()),
        "digest": manifest.get("digest") or (bundle.digest if loaded else None),
        "created_at": manifest.get("created_at"),
        "fingerprint": metadata.get("fingerprint"),
        "threshold": threshold,
        "parent": metadata.get("parent"),
    }


def _goal(bundle: Bundle, target_rate: float | None, n_cal: int) -> dict[str, Any]:
    """The threshold goal: the given target, else the bundle's own."""
    old = bundle.threshold
    if target_rate is not None or old.mode == "target_rate":
        return {"target_rate": old.target_rate if target_rate is None else target_rate}
    if old.period is not None:
        return {"capacity": f"{old.capacity_per_period}/{old.period}"}
    # A total capacity was a number of MQLs over the old calibration part: keep the share.
    return {"capacity": max(1, round(old.capacity * n_cal / old.n))}


def _shortfall(rates: dict[str, Any], target: float) -> float:
    """How far the realized rate falls below the target (the target itself without MQLs)."""
    rate = rates["realized_rate"]
    return target if rate is None else max(0.0, target - rate)


def _clearly_below(rates: dict[str, Any], target: float) -> bool:
    """No MQLs, or the realized rate's 90 % interval lies wholly below the target."""
    interval = rates["realized_interval"]
    return rates["realized_rate"] is None or interval is None or interval[1] < target


def _judge(before: dict[str, Any], after: dict[str, Any], target: float | None) -> tuple[bool, str]:
    """Is the candidate better than the current bundle on the evaluation part, and why."""
    loss = (
        f"log loss {after['log_loss']:.4f} against {before['log_loss']:.4f} for the current bundle"
    )
    if not after["log_loss"] < before["log_loss"]:
        return False, f"not better: {loss} (no lower)."
    if target is not None and _clearly_below(after, target):
        old, new = _shortfall(before, target), _shortfall(after, target)
        if not _clearly_below(before, target) or new > old:
            rate = after["realized_rate"]
            said = "no MQLs" if rate is None else f"a realized rate of {rate:.1%}"
            return False, (
                f"not better: {loss}, but {said} at the new threshold falls clearly (90 % "
                f"interval) below the {target:.0%} target, by {100 * new:.1f} points against "
                f"{100 * old:.1f} for the current bundle."
            )
    return True, f"better: {loss}" + (
        "" if target is None else ", and its MQLs do not convert clearly below the target."
    )


def _segment_lines(bundle, config, data, X_cal, y_cal, times, cal, score_map, threshold):
    """The segment lines refitted on the recalibration part (None without segments)."""
    if bundle.segments is None:
        return None
    from mqlml.config._config import ProjectConfig
    from mqlml.model._segments import fit_segment_lines

    project = ProjectConfig.model_validate(config)
    bundle.segments.codes_of(data)  # MissingColumnError naming the segment column
    return fit_segment_lines(
        project.threshold.segments,
        project.threshold,
        data[bundle.segments.column].to_numpy(dtype=object)[cal],
        bundle.model,
        X_cal,
        y_cal,
        None if times is None else times.iloc[cal],
        score_map,
        threshold,
        method=project.model.calibration,
        missing_tokens=bundle.segments.missing_tokens,
    )


def _rates(
    p: np.ndarray, y: np.ndarray, threshold: ThresholdResult, lines: np.ndarray | None = None
) -> dict[str, Any]:
    """The threshold's promise (expected rate) against what its MQLs did here."""
    at = realized(p, y, threshold.threshold if lines is None else lines)
    gap = None
    if at["realized_rate"] is not None:
        gap = at["realized_rate"] - threshold.expected_rate
    return {
        "threshold": float(threshold.threshold),
        "n_mql": at["n_mql"],
        "mql_share": at["mql_share"],
        "expected_rate": threshold.expected_rate,
        "mean_probability": at["mean_probability"],
        "realized_rate": at["realized_rate"],
        "realized_interval": at["realized_interval"],
        "rate_gap": gap,
        "log_loss": evaluate(y, p)["log_loss"],
        "ece": expected_calibration_error(y, p),
    }
