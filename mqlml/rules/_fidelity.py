"""What a scorecard keeps of the model, in numbers (:func:`fidelity`) and in tables.

:func:`fidelity` compares a scorecard's points with the model's probabilities and the
hand-set points on the same test leads; :func:`fidelity_markdown` and
:func:`report_tables` write it for ``scorecard.md`` and the report;
:func:`report_section` finds a scorecard's ``scorecard.json`` beside a rules file the
report compares (:mod:`mqlml.report`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from mqlml.metrics._inputs import numbers, outcomes
from mqlml.metrics._paired import compare_at_volume, mql_rate, reaches, top_leads

__all__ = [
    "SCORECARD_FORMAT",
    "fidelity",
    "fidelity_markdown",
    "report_section",
    "report_tables",
    "sha256_text",
]

SCORECARD_FORMAT = "mqlml.scorecard/1"
_CONFIDENCE = 0.90


def sha256_text(text: str) -> str:
    """The sha256 of a text (UTF-8), as recorded for a scorecard's rules file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------
# Fidelity on the test part
# ---------------------------------------------------------------------------------------


def fidelity(
    y: Any,
    model_p: Any,
    model_threshold: float,
    card_points: Any,
    card_threshold: float,
    hand_points: Any = None,
    hand_threshold: float | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """What a scorecard keeps of the model, and how it does against the hand-set points.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes of the test leads.
    model_p, model_threshold
        The model's probabilities and its MQL threshold.
    card_points, card_threshold
        The scorecard's points and its MQL line in points.
    hand_points, hand_threshold : optional
        The hand-set points and their MQL threshold.
    n_boot, seed
        Bootstrap of the paired intervals (:func:`mqlml.report._compare.compare_at_volume`).

    Returns
    -------
    dict
        ``n``, ``n_converted``; ``ranking`` (ROC AUC of ``model``, ``scorecard``,
        ``points``; ``kept``: (AUC_card - 0.5) / (AUC_model - 0.5)); ``at_line`` (each
        side at its own MQL line: ``n_mql``, ``share``, ``conversions``, ``rate``,
        ``interval``); ``at_volume`` (at the hand-set points' MQL volume: each side's
        top leads, and ``vs_points``, the paired comparison scorecard - points);
        ``vs_model`` (at the scorecard's own volume: model - scorecard); ``agreement``
        (share of leads the model and the card both call MQL or both not).

    Examples
    --------
    >>> f = fidelity([1, 0, 1, 0], [0.9, 0.2, 0.7, 0.1], 0.5, [40, 0, 30, 10], 25,
    ...              [10, 30, 30, 0], 20, n_boot=50)
    >>> f["ranking"]["scorecard"], f["at_line"]["scorecard"]["rate"], f["agreement"]
    (1.0, 1.0, 1.0)
    """
    from sklearn.metrics import roc_auc_score

    labels = outcomes(y)
    p = numbers(model_p, "model_p", n=labels.size)
    card = numbers(card_points, "card_points", n=labels.size)
    model_mql = p >= model_threshold
    card_mql = reaches(card, card_threshold)
    auc_model = float(roc_auc_score(labels, p))
    auc_card = float(roc_auc_score(labels, card))
    out: dict[str, Any] = {
        "n": int(labels.size),
        "n_converted": int(labels.sum()),
        "base_rate": float(labels.mean()),
        "confidence": _CONFIDENCE,
        "ranking": {
            "model": auc_model,
            "scorecard": auc_card,
            "points": None,
            "kept": (auc_card - 0.5) / (auc_model - 0.5) if auc_model != 0.5 else None,
        },
        "at_line": {
            "model": {"threshold": float(model_threshold), **mql_rate(labels, model_mql)},
            "scorecard": {"threshold": float(card_threshold), **mql_rate(labels, card_mql)},
            "points": None,
        },
        "at_volume": None,
        "vs_model": None,
        "agreement": float(np.mean(model_mql == card_mql)),
    }
    if card_mql.any():
        out["vs_model"] = compare_at_volume(
            labels, p, card, card_threshold, n_boot=n_boot, seed=seed
        )
    if hand_points is not None and hand_threshold is not None:
        hand = numbers(hand_points, "hand_points", n=labels.size)
        hand_mql = reaches(hand, hand_threshold)
        out["ranking"]["points"] = float(roc_auc_score(labels, hand))
        out["at_line"]["points"] = {
            "threshold": float(hand_threshold),
            **mql_rate(labels, hand_mql),
        }
        n_mql = int(hand_mql.sum())
        if n_mql:
            out["at_volume"] = {
                "n_mql": n_mql,
                "model": mql_rate(labels, top_leads(p, n_mql)),
                "scorecard": mql_rate(labels, top_leads(card, n_mql)),
                "points": mql_rate(labels, hand_mql),
                "vs_points": compare_at_volume(
                    labels, card, hand, hand_threshold, n_boot=n_boot, seed=seed
                ),
            }
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _with_interval(side: dict[str, Any] | None) -> str:
    if not side:
        return "n/a"
    text = _pct(side["rate"])
    if side.get("interval"):
        lo, hi = side["interval"]
        text += f" ({100 * lo:.1f}-{100 * hi:.1f})"
    return text


def fidelity_markdown(fid: dict[str, Any], tradeoff: list[dict[str, Any]]) -> list[str]:
    """The fidelity and the trade-off as Markdown lines (``scorecard.md``, ``report.md``)."""
    rank, line, vol = fid["ranking"], fid["at_line"], fid["at_volume"]
    kept = rank["kept"]
    lines = [
        "## What the scorecard keeps of the model",
        "",
        f"On the {fid['n']:,} test leads ({fid['n_converted']:,} converted), never used to fit "
        f"the model or the card: ROC AUC {rank['scorecard']:.3f} against the model's "
        f"{rank['model']:.3f}"
        + (f" and the hand-set points' {rank['points']:.3f}" if rank["points"] is not None else "")
        + (f"; it keeps {100 * kept:.1f} % of the model's AUC above 0.5" if kept else "")
        + f". The model and the card agree on who is an MQL for {100 * fid['agreement']:.1f} % "
        "of the leads. Rates with their 90 % exact interval.",
        "",
        "| on the test leads | model | scorecard | hand-set points |",
        "|---|---:|---:|---:|",
        f"| ROC AUC | {rank['model']:.3f} | {rank['scorecard']:.3f} | "
        f"{'n/a' if rank['points'] is None else format(rank['points'], '.3f')} |",
    ]
    sides = ("model", "scorecard", "points")
    mqls = [line[s]["n_mql"] if line[s] else None for s in sides]
    lines.append(
        "| MQLs at its own MQL line | "
        + " | ".join("n/a" if m is None else f"{m:,}" for m in mqls)
        + " |"
    )
    lines.append(
        "| MQL-to-SQL rate at its own MQL line | "
        + " | ".join(_with_interval(line[s]) for s in sides)
        + " |"
    )
    if vol:
        lines.append(
            f"| MQL-to-SQL rate at the points' volume ({vol['n_mql']:,} MQLs) | "
            + " | ".join(_with_interval(vol[s]) for s in sides)
            + " |"
        )
        diff = vol["vs_points"]
        spread = (
            f" (90 % interval {100 * diff['interval'][0]:+.1f} to {100 * diff['interval'][1]:+.1f})"
            if diff["interval"]
            else ""
        )
        lines += [
            "",
            f"At the hand-set points' volume the scorecard's MQLs convert "
            f"{100 * diff['difference']:+.1f} percentage points against the points'{spread}.",
        ]
    if tradeoff:
        lines += [
            "",
            "## Fewer criteria (the trade-off, on the test leads)",
            "",
            "| criteria | ROC AUC | AUC kept | MQL-to-SQL rate at the points' volume |",
            "|---:|---:|---:|---:|",
        ]
        for row in tradeoff:
            kept_k = "n/a" if row["kept"] is None else f"{100 * row['kept']:.1f} %"
            lines.append(
                f"| {row['n_criteria']} | {row['roc_auc']:.3f} | {kept_k} | "
                f"{_pct(row['rate_at_points_volume'])} |"
            )
    return lines


def report_section(rules_file: str | Path | None, bundle: Any) -> dict[str, Any] | None:
    """The scorecard's fidelity for the report, when the rules compared are a scorecard.

    A rules file is a scorecard when ``scorecard.json`` lies beside it, records the
    file's sha256 and was made from leads with the bundle's data fingerprint; otherwise
    (hand-set rules, an edited card, another bundle's card) this returns None.
    """
    if rules_file is None:
        return None
    path = Path(rules_file)
    record_path = path.with_name("scorecard.json")
    if not path.is_file() or not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    source = record.get("source") or {}
    if (
        record.get("format") != SCORECARD_FORMAT
        or source.get("rules_sha256") != sha256_text(path.read_text(encoding="utf-8"))
        or source.get("fingerprint") != bundle.metadata.get("fingerprint")
    ):
        return None
    keys = ("n_criteria", "mql_threshold_points", "offset", "scale", "fit", "fidelity", "tradeoff")
    return {key: record.get(key) for key in keys}


def report_tables(section: dict[str, Any] | None) -> list[tuple[str, str, list[str], list]]:
    """The report's scorecard tables (title, caption, header, rows); none without a card."""
    if not section:
        return []
    fid, tradeoff = section["fidelity"], section["tradeoff"] or []
    rank, line, vol = fid["ranking"], fid["at_line"], fid["at_volume"]
    sides = ("model", "scorecard", "points")

    def auc(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    rows = [
        ["ROC AUC", *(auc(rank[s]) for s in sides)],
        [
            "MQLs at its own MQL line",
            *("n/a" if not line[s] else f"{line[s]['n_mql']:,}" for s in sides),
        ],
        ["MQL-to-SQL rate at its own MQL line", *(_with_interval(line[s]) for s in sides)],
    ]
    if vol:
        rows.append(
            [
                f"MQL-to-SQL rate at the points' volume ({vol['n_mql']:,} MQLs)",
                *(_with_interval(vol[s]) for s in sides),
            ]
        )
    kept = rank["kept"]
    caption = (
        f"The rules compared are a scorecard: {section['n_criteria']} criteria fitted to the "
        f"model's log-odds on the leads it learned from ({section['fit']['part']}), an MQL at "
        f"{section['mql_threshold_points']} points. On the test leads it keeps "
        + ("n/a" if kept is None else f"{100 * kept:.1f} %")
        + " of the model's ROC AUC above 0.5; beside it, the model and the hand-set points of "
        "the config (rates with their 90 % exact interval)."
    )
    header = ["on the test leads", "model", "scorecard", "hand-set points"]
    tables = [("The scorecard, the model and the hand-set points", caption, header, rows)]
    if tradeoff:
        trade_rows = [
            [
                f"{row['n_criteria']}",
                f"{row['roc_auc']:.3f}",
                "n/a" if row["kept"] is None else f"{100 * row['kept']:.1f} %",
                _pct(row["rate_at_points_volume"]),
            ]
            for row in tradeoff
        ]
        tables.append(
            (
                "Fewer criteria",
                "The same fit with at most so many criteria (mqlml scorecard --max-rules), "
                "judged on the same test leads.",
                ["criteria", "ROC AUC", "AUC kept", "MQL-to-SQL rate at the points' volume"],
                trade_rows,
            )
        )
    return tables
