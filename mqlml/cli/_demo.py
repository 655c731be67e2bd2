"""``mqlml demo``: the whole job on the shipped sample (:func:`mqlml.demo`), printed step
by step."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mqlml.cli import _progress as show
from mqlml.cli._app import app, console, err, fail
from mqlml.cli._data import print_check
from mqlml.cli._monitor import print_monitor
from mqlml.cli._report import print_report
from mqlml.cli._train import print_training
from mqlml.errors import MqlmlError
from mqlml.exitcodes import ATTENTION


@app.command()
def demo(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Project config (default: the bundled sample's)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for every output.")] = Path("mqlml-out"),
) -> None:
    """Run the whole job on the bundled synthetic sample: check, train, report, score, monitor."""
    from mqlml._demo import STEPS
    from mqlml._demo import demo as run_demo

    stage = [lambda name: None]
    try:
        with contextlib.ExitStack() as training:

            def start(title: str) -> None:
                console.rule(title)
                if title == dict(STEPS)["train"]:  # each stage with its time, on stderr
                    stage[0] = training.enter_context(show.stages(err))

            def step(name: str, done) -> None:
                if name == "train":
                    training.close()
                _print_step(name, done)

            done = run_demo(
                config, out, progress=start, on_step=step, train_progress=lambda s: stage[0](s)
            )
    except MqlmlError as exc:
        fail(exc)
    if not done.checked.ok:
        raise typer.Exit(ATTENTION)
    console.rule("outputs")
    for what, where in done.outputs().items():
        console.print(f"{what:>20}: [bold]{where}[/]", highlight=False)


def _print_step(step: str, done) -> None:
    """Print what a step of the demo made, as it ends."""
    if step == "check":
        print_check(done.checked, done.config.data.path)
    elif step == "train":
        print_training(done.training.summary(), done.training)
    elif step == "report":
        print_report(done.report, done.report_paths)
    elif step == "score":
        summary = done.scored
        console.print(
            f"scored {summary.rows:,} leads: {summary.mqls:,} MQLs ({summary.mql_share:.1%}), "
            f"{summary.expected_sqls:,.0f} expected SQLs"
        )
        _print_first_mqls(done.scores)
    elif step == "monitor":
        print_monitor(done.monitored)
    elif step == "recalibrate":
        console.print(f"the new calibration is {done.recalibration['verdict']}", highlight=False)
    elif step == "after":
        summary, new, after = done.recalibration, done.recalibrated, done.after
        o = after.outcomes
        console.print(
            f"MQL-to-SQL rate on the newest half: {summary['before']['realized_rate']:.1%} "
            f"before, {summary['after']['realized_rate']:.1%} after (target "
            f"{new.threshold.target_rate:.0%}); on the next {after.n:,} leads: "
            f"{o['realized_rate']:.1%} -> {after.recommendation}.",
            highlight=False,
        )


def _print_first_mqls(scores: Path, n: int = 5) -> None:
    import pandas as pd

    frame = pd.read_csv(scores, nrows=2000)
    first = frame[frame["is_mql"]].head(n)
    table = Table(
        "lead",
        "score",
        "tier",
        "fit",
        "engagement",
        "reasons for",
        "reasons against",
        title="the first MQLs and why",
    )
    for row in first.itertuples(index=False):
        table.add_row(
            str(row[0]),
            f"{row.score:.0f}",
            row.tier,
            f"{row.fit_score:+.2f}",
            f"{row.engagement_score:+.2f}",
            str(row.reasons_for).replace("; ", "\n"),
            str(row.reasons_against).replace("; ", "\n"),
        )
    console.print(table)
