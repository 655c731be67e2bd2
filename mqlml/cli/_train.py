"""``mqlml train``: one call of :func:`mqlml.train` (and of :func:`mqlml.log_training`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mqlml.cli import _progress as show
from mqlml.cli._app import app, console, err, fail
from mqlml.cli._options import (
    ConfigOpt,
    JsonOpt,
    check_capacity,
    check_rate,
    one_of,
)
from mqlml.errors import MqlLineError, MqlmlError
from mqlml.exitcodes import USAGE_ERROR


@app.command()
def train(
    config: ConfigOpt,
    target_rate: Annotated[
        str | None,
        typer.Option(
            help="MQL-to-SQL rate the threshold aims for, e.g. 0.25.", callback=check_rate
        ),
    ] = None,
    capacity: Annotated[
        str | None,
        typer.Option(
            help="MQLs sales can take instead, e.g. 500/month or 1200.", callback=check_capacity
        ),
    ] = None,
    confidence: Annotated[
        float | None,
        typer.Option(
            min=0.5,
            max=0.999,
            help="Guarantee the target rate with this confidence, e.g. 0.9 (exact tests).",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="auto (default: chosen on the calibration part), lightgbm or logistic.",
            callback=one_of("auto", "lightgbm", "logistic"),
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Bundle folder (default models/NAME).")] = None,
    no_track: Annotated[
        bool, typer.Option("--no-track", help="Do not log the run to MLflow nor register it.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train, calibrate and choose the MQL threshold; save the bundle; print the evidence."""
    from mqlml.config._config import load_config
    from mqlml.model._train import train as run_training

    if target_rate is not None and capacity is not None:
        err.print("error: give --target-rate or --capacity, not both.")
        raise typer.Exit(USAGE_ERROR)
    tracked = None
    try:
        cfg = load_config(config)
        out = out or cfg.output.models / config.stem
        with show.stages(err, enabled=not as_json) as stage:
            result = run_training(
                cfg,
                target_rate=target_rate,
                capacity=capacity,
                confidence=confidence,
                model=model,
                out=out,
                progress=stage,
            )
            if not no_track:
                from mqlml.integrations._tracking import log_training

                stage("logging the run to MLflow and registering the model")
                tracked = log_training(result, cfg)
    except MqlLineError as exc:  # name the goal as it was given
        given = {"--capacity": capacity, "--target-rate": target_rate}
        flag = next((f"{k} {v}" for k, v in given.items() if v is not None), None)
        fail(exc.named(flag) if flag else exc)
    except (MqlmlError, ValueError, OSError) as exc:
        fail(exc)
    summary = result.summary()
    if tracked is not None:
        keys = ("run_id", "name", "version", "registered_uri", "tracking_uri")
        summary["mlflow"] = {key: tracked[key] for key in keys}
    if as_json:
        print(json.dumps(summary, default=str))
        return
    print_training(summary, result)
    if tracked is not None:
        console.print(
            f"MLflow run {tracked['run_id']}: registered [bold]{tracked['name']}[/] version "
            f"{tracked['version']} ({tracked['tracking_uri']}). Make it the champion with "
            f"`mqlml promote {tracked['name']} {tracked['version']}`.",
            highlight=False,
            soft_wrap=True,
        )


def print_training(s: dict, result) -> None:
    """What training gave: the backtest's numbers, the line, the segments, the split."""
    _print_numbers(s)
    _print_line(s, result)
    _print_segments(s)
    if s.get("date_formats"):
        from mqlml.io._dates import describe

        read = ", ".join(f"{c} as {f} ({describe(f)})" for c, f in s["date_formats"].items())
        console.print(f"dates read: {read}", highlight=False, soft_wrap=True)
    split = s.get("split") or {}
    for name, part in (split.get("parts") or {}).items():
        period = f", {part['from'][:10]} to {part['to'][:10]}" if part.get("from") else ""
        console.print(
            f"{name} part ({split['method']} split): {part['rows']:,} leads{period}, "
            f"base rate {part['base_rate']:.1%}",
            highlight=False,
            soft_wrap=True,
        )
    if s["drift_warning"]:
        console.print(f"[yellow]warning:[/] {s['drift_warning']}", highlight=False)
    for line in s.get("warnings") or ():
        console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    console.print(f"bundle saved to [bold]{s['bundle']}[/]")


def _print_numbers(s: dict) -> None:
    """The backtest's numbers on the test part."""
    rows = s["rows"]
    table = Table(
        "test part",
        "value",
        title=f"trained on {rows['train']:,} leads, "
        f"calibrated on {rows['calibrate']:,}, tested on {rows['test']:,}",
    )
    table.add_row("ROC AUC", f"{s['roc_auc']:.3f}")
    table.add_row("PR AUC", f"{s['pr_auc']:.3f}")
    table.add_row("Brier score", f"{s['brier']:.4f}")
    table.add_row("calibration error (ECE)", f"{s['ece']:.4f}")
    table.add_row("MQL threshold (backtest)", f"{s['backtest_threshold']:.4f}")
    table.add_row("expected MQL-to-SQL rate (backtest)", f"{s['backtest_expected_rate']:.1%}")
    lo, hi = s["realized_interval"] or (float("nan"), float("nan"))
    table.add_row(
        "realized MQL-to-SQL rate", f"{s['realized_rate']:.1%} (90 % {lo:.1%} to {hi:.1%})"
    )
    table.add_row("MQL share", f"{s['mql_share']:.1%}")
    console.print(table)


def _print_line(s: dict, result) -> None:
    """The MQL line of the bundle that scores, its guarantee and what a month gives."""
    goal = (
        f"target MQL-to-SQL rate {s['target_rate']:.0%}"
        if s["target_rate"] is not None
        else f"capacity {s['capacity']}"
    )
    console.print(
        f"threshold chosen for a {goal} ({result.bundle.metadata['calibration_method']} "
        "calibration)"
    )
    at_least = ""
    if s["lower_bound"] is not None:
        level = s["confidence"] or 0.9
        at_least = f"; at least {s['lower_bound']:.1%} with {level:.0%} confidence"
    cost = ""
    if s["guarantee_cost"] and s.get("guarantee") == "met":
        cost = f" (the guarantee costs {s['guarantee_cost']:,} MQLs on the calibration part)"
    verdict = {
        "met": "; guarantee: met",
        "not met": "; [bold yellow]guarantee: not met[/] (see the warnings below)",
    }.get(s.get("guarantee"), "")
    console.print(
        f"the bundle that scores: MQL threshold {s['threshold']:.4f} (score "
        f"{result.bundle.scale.mql_at:g}); expected "
        f"MQL-to-SQL rate {s['expected_rate']:.1%}{at_least}{cost}{verdict}"
        + ("; the overall line, for segments without one of their own" if s["segments"] else ""),
        highlight=False,
        soft_wrap=True,
    )
    if s.get("line_interval"):
        lo, hi = s["line_interval"]
        console.print(
            f"the line's own MQL-to-SQL rate, given the {s['line_calibration_mqls']:,} MQLs it "
            f"was chosen on: 90 % between {lo:.1%} and {hi:.1%} (exact); a month's rate "
            "varies around it as below",
            highlight=False,
            soft_wrap=True,
        )
    if s.get("model_chosen"):
        console.print(
            f"model: {s['model_chosen']} (model.kind auto: the best of the candidates on "
            "forward folds of the history; see the report)",
            highlight=False,
            soft_wrap=True,
        )
    monthly = s.get("monthly") or {}
    if monthly.get("rate_range"):
        lo, hi = monthly["rate_range"]
        console.print(
            f"at about {monthly['mqls_per_month']:,.0f} MQLs a month, a month's MQL-to-SQL rate "
            f"should fall between {lo:.1%} and {hi:.1%} (90 %)",
            highlight=False,
            soft_wrap=True,
        )


def _print_segments(s: dict) -> None:
    """Each segment's own line (threshold.segments)."""
    for row in s.get("segments") or ():
        realized = "no MQLs"
        if row["realized_rate"] is not None:
            lo, hi = row["realized_interval"]
            realized = f"{row['realized_rate']:.1%} (90 % {lo:.1%} to {hi:.1%})"
        goal = row.get("target_rate")
        console.print(
            f"segment {row['segment']}: "
            f"{'target ' + format(goal, '.0%') if goal is not None else 'capacity'}, "
            f"line {s['segment_thresholds'][row['segment']]:.4f} in the bundle that scores; "
            f"backtest line {row['threshold']:.4f}"
            f"{'' if row['own_threshold'] else ' (overall)'}: {row['n_mql']:,} test "
            f"MQLs of {row['leads']:,} leads, realized {realized}",
            highlight=False,
            soft_wrap=True,
        )
