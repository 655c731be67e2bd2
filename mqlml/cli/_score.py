"""``mqlml score``: one call of :func:`mqlml.integrations.score_leads` (local or Spark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mqlml.cli import _progress as show
from mqlml.cli._app import app, bundle_of, console, err, fail, interrupted
from mqlml.cli._options import (
    CsvFormulasOpt,
    JsonOpt,
    ModelOpt,
    check_date,
    check_delimiter,
    check_encoding,
    check_positive,
    one_of,
)
from mqlml.errors import MqlmlError
from mqlml.exitcodes import USAGE_ERROR


@app.command()
def score(
    model: Annotated[str, ModelOpt],
    input: Annotated[Path, typer.Option("--input", "-i", help="Leads (.csv or .parquet).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scores (.csv or .parquet).")],
    chunk_size: Annotated[
        int, typer.Option(help="Rows per chunk.", callback=check_positive)
    ] = 100_000,
    no_reasons: Annotated[bool, typer.Option("--no-reasons", help="Skip reason codes.")] = False,
    all_reasons: Annotated[
        bool, typer.Option("--all-reasons", help="Reasons for every lead, not only the top tiers.")
    ] = False,
    keep: Annotated[str, typer.Option(help="Input columns to pass through, COL,COL.")] = "",
    keep_prefix: Annotated[
        str, typer.Option(help="Prefix for the kept columns' names, e.g. input_.")
    ] = "",
    encoding: Annotated[
        str,
        typer.Option(help="Text encoding of a CSV input, e.g. latin-1.", callback=check_encoding),
    ] = "utf-8",
    delimiter: Annotated[
        str,
        typer.Option(help="CSV delimiter: one character, tab, or auto.", callback=check_delimiter),
    ] = "auto",
    unique_ids: Annotated[
        bool, typer.Option("--unique-ids", help="Fail (write nothing) if an id repeats.")
    ] = False,
    events: Annotated[
        Path | None, typer.Option(help="Activity log, for a model trained from one.")
    ] = None,
    as_of: Annotated[
        str,
        typer.Option(
            help="Date the activity-log features are computed as of.", callback=check_date
        ),
    ] = "now",
    engine: Annotated[
        str,
        typer.Option(
            help="local (one process, streamed) or spark.",
            callback=one_of("local", "spark"),
        ),
    ] = "local",
    master: Annotated[
        str, typer.Option(help="Spark master with --engine spark, e.g. local[*] or yarn.")
    ] = "local[*]",
    predictor: Annotated[
        str,
        typer.Option(
            help="auto (compiled trees when installed and identical, else LightGBM), "
            "lightgbm or compiled.",
            callback=one_of("auto", "lightgbm", "compiled"),
        ),
    ] = "auto",
    attribution: Annotated[
        str,
        typer.Option(
            help="Reasons from path attribution (fast) or exact TreeSHAP (slow): path or shap.",
            callback=one_of("path", "shap"),
        ),
    ] = "path",
    accounts: Annotated[
        Path | None,
        typer.Option(
            help="Also write one row per account (columns.account): P(at least one lead "
            "converts), expected conversions, best lead, leads, MQLs, top reasons. Written "
            "together with --output, or neither is."
        ),
    ] = None,
    csv_formulas: CsvFormulasOpt = "escape",
    as_json: JsonOpt = False,
) -> None:
    """Score a leads file: probability, score, percentile, tier, is_mql, sub-scores, reasons."""
    from mqlml.scoring._file import score_file

    reasons = "none" if no_reasons else "all" if all_reasons else "top"
    keep_cols = [c.strip() for c in keep.split(",") if c.strip()]
    if engine == "spark" and (keep_prefix or encoding != "utf-8" or delimiter != "auto"):
        err.print(
            "error: --keep-prefix, --encoding and --delimiter work with --engine local "
            "only; convert the input to UTF-8 CSV or Parquet first, or use the local engine."
        )
        raise typer.Exit(USAGE_ERROR)
    if engine == "spark" and accounts is not None:
        err.print("error: --accounts works with --engine local only; use the local engine.")
        raise typer.Exit(USAGE_ERROR)
    if engine == "spark" and events is not None:
        err.print(
            "error: --events works with --engine local only; build the activity-log "
            "features first, or score with the local engine."
        )
        raise typer.Exit(USAGE_ERROR)
    try:
        if engine == "spark":  # same summary, counted from the written output
            from mqlml.integrations.spark import score_files
            from mqlml.scoring._file import ScoreSummary

            with show.stages(err, enabled=not as_json) as stage:
                done = score_files(
                    model,
                    input,
                    output,
                    master=master,
                    reasons=reasons,
                    keep=keep_cols,
                    unique_ids=unique_ids,
                    predictor=predictor,
                    attribution=attribution,
                    progress=stage,
                    csv_formulas=csv_formulas,
                )
            summary = ScoreSummary(**done)
        else:
            bundle = bundle_of(model)
            with show.rows(err, enabled=not as_json) as advance:
                summary = score_file(
                    bundle,
                    input,
                    output,
                    chunk_size=chunk_size,
                    reasons=reasons,
                    keep=keep_cols,
                    keep_prefix=keep_prefix,
                    unique_ids=unique_ids,
                    delimiter=delimiter,
                    encoding=encoding,
                    events=events,
                    as_of=as_of,
                    progress=advance,
                    expected_rows=advance.expect,
                    predictor=predictor,
                    attribution=attribution,
                    accounts=accounts,
                    csv_formulas=csv_formulas,
                )
    except KeyboardInterrupt as exc:
        interrupted(exc)
    except (MqlmlError, ValueError, OSError) as exc:
        fail(exc)
    if as_json:
        print(json.dumps(summary.to_dict()))
        return
    share = "" if summary.mql_share is None else f" ({summary.mql_share:.1%})"
    console.print(
        f"scored {summary.rows:,} leads in {summary.seconds:.1f} s "
        f"({summary.rows_per_second:,.0f} rows/s): {summary.mqls:,} MQLs{share}, "
        f"{summary.expected_sqls:,.1f} expected SQLs -> [bold]{summary.output}[/]"
    )
    for line in summary.warnings:
        err.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    if summary.accounts is not None:
        rolled = summary.accounts
        console.print(
            f"{rolled['accounts']:,} accounts ({rolled['method']}) -> [bold]{rolled['output']}[/]"
        )
        if rolled.get("near_certain"):
            console.print(
                f"{rolled['near_certain']:,} accounts have a probability of 0.999 or more that "
                "some lead converts; their expected_conversions (the first column) tells them "
                "apart",
                highlight=False,
            )
    if attribution == "shap" and summary.reason_rows:
        rate = summary.reason_rows / max(summary.attribution_seconds, 1e-9)
        console.print(
            f"exact TreeSHAP for {summary.reason_rows:,} leads with reasons took "
            f"{summary.attribution_seconds:.1f} s ({rate:,.0f} leads/s) of the "
            f"{summary.seconds:.1f} s (predictor: {summary.predictor})"
        )
