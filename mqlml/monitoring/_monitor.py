"""Monitoring a bundle on new leads: drift, MQL share, realized rate, a recommendation.

:func:`monitor` compares new leads with the bundle's reference (see :mod:`mqlml.metrics`):

- the population stability index (PSI) of every feature and of the calibrated
  probability, each ``fine``, ``warning`` (PSI above 0.1) or ``alert`` (above 0.25);
- the MQL share of the new leads against the share expected when the threshold was
  chosen: a ``warning`` when it differs by more than :data:`SHARE_TOLERANCE` (relative)
  and by more than three binomial standard errors;
- with outcomes (lead id + converted flag or SQL status): the realized MQL-to-SQL rate
  of the leads that were MQLs against the rate their probabilities promised, with a
  exact 90 % interval (Clopper-Pearson); the calibration (ECE) and ranking (ROC AUC) of all leads
  with outcomes.

The recommendation follows one rule, checked in this order:

1. ``retrain`` when the ranking dropped: ROC AUC on the outcomes more than
   :data:`AUC_TOLERANCE` (0.05) below the AUC on the test part at training. A new
   calibration cannot restore ranking; drifted features are named as the likely cause.
2. ``recalibrate`` when the realized rate is off: it differs from the expected one by
   more than :data:`RATE_TOLERANCE` (5 points) *and* the expected rate lies outside the
   90 % interval (a gap that is both material and not noise), while ranking holds.
3. ``recalibrate`` (after collecting outcomes) when no outcomes were given and the
   score distribution moved beyond :data:`~mqlml.metrics.PSI_ALERT`.
4. ``watch`` when some signal is a warning or an alert but none of the above holds
   (no action yet, but not fine either), ``fine`` when every signal is fine.

Batches under :data:`MIN_LEADS` leads are refused: their PSI is mostly noise.

Each signal has its own level (``fine``, ``warning`` or ``alert``); the report's level
follows the recommendation, so the two always agree: ``fine`` -> fine, ``watch`` ->
warning, ``recalibrate`` and ``retrain`` -> alert. The exit code is the
recommendation's (:mod:`mqlml.exitcodes`): 0 fine, 1 watch, 3 recalibrate, 4 retrain.

:func:`mqlml.monitoring.recalibrate` refits only the calibrator and the threshold on
recent labelled leads; the trees stay as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mqlml.errors import DataError, InsufficientDataError, MissingColumnError
from mqlml.exitcodes import RECOMMENDATION_CODES
from mqlml.io._readers import binary_label
from mqlml.metrics._calibration import expected_calibration_error
from mqlml.metrics._drift import PSI_ALERT, PSI_WARNING, SCORE_KEY, psi, psi_level
from mqlml.metrics._rates import realized
from mqlml.model._bundle import Bundle, load_bundle
from mqlml.monitoring._early import (
    ages_as_of,
    delay_of,
    early_check,
    promised_rate,
    rate_level,
    unlabelled_estimate,
)
from mqlml.scoring._scorer import score_frame

__all__ = [
    "AUC_TOLERANCE",
    "LEVELS",
    "LEVEL_OF",
    "MIN_LEADS",
    "MIN_OUTCOME_MQLS",
    "RATE_TOLERANCE",
    "SHARE_TOLERANCE",
    "SQL_POSITIVE",
    "MonitorReport",
    "monitor",
]

#: Levels, mildest first.
LEVELS = ("fine", "warning", "alert")
#: The report's level for each recommendation (they always agree).
LEVEL_OF = {"fine": "fine", "watch": "warning", "recalibrate": "alert", "retrain": "alert"}
#: Realized minus expected MQL-to-SQL rate beyond this (5 points) is material.
RATE_TOLERANCE = 0.05
#: ROC AUC this far below the test AUC at training is a ranking drop.
AUC_TOLERANCE = 0.05
#: MQL share off by more than this share of the expected one (20 %) is a warning.
SHARE_TOLERANCE = 0.2
#: Fewest leads in a batch to judge drift (PSI over 10 bins is mostly noise below it).
MIN_LEADS = 200
#: Fewest MQLs with outcomes to judge their realized rate.
MIN_OUTCOME_MQLS = 30
#: Fewest conversions and non-conversions with outcomes to judge the ranking.
MIN_OUTCOME_CLASS = 10
#: Values of an ``sql_status`` column that mean the lead became an SQL (any case);
#: every other status means it did not.
SQL_POSITIVE = (
    "sql",
    "sales qualified",
    "qualified",
    "accepted",
    "converted",
    "opportunity",
    "won",
    "yes",
    "true",
    "1",
)
_STATUS_COLUMN = "sql_status"
_SHARE_Z = 3.0


@dataclass(frozen=True)
class MonitorReport:
    """What :func:`monitor` found, with a recommendation and the reasons for it.

    Attributes
    ----------
    n : int
        Number of new leads.
    features : tuple of dict
        Per feature, highest PSI first: ``feature``, ``group`` (fit / engagement),
        ``kind``, ``psi``, ``level``. Empty when the bundle keeps no reference.
    score : dict or None
        ``psi`` and ``level`` of the calibrated probability.
    mql : dict
        ``threshold``, ``n_mql``, ``share``, ``expected_share``, ``ratio`` and ``level``.
    outcomes : dict or None
        With outcomes: ``n`` (leads with an outcome), ``n_unmatched`` (outcome ids not
        among the leads), ``n_converted``, ``n_mql``, ``expected_rate``,
        ``realized_rate``, ``realized_interval``, ``rate_gap``, ``rate`` (``fine``,
        ``off`` or ``not judged``), ``ece``, ``roc_auc``, ``reference_auc`` and
        ``ranking`` (``held``, ``dropped`` or ``not judged``).
    level : {"fine", "warning", "alert"}
        The recommendation's level (:data:`LEVEL_OF`); each signal keeps its own.
    recommendation : {"fine", "watch", "recalibrate", "retrain"}
        What to do (see the module docstring for the rule).
    why : tuple of str
        Plain sentences: the reason for the recommendation first, then the facts.
    segments : tuple of dict
        With segment lines (``threshold.segments``), per segment: ``segment``,
        ``threshold``, ``leads``, ``n_mql``, ``share``, ``expected_share`` and, with
        outcomes, ``n_outcomes``, ``expected_rate``, ``realized_rate``,
        ``realized_interval`` and ``rate`` (``fine``, ``off`` or ``not judged``, by the
        same rule as the whole batch).
    estimate : dict or None
        The expected MQL-to-SQL rate of the batch's MQLs from their probabilities, before
        any outcome (:func:`mqlml.monitoring.unlabelled_estimate`): ``expected_rate``,
        ``interval``, ``expected_sqls``, ``target_verdict``, ``trust``.
    early : dict or None
        With outcomes, a bundle trained with conversion times and leads with creation
        times: the MQLs younger than the outcome window, their final rate estimated
        from the conversions so far (:func:`mqlml.monitoring._early.early_check`): ``n_mql``,
        ``converted_so_far``, ``expected_share``, ``estimated_rate``, ``interval``,
        ``expected_rate``, ``rate`` (``fine``, ``off``, ``not judged``),
        ``target_verdict``. Only the mature MQLs then make ``outcomes``.
    """

    n: int
    features: tuple[dict[str, Any], ...]
    score: dict[str, Any] | None
    mql: dict[str, Any]
    outcomes: dict[str, Any] | None
    level: str
    recommendation: str
    why: tuple[str, ...]
    segments: tuple[dict[str, Any], ...] = ()
    estimate: dict[str, Any] | None = None
    early: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        """0, 1, 3 or 4 for fine, watch, recalibrate or retrain (:mod:`mqlml.exitcodes`)."""
        return RECOMMENDATION_CODES[self.recommendation]

    def feature_table(self) -> pd.DataFrame:
        """The per-feature PSI as a frame (highest first)."""
        columns = ["feature", "group", "kind", "psi", "level"]
        return pd.DataFrame(list(self.features), columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (what ``mqlml monitor --json`` prints)."""
        out = asdict(self)
        out["features"] = [dict(row) for row in self.features]
        out["why"] = list(self.why)
        out["segments"] = [dict(row) for row in self.segments]
        out["exit_code"] = self.exit_code
        return out


def monitor(
    bundle: Bundle | str | Path,
    leads: pd.DataFrame,
    *,
    outcomes: pd.DataFrame | None = None,
    as_of: Any = None,
) -> MonitorReport:
    """Check new leads (and, optionally, outcomes of past MQLs) against a bundle.

    Parameters
    ----------
    bundle : Bundle or path
        A trained bundle or its folder.
    leads : pandas.DataFrame
        New leads with the id and feature columns the bundle was trained on.
    outcomes : pandas.DataFrame, optional
        What became of (some of) these leads: the id column and a flag, found in this
        order: the bundle's label column, ``converted`` (0/1, yes/no, true/false), or
        ``sql_status`` (text; :data:`SQL_POSITIVE` values mean converted). Joined on
        the id; outcome ids not among ``leads`` are ignored (and counted). When the
        bundle keeps a conversion-delay curve (trained with ``columns.converted_at``)
        and the leads have their creation time, MQLs younger than the outcome window
        are judged by their early rate (``early``) and only the others as final.
    as_of : date-like, optional
        When the outcomes were read (default: the newest lead's creation time).

    Returns
    -------
    MonitorReport

    Raises
    ------
    InsufficientDataError
        If ``leads`` has fewer than :data:`MIN_LEADS` rows.
    DataError
        If a flag is missing or not understood, an id repeats, or
        no outcome id matches a lead.
    MissingColumnError
        If ``leads`` lacks a model column, or ``outcomes`` lacks the id or a flag.

    Examples
    --------
    >>> from mqlml.config import ProjectConfig
    >>> from mqlml.leads import make_leads
    >>> from mqlml.model import train
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id",
    ...     "label": "converted", "time": "created_at"})
    >>> bundle = train(cfg, frame=make_leads(5000, seed=1)).bundle
    >>> new = make_leads(2000, seed=2, start="2026-01-01")
    >>> report = monitor(bundle, new, outcomes=new[["lead_id", "converted"]])
    >>> report.outcomes["rate"], report.outcomes["ranking"]
    ('fine', 'held')
    """
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    if len(leads) < MIN_LEADS:
        raise InsufficientDataError(
            f"leads must number at least {MIN_LEADS} to judge drift; got {len(leads)}. "
            "Monitor a larger batch (e.g. a week or a month of leads)."
        )
    scored = score_frame(bundle, leads, reasons="none", exact=True)
    p = scored["probability"].to_numpy()
    is_mql = scored["is_mql"].to_numpy(dtype=bool)
    why: list[str] = []
    features, score = _drift(bundle, leads, p, why)
    codes = bundle.segment_codes(leads)
    mql = _share(bundle, is_mql, codes)
    line = bundle.thresholds(len(p), codes)
    mql_rows = np.flatnonzero(is_mql)
    estimate = unlabelled_estimate(bundle, p[is_mql], mql_rows, codes, score)
    checked = labels = early = None
    if outcomes is not None:
        ids = scored[bundle.schema.id_name]
        labels = _outcome_labels(bundle, outcomes)
        young = _young(bundle, leads, as_of)
        if young is not None:
            early, labels = _early(bundle, ids, labels, young, p, is_mql, codes, leads)
        if labels is not None:
            checked = _check_outcomes(bundle, ids, p, labels, line, codes)
    report = _verdict(len(leads), features, score, mql, checked, why, early)
    report = replace(report, estimate=estimate, early=early)
    if codes is None:
        return report
    per_segment = _segment_checks(bundle, scored, codes, labels)
    off = [row["segment"] for row in per_segment if row.get("rate") == "off"]
    if off:
        sentence = (
            f"The MQL-to-SQL rate is off its line's expected rate in {', '.join(off)} "
            f"({bundle.segments.column}); see segments."
        )
        report = replace(report, why=(*report.why, sentence))
    return replace(report, segments=tuple(per_segment))


def _young(bundle: Bundle, leads: pd.DataFrame, as_of: Any) -> tuple | None:
    """(ages, is young) when the bundle has a delay curve and the leads creation times."""
    curve = delay_of(bundle)
    if curve is None or bundle.schema.time_column not in leads.columns:
        return None
    age, _ = ages_as_of(bundle, leads, as_of)
    return age, age < curve.horizon_days


def _early(bundle, ids, labels, young, p, is_mql, codes, leads) -> tuple[dict, pd.Series | None]:
    """The early check of the young MQLs with outcomes; the outcomes left to judge as
    final (those of mature leads; None when no outcome is of a mature lead)."""
    age, is_young = young
    position = pd.Index(ids.astype(str).to_numpy()).get_indexer(labels.index)
    found = position >= 0
    rows = position[found]
    mine = is_young[rows] & is_mql[rows]
    column = bundle.segments.column if bundle.segments is not None else None
    segment = None
    if column is not None and column in leads.columns:
        segment = leads[column].to_numpy(dtype=object)[rows[mine]]
    early = early_check(
        bundle,
        labels.to_numpy()[found][mine],
        p[rows[mine]],
        age[rows[mine]],
        rows[mine],
        codes,
        segment,
        RATE_TOLERANCE,
        MIN_OUTCOME_MQLS,
    )
    early["young_leads"] = int(is_young.sum())
    if is_young[rows].all():
        return early, None  # every outcome is of a young lead: none to judge as final
    keep = ~found  # unmatched ids stay, to be counted as unmatched
    keep[found] = ~is_young[rows]
    return early, labels[keep]


def _segment_checks(
    bundle: Bundle, scored: pd.DataFrame, codes: np.ndarray, labels: pd.Series | None
) -> list[dict[str, Any]]:
    """Per segment line: MQL share against its expected share and, with outcomes, its rate."""
    p = scored["probability"].to_numpy()
    is_mql = scored["is_mql"].to_numpy(dtype=bool)
    known = None
    if labels is not None:
        keys = scored[bundle.schema.id_name].astype(str).to_numpy()
        known = pd.Series(labels.to_numpy(), index=labels.index.astype(str))
        known = known[~known.index.duplicated()].reindex(keys).to_numpy()
    rows = []
    for i, line in enumerate(bundle.segments.lines):
        inside = codes == i
        n, m = int(inside.sum()), int((inside & is_mql).sum())
        row: dict[str, Any] = {
            "segment": line.value,
            "threshold": line.threshold.threshold,
            "leads": n,
            "n_mql": m,
            "share": m / n if n else None,
            "expected_share": line.threshold.expected_share,
        }
        if known is not None:
            has = inside & ~pd.isna(known)
            y = known[has].astype(int)
            at = realized(p[has], y, line.threshold.threshold) if has.any() else None
            expected = line.threshold.expected_rate
            row.update(
                n_outcomes=int(has.sum()),
                expected_rate=expected,
                realized_rate=None if at is None else at["realized_rate"],
                realized_interval=None if at is None else at["realized_interval"],
                rate="not judged",
            )
            if at is not None and at["n_mql"] >= MIN_OUTCOME_MQLS:
                row["rate"] = rate_level(
                    at["realized_rate"], at["realized_interval"], expected, RATE_TOLERANCE
                )
        rows.append(row)
    return rows


# -- monitor helpers ------------------------------------------------------------------
def _drift(
    bundle: Bundle, leads: pd.DataFrame, p: np.ndarray, why: list[str]
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any] | None]:
    reference = bundle.reference.get("features")
    if not reference:
        why.append(
            "The bundle keeps no reference distributions, so feature and score drift were "
            "not measured; retrain or recalibrate it with this mqlml version to add them."
        )
        return (), None
    schema = bundle.schema
    X = schema.features_frame(leads)
    rows = []
    for name in schema.features:
        if name not in reference:
            continue
        value = psi(reference[name], X[name])
        group = "fit" if name in schema.fit else "engagement"
        kind = schema.kinds[name]
        rows.append(
            {"feature": name, "group": group, "kind": kind, "psi": value, "level": psi_level(value)}
        )
    absent = [name for name in schema.features if name not in reference]
    if absent:
        why.append(f"No reference is kept for {', '.join(absent)}; their drift was not measured.")
    rows.sort(key=lambda row: -row["psi"])
    score = None
    if SCORE_KEY in reference:
        value = psi(reference[SCORE_KEY], p)
        score = {"psi": value, "level": psi_level(value)}
    return tuple(rows), score


def _share(bundle: Bundle, is_mql: np.ndarray, codes: np.ndarray | None = None) -> dict[str, Any]:
    n, n_mql = int(is_mql.size), int(is_mql.sum())
    expected = float(bundle.threshold.expected_share)
    if codes is not None:  # each segment's line promised its own share of its leads
        shares = np.array([line.threshold.expected_share for line in bundle.segments.lines])
        expected = float(shares[codes].mean())
    share = n_mql / n
    ratio = share / expected if expected > 0 else None
    se = np.sqrt(expected * (1.0 - expected) / n)
    significant = se > 0 and abs(share - expected) > _SHARE_Z * se
    off = ratio is not None and abs(ratio - 1.0) > SHARE_TOLERANCE
    return {
        "threshold": float(bundle.threshold.threshold),
        "n_mql": n_mql,
        "share": share,
        "expected_share": expected,
        "ratio": ratio,
        "level": "warning" if off and significant else "fine",
    }


def _outcome_labels(bundle: Bundle, outcomes: pd.DataFrame) -> pd.Series:
    """0/1 outcomes indexed by lead id (as text)."""
    schema = bundle.schema
    id_name = schema.id_name
    columns = list(outcomes.columns)
    if id_name not in columns:
        raise MissingColumnError(
            f"outcomes must have the lead id column {id_name!r}; got columns {columns[:8]}. "
            f"Add {id_name!r} with the ids of the scored leads."
        )
    candidates = list(dict.fromkeys([schema.label_column, "converted", _STATUS_COLUMN]))
    flag = next((c for c in candidates if c in columns), None)
    if flag is None:
        raise MissingColumnError(
            f"outcomes must have a converted flag in one of the columns {candidates}; got "
            f"columns {columns[:8]}. Add a 0/1 (or yes/no) column, or an SQL status column "
            f"{_STATUS_COLUMN!r}."
        )
    if flag == _STATUS_COLUMN:
        labels = binary_label(outcomes[flag], positive=SQL_POSITIVE)
    elif flag == schema.label_column:
        labels = binary_label(outcomes[flag], positive=schema.positive_labels)
    else:
        labels = binary_label(outcomes[flag])
    ids = outcomes[id_name].astype(str)
    repeated = ids.duplicated(keep=False)
    if repeated.any():
        raise DataError(
            f"outcomes id column {id_name!r} must be unique; {int(repeated.sum())} rows share "
            f"an id (e.g. {ids[repeated].iloc[0]!r}). Keep one outcome per lead."
        )
    return pd.Series(labels, index=pd.Index(ids.to_numpy(), name=id_name))


def _check_outcomes(
    bundle: Bundle,
    ids: pd.Series,
    p: np.ndarray,
    labels: pd.Series,
    line: np.ndarray | None = None,
    codes: np.ndarray | None = None,
) -> dict[str, Any]:
    keys = ids.astype(str)
    repeated = keys.duplicated(keep=False)
    if repeated.any():
        raise DataError(
            f"lead id column {ids.name!r} must be unique to join outcomes; "
            f"{int(repeated.sum())} leads share an id (e.g. {keys[repeated].iloc[0]!r}). "
            "Remove duplicated leads."
        )
    position = pd.Index(keys.to_numpy()).get_indexer(labels.index)
    found = position >= 0
    if not found.any():
        raise DataError(
            f"outcomes must share lead ids with the leads; none of the {len(labels)} outcome "
            f"ids matched (e.g. outcome id {labels.index[0]!r}, lead id {keys.iloc[0]!r}). "
            f"Check that both files use the same {ids.name!r} values."
        )
    rows = position[found]
    y, q = labels.to_numpy()[found], p[rows]
    threshold = float(bundle.threshold.threshold) if line is None else line
    at = realized(q, y, threshold if line is None else line[rows])
    expected = float(bundle.threshold.expected_rate)
    if codes is not None and at["n_mql"]:
        # each MQL promised its own line's rate: the batch's promise is their mean
        expected = promised_rate(bundle, codes, rows[q >= line[rows]])
    out: dict[str, Any] = {
        "n": int(y.size),
        "n_unmatched": int((~found).sum()),
        "n_converted": int(y.sum()),
        "n_mql": at["n_mql"],
        "expected_rate": expected,
        "mean_probability": at["mean_probability"],
        "realized_rate": at["realized_rate"],
        "realized_interval": at["realized_interval"],
        "rate_gap": None,
        "rate": "not judged",
        "ece": expected_calibration_error(y, q),
        "roc_auc": None,
        "reference_auc": bundle.metadata.get("metrics", {}).get("roc_auc"),
        "ranking": "not judged",
    }
    if at["n_mql"] >= MIN_OUTCOME_MQLS:
        out["rate_gap"] = at["realized_rate"] - expected
        out["rate"] = rate_level(
            at["realized_rate"], at["realized_interval"], expected, RATE_TOLERANCE
        )
    n_pos = int(y.sum())
    if min(n_pos, y.size - n_pos) >= MIN_OUTCOME_CLASS:
        out["roc_auc"] = float(roc_auc_score(y, q))
        share_all = float(np.mean(p >= threshold))
        share_out = at["n_mql"] / y.size
        # MQL-only outcomes span a narrow score range: their AUC says nothing of ranking.
        alike = share_all > 0 and abs(share_out / share_all - 1.0) <= 0.5
        if alike and out["reference_auc"] is not None:
            drop = out["reference_auc"] - out["roc_auc"]
            out["ranking"] = "dropped" if drop > AUC_TOLERANCE else "held"
    return out


def _verdict(
    n: int,
    features: tuple[dict[str, Any], ...],
    score: dict[str, Any] | None,
    mql: dict[str, Any],
    outcomes: dict[str, Any] | None,
    notes: list[str],
    early: dict[str, Any] | None = None,
) -> MonitorReport:
    levels = [row["level"] for row in features] + [mql["level"]]
    if score is not None:
        levels.append(score["level"])
    if outcomes is not None and (outcomes["ranking"] == "dropped" or outcomes["rate"] == "off"):
        levels.append("alert")
    early_off = early is not None and early["rate"] == "off"
    if early_off:
        levels.append("alert")
    worst = max(levels, key=LEVELS.index)

    moved = [row for row in features if row["level"] != "fine"]
    moved_text = ", ".join(f"{row['feature']} (PSI {row['psi']:.2f})" for row in moved[:5])
    score_alert = score is not None and score["psi"] > PSI_ALERT
    why: list[str] = []
    if outcomes is not None and outcomes["ranking"] == "dropped":
        recommendation = "retrain"
        why.append(
            f"Ranking dropped: ROC AUC {outcomes['roc_auc']:.3f} on the {outcomes['n']:,} "
            f"leads with outcomes against {outcomes['reference_auc']:.3f} on the test part at "
            "training; a new calibration cannot restore ranking. Retrain on recent leads."
        )
        if moved:
            why.append(f"Features that moved, likely the cause: {moved_text}.")
    elif outcomes is not None and outcomes["rate"] == "off":
        recommendation = "recalibrate"
        why.append(
            f"{_rate_sentence(outcomes)} The probabilities are off while "
            f"{_ranking_clause(outcomes)}: recalibrate on recent labelled leads (the trees "
            "can stay)."
        )
    elif early_off:
        recommendation = "recalibrate"
        why.append(
            f"{_early_sentence(early)} Detected before their window closes: recalibrate "
            "on the latest leads whose window has closed, and again once these outcomes "
            "are final."
        )
    elif outcomes is None and early is None and score_alert:
        recommendation = "recalibrate"
        why.append(
            f"The score distribution moved a lot (PSI {score['psi']:.2f} > {PSI_ALERT}) and "
            "no outcomes were given: collect the outcomes of these MQLs, then recalibrate "
            "on them."
        )
    else:
        # never "fine" beside a warning or an alert: the signals are to be watched
        recommendation = "fine" if worst == "fine" else "watch"
        why.append(
            "Nothing calls for action."
            if worst == "fine"
            else "No action yet: watch the signals below."
        )

    if moved and recommendation != "retrain":
        why.append(f"Features that moved: {moved_text}.")
    elif features and not moved:
        why.append(f"No feature moved beyond PSI {PSI_WARNING} (highest: {_top(features)}).")
    if score is not None and not (score_alert and outcomes is None and early is None):
        why.append(f"Score distribution PSI {score['psi']:.3f} ({score['level']}).")
    why.append(_share_sentence(mql))
    if outcomes is not None:
        if recommendation != "recalibrate" or early_off:
            why.append(_rate_sentence(outcomes))
        why.append(_outcome_sentence(outcomes))
    if early is not None and not early_off:
        why.append(_early_sentence(early))
    elif moved or mql["level"] != "fine":
        why.append("Give outcomes of past MQLs to tell whether the probabilities still hold.")
    why.extend(notes)
    return MonitorReport(
        n=n,
        features=features,
        score=score,
        mql=mql,
        outcomes=outcomes,
        level=LEVEL_OF[recommendation],
        recommendation=recommendation,
        why=tuple(why),
    )


def _top(features: tuple[dict[str, Any], ...]) -> str:
    return f"{features[0]['feature']} at {features[0]['psi']:.3f}"


def _share_sentence(mql: dict[str, Any]) -> str:
    text = (
        f"{mql['n_mql']:,} MQLs ({mql['share']:.1%} of the leads) against the expected "
        f"{mql['expected_share']:.1%}"
    )
    if mql["level"] != "fine":
        return f"{text}: sales gets {mql['ratio']:.2f} times the expected MQL volume."
    return f"{text}."


def _rate_sentence(o: dict[str, Any]) -> str:
    if o["n_mql"] < MIN_OUTCOME_MQLS:
        return (
            f"Only {o['n_mql']} MQLs have outcomes (at least {MIN_OUTCOME_MQLS} needed), so "
            "their realized rate is not judged."
        )
    lo, hi = o["realized_interval"]
    text = (
        f"The {o['n_mql']:,} MQLs with outcomes converted at {o['realized_rate']:.1%} (90 % "
        f"interval {lo:.1%} to {hi:.1%}) against the expected {o['expected_rate']:.1%} "
        f"that the MQL threshold promised ({100 * o['rate_gap']:+.1f} percentage points)"
    )
    if o["rate"] == "off":
        return f"{text}."
    return f"{text}: within the {100 * RATE_TOLERANCE:.0f}-point tolerance or the noise."


def _early_sentence(e: dict[str, Any]) -> str:
    if e["rate"] == "not judged":
        return (
            f"{e['n_mql']:,} MQLs younger than the {e['horizon_days']:g}-day window have "
            f"outcomes so far, worth {e['equivalent_mqls']:.0f} mature ones (at least "
            f"{MIN_OUTCOME_MQLS} needed): their early rate is not judged yet."
        )
    lo, hi = e["interval"]
    text = (
        f"The {e['n_mql']:,} MQLs younger than the {e['horizon_days']:g}-day window (mean "
        f"age {e['mean_age_days']:.0f} days, {e['expected_share']:.0%} of their conversions "
        f"expected so far; {e['converted_so_far']:,} converted) are on course for "
        f"{e['estimated_rate']:.1%} (90 % interval {lo:.1%} to {hi:.1%}) against the "
        f"expected {e['expected_rate']:.1%} ({100 * e['rate_gap']:+.1f} percentage points)"
    )
    return f"{text}." if e["rate"] == "off" else f"{text}: within the tolerance or the noise."


def _ranking_clause(o: dict[str, Any]) -> str:
    if o["ranking"] == "held":
        return f"ranking holds (ROC AUC {o['roc_auc']:.3f} against {o['reference_auc']:.3f})"
    return "ranking could not be judged"


def _outcome_sentence(o: dict[str, Any]) -> str:
    parts = [f"Calibration error (ECE) on the {o['n']:,} leads with outcomes: {o['ece']:.3f}."]
    if o["ranking"] == "held":
        parts.append(
            f"Ranking holds: ROC AUC {o['roc_auc']:.3f} against {o['reference_auc']:.3f} "
            "at training."
        )
    elif o["ranking"] == "not judged":
        parts.append(
            "Ranking not judged: it needs outcomes of non-MQLs as well as MQLs (at least "
            f"{MIN_OUTCOME_CLASS} conversions and non-conversions) and the bundle's test AUC."
        )
    if o["n_unmatched"]:
        parts.append(f"{o['n_unmatched']:,} outcome ids matched no lead and were ignored.")
    return " ".join(parts)
