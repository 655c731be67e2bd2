"""A new model against the current champion, on leads neither was trained on.

A bundle that scores is refit on every mature lead of its history, so scoring it on its
own history's test part flatters it (on the sample, ROC AUC 0.981 on leads it was trained
on against an honest 0.942): a rule "promote the one with the higher ROC AUC" judged that
way favours whichever model saw the most leads. :func:`compare_champion` judges both
models on one of two honest bases, and says which:

- ``"new leads"``: the mature leads created after the later of the two training periods
  (read from each bundle's metadata: the leads its model was fit on and its calibrator
  and line were fitted on), which neither model saw; both score the same leads;
- ``"backtests"``: when no such leads are at hand (the new model was trained on the
  newest mature leads, which is the usual case in a retraining notebook; leads without
  creation times; too few conversions among the newer ones), each model's own backtest,
  the numbers recorded in its bundle: its procedure one step back in time, judged on the
  newest part of its own history, which that backtest never saw. Those are different
  leads, so a gap between the two is a weaker signal than on the same leads.

Examples
--------
>>> from mqlml.config import ProjectConfig
>>> from mqlml.leads import make_leads
>>> from mqlml.model import train
>>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id", "label": "converted",
...     "time": "created_at"}, model={"kind": "logistic"}, threshold={"target_rate": 0.3})
>>> leads = make_leads(6000, seed=1)
>>> older = train(cfg, frame=leads[leads["created_at"] < "2024-09-01"]).bundle
>>> newer = train(cfg, frame=leads[leads["created_at"] < "2025-06-01"]).bundle
>>> result = compare_champion(newer, older, leads, config=cfg)
>>> result.basis, str(result.leads["created_at"].min().date()) >= "2025-06-01"
('new leads', True)
>>> list(result.table.index), result.better in (True, False)
(['new', 'champion'], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.errors import BundleError
from mqlml.model._bundle import Bundle

__all__ = ["ChampionComparison", "compare_champion", "trained_until"]

#: Fewest conversions (and non-conversions) among the newer leads to judge both on them.
MIN_CONVERSIONS = 10
_ROWS = ("new", "champion")
_COLUMNS = ("roc_auc", "realized_rate", "mql_share", "ece", "threshold", "leads", "from", "to")
# The fits of a bundle's metadata that learned from leads (judged_on only judged).
_LEARNED = ("model_fit_on", "calibrated_on", "calibrating_model_fit_on")


@dataclass(frozen=True)
class ChampionComparison:
    """The new model against the champion, and on which leads.

    Attributes
    ----------
    basis : {"new leads", "backtests"}
        Both scored on the same leads neither was trained on, or each judged by its own
        backtest.
    explanation : str
        Which basis, why, and on which leads, in a sentence or two.
    table : pandas.DataFrame
        One row per model (``new``, ``champion``): ``roc_auc``, ``realized_rate``,
        ``mql_share``, ``ece``, ``threshold`` (the line used), ``leads`` and the
        creation times judged on (``from``, ``to``).
    better : bool
        The new model ranks leads better: a higher ROC AUC on that basis.
    leads : pandas.DataFrame or None
        The rows both models scored (``"new leads"``), else None.
    cutoff : str or None
        The latest creation time either model learned from (None without times).
    """

    basis: str
    explanation: str
    table: pd.DataFrame
    better: bool
    leads: pd.DataFrame | None = None
    cutoff: str | None = None


def trained_until(bundle: Bundle) -> pd.Timestamp | None:
    """The latest creation time of the leads a bundle learned from, from its metadata.

    The leads its model was fit on and those its calibrator and MQL line were fitted on
    (for the default refit, every mature lead of its history); None when the bundle's
    leads had no creation times.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> meta = {"fits": {"deployed": {"model_fit_on": {"rows": 9, "to": "2025-03-01"},
    ...     "calibrated_on": {"rows": 4, "to": "2025-04-30 10:00:00"}}}}
    >>> trained_until(SimpleNamespace(metadata=meta))
    Timestamp('2025-04-30 10:00:00')
    """
    metadata = bundle.metadata or {}
    fits = (metadata.get("fits") or {}).get("deployed")
    if fits:
        ends = [fits[key].get("to") for key in _LEARNED if isinstance(fits.get(key), dict)]
    else:  # a bundle from before "fits" was recorded learned from all its leads
        ends = [metadata.get("date_to")]
    found = [_naive(pd.Timestamp(end)) for end in ends if end]
    return max(found) if found else None


def _naive(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp


def _day(stamp: Any) -> str:
    return str(pd.Timestamp(stamp).date())


def compare_champion(
    challenger: Bundle,
    champion: Bundle,
    frame: pd.DataFrame | None = None,
    *,
    config: ProjectConfig | None = None,
    events: pd.DataFrame | None = None,
) -> ChampionComparison:
    """Compare a new model with the champion on leads neither was trained on.

    Parameters
    ----------
    challenger : Bundle
        The new model (the bundle that would score).
    champion : Bundle
        The model in production.
    frame : pandas.DataFrame, optional
        Leads to look for newer mature leads in (the newest extraction); without it, each
        model is judged by its own backtest.
    config : ProjectConfig, optional
        How to read ``frame`` (columns, outcome window, extraction date); default the
        challenger's training config. Pass the project's config for a newer extraction:
        the one recorded in the bundle keeps its training's ``outcome.as_of``.
    events : pandas.DataFrame, optional
        The activity log, when the leads come with one.

    Returns
    -------
    ChampionComparison

    Raises
    ------
    BundleError
        When no newer leads are at hand and a bundle holds no backtest numbers.
    MqlmlError
        When a model cannot score the newer leads (e.g. a column it needs is absent).
    """
    ends = {"new": trained_until(challenger), "champion": trained_until(champion)}
    why = "no leads were given to look for newer ones in"
    if frame is not None and None in ends.values():
        missing = " and ".join(
            f"the {'new model' if k == 'new' else k}'s" for k, v in ends.items() if v is None
        )
        why = (
            f"{missing} leads had no creation times, so no lead can be shown to be newer "
            "than both training periods"
        )
    elif frame is not None:
        cutoff = max(ends.values())
        rows, y, times = _newer_leads(challenger, frame, config, events, cutoff)
        n, n_pos = len(y), int(y.sum())
        periods = (
            f"the new model learned from leads up to {_day(ends['new'])}, the champion up "
            f"to {_day(ends['champion'])}"
        )
        if min(n_pos, n - n_pos) >= MIN_CONVERSIONS:
            table = (
                pd.DataFrame(
                    {
                        name: _judge(bundle, rows, y, times)
                        for name, bundle in (("new", challenger), ("champion", champion))
                    }
                )
                .T.loc[list(_ROWS), list(_COLUMNS)]
                .infer_objects()
            )
            explanation = (
                f"Judged on the same {n:,} mature leads created after {_day(cutoff)} "
                f"({n_pos:,} converted), which neither model was trained on ({periods})."
            )
            return ChampionComparison(
                "new leads", explanation, table, _better(table), rows, str(cutoff)
            )
        why = (
            f"only {n:,} mature leads ({n_pos:,} converted) were created after "
            f"{_day(cutoff)} ({periods}); judging both on them needs at least "
            f"{MIN_CONVERSIONS} conversions and {MIN_CONVERSIONS} non-conversions"
        )
    table = (
        pd.DataFrame(
            {"new": _backtest(challenger, "new model"), "champion": _backtest(champion, "champion")}
        )
        .T.loc[list(_ROWS), list(_COLUMNS)]
        .infer_objects()
    )
    explanation = (
        f"Each model judged by its own backtest: {why}. A backtest is the model's training "
        "procedure one step back in time, judged on the newest part of its history, which "
        "that backtest never saw; the two were judged on different leads, so a gap between "
        "them says less than one on the same leads."
    )
    ends_known = [v for v in ends.values() if v is not None]
    cutoff = str(max(ends_known)) if len(ends_known) == 2 else None
    return ChampionComparison("backtests", explanation, table, _better(table), None, cutoff)


def _newer_leads(
    bundle: Bundle,
    frame: pd.DataFrame,
    config: ProjectConfig | None,
    events: pd.DataFrame | None,
    cutoff: pd.Timestamp,
) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """The mature leads of ``frame`` created after ``cutoff``: rows, labels, times."""
    from mqlml.model._prepare import prepare_leads

    config = config or ProjectConfig.model_validate(bundle.config)
    leads = prepare_leads(config, frame, events)
    if leads.times is None:
        empty = leads.frame.iloc[:0]
        return empty, np.zeros(0, dtype=int), pd.Series([], dtype="datetime64[ns]")
    times = leads.times
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert(None)
    newer = (times > cutoff).to_numpy()
    rows = leads.frame.loc[newer].reset_index(drop=True)
    return rows, np.asarray(leads.y)[newer], times[newer].reset_index(drop=True)


def _judge(bundle: Bundle, rows: pd.DataFrame, y: np.ndarray, times: pd.Series) -> dict:
    from mqlml.metrics._evaluate import evaluate
    from mqlml.scoring._scorer import score_frame

    scored = score_frame(bundle, rows, reasons="none")
    p = scored["probability"].to_numpy()
    line = scored["threshold"].to_numpy() if "threshold" in scored else bundle.threshold.threshold
    m = evaluate(y, p, threshold=line)
    return {
        "roc_auc": m["roc_auc"],
        "realized_rate": m["realized_rate"],
        "mql_share": m["mql_share"],
        "ece": m["ece"],
        "threshold": bundle.threshold.threshold,
        "leads": len(y),
        "from": str(times.min()),
        "to": str(times.max()),
    }


def _backtest(bundle: Bundle, who: str) -> dict:
    metadata = bundle.metadata or {}
    m = metadata.get("metrics")
    if not m or m.get("roc_auc") is None:
        raise BundleError(
            f"the {who}'s bundle must hold its backtest numbers (metadata 'metrics') to be "
            "judged without newer leads; it has none. Pass leads created after both "
            "training periods, or retrain it with this mqlml version."
        )
    judged = ((metadata.get("fits") or {}).get("backtest") or {}).get("judged_on")
    judged = judged or ((metadata.get("fits") or {}).get("deployed") or {}).get("judged_on")
    judged = judged or (metadata.get("parts") or {}).get("test") or {}
    line = (bundle.backtest or bundle).threshold.threshold
    return {
        "roc_auc": m["roc_auc"],
        "realized_rate": m.get("realized_rate"),
        "mql_share": m.get("mql_share"),
        "ece": m.get("ece"),
        "threshold": line,
        "leads": judged.get("rows", m.get("n")),
        "from": judged.get("from"),
        "to": judged.get("to"),
    }


def _better(table: pd.DataFrame) -> bool:
    return bool(table.loc["new", "roc_auc"] > table.loc["champion", "roc_auc"])
