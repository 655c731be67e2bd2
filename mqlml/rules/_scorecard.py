"""Model-derived points: a scorecard that rule engines can run, and what it keeps of the model.

HubSpot's lead scoring, Marketo smart campaigns, CRM formula fields and warehouse SQL take
points per criterion, not a Python model. :func:`scorecard` turns a trained bundle into
integer points per criterion, fitted to reproduce the model's log-odds, on the bundle's
own score scale (:class:`mqlml.model.ScoreScale`: ``points_to_double_odds`` points double
the odds of converting), with the MQL threshold in points::

    criteria   numbers: steps "COLUMN >= EDGE" at (rounded) quantiles of the column, so a
               band's points are the sum of the steps it reaches; a row for missing
               categories: groups of levels with the same points ("COLUMN in [...]"),
               a row for missing; rare and unseen levels get 0
               yes/no: the "yes" spelling(s), and missing
    fit        the target is each lead's score on the bundle's scale,
               mql_at + pdo x log2(odds(p) / odds(threshold)), with log-odds(p) the straight
               line in the model's log-odds through its MQL threshold closest to the
               calibrated log-odds (:func:`mqlml.rules.score_target`), for the
               model that judges the test part (``bundle.backtest or bundle``);
               a lasso path over all candidate criteria picks the support, least squares
               refits it, points are rounded to integers and levels of equal points merged;
               of the cards with at most ``max_rules`` criteria the one closest to the
               model's scores on the fitting leads is kept
    fitted on  the leads that model learned from (train + calibrate with the default refit,
               the train part with ``model.refit: false``; a seeded random 50,000 of them
               at most), split again exactly as in training; nothing is fitted on the
               test part
    threshold  a lead's points + ``offset`` is its score on the model's scale, so it is an
               MQL at ``ceil(mql_at - offset)`` points or more

The fidelity is judged on the test part: ROC AUC of the points against the model's and
the hand-set points' (the config's ``baseline.rules``), the MQL-to-SQL rate at each one's
own MQL line and at equal volume (exact 90 % intervals, and a paired bootstrap interval on
the difference), the agreement on who is an MQL, and the same for fewer criteria (the
trade-off). :func:`scorecard` writes ``scorecard.yaml`` (the points-rules format of
:mod:`mqlml.rules`, so ``mqlml report --baseline DIR/scorecard.yaml`` compares it with
the model), ``scorecard.csv`` (criterion, column, condition, points), ``scorecard.sql``
(a ``CASE`` expression over the lead table's columns, :mod:`mqlml.rules`),
``scorecard.json`` (every number) and ``scorecard.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mqlml.errors import ConfigError, DataError
from mqlml.io._text import json_safe, md_text
from mqlml.metrics._paired import mql_rate, top_leads
from mqlml.rules._baseline import condition_text
from mqlml.rules._fidelity import (
    SCORECARD_FORMAT,
    fidelity,
    fidelity_markdown,
    report_section,
    report_tables,
    sha256_text,
)
from mqlml.rules._fit import best_card, card_rules, fit_cards, native, score_target

__all__ = [
    "DEFAULT_MAX_RULES",
    "SCORECARD_FILES",
    "SCORECARD_FORMAT",
    "Scorecard",
    "fidelity",
    "fidelity_markdown",
    "report_section",
    "report_tables",
    "scorecard",
]

DEFAULT_MAX_RULES = 30
_TRADEOFF = (3, 5, 10, 15, 20, 25, 30, 40)
_MAX_FIT_ROWS = 50_000
#: The files of a scorecard folder, by kind (an existing folder holding others is refused).
SCORECARD_FILES = {
    "yaml": "scorecard.yaml",
    "csv": "scorecard.csv",
    "sql": "scorecard.sql",
    "json": "scorecard.json",
    "markdown": "scorecard.md",
}


@dataclass
class Scorecard:
    """Integer points per criterion on the bundle's score scale, with the MQL line in points.

    Attributes
    ----------
    rules : mqlml.rules.RuleSet
        The criteria as a points rule set (``mql_threshold`` in points).
    offset : float
        A lead's points + ``offset`` is its score on the bundle's 0-100 scale (unclipped).
    threshold_points : int
        The MQL line in points: ``ceil(mql_at - offset)``.
    scale : dict
        The bundle's score scale (threshold, mql_at, points_to_double_odds).
    fit : dict
        Where and how it was fitted (rows, R squared of its score on them).
    fidelity : dict
        Its numbers on the test part (:func:`fidelity`), against the model and the
        hand-set points.
    tradeoff : list of dict
        The same cards with fewer criteria and their test-part numbers.
    source : dict
        The bundle and the data it came from (digest, data fingerprint, paths).
    paths : dict
        The files written (empty when none).
    """

    rules: Any
    offset: float
    threshold_points: int
    scale: dict[str, float]
    fit: dict[str, Any]
    fidelity: dict[str, Any]
    tradeoff: list[dict[str, Any]]
    source: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def n_criteria(self) -> int:
        """How many criteria (rules) the card has."""
        return len(self.rules.rules)

    def points(self, frame: pd.DataFrame) -> np.ndarray:
        """Each lead's points, by the rules engine of :mod:`mqlml.rules` (raw columns)."""
        return _points(self.rules, frame)

    def to_yaml(self) -> str:
        """The rules file (``mqlml report --baseline`` reads it)."""
        scale = self.scale
        head = [
            f"# Scorecard: points fitted to reproduce the model's log-odds ({self.source['model']}",
            f"# model, {self.fit['rows']:,} leads of its own training data; never the test part).",
            f"# {scale['points_to_double_odds']:g} points double the odds of converting. A lead is "
            f"an MQL at {self.threshold_points} points",
            f"# or more: its points + {self.offset:.1f} are its score on the model's scale, whose "
            f"MQL line is {scale['mql_at']:g}.",
            "# Numbers: the steps add up (a lead with 5 visits gets every '>=' step up to 5).",
            "# Columns not listed, unseen categories and missing values without a rule give 0.",
        ]
        body = {
            "name": self.rules.name,
            "mql_threshold": self.threshold_points,
            "rules": _rule_dicts(self.rules),
        }
        text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
        return "\n".join(head) + "\n" + text

    def to_csv(self, csv_formulas: str = "escape") -> str:
        """criterion, column, condition, points: one row per criterion.

        With ``csv_formulas="escape"`` (the default) a text cell that a spreadsheet would
        run as a formula (a column named ``=cmd|...``) gets a leading ``'``
        (:mod:`mqlml.io`); ``"keep"`` writes it as it is. Points stay numbers.
        """
        from mqlml.io._formulas import check_csv_formulas, escape_cell

        cell = escape_cell if check_csv_formulas(csv_formulas) == "escape" else (lambda v: v)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["criterion", "column", "condition", "points"])
        for rule in self.rules.rules:
            texts = [cell(text) for text in (rule.name, rule.column, condition_text(rule))]
            writer.writerow([*texts, native(rule.points)])
        return buffer.getvalue()

    def to_sql(self, table: str = "leads", id_column: str | None = None) -> str:
        """A ``SELECT`` of each lead's points and MQL flag (see :mod:`mqlml.rules`)."""
        from mqlml.rules._sql import sql_query

        head = (
            f"-- Scorecard points ({self.n_criteria} criteria); an MQL at "
            f"{self.threshold_points} points or more.\n-- NULL is missing: it matches only "
            "the 'IS NULL' criteria.\n"
        )
        return head + sql_query(self.rules, table, id_column=id_column) + ";\n"

    def to_dict(self) -> dict[str, Any]:
        """Every number, JSON-safe (``scorecard.json``)."""

        return json_safe(
            {
                "format": SCORECARD_FORMAT,
                "source": self.source,
                "scale": self.scale,
                "offset": self.offset,
                "mql_threshold_points": self.threshold_points,
                "n_criteria": self.n_criteria,
                "criteria": _rule_dicts(self.rules),
                "fit": self.fit,
                "fidelity": self.fidelity,
                "tradeoff": self.tradeoff,
            }
        )

    def to_markdown(self) -> str:
        """The card and its fidelity in words and tables (``scorecard.md``); names and
        levels from the data are escaped (:func:`mqlml.io.md_text`)."""

        lines = [f"# {md_text(self.rules.name)}", ""]
        lines += [
            f"{self.n_criteria} criteria, an MQL at **{self.threshold_points} points** or more; "
            f"{self.scale['points_to_double_odds']:g} points double the odds of converting "
            f"(points + {self.offset:.1f} = the model's score, MQL line "
            f"{self.scale['mql_at']:g}). Fitted on {self.fit['rows']:,} leads the model "
            f"learned from ({self.fit['part']}); judged below on the "
            f"{self.fidelity['n']:,} test leads.",
            "",
            "| criterion | condition | points |",
            "|---|---|---:|",
        ]
        lines += [
            f"| {md_text(r.name)} | {md_text(condition_text(r))} | {native(r.points):+d} |"
            for r in self.rules.rules
        ]
        lines += ["", *fidelity_markdown(self.fidelity, self.tradeoff), ""]
        return "\n".join(lines)


def _rule_dicts(rules: Any) -> list[dict[str, Any]]:
    """Each rule as the mapping a rules file writes (integer points as integers)."""
    out = []
    for rule in rules.rules:
        row = {k: v for k, v in rule.model_dump().items() if v is not None}
        row["points"] = native(row["points"])
        out.append(row)
    return out


def _points(rules: Any, frame: pd.DataFrame, features: pd.DataFrame | None = None) -> np.ndarray:
    """Points of a rule set on raw rows, or on the coerced features if a rule needs them."""
    from mqlml.errors import RuleError
    from mqlml.rules._baseline import PointsBaseline

    scorer = PointsBaseline(rules=rules)
    try:
        return scorer.fit(frame).decision_function(frame)
    except RuleError:
        if features is None:
            raise
        merged = pd.concat([frame.drop(columns=list(features.columns)), features], axis=1)
        return scorer.fit(merged).decision_function(merged)


# ---------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------


def _check_max_rules(max_rules: Any) -> int:
    if isinstance(max_rules, bool) or not isinstance(max_rules, int | np.integer) or max_rules < 1:
        raise ConfigError(
            f"max_rules must be a positive whole number of criteria; got {max_rules!r}. "
            f"Use e.g. {DEFAULT_MAX_RULES}."
        )
    return int(max_rules)


def _config(bundle: Any, data: str | Path | None) -> Any:
    """The bundle's project config, reading its leads from ``data`` when given."""
    from mqlml.config._config import ProjectConfig

    config = ProjectConfig.model_validate(bundle.config)
    if data is not None:
        config = config.with_overrides(data={"path": Path(data)})
    return config


def _leads(bundle: Any, config: Any, frame: pd.DataFrame | None):
    """The bundle's leads split again exactly as in training (fit rows, test rows)."""
    from mqlml.leads._read import read_leads
    from mqlml.leads._schema import fingerprint
    from mqlml.model._prepare import prepare_leads, split_parts

    if frame is None:
        frame = read_leads(config)
    leads = prepare_leads(config, frame)
    if fingerprint(leads.X, leads.y) != bundle.metadata.get("fingerprint"):
        raise DataError(
            f"the leads must be the ones the model was trained on, to fit on its training part "
            f"and judge on its test part; {config.data.path} differs from them (another file, "
            "or changed since). Pass the training leads with --data, or retrain."
        )
    parts = split_parts(config, leads)
    return config, leads, parts


def scorecard(
    model: Any,
    *,
    data: str | Path | None = None,
    frame: pd.DataFrame | None = None,
    max_rules: int = DEFAULT_MAX_RULES,
    out: str | Path | None = None,
    table: str = "leads",
    n_boot: int = 1000,
    seed: int = 0,
    csv_formulas: str = "escape",
) -> Scorecard:
    """Fit integer points per criterion that reproduce a bundle's scores; judge them honestly.

    Parameters
    ----------
    model : Bundle or path
        The trained bundle (or its folder).
    data : str or Path, optional
        The leads it was trained on, in place of its config's ``data.path``.
    frame : pandas.DataFrame, optional
        The same leads, already read.
    max_rules : int, default=30
        At most this many criteria.
    out : str or Path, optional
        A folder to write ``scorecard.yaml``, ``.csv``, ``.sql``, ``.json`` and ``.md`` to:
        new, or an earlier scorecard (those files and nothing else), replaced whole
        (:func:`mqlml.io.atomic_folder`). It is checked before any work.
    table : str, default="leads"
        The table the SQL reads.
    n_boot, seed
        The paired bootstrap of the fidelity's intervals.
    csv_formulas : {"escape", "keep"}, default="escape"
        ``scorecard.csv``'s cells that a spreadsheet would run as formulas
        (:meth:`Scorecard.to_csv`).

    Returns
    -------
    Scorecard

    Raises
    ------
    ConfigError
        When ``max_rules`` is not a positive whole number, or ``csv_formulas`` not one of
        its values.
    DataError
        When the leads are not the ones the bundle was trained on, or ``out`` is a file,
        holds other files, is or holds the bundle, the leads file or the hand-set rules,
        or lies inside a bundle folder.
    InsufficientDataError
        When no card with at most ``max_rules`` criteria gives any lead points.

    Examples
    --------
    >>> from mqlml.config import ProjectConfig
    >>> from mqlml.leads import make_leads
    >>> from mqlml.model import train
    >>> leads = make_leads(4000, seed=3)
    >>> cfg = ProjectConfig(data={"path": "-"}, columns={"id": "lead_id", "label": "converted",
    ...     "time": "created_at"}, threshold={"target_rate": 0.3}, model={"refit": False})
    >>> card = scorecard(train(cfg, frame=leads).bundle, frame=leads, max_rules=10, n_boot=50)
    >>> card.n_criteria <= 10, card.fidelity["ranking"]["scorecard"] > 0.8
    (True, True)
    """
    from mqlml.errors import InsufficientDataError
    from mqlml.io._formulas import check_csv_formulas
    from mqlml.model._bundle import Bundle, load_bundle
    from mqlml.rules._baseline import load_rules, parse_rules

    max_rules = _check_max_rules(max_rules)
    check_csv_formulas(csv_formulas)
    if not isinstance(model, Bundle):
        model = load_bundle(model)
    bundle = model
    config = _config(bundle, data)
    if out is not None:
        _check_out(Path(out), bundle, config)
    judge = bundle.backtest or bundle
    config, leads, parts = _leads(bundle, config, frame)
    refit = bundle.backtest is not None
    fit_rows = np.sort(np.concatenate([parts.train, parts.calibrate])) if refit else parts.train
    part = "train + calibrate parts" if refit else "train part"
    if fit_rows.size > _MAX_FIT_ROWS:
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(fit_rows, _MAX_FIT_ROWS, replace=False))
    schema = judge.schema
    raw_fit = leads.frame.iloc[fit_rows].reset_index(drop=True)
    X_fit = schema.features_frame(raw_fit)
    scale = judge.scale
    target, calibration_fit = score_target(judge, X_fit)
    cards, candidates = fit_cards(schema, X_fit, raw_fit, target, max_rules)
    chosen = best_card(cards, max_rules)
    if chosen is None:
        raise InsufficientDataError(
            f"a scorecard must give some lead points with at most {max_rules} criteria; got "
            "none (the model's scores barely vary on its training leads). Raise --max-rules."
        )

    raw_test = leads.frame.iloc[parts.test].reset_index(drop=True)
    y_test = leads.y[parts.test]
    X_test = schema.features_frame(raw_test)
    p_test = judge.predict_proba(X_test)
    hand_rules = (config.baseline.rules and Path(config.baseline.rules)) or None
    hand_points = hand_threshold = None
    if hand_rules is not None and hand_rules.is_file():
        hand = load_rules(hand_rules)
        hand_points, hand_threshold = _points(hand, raw_test, X_test), hand.mql_threshold

    def ruleset(card: Any):
        threshold_points = math.ceil(scale.mql_at - card.offset - 1e-9)
        mapping = {
            "name": f"scorecard of the {bundle.model.model} model",
            "mql_threshold": threshold_points,
            "rules": card_rules(card, candidates, schema.features),
        }
        return parse_rules(mapping), threshold_points

    rules, threshold_points = ruleset(chosen)
    card_points = _points(rules, raw_test, X_test)
    fid = fidelity(
        y_test,
        p_test,
        judge.threshold.threshold,
        card_points,
        threshold_points,
        hand_points,
        hand_threshold,
        n_boot=n_boot,
        seed=seed,
    )
    tradeoff = []
    for k in sorted({k for k in _TRADEOFF if k < max_rules} | {max_rules}):
        card_k = best_card(cards, k)
        if card_k is None or any(row["n_criteria"] == card_k.n_criteria for row in tradeoff):
            continue
        rules_k, _ = ruleset(card_k)
        pts = _points(rules_k, raw_test, X_test)
        f_k = fidelity(y_test, p_test, judge.threshold.threshold, pts, 0.0, n_boot=1)
        at_volume = None
        if hand_points is not None and fid["at_volume"]:
            at_volume = mql_rate(y_test, top_leads(pts, fid["at_volume"]["n_mql"]))["rate"]
        tradeoff.append(
            {
                "max_rules": k,
                "n_criteria": len(rules_k.rules),
                "fit_r2": card_k.r2,
                "roc_auc": f_k["ranking"]["scorecard"],
                "kept": f_k["ranking"]["kept"],
                "rate_at_points_volume": at_volume,
            }
        )
    result = Scorecard(
        rules=rules,
        offset=chosen.offset,
        threshold_points=threshold_points,
        scale=scale.to_dict(),
        fit={
            "rows": int(fit_rows.size),
            "part": part,
            "target": "the model's score on its scale, by a straight line in log-odds",
            "calibration_line": calibration_fit,
            "r2": chosen.r2,
            "candidates": len(candidates),
            "max_rules": max_rules,
        },
        fidelity=fid,
        tradeoff=tradeoff,
        source={
            "bundle": None if bundle.path is None else str(bundle.path),
            "digest": bundle.digest,
            "judge": "backtest" if refit else "deployed",
            "model": bundle.model.model,
            "fingerprint": bundle.metadata.get("fingerprint"),
            "data": str(config.data.path),
            "hand_set_rules": None if hand_points is None else str(hand_rules),
        },
    )
    if out is not None:
        result.paths = _write(result, Path(out), table, schema.id_column, csv_formulas)
    return result


def _check_out(out: Path, bundle: Any, config: Any) -> None:
    """Refuse, before any work, a scorecard folder that would destroy what it came from."""
    from mqlml.io._atomic import check_output_folder

    data = str(config.data.path)
    sources = {
        "model": bundle.path,
        "leads file": None if data == "-" else data,
        "hand-set rules": config.baseline.rules,
    }
    check_output_folder(
        out,
        sources,
        name="--out",
        own=tuple(SCORECARD_FILES.values()),
        kind="a previous scorecard",
    )


def _write(
    card: Scorecard, folder: Path, table: str, id_column: str | None, csv_formulas: str
) -> dict[str, Path]:
    """Write the five files into a staging folder swapped in for ``folder``."""
    from mqlml.io._atomic import atomic_folder

    paths = {key: folder / name for key, name in SCORECARD_FILES.items()}
    rules_text = card.to_yaml()
    record = card.to_dict()
    record["source"]["rules_sha256"] = sha256_text(rules_text)
    texts = {
        "yaml": rules_text,
        "csv": card.to_csv(csv_formulas),
        "sql": card.to_sql(table, id_column),
        "json": json.dumps(record, indent=2, allow_nan=False) + "\n",
        "markdown": card.to_markdown(),
    }
    with atomic_folder(folder) as staging:
        for key, name in SCORECARD_FILES.items():
            (staging / name).write_text(texts[key], encoding="utf-8")
    return paths
