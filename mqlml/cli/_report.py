"""``mqlml report`` and ``mqlml scorecard``: the comparison report and the model-derived
points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mqlml.cli import _progress as show
from mqlml.cli._app import app, bundle_of, console, err, fail
from mqlml.cli._options import (
    CsvFormulasOpt,
    JsonOpt,
    ModelOpt,
)
from mqlml.errors import MqlmlError


@app.command()
def report(
    model: Annotated[str, ModelOpt],
    out: Annotated[Path, typer.Option(help="Report folder, e.g. reports/NAME/.")],
    baseline: Annotated[
        Path | None,
        typer.Option(help="Points rules (YAML); default: the config's baseline.rules."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare the model with the points baseline on the test part; write HTML, JSON, MD."""
    from mqlml.report._files import build_report

    try:
        with show.stages(err, enabled=not as_json) as stage:
            stage("loading the model")
            bundle = bundle_of(model)
            stage("comparing with the points on the test part and writing the report")
            result, paths = build_report(bundle, baseline=baseline, out=out, source=model)
    except (MqlmlError, ValueError, OSError) as exc:
        fail(exc)
    if as_json:
        printed = {k: result[k] for k in ("headline", "summary")}
        print(json.dumps({**printed, "paths": {k: str(v) for k, v in paths.items()}}))
        return
    print_report(result, paths)


def print_report(result: dict, paths: dict) -> None:
    console.print(f"[bold]{result['headline']}[/]", highlight=False)
    for sentence in result["summary"]:
        console.print(f"- {sentence}", highlight=False)
    for kind, path in paths.items():
        console.print(f"{kind}: [bold]{path}[/]", highlight=False)


@app.command()
def scorecard(
    model: Annotated[str, ModelOpt],
    out: Annotated[Path, typer.Option(help="Folder for scorecard.yaml, .csv, .sql, .json, .md.")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", "-d", help="The leads the model was trained on (default: its data.path)."
        ),
    ] = None,
    max_rules: Annotated[int, typer.Option(min=1, help="At most this many criteria.")] = 30,
    sql_table: Annotated[str, typer.Option(help="The lead table the SQL reads.")] = "leads",
    csv_formulas: CsvFormulasOpt = "escape",
    as_json: JsonOpt = False,
) -> None:
    """Turn the model into integer points per criterion (YAML, CSV, SQL) and judge them."""
    from mqlml.rules._scorecard import fidelity_markdown
    from mqlml.rules._scorecard import scorecard as make_scorecard

    try:
        card = make_scorecard(
            bundle_of(model),
            data=data,
            max_rules=max_rules,
            out=out,
            table=sql_table,
            csv_formulas=csv_formulas,
        )
    except (MqlmlError, ValueError, OSError) as exc:
        fail(exc)
    paths = {k: str(v) for k, v in card.paths.items()}
    if as_json:
        record = card.to_dict()
        keys = ("n_criteria", "mql_threshold_points", "offset", "fidelity", "tradeoff")
        print(json.dumps({**{k: record[k] for k in keys}, "paths": paths}))
        return
    table = Table("criterion", "points", title=f"scorecard: MQL at {card.threshold_points} points")
    for rule in card.rules.rules:
        table.add_row(rule.name, f"{rule.points:+.0f}")
    console.print(table)
    for line in fidelity_markdown(card.fidelity, card.tradeoff):
        if line and not line.startswith(("|", "#")):
            console.print(line, highlight=False, soft_wrap=True)
    kept = card.fidelity["ranking"]
    console.print(
        f"ROC AUC on the test part: scorecard {kept['scorecard']:.3f}, model {kept['model']:.3f}"
        + (f", hand-set points {kept['points']:.3f}" if kept["points"] is not None else ""),
        highlight=False,
    )
    for kind, path in paths.items():
        console.print(f"{kind}: [bold]{path}[/]", highlight=False)
