"""``mqlml sample``, ``mqlml init`` and ``mqlml check``: synthetic leads, a starter config,
the data checks."""

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
)
from mqlml.errors import MqlmlError
from mqlml.exitcodes import ATTENTION


@app.command()
def sample(
    rows: Annotated[int, typer.Option(help="Number of leads.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    truth: Annotated[bool, typer.Option(help="Add the true_probability column.")] = False,
    out: Annotated[
        Path, typer.Option(help="CSV file to write (default: sample_leads.csv here).")
    ] = Path("sample_leads.csv"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write synthetic leads with known true conversion probabilities (bit-for-bit per seed)."""
    from mqlml.errors import DataError
    from mqlml.io._atomic import check_destination
    from mqlml.leads._synthetic import write_sample

    try:
        if out.is_dir():
            raise DataError(
                f"--out must be a file name; {str(out)!r} is a folder. Give e.g. "
                f"{str(out / 'sample_leads.csv')!r}."
            )
        if out.exists() and not force:
            raise DataError(
                f"--out must not be an existing file; {str(out)!r} exists. Pass --force to "
                "overwrite it, or give another --out."
            )
        check_destination(out, name="--out")  # never inside a bundle folder, even with --force
        with show.stages(err) as stage:
            stage(f"generating {rows:,} synthetic leads")
            path = write_sample(out, rows=rows, seed=seed, truth=truth)
    except (MqlmlError, OSError) as exc:
        fail(exc)
    console.print(f"wrote {rows:,} synthetic leads (seed {seed}) to {path}")


@app.command()
def init(
    data: Annotated[Path, typer.Option("--data", "-d", help="The lead table (.csv or .parquet).")],
    out: Annotated[Path, typer.Option(help="Config file to write.")] = Path("mqlml.yaml"),
    label: Annotated[str | None, typer.Option(help="The outcome column (default: found).")] = None,
    id: Annotated[str | None, typer.Option("--id", help="The lead id column.")] = None,
    time: Annotated[str | None, typer.Option(help="The creation-time column.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter config from a lead table: roles, features and exclusions, explained."""
    from mqlml.config._config import load_config
    from mqlml.errors import DataError
    from mqlml.io._atomic import atomic_output, check_destination
    from mqlml.leads._starter import starter_config

    try:
        if out.exists() and not force:
            raise DataError(
                f"--out must not be an existing file; {str(out)!r} exists. Pass --force to "
                "overwrite it, or give another --out."
            )
        check_destination(out, {"input": data}, name="--out")  # --force never replaces them
        proposal = starter_config(data, label=label, id=id, time=time)
        text = proposal.to_yaml(out)
        with atomic_output(out) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
            load_config(tmp)  # a proposal that does not load is never written
    except (MqlmlError, OSError) as exc:
        fail(exc)
    print(text, end="")
    err.print(
        f"wrote {out}: {len(proposal.fit)} fit and {len(proposal.engagement)} engagement "
        f"features, {len(proposal.exclude)} columns excluded. Review it, then "
        f"`mqlml check --config {out}`.",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def check(config: ConfigOpt, as_json: JsonOpt = False) -> None:
    """Profile the leads and look for leakage and too little data; exit 1 on errors."""
    from mqlml.config._config import load_config
    from mqlml.leads._checks import check_leads
    from mqlml.leads._read import read_leads

    try:
        cfg = load_config(config)
        report = check_leads(read_leads(cfg), cfg)
    except (MqlmlError, OSError) as exc:
        fail(exc)
    if as_json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        print_check(report, cfg.data.path)
    if not report.ok:
        raise typer.Exit(ATTENTION)


def print_check(report, path) -> None:
    p = report.profile
    console.print(f"[bold]{path}[/]")
    console.print(
        f"{p['rows']:,} leads, {p['conversions']:,} converted (base rate {p['base_rate']:.1%})"
        + (f", created {p['date_from']} to {p['date_to']}" if p["date_from"] else "")
    )
    if p.get("unrecorded_leads"):
        console.print(
            f"{p['unrecorded_leads']:,} leads created before outcome.recorded_from left out "
            "(their outcomes were not recorded)"
        )
    if p.get("history"):
        order = "by creation time" if p["date_from"] else "in file order"
        console.print(f"conversion rate across the history ({order}):")
    for part, where in zip(p.get("history") or [], ("oldest", "next", "newest"), strict=False):
        if part["rate"] is None:
            continue
        console.print(
            f"  {where:<6} {100 * part['share']:>3.0f} % {'(' + part['part'] + '):':<12}"
            f"{part['leads']:>9,} leads, {100 * part['rate']:5.1f} % converted "
            f"(90 % interval {100 * part['low']:.1f}-{100 * part['high']:.1f} %)"
        )
    if p.get("cohorts"):
        rates = ", ".join(
            f"{c['period']} {100 * c['rate']:.1f} %" for c in p["cohorts"] if c["rate"] is not None
        )
        console.print(f"  by {p['cohorts_by']}: {rates}", highlight=False)
    table = Table("column", "role", "kind", "missing", "distinct", "AUC alone")
    for row in report.columns.itertuples(index=False):
        value = row.single_column_auc
        auc = "" if value is None or value != value else f"{value:.3f}"
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
