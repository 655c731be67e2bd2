"""``mqlml monitor`` and ``mqlml recalibrate``: a bundle in service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mqlml.cli._app import app, bundle_of, console, fail
from mqlml.cli._options import (
    JsonOpt,
    ModelOpt,
    check_rate,
)
from mqlml.errors import MqlmlError
from mqlml.exitcodes import ATTENTION, OK


@app.command()
def monitor(
    model: Annotated[str, ModelOpt],
    input: Annotated[Path, typer.Option("--input", "-i", help="New leads (.csv or .parquet).")],
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Outcomes of past MQLs: lead id + converted (0/1, yes/no) or sql_status."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="When the outcomes were read (default: the newest lead's creation time): "
            "MQLs younger than the outcome window are judged by their early rate.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check new leads: drift (PSI), MQL share, the expected rate of the MQLs, realized
    and early rates; exit 0 fine, 1 watch, 3 recalibrate, 4 retrain."""
    from mqlml.io._readers import read_table
    from mqlml.monitoring._monitor import monitor as run_monitor

    try:
        bundle = bundle_of(model)
        tokens, ids = bundle.schema.missing_tokens, [bundle.schema.id_column or ""]
        leads = read_table(input, missing_tokens=tokens, text_columns=ids)
        known = (
            None
            if outcomes is None
            else read_table(outcomes, missing_tokens=tokens, text_columns=ids)
        )
        report = run_monitor(bundle, leads, outcomes=known, as_of=as_of)
    except (MqlmlError, ValueError, OSError) as exc:
        fail(exc)
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        print_monitor(report)
    raise typer.Exit(report.exit_code)


def print_monitor(report) -> None:
    styles = {"fine": "green", "warning": "yellow", "alert": "bold red"}
    table = Table("feature", "group", "PSI", "level", title=f"drift of {report.n:,} new leads")
    for row in report.features:
        style = styles[row["level"]]
        table.add_row(
            row["feature"], row["group"], f"{row['psi']:.3f}", f"[{style}]{row['level']}[/]"
        )
    if report.score is not None:
        style = styles[report.score["level"]]
        level = f"[{style}]{report.score['level']}[/]"
        table.add_row("[bold]score (probability)[/]", "", f"{report.score['psi']:.3f}", level)
    if report.features or report.score is not None:
        console.print(table)
    m, o = report.mql, report.outcomes
    console.print(
        f"MQLs: {m['n_mql']:,} ({m['share']:.1%}) against the expected {m['expected_share']:.1%}"
    )
    e = report.estimate
    if e is not None and e["interval"] is not None:
        lo, hi = e["interval"]
        verdict = f"; {e['target_verdict']}" if e["target_verdict"] else ""
        console.print(
            f"expected MQL-to-SQL rate of these MQLs {e['expected_rate']:.1%} (90 % {lo:.1%} "
            f"to {hi:.1%}, {e['expected_sqls']:,.0f} SQLs expected{verdict}); trust: "
            f"{e['trust']}",
            highlight=False,
        )
    if o is not None and o["realized_rate"] is not None:
        lo, hi = o["realized_interval"]
        console.print(
            f"realized MQL-to-SQL rate {o['realized_rate']:.1%} (90 % {lo:.1%} to {hi:.1%}) "
            f"against the expected {o['expected_rate']:.1%}; ECE {o['ece']:.3f}"
        )
    early = report.early
    if early is not None and early["interval"] is not None:
        lo, hi = early["interval"]
        console.print(
            f"early rate of {early['n_mql']:,} young MQLs {early['estimated_rate']:.1%} (90 % "
            f"{lo:.1%} to {hi:.1%}) against the expected {early['expected_rate']:.1%}: "
            f"{early['rate']}",
            highlight=False,
        )
    style = styles[report.level]
    console.print(
        f"recommendation: [{style}]{report.recommendation}[/] (exit {report.exit_code})",
        highlight=False,
    )
    for line in report.why:
        console.print(f"  - {line}", highlight=False)


@app.command()
def recalibrate(
    model: Annotated[str, ModelOpt],
    data: Annotated[
        Path, typer.Option("--data", "-d", help="Recent labelled leads (.csv or .parquet).")
    ],
    target_rate: Annotated[
        str | None,
        typer.Option(
            help="MQL-to-SQL rate to aim for (default: the bundle's).", callback=check_rate
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="New bundle folder (default: MODEL-recalibrated; required for models:/)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write the new bundle even when it is not better, and replace an existing "
            "--out bundle (without it an existing --out is refused before any work).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Refit the calibration and the MQL threshold on the older part of recent outcomes;
    write it only when better on the newer part (exit 0), else write nothing (exit 1).
    An existing --out is replaced only with --force."""
    from mqlml.io._readers import read_table
    from mqlml.monitoring._recalibrate import check_out
    from mqlml.monitoring._recalibrate import recalibrate as run_recalibration

    registry = model.startswith("models:/")
    try:
        if registry and out is None:
            raise MqlmlError(
                f"--out must be given for a registry model; got --model {model} and no "
                "--out. Name a new folder, e.g. --out models/NAME-recalibrated."
            )
        out = out or Path(f"{Path(model).resolve()}-recalibrated")
        check_out(out, {"model": None if registry else Path(model), "data file": data}, force=force)
        bundle = bundle_of(model)
        tokens = bundle.schema.missing_tokens
        ids = [bundle.schema.id_column or ""]
        recent = read_table(data, missing_tokens=tokens, text_columns=ids)
        _, summary = run_recalibration(
            bundle, recent, target_rate=target_rate, out=out, force=force, source=model
        )
    except (MqlmlError, ValueError, OSError) as exc:
        fail(exc)
    code = OK if summary["written"] else ATTENTION
    if as_json:
        print(json.dumps({**summary, "exit_code": code}, default=str))
        raise typer.Exit(code)
    _print_recalibration(summary, model, out)
    raise typer.Exit(code)


def _print_recalibration(summary: dict, model: str, out: Path) -> None:
    before, after = summary["before"], summary["after"]
    table = Table(
        "",
        "current",
        "new",
        title=f"on the newest {summary['evaluation_rows']:,} of {summary['rows']:,} leads "
        f"(calibrated on the older {summary['calibration_rows']:,})",
    )

    def pct(value) -> str:
        return "-" if value is None else f"{value:.1%}"

    table.add_row("MQL threshold", f"{before['threshold']:.4f}", f"{after['threshold']:.4f}")
    table.add_row("MQL share", pct(before["mql_share"]), pct(after["mql_share"]))
    table.add_row(
        "expected MQL-to-SQL rate", pct(before["expected_rate"]), pct(after["expected_rate"])
    )
    table.add_row(
        "realized MQL-to-SQL rate", pct(before["realized_rate"]), pct(after["realized_rate"])
    )
    table.add_row("log loss (the judge)", f"{before['log_loss']:.4f}", f"{after['log_loss']:.4f}")
    table.add_row("calibration error (ECE)", f"{before['ece']:.4f}", f"{after['ece']:.4f}")
    console.print(table)
    goal = summary["target_rate"]
    console.print(
        f"{summary['calibration_method']} calibration"
        + (f" for a target MQL-to-SQL rate of {goal:.0%}" if goal is not None else "")
        + f"; the trees are unchanged. The new calibration is {summary['verdict']}",
        highlight=False,
        soft_wrap=True,
    )
    if summary["written"]:
        forced = " (--force: written although not better)" if summary["forced"] else ""
        console.print(
            f"New bundle: [bold]{summary['bundle']}[/] (parent {model}){forced}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"[yellow]nothing written[/]: keep {model}; {out} was not created or changed. "
            "Pass --force to write it anyway.",
            highlight=False,
            soft_wrap=True,
        )
