"""The comparison report's files: report.json, report.md and a self-contained report.html.

:func:`write_report` writes what :func:`mqlml.compare.compare` measured: ``report.json``
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

from mqlml.atomic import atomic_output
from mqlml.compare import REPORT_FORMAT, compare, compare_at_rate, compare_at_volume, percent
from mqlml.errors import DataError

__all__ = [
    "REPORT_FORMAT",
    "build_report",
    "compare",
    "compare_at_rate",
    "compare_at_volume",
    "write_report",
]


def _num(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _table_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    vol, at, rank = report["at_volume"], report["at_target"], report["ranking"]
    m, b = vol["model"], vol["points"]
    return [
        ("MQLs at the points' volume", f"{m['n_mql']:,}", f"{b['n_mql']:,}"),
        ("MQL-to-SQL rate", percent(m["rate"]), percent(b["rate"])),
        ("SQLs captured", f"{m['conversions']:,}", f"{b['conversions']:,}"),
        ("lift over all leads", _num(m["lift"], ".2f"), _num(b["lift"], ".2f")),
        (
            "MQLs at the model's rate or better",
            f"{at['model']['n_mql']:,} ({percent(at['model']['rate'])})",
            f"{at['points']['n_mql']:,} ({percent(at['points']['rate'])})",
        ),
        ("ROC AUC", f"{rank['model']['roc_auc']:.3f}", f"{rank['points']['roc_auc']:.3f}"),
        ("PR AUC", f"{rank['model']['pr_auc']:.3f}", f"{rank['points']['pr_auc']:.3f}"),
    ]


def _markdown(report: Mapping[str, Any], html_path: Path) -> str:
    lines = [f"# {report['baseline']['name'] or 'points'} vs the model", ""]
    lines += [f"**{report['headline']}**", ""]
    lines += [f"- {s}" for s in report["summary"]]
    lines += ["", "| on the test leads | model | points |", "|---|---:|---:|"]
    lines += [f"| {a} | {m} | {b} |" for a, m, b in _table_rows(report)]
    n = report["data"]
    lines += [
        "",
        f"Test part: {n['n']:,} leads, {n['n_converted']:,} converted "
        f"({percent(n['base_rate'])}), never used in training.",
        f"Full report with plots: {html_path}",
        "",
    ]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:980px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}.sub{color:#666;margin-top:0}
.headline{font-size:1.25em;font-weight:600;background:#eef4fb;border-left:5px solid #1f77b4;
padding:.7em 1em}
table{border-collapse:collapse;margin:1em 0}th,td{border-bottom:1px solid #ddd;
padding:.35em .8em;text-align:right}th:first-child,td:first-child{text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.92em}.warn{color:#8a5300}
"""


def _html(report: Mapping[str, Any], images: list[tuple[str, str, str]]) -> str:
    esc = html.escape
    model, data, base = report["model"], report["data"], report["baseline"]
    rows = "".join(
        f"<tr><td>{esc(a)}</td><td>{esc(m)}</td><td>{esc(b)}</td></tr>"
        for a, m, b in _table_rows(report)
    )
    summary = "".join(f"<li>{esc(s)}</li>" for s in report["summary"])
    figures = "".join(
        f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{png}">'
        f"<figcaption><b>{esc(title)}.</b> {esc(caption)}</figcaption></figure>"
        for title, caption, png in images
    )
    sub = (
        f"{esc(model['model'] or '')} model, {esc(model['calibration_method'] or '')} "
        f"calibration, MQL threshold {model['threshold']:.4f}; points: "
        f"{esc(base['name'] or 'rules')} (MQL at {base['mql_threshold']:g}, "
        f"{base['n_rules']} rules); test part: {data['n']:,} leads, "
        f"{data['n_converted']:,} converted ({esc(percent(data['base_rate']))})"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>mqlml report: model vs points</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>The model against the points, on the same leads</h1><p class='sub'>{sub}</p>"
        f"<p class='headline'>{esc(report['headline'])}</p><ul>{summary}</ul>"
        "<table><thead><tr><th>on the test leads</th><th>model</th><th>points</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{figures}"
        "<p class='sub'>Every number is in report.json beside this file.</p>"
        "</body></html>\n"
    )


def write_report(report: Mapping[str, Any], out: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into folder ``out``.

    Parameters
    ----------
    report : dict
        The result of :func:`compare`.
    out : str or Path
        The folder (created if needed); existing reports there are replaced, each file
        whole or not at all.

    Returns
    -------
    dict
        ``{"json": path, "markdown": path, "html": path}``.

    Raises
    ------
    DataError
        When ``report`` is not a report of this format.
    """
    from mqlml.plots import render_plots

    if not isinstance(report, Mapping) or report.get("format") != REPORT_FORMAT:
        got = report.get("format") if isinstance(report, Mapping) else type(report).__name__
        raise DataError(
            f"report must be a dict made by mqlml.compare.compare (format {REPORT_FORMAT}); "
            f"got {got!r}. Run compare() first."
        )
    folder = Path(out)
    paths = {
        "json": folder / "report.json",
        "markdown": folder / "report.md",
        "html": folder / "report.html",
    }
    texts = {
        "json": json.dumps(report, indent=2, allow_nan=False) + "\n",
        "markdown": _markdown(report, paths["html"]),
        "html": _html(report, render_plots(report)),
    }
    for key, path in paths.items():
        with atomic_output(path) as tmp:
            tmp.write_text(texts[key], encoding="utf-8")
    return paths


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
    report = compare(model, frame, baseline=baseline, n_boot=n_boot, seed=seed, source=source)
    return report, write_report(report, out)
