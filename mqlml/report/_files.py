"""The comparison report's files: report.json, report.md and a self-contained report.html.

:func:`write_report` writes what :func:`mqlml.report.compare` measured: ``report.json``
(every number; structure in ``docs/report-json.md``), ``report.md`` (a summary for a
ticket or chat) and ``report.html`` (plots embedded as PNG, no scripts, no external
files). :func:`build_report` does both.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mqlml.errors import DataError
from mqlml.io._atomic import atomic_folder, check_output_folder
from mqlml.io._text import md_text
from mqlml.metrics._paired import compare_at_rate, compare_at_volume
from mqlml.report._compare import REPORT_FORMAT, compare, judged_by, percent

__all__ = [
    "REPORT_FILES",
    "REPORT_FORMAT",
    "build_report",
    "compare",
    "compare_at_rate",
    "compare_at_volume",
    "write_report",
]


#: The files of a report folder (an existing folder holding anything else is refused).
REPORT_FILES = ("report.json", "report.md", "report.html")


def _num(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _score(value: float | None) -> str:
    """A 0-100 score as read: one decimal under 10, none above."""
    if value is None:
        return "n/a"
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def _prob(value: float | None) -> str:
    """A probability as a percentage with the precision it needs (0.0409 -> "4.1 %")."""
    if value is None:
        return "n/a"
    pct = 100 * value
    return f"{pct:.2f} %" if 0 < pct < 1 else f"{pct:.1f} %".replace(".0 %", " %")


def _rate(value: float | None, interval: list[float] | None = None) -> str:
    text = percent(value)
    if value is not None and interval:
        text += f" ({100 * interval[0]:.1f}-{100 * interval[1]:.1f})"
    return text


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}".removesuffix(".0")


def _when(value: str) -> str:
    """An ISO UTC time as read: ``2026-12-01T21:51:20+00:00 -> "2026-12-01 21:51 UTC"``."""
    return f"{value[:10]} {value[11:16]} UTC" if len(value) >= 16 else value


def _test_part(ctx: Mapping[str, Any]) -> str:
    parts = ctx["parts"]
    total = sum(v for v in parts.values() if v)
    share = f"{100 * parts['test'] / total:.0f} %" if total and parts.get("test") else "a share"
    if ctx["split"] == "order":
        return f"test part: the last {share} of the rows in file order"
    return f"test part: a random, stratified {share} of the leads (no creation time)"


def _day(value: str | None) -> str:
    return "n/a" if not value else str(value)[:10]


def _table_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    vol, at, rank = report["at_volume"], report["at_target"], report["ranking"]
    m, b = vol["model"], vol["points"]
    return [
        ("MQLs at the points' volume", f"{m['n_mql']:,}", f"{b['n_mql']:,}"),
        ("MQL-to-SQL rate", percent(m["rate"]), percent(b["rate"])),
        ("SQLs captured", f"{m['conversions']:,}", f"{b['conversions']:,}"),
        ("lift over all leads", _num(m["lift"], ".2f"), _num(b["lift"], ".2f")),
        (
            f"MQLs at {judged_by(report)}'s rate or better",
            f"{at['model']['n_mql']:,} ({percent(at['model']['rate'])})",
            f"{at['points']['n_mql']:,} ({percent(at['points']['rate'])})",
        ),
        ("ROC AUC", f"{rank['model']['roc_auc']:.3f}", f"{rank['points']['roc_auc']:.3f}"),
        ("PR AUC", f"{rank['model']['pr_auc']:.3f}", f"{rank['points']['pr_auc']:.3f}"),
    ]


# Each reader-facing table: a title, a caption, its header and its rows (text cells).
Table = tuple[str, str, list[str], list[list[str]]]


def _bound(value: float) -> str:
    """A score bound as read: ``0.0 -> "0"``, ``30.0 -> "30"``, ``35.5 -> "35.5"``."""
    return f"{value:.1f}".removesuffix(".0")


def _score_range(low: float, high: float) -> str:
    """A tier's scores: ``"30-40"``, the top one ``"50-100"``, the lowest ``"0-30"``."""
    return f"{_bound(low)}-{_bound(high)}"


def _prob_range(low: float, high: float) -> str:
    """A tier's probabilities: ``"2.9-5.6 %"``, ``"5.6 % or more"``, ``"under 1.5 %"``."""
    if high >= 1.0:
        return f"{_prob(low)} or more"
    if low <= 0.0:
        return f"under {_prob(high)}"
    return f"{_prob(low).removesuffix(' %')}-{_prob(high)}"


def _tier_name(tier: Mapping[str, Any]) -> str:
    return f"{tier['tier']}{' (MQL)' if tier['mql'] else ''}"


def _deployed_fit(report: Mapping[str, Any]) -> str:
    """How the bundle that scores was fit, when the report knows: ", refit on all ..." ."""
    fit = ((report["backtest"].get("fits") or {}).get("deployed") or {}).get("model_fit_on")
    if not fit or report["backtest"]["numbers_from"] != "backtest":
        return ""
    span = f", {_day(fit['from'])} to {_day(fit['to'])}" if fit.get("from") else ""
    return f", refit on all {fit['rows']:,} leads{span}"


def _scale_table(report: Mapping[str, Any]) -> Table:
    """What a score means where it is written: the scale of the bundle that scores."""
    scale, tiers = report["scale"], report["tiers"]
    bands = scale["tiers"]

    def band(score: float) -> str:
        inside = [t for t in bands if t["score_from"] <= score < t["score_to"]]
        return _tier_name(inside[0] if inside else bands[0])

    rows = [
        [_bound(r["score"]), _prob(r["probability"]), band(r["score"])]
        for r in reversed(scale["table"])
    ]
    n = scale["leads"]
    caption = (
        f"What a score means in the scores written by the bundle that scores"
        f"{_deployed_fit(report)}: its MQL line sits at score {_score(scale['mql_score'])} "
        f"(a {_prob(scale['mql_probability'])} conversion probability), and every "
        f"{scale['points_to_double_odds']:g} points double the odds of converting. Its tiers: "
        + ", ".join(
            f"{_tier_name(t)} {_score_range(t['score_from'], t['score_to'])} "
            f"({_prob_range(t['probability_from'], t['probability_to'])})"
            for t in bands
        )
        + "."
    )
    if n:
        caption += (
            f" The score is clipped to 0-100: of the {n:,} test leads it scores, "
            f"{scale['at_0']:,} ({percent(scale['at_0'] / n)}) sit at 0 and "
            f"{scale['at_100']:,} ({percent(scale['at_100'] / n)}) at 100, where the score "
            "no longer orders them; their probability still does."
        )
    if tiers["model"] == "backtest":
        caption += (
            f" The backtest model judged below puts its line at {_prob(tiers['mql_probability'])}."
        )
    if scale["segment_lines"]:
        caption += (
            " With segment lines each segment's own line sits at score "
            f"{_score(scale['mql_score'])}; this table is the overall line's."
        )
    header = ["score", "conversion probability", "tier"]
    return "The score scale of the bundle that scores", caption, header, rows


def _tier_table(report: Mapping[str, Any]) -> Table:
    tiers = report["tiers"]
    rows = [
        [
            _tier_name(t),
            _score_range(t["score_from"], t["score_to"]),
            _prob_range(t["probability_from"], t["probability_to"]),
            f"{t['leads']:,}",
            percent(t["share"]),
            f"{t['conversions']:,}",
            _rate(t["rate"], t["interval"]),
        ]
        for t in tiers["rows"]
    ]
    who = judged_by(report)
    line = f"score {_score(tiers['mql_score'])}, a {_prob(tiers['mql_probability'])} probability"
    if tiers["model"] == "backtest":
        caption = (
            f"The tiers of {who} (fit on older leads only) on the {report['data']['n']:,} "
            f"test leads it never saw: its MQL line sits at {line} (the bundle that scores: "
            f"{_prob(report['scale']['mql_probability'])}, above)."
        )
    else:
        n = report["data"]["n"]
        caption = f"The tiers of {who} on the {n:,} test leads: its MQL line sits at {line}."
    caption += " Rates with their 90 % exact interval."
    header = ["tier", "score", "probability", "leads", "share", "converted", "rate"]
    return f"Tiers on the test leads ({who.removeprefix('the ')})", caption, header, rows


def _monthly_table(report: Mapping[str, Any]) -> Table | None:
    monthly = report["monthly"]
    if not monthly["by"]:
        return None
    target = monthly["target_rate"]
    rows = [
        [
            r["period"],
            f"{r['leads']:,}",
            f"{r['n_mql']:,}",
            f"{r['conversions']:,}",
            _rate(r["rate"], r["interval"]),
            {True: "yes", False: "no", None: "n/a"}[r["at_target"]],
        ]
        for r in monthly["rows"]
    ]
    goal = f" against the {percent(target)} target" if target is not None else ""
    caption = (
        f"The MQL-to-SQL rate of {judged_by(report)}'s MQLs by {monthly['by']}{goal}, with "
        "its 90 % exact interval: did the rate hold over the test period? At target: yes "
        "when the target lies inside the interval or below it."
    )
    judged = [r for r in monthly["rows"] if r["at_target"] is not None]
    if judged:
        reached = sum(r["at_target"] for r in judged)
        below = len(judged) - reached
        caption += f" It was at target in {reached} of {len(judged)} periods with MQLs" + (
            f"; in {below} clearly below (the whole interval under the target)." if below else "."
        )
    header = ["period", "leads", "MQLs", "converted", "MQL-to-SQL rate", "at target"]
    return f"MQL-to-SQL rate by {monthly['by']}", caption, header, rows


def _choice_table(report: Mapping[str, Any]) -> Table | None:
    choice = report["model"].get("model_choice")
    if not choice:
        return None
    rows = [
        [
            c["name"] + (" (chosen)" if c["name"] == choice["chosen"] else ""),
            _num(c["roc_auc"], ".3f"),
            " / ".join(f"{a:.3f}" for a in c.get("roc_auc_folds", [])),
            _num(c["log_loss"], ".4f"),
        ]
        for c in choice["candidates"]
    ]
    caption = (
        "Which model the bundle uses (model.kind: auto): each candidate fit on forward folds "
        "of the history before the test part and judged on the leads after each fold; "
        f"{choice['rule']}."
    )
    header = ["candidate", "mean ROC AUC", "ROC AUC by fold", "log loss (last fold)"]
    return "Model choice", caption, header, rows


def _segment_tables(report: Mapping[str, Any]) -> list[Table]:
    out = []
    for seg in report["segments"]:
        rows = [
            [
                r["value"],
                f"{r['leads']:,}",
                percent(r["base_rate"]),
                f"{r['n_mql']:,}",
                _rate(r["rate"], r["interval"]),
            ]
            for r in seg["rows"]
        ]
        caption = (
            f"Test leads by {seg['label']}: all leads' conversion rate, the MQLs at "
            f"{judged_by(report)}'s threshold and their MQL-to-SQL rate (90 % exact interval)."
        )
        header = [seg["label"], "leads", "converted", "MQLs", "MQL-to-SQL rate"]
        out.append((f"By {seg['label']}", caption, header, rows))
    return out


def _segment_lines_table(report: Mapping[str, Any]) -> Table | None:
    lines = report.get("segment_lines")
    if not lines:
        return None
    rows = []
    for r in lines["rows"]:
        goal = (
            f"target {percent(r['target_rate'])}"
            if r.get("target_rate") is not None
            else f"capacity {r.get('capacity')}"
        )
        line = f"{r['threshold']:.4g}" + ("" if r["own_threshold"] else " (overall)")
        points = r.get("points")
        rows.append(
            [
                r["segment"],
                goal,
                line,
                f"{r['leads']:,}",
                f"{r['n_mql']:,}",
                percent(r["expected_rate"]),
                _rate(r["realized_rate"], r["realized_interval"]),
                "n/a" if not points else _rate(points["rate"], points["interval"]),
            ]
        )
    caption = (
        f"Each {lines['column']}'s own MQL line (threshold.segments), chosen on the calibration "
        "part and judged on the test leads: the rate it promised (expected), the rate its "
        "MQLs reached (90 % exact interval), and the points' rate when they pass as many "
        "MQLs in that segment. '(overall)': too few calibration leads for a line of its own."
    )
    header = [lines["column"], "goal", "threshold", "leads", "MQLs", "expected", "realized"]
    return (f"MQL line by {lines['column']}", caption, [*header, "points, same volume"], rows)


def _rules_table(report: Mapping[str, Any]) -> Table:
    base = report["baseline"]
    rows = []
    for r in report["rules"]:
        given = f"{r['points']:+g}" if r["points"] is not None else f"{r['per_unit']:+g} per unit"
        rows.append([r["name"], r["condition"], given, f"{r['leads']:,}", percent(r["rate"])])
    caption = (
        f"The rule-based points compared ({base['name'] or 'rules'}, {base['rules_file']}): "
        f"a lead is an MQL at {_points(base['mql_threshold'])} points or more. Leads and "
        "conversion rate: the test leads each rule gives points to."
    )
    header = ["rule", "when", "points", "leads", "converted"]
    return "The points rules", caption, header, rows


def _context_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    ctx, model, data = report["context"], report["model"], report["data"]
    parts = ctx["parts"]
    split = {
        "time": "by creation time: train on the oldest leads, judge on the newest",
        "order": "in file order: train on the first rows, judge on the last",
        "random": "random and stratified (no creation time)",
    }.get(ctx["split"] or "", ctx["split"] or "n/a")
    sizes = ", ".join(f"{k} {v:,}" for k, v in parts.items() if v is not None)
    test_period = (
        f"{_day(ctx['test_from'])} to {_day(ctx['test_to'])}"
        if ctx["test_from"]
        else "no creation time (the test part is a held-out share of the leads)"
    )
    versions = ", ".join(f"{k} {v}" for k, v in ctx["versions"].items())
    trained = ", ".join(f"{k} {v}" for k, v in ctx["trained_versions"].items())
    return [
        ("data", str(ctx["data_path"] or "n/a")),
        (
            "history",
            f"{_day(ctx['history_from'])} to {_day(ctx['history_to'])}"
            if ctx["history_from"]
            else "no creation time",
        ),
        ("split", f"{split} ({sizes} leads)"),
        (
            "test period",
            f"{test_period}; {data['n']:,} leads, {data['n_converted']:,} "
            f"converted ({percent(data['base_rate'])}), never used in training",
        ),
        (
            "model",
            f"{model['model']}, {model['calibration_method'] or 'no'} calibration, "
            f"bundle {ctx['bundle'] or 'in memory'}; the numbers on the test leads are "
            f"{judged_by(report)}'s, the score scale the bundle that scores'",
        ),
        *_guarantee_row(model),
        *_line_row(model),
        *_delay_row(model),
        *(
            [("calibration of the bundle that scores", model["deployed_calibration"])]
            if model.get("deployed_calibration")
            else []
        ),
        ("generated", f"{_when(ctx['generated_at'])} with {versions}"),
        ("trained with", trained or "n/a"),
    ]


def _line_row(model: Mapping[str, Any]) -> list[tuple[str, str]]:
    """How far the scoring line's own rate may sit from its promise (none when unknown)."""
    interval = model.get("deployed_line_interval")
    if not interval:
        return []
    return [
        (
            "the line of the bundle that scores",
            f"its {model['deployed_line_mqls']:,} MQLs among the leads it was chosen on "
            f"converted at 90 % between {percent(interval[0])} and {percent(interval[1])} "
            "(exact interval): its true MQL-to-SQL rate may sit that far from the target "
            "before any change in the leads; a month's rate varies more",
        )
    ]


def _delay_row(model: Mapping[str, Any]) -> list[tuple[str, str]]:
    """How long conversions take (none without conversion times at training)."""
    delay = model.get("delay")
    if not delay:
        return []
    return [
        (
            "conversion delay",
            f"half of the conversions arrive within {delay['median_days']:g} days of "
            f"creation, 90 % within {delay['days_to_90']:g} (Kaplan-Meier over the "
            f"{delay['conversions']:,} training conversions inside the "
            f"{delay['horizon_days']:g}-day horizon); monitor judges MQLs younger than "
            "that by their early rate",
        )
    ]


def _guarantee_row(model: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The guarantee asked for and whether each line met it (none without a guarantee)."""
    if model.get("confidence") is None:
        return []
    return [
        (
            "guarantee",
            f"MQL-to-SQL rate {percent(model['target_rate'])} with "
            f"{100 * model['confidence']:g} % confidence: {model['guarantee']} by the line "
            f"judged here, {model['deployed_guarantee']} by the bundle that scores",
        )
    ]


def _md_table(table: Table) -> list[str]:
    title, caption, header, rows = table
    head = "| " + " | ".join(map(md_text, header)) + " |"
    lines = [f"## {md_text(title)}", "", md_text(caption), "", head]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(map(md_text, row)) + " |" for row in rows]
    return [*lines, ""]


def _scorecard_tables(report: Mapping[str, Any]) -> list[Table]:
    from mqlml.rules._fidelity import report_tables

    return report_tables(report.get("scorecard"))


def _tables(report: Mapping[str, Any]) -> list[Table]:
    monthly = _monthly_table(report)
    lines = _segment_lines_table(report)
    choice = _choice_table(report)
    return [
        _scale_table(report),
        _tier_table(report),
        *([choice] if choice else []),
        *([lines] if lines else []),
        *([monthly] if monthly else []),
        *_segment_tables(report),
        _rules_table(report),
        *_scorecard_tables(report),
    ]


def _model_column(report: Mapping[str, Any]) -> str:
    """The model's column head in the side-by-side table: ``backtest model`` or ``model``."""
    return judged_by(report).removeprefix("the ")


def _which_model(report: Mapping[str, Any]) -> str:
    """Which model the numbers describe: the provenance sentences, then the scale's."""
    return (
        f"{report['backtest']['text']} The score scale (the first table) is the bundle "
        "that scores': what a score means in the scores it writes."
    )


def _markdown(report: Mapping[str, Any], html_path: Path) -> str:
    """report.md: every text from the data escaped (:func:`md_text`)."""
    md = md_text
    lines = [f"# {md(report['baseline']['name'] or 'points')} vs the model", ""]
    lines += [f"**{md(report['headline'])}**", ""]
    lines += [f"- {md(s)}" for s in report["summary"]]
    lines += ["", f"*Which model.* {md(_which_model(report))}"]
    lines += ["", f"| on the test leads | {_model_column(report)} | points |", "|---|---:|---:|"]
    lines += [f"| {md(a)} | {md(m)} | {md(b)} |" for a, m, b in _table_rows(report)]
    lines.append("")
    for table in _tables(report):
        lines += _md_table(table)
    lines += ["## Data and versions", ""]
    lines += [f"- {md(k)}: {md(v)}" for k, v in _context_rows(report)]
    lines += ["", f"Full report with plots: {md(html_path)}", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45;font-size:16px;
-webkit-text-size-adjust:100%;text-size-adjust:100%}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin:1.6em 0 .3em}
.sub{color:#666;margin-top:0}
.headline{font-size:1.25em;font-weight:600;background:#eef4fb;border-left:5px solid #1f77b4;
padding:.7em 1em}.which{font-size:.92em;color:#444}
.scroll{overflow-x:auto;max-width:100%;margin:.6em 0 1em}
table{border-collapse:collapse}th,td{border-bottom:1px solid #ddd;
padding:.3em .7em;text-align:right;vertical-align:top;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f5f5f5;white-space:normal}td.text,th.text{text-align:left}
td.text{white-space:normal;overflow-wrap:break-word}
td.text:last-child{overflow-wrap:anywhere}tr.mql td{font-weight:600}
.caption{color:#555;font-size:.92em;margin:.2em 0}
figure{margin:1.5em 0}figure img{display:block;width:100%;max-width:560px;height:auto}
figcaption{color:#555;font-size:.92em;max-width:560px}.warn{color:#8a5300}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,420px),1fr));
gap:0 2em}
@media (max-width:600px){body{margin:1em auto;padding:0 .75em}h1{font-size:1.3em}
.headline{font-size:1.1em;padding:.5em .7em}th,td{padding:.3em .5em}}
"""


def _html_table(table: Table, *, text_columns: int = 1, figure: str = "") -> str:
    esc = html.escape
    title, caption, header, rows = table
    head = "".join(
        f"<th class='text'>{esc(h)}</th>" if i < text_columns else f"<th>{esc(h)}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        ("<tr class='mql'>" if any(c.endswith("(MQL)") for c in row) else "<tr>")
        + "".join(
            f"<td class='text'>{esc(c)}</td>" if i < text_columns else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<section><h2>{esc(title)}</h2><p class='caption'>{esc(caption)}</p>"
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"</table></div>{figure}</section>"
    )


def _figure(title: str, caption: str, png: str) -> str:
    esc = html.escape
    return (
        f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{png}">'
        f"<figcaption><b>{esc(title)}.</b> {esc(caption)}</figcaption></figure>"
    )


def _html(report: Mapping[str, Any], images: list[tuple[str, str, str, str]]) -> str:
    esc = html.escape
    ctx, base = report["context"], report["baseline"]
    plots = {name: _figure(title, caption, png) for name, title, caption, png in images}
    rows = "".join(
        f"<tr><td class='text'>{esc(a)}</td><td>{esc(m)}</td><td>{esc(b)}</td></tr>"
        for a, m, b in _table_rows(report)
    )
    summary = "".join(f"<li>{esc(s)}</li>" for s in report["summary"])
    period = (
        f"test period {_day(ctx['test_from'])} to {_day(ctx['test_to'])}"
        if ctx["test_from"]
        else _test_part(ctx)
    )
    sub = (
        f"Points: {esc(base['name'] or 'rules')} (MQL at {_points(base['mql_threshold'])} "
        f"points, {base['n_rules']} rules); {esc(period)}, "
        f"{report['data']['n']:,} test leads; made {esc(_when(ctx['generated_at']))}"
    )
    sections = [
        "<section><h2>Side by side on the test leads</h2>"
        "<div class='scroll'><table><thead><tr><th class='text'>on the test leads</th>"
        f"<th>{esc(_model_column(report))}</th><th>points</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>{plots.pop('gains', '')}</section>",
        _html_table(_scale_table(report)),
        _html_table(_tier_table(report), figure=plots.pop("rate", "")),
    ]
    monthly = _monthly_table(report)
    if monthly:
        sections.append(_html_table(monthly, figure=plots.pop("monthly", "")))
    sections += [_html_table(t) for t in _segment_tables(report)]
    sections.append(_html_table(_rules_table(report), text_columns=2))
    sections += [_html_table(t) for t in _scorecard_tables(report)]
    sections.append(
        f"<section><h2>How {esc(judged_by(report))} sees the test leads</h2>"
        f"<div class='plots'>{''.join(plots.values())}</div></section>"
    )
    context = "".join(
        f"<tr><td class='text'>{esc(k)}</td><td class='text'>{esc(v)}</td></tr>"
        for k, v in _context_rows(report)
    )
    sections.append(
        "<section><h2>Data, split and versions</h2>"
        f"<div class='scroll'><table><tbody>{context}</tbody></table></div></section>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>mqlml report: model vs points</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>The model against the points, on the same leads</h1><p class='sub'>{sub}</p>"
        f"<p class='headline'>{esc(report['headline'])}</p><ul>{summary}</ul>"
        f"<p class='which'><b>Which model.</b> {esc(_which_model(report))}</p>"
        + "".join(sections)
        + "<p class='sub'>Every number is in report.json beside this file.</p>"
        "</body></html>\n"
    )


def write_report(
    report: Mapping[str, Any],
    out: str | Path,
    sources: Mapping[str, str | Path | None] | None = None,
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into folder ``out``.

    The three files are written into a staging folder beside ``out`` that then replaces
    it whole (:func:`mqlml.io.atomic_folder`): a failure or a full disk leaves the
    earlier report as it was, never half old and half new.

    Parameters
    ----------
    report : dict
        The result of :func:`compare`.
    out : str or Path
        The folder: new, or an earlier report (:data:`REPORT_FILES` and nothing else).
    sources : dict, optional
        What must survive by role (``{"model": folder, "rules": file}``); see
        :func:`mqlml.io.check_output_folder`.

    Returns
    -------
    dict
        ``{"json": path, "markdown": path, "html": path}``.

    Raises
    ------
    DataError
        When ``report`` is not a report of this format, or ``out`` is a file, holds
        other files, holds a source, or lies inside a source or bundle folder.
    """
    from mqlml.report._plots import render_plots

    if not isinstance(report, Mapping) or report.get("format") != REPORT_FORMAT:
        got = report.get("format") if isinstance(report, Mapping) else type(report).__name__
        raise DataError(
            f"report must be a dict made by mqlml.report.compare (format {REPORT_FORMAT}); "
            f"got {got!r}. Run compare() first."
        )
    folder = Path(out)
    _check_out(folder, sources)
    names = dict(zip(("json", "markdown", "html"), REPORT_FILES, strict=True))
    paths = {key: folder / name for key, name in names.items()}
    texts = {
        "json": json.dumps(report, indent=2, allow_nan=False) + "\n",
        "markdown": _markdown(report, paths["html"]),
        "html": _html(report, render_plots(report)),
    }
    with atomic_folder(folder) as staging:
        for key, name in names.items():
            (staging / name).write_text(texts[key], encoding="utf-8")
    return paths


def _check_out(out: Path, sources: Mapping[str, str | Path | None] | None) -> None:
    check_output_folder(
        out, dict(sources or {}), name="--out", own=REPORT_FILES, kind="a previous report"
    )


def build_report(
    model: Any,
    *,
    frame: pd.DataFrame | None = None,
    baseline: str | Path | None = None,
    out: str | Path,
    n_boot: int = 1000,
    seed: int = 0,
    source: str | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Compare a bundle with the points baseline and write the report files.

    The report folder is checked before any work (see :func:`write_report`): it may not
    hold or lie inside the bundle, nor hold the rules file or the leads file.

    Parameters
    ----------
    model : Bundle or path
        The bundle or its folder.
    frame : pandas.DataFrame, optional
        The leads it was trained on (read from its config when omitted).
    baseline : str or Path, optional
        A rules file in place of the config's ``baseline.rules``.
    out : str or Path
        The report folder.
    n_boot, seed, source : see :func:`compare`.

    Returns
    -------
    (report, paths)
        The report dict and the paths from :func:`write_report`.
    """
    from mqlml.model._bundle import Bundle, load_bundle

    if not isinstance(model, Bundle):
        source = str(model)
        model = load_bundle(model)
    config = model.config
    sources = {
        "model": model.path,
        "rules file": baseline or (config.get("baseline") or {}).get("rules"),
        "leads file": None if frame is not None else (config.get("data") or {}).get("path"),
    }
    _check_out(Path(out), sources)
    report = compare(model, frame, baseline=baseline, n_boot=n_boot, seed=seed, source=source)
    return report, write_report(report, out, sources)
