"""The ``mqlml`` command: parses arguments, calls the library, prints the result.

Heavy libraries are imported inside each command so ``mqlml --help`` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mqlml.errors import MqlmlError

app = typer.Typer(
    name="mqlml",
    help="Calibrated, explainable lead-conversion probabilities in place of fixed points.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Project config (YAML).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _fail(exc: MqlmlError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def sample(
    rows: Annotated[int, typer.Option(help="Number of leads.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    truth: Annotated[bool, typer.Option(help="Add the true_probability column.")] = False,
    out: Annotated[Path, typer.Option(help="CSV file to write.")] = Path("data/sample_leads.csv"),
) -> None:
    """Write synthetic leads with known true conversion probabilities (bit-for-bit per seed)."""
    from mqlml.datasets import write_sample

    path = write_sample(out, rows=rows, seed=seed, truth=truth)
    console.print(f"wrote {rows:,} synthetic leads (seed {seed}) to {path}")


@app.command()
def check(config: ConfigOpt, as_json: JsonOpt = False) -> None:
    """Profile the leads and look for leakage and too little data; exit 1 on errors."""
    from mqlml.checks import check_leads
    from mqlml.config import load_config
    from mqlml.readers import read_leads

    try:
        cfg = load_config(config)
        report = check_leads(read_leads(cfg), cfg)
    except MqlmlError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        _print_check(report, cfg.data.path)
    if not report.ok:
        raise typer.Exit(1)


def _print_check(report, path) -> None:
    p = report.profile
    console.print(f"[bold]{path}[/]")
    console.print(
        f"{p['rows']:,} leads, {p['conversions']:,} converted (base rate {p['base_rate']:.1%})"
        + (f", created {p['date_from']} to {p['date_to']}" if p["date_from"] else "")
    )
    table = Table("column", "role", "kind", "missing", "distinct", "AUC alone")
    for row in report.columns.itertuples(index=False):
        auc = "" if row.single_column_auc is None else f"{row.single_column_auc:.3f}"
        table.add_row(
            str(row.column),
            row.role,
            row.kind,
            f"{row.missing_share:.1%}",
            f"{row.cardinality:,}",
            auc,
        )
    console.print(table)
    styles = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for f in report.findings:
        console.print(f"[{styles[f.level]}]{f.level}[/] {f.message}", highlight=False)
    if not report.findings:
        console.print("[green]no findings[/]")


@app.command()
def demo(
    config: ConfigOpt = Path("data/mqlml.yaml"),
    out: Annotated[Path, typer.Option(help="Folder for every output.")] = Path("mqlml-out"),
) -> None:
    """Run the whole job on the bundled synthetic sample and say where each output is."""
    from mqlml.checks import check_leads
    from mqlml.config import load_config
    from mqlml.readers import read_leads

    try:
        cfg = load_config(config)
        console.rule("1. check the leads")
        report = check_leads(read_leads(cfg), cfg)
        _print_check(report, cfg.data.path)
        if not report.ok:
            raise typer.Exit(1)
    except MqlmlError as exc:
        _fail(exc)
    out.mkdir(parents=True, exist_ok=True)
    console.rule("done")
    console.print(f"checked {cfg.data.path}")


def main() -> None:
    """Entry point of the ``mqlml`` console script."""
    try:
        app()
    except MqlmlError as exc:  # pragma: no cover - commands catch their own
        err.print(f"error: {exc}")
        sys.exit(2)
