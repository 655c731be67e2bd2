"""The ``mqlml`` command: parses arguments, calls the library, prints the result.

Results go to stdout, progress and errors to stderr. Exit codes are those of
:mod:`mqlml.exitcodes` (0 ok, 1 attention, 2 usage or input error, 3 recalibrate,
4 retrain). Heavy libraries are imported inside each command so ``mqlml --help`` starts
fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

try:  # newer typer carries its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import UsageError

from mqlml import progress as show
from mqlml.errors import MqlmlError
from mqlml.exitcodes import ATTENTION, INTERRUPTED, OK, USAGE_ERROR

console = Console()
err = Console(stderr=True)


def _usage_words(exc: UsageError) -> str:
    """A usage error in one line, naming the flag, with where to read the options."""
    param = getattr(exc, "param", None)
    message = exc.message
    if param is not None:
        names = sorted(getattr(param, "opts", None) or [param.human_readable_name], key=len)
        flag = names[-1]
        if type(exc).__name__ == "MissingParameter":
            message = f"{flag} must be given; got nothing."
        elif message.startswith("must "):
            message = f"{flag} {message}"
        else:
            message = f"{flag}: {message}"
    elif "unexpected extra argument" in message:
        message += "; flags such as --json take no value"
    where = exc.ctx.command_path if exc.ctx is not None else "mqlml"
    end = "" if message.endswith((".", "?", "!")) else "."
    return f"{message}{end} Run `{where} -h` for the options."


class _Group(TyperGroup):
    """The command group: one line (and exit 2) for a usage error, no usage dump."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except UsageError as exc:
            if not standalone_mode:
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `mqlml`: the help
                err.print(exc.format_message(), highlight=False, markup=False)
            else:
                err.print(
                    f"[bold red]error:[/] {_usage_words(exc)}", highlight=False, soft_wrap=True
                )
            sys.exit(USAGE_ERROR)
        except typer.Abort:
            if not standalone_mode:
                raise
            err.print("[bold red]stopped:[/] interrupted; no output was written.")
            sys.exit(INTERRUPTED)
        if standalone_mode:
            sys.exit(code if isinstance(code, int) else OK)
        return code


app = typer.Typer(
    name="mqlml",
    cls=_Group,
    help="Calibrated, explainable lead-conversion probabilities in place of fixed points. "
    "Exit codes: 0 ok, 1 attention needed, 2 usage or input error, 3 recalibrate, 4 retrain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mqlml import __version__

        print(f"mqlml {__version__}")
        raise typer.Exit(OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Calibrated, explainable lead-conversion probabilities in place of fixed points.

    Exit codes: 0 ok, 1 attention needed (check: errors; monitor: watch; recalibrate:
    not better, nothing written), 2 usage or input error, 3 recalibrate, 4 retrain.
    """


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Project config (YAML).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ModelOpt = typer.Option(
    "--model", "-m", help="Bundle folder, or models:/NAME@ALIAS or models:/NAME/VERSION."
)


def _fail(exc: Exception) -> None:
    """Print one line for an error and exit 2 (no traceback, no library internals)."""
    err.print(f"[bold red]error:[/] {_words(exc)}", highlight=False, soft_wrap=True)
    raise typer.Exit(USAGE_ERROR)


def _words(exc: Exception) -> str:
    """An error in plain words: validation errors without their dumps and links."""
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":
        parts = []
        for e in errors():
            key = ".".join(str(p) for p in e.get("loc", ())) or "value"
            parts.append(f"{key} {e.get('msg', 'is invalid').lower()}; got {e.get('input')!r}")
        return "; ".join(parts) + "."
    if isinstance(exc, OSError) and not isinstance(exc, MqlmlError):
        from mqlml.atomic import file_error

        return str(file_error(exc, exc.filename or "?", ""))
    return str(exc)


def _interrupted(exc: KeyboardInterrupt) -> None:
    """One line for SIGINT or SIGTERM, and the shell's exit code for that signal."""
    err.print(f"[bold red]stopped:[/] {exc or 'interrupted; no output was written.'}")
    raise typer.Exit(getattr(exc, "exit_code", INTERRUPTED))


def _rate(value: str | None) -> float | None:
    """A rate in (0, 1), read from the text given (so a wrong one is quoted back)."""
    if value is None:
        return None
    try:
        rate = float(value)
    except ValueError:
        rate = float("nan")
    if not 0 < rate < 1:
        raise typer.BadParameter(
            f"must be a rate between 0 and 1 (exclusive), e.g. 0.25 for 25 %; got {value!r}."
        )
    return rate


def _capacity(value: str | None) -> str | None:
    if value is None:
        return value
    from mqlml.threshold import parse_capacity

    try:
        parse_capacity(int(value) if value.strip().isdigit() else value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace("capacity must be", "must be")) from None
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"must be a positive number of rows, e.g. 100000; got {value}.")
    return value


def _one_of(*choices: str):
    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(f"must be one of {', '.join(choices)}; got {value!r}.")
        return value

    return check


def _encoding(value: str) -> str:
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise typer.BadParameter(
            f"must be a text encoding Python knows, such as utf-8, latin-1 or cp1252; "
            f"got {value!r}."
        ) from None
    return value


_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def _delimiter(value: str) -> str:
    value = _NAMED_DELIMITERS.get(value.lower(), value)
    if value != "auto" and (len(value) != 1 or value in '"\r\n'):
        raise typer.BadParameter(
            f"must be one character (e.g. ';'), 'tab' or 'auto'; got {value!r}."
        )
    return value


CsvFormulasOpt = Annotated[
    str,
    typer.Option(
        "--csv-formulas",
        help="CSV text cells starting with = + - @ tab or CR: escape (default: a leading ' "
        "so spreadsheets show them as text, never run them) or keep (as they are). "
        "Numbers are never changed.",
        callback=_one_of("escape", "keep"),
    ),
]


def _date(value: str) -> str:
    if value == "now":
        return value
    from mqlml.dates import as_timestamp

    try:
        as_timestamp(value, "--as-of")
    except MqlmlError:
        raise typer.BadParameter(
            f"must be 'now' or a date such as 2026-03-01 (ISO 8601, year first); got {value!r}."
        ) from None
    return value


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
    from mqlml.atomic import check_destination
    from mqlml.datasets import write_sample
    from mqlml.errors import DataError

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
        _fail(exc)
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
    from mqlml.atomic import atomic_output, check_destination
    from mqlml.config import load_config
    from mqlml.errors import DataError
    from mqlml.starter import starter_config

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
        _fail(exc)
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
    from mqlml.checks import check_leads
    from mqlml.config import load_config
    from mqlml.readers import read_leads

    try:
        cfg = load_config(config)
        report = check_leads(read_leads(cfg), cfg)
    except (MqlmlError, OSError) as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        _print_check(report, cfg.data.path)
    if not report.ok:
        raise typer.Exit(ATTENTION)


def _print_check(report, path) -> None:
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


@app.command()
def train(
    config: ConfigOpt,
    target_rate: Annotated[
        str | None,
        typer.Option(help="MQL-to-SQL rate the threshold aims for, e.g. 0.25.", callback=_rate),
    ] = None,
    capacity: Annotated[
        str | None,
        typer.Option(
            help="MQLs sales can take instead, e.g. 500/month or 1200.", callback=_capacity
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
            callback=_one_of("auto", "lightgbm", "logistic"),
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Bundle folder (default models/NAME).")] = None,
    no_track: Annotated[
        bool, typer.Option("--no-track", help="Do not log the run to MLflow nor register it.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train, calibrate and choose the MQL threshold; save the bundle; print the evidence."""
    from mqlml.config import load_config
    from mqlml.train import train as run_training

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
                from mqlml.tracking import log_training

                stage("logging the run to MLflow and registering the model")
                tracked = log_training(result, cfg)
    except (MqlmlError, ValueError, OSError) as exc:
        _fail(_goal_words(exc, cfg if "cfg" in locals() else None, target_rate, capacity))
    summary = result.summary()
    if tracked is not None:
        keys = ("run_id", "name", "version", "registered_uri", "tracking_uri")
        summary["mlflow"] = {key: tracked[key] for key in keys}
    if as_json:
        print(json.dumps(summary, default=str))
        return
    _print_training(summary, result)
    if tracked is not None:
        console.print(
            f"MLflow run {tracked['run_id']}: registered [bold]{tracked['name']}[/] version "
            f"{tracked['version']} ({tracked['tracking_uri']}). Make it the champion with "
            f"`mqlml promote {tracked['name']} {tracked['version']}`.",
            highlight=False,
            soft_wrap=True,
        )


def _goal_words(exc: Exception, cfg, target_rate, capacity) -> Exception:
    """An error about tier cut points, when no tiers were set, is about the MQL goal."""
    if "tier cut points" not in str(exc) or cfg is None or cfg.score.tiers is not None:
        return exc
    goal = (
        f"--capacity {capacity}"
        if capacity is not None
        else f"--target-rate {target_rate}"
        if target_rate is not None
        else f"the config's threshold goal ({cfg.threshold.capacity or cfg.threshold.target_rate})"
    )
    return MqlmlError(
        f"the MQL goal must leave some leads below the MQL line; {goal} puts the line at a "
        "probability of 0, so every lead would be an MQL. Ask for fewer MQLs (a smaller "
        "--capacity) or aim for a conversion rate (--target-rate)."
    )


def _print_training(s: dict, result) -> None:
    goal = (
        f"target MQL-to-SQL rate {s['target_rate']:.0%}"
        if s["target_rate"] is not None
        else f"capacity {s['capacity']}"
    )
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
    for row in s.get("segments") or ():  # threshold.segments: each segment's own line
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
    if s.get("date_formats"):
        from mqlml.dates import describe

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


@app.command()
def score(
    model: Annotated[str, ModelOpt],
    input: Annotated[Path, typer.Option("--input", "-i", help="Leads (.csv or .parquet).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scores (.csv or .parquet).")],
    chunk_size: Annotated[int, typer.Option(help="Rows per chunk.", callback=_positive)] = 100_000,
    no_reasons: Annotated[bool, typer.Option("--no-reasons", help="Skip reason codes.")] = False,
    all_reasons: Annotated[
        bool, typer.Option("--all-reasons", help="Reasons for every lead, not only the top tiers.")
    ] = False,
    keep: Annotated[str, typer.Option(help="Input columns to pass through, COL,COL.")] = "",
    keep_prefix: Annotated[
        str, typer.Option(help="Prefix for the kept columns' names, e.g. input_.")
    ] = "",
    encoding: Annotated[
        str, typer.Option(help="Text encoding of a CSV input, e.g. latin-1.", callback=_encoding)
    ] = "utf-8",
    delimiter: Annotated[
        str,
        typer.Option(help="CSV delimiter: one character, tab, or auto.", callback=_delimiter),
    ] = "auto",
    unique_ids: Annotated[
        bool, typer.Option("--unique-ids", help="Fail (write nothing) if an id repeats.")
    ] = False,
    events: Annotated[
        Path | None, typer.Option(help="Activity log, for a model trained from one.")
    ] = None,
    as_of: Annotated[
        str,
        typer.Option(help="Date the activity-log features are computed as of.", callback=_date),
    ] = "now",
    engine: Annotated[
        str,
        typer.Option(
            help="local (one process, streamed) or spark.",
            callback=_one_of("local", "spark"),
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
            callback=_one_of("auto", "lightgbm", "compiled"),
        ),
    ] = "auto",
    attribution: Annotated[
        str,
        typer.Option(
            help="Reasons from path attribution (fast) or exact TreeSHAP (slow): path or shap.",
            callback=_one_of("path", "shap"),
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
    from mqlml.scoring import score_file

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
            from mqlml.scoring import ScoreSummary
            from mqlml.spark import score_files

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
            bundle = _bundle(model)
            total, exact = show.estimate_rows(input)
            with show.rows(err, total, exact=exact, enabled=not as_json) as advance:
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
                    predictor=predictor,
                    attribution=attribution,
                    accounts=accounts,
                    csv_formulas=csv_formulas,
                )
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except (MqlmlError, ValueError, OSError) as exc:
        _fail(exc)
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


def _bundle(model: str):
    """A bundle from a folder or the MLflow registry (models:/NAME@ALIAS, models:/NAME/V)."""
    from mqlml.tracking import resolve_model

    return resolve_model(model)


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
    from mqlml.report import build_report

    try:
        with show.stages(err, enabled=not as_json) as stage:
            stage("loading the model")
            bundle = _bundle(model)
            stage("comparing with the points on the test part and writing the report")
            result, paths = build_report(bundle, baseline=baseline, out=out, source=model)
    except (MqlmlError, ValueError, OSError) as exc:
        _fail(exc)
    if as_json:
        printed = {k: result[k] for k in ("headline", "summary")}
        print(json.dumps({**printed, "paths": {k: str(v) for k, v in paths.items()}}))
        return
    _print_report(result, paths)


def _print_report(result: dict, paths: dict) -> None:
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
    from mqlml.scorecards import fidelity_markdown
    from mqlml.scorecards import scorecard as make_scorecard

    try:
        card = make_scorecard(
            _bundle(model),
            data=data,
            max_rules=max_rules,
            out=out,
            table=sql_table,
            csv_formulas=csv_formulas,
        )
    except (MqlmlError, ValueError, OSError) as exc:
        _fail(exc)
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


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="Registered model name, e.g. mqlml-lead-scorer.")],
    version: Annotated[int, typer.Argument(help="The model version to promote.")],
    alias: Annotated[str, typer.Option(help="The alias to point at the version.")] = "champion",
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Project config (for tracking.uri).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Point a registered-model alias at a version; load it as models:/NAME@ALIAS."""
    from mqlml.config import load_config
    from mqlml.tracking import promote as set_alias

    try:
        cfg = load_config(config) if config is not None else None
        done = set_alias(name, version, alias, tracking=cfg)
    except MqlmlError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(done))
        return
    was = "" if done["previous"] is None else f" (was version {done['previous']})"
    console.print(
        f"{name}@{alias} -> version {done['version']}{was}; load it as models:/{name}@{alias}",
        highlight=False,
        soft_wrap=True,
    )


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
    from mqlml.monitor import monitor as run_monitor
    from mqlml.readers import read_table

    try:
        bundle = _bundle(model)
        tokens, ids = bundle.schema.missing_tokens, [bundle.schema.id_column or ""]
        leads = read_table(input, missing_tokens=tokens, text_columns=ids)
        known = (
            None
            if outcomes is None
            else read_table(outcomes, missing_tokens=tokens, text_columns=ids)
        )
        report = run_monitor(bundle, leads, outcomes=known, as_of=as_of)
    except (MqlmlError, ValueError, OSError) as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        _print_monitor(report)
    raise typer.Exit(report.exit_code)


def _print_monitor(report) -> None:
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
        typer.Option(help="MQL-to-SQL rate to aim for (default: the bundle's).", callback=_rate),
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
    from mqlml.readers import read_table
    from mqlml.recalibrate import check_out
    from mqlml.recalibrate import recalibrate as run_recalibration

    registry = model.startswith("models:/")
    try:
        if registry and out is None:
            raise MqlmlError(
                f"--out must be given for a registry model; got --model {model} and no "
                "--out. Name a new folder, e.g. --out models/NAME-recalibrated."
            )
        out = out or Path(f"{Path(model).resolve()}-recalibrated")
        check_out(out, {"model": None if registry else Path(model), "data file": data}, force=force)
        bundle = _bundle(model)
        tokens = bundle.schema.missing_tokens
        ids = [bundle.schema.id_column or ""]
        recent = read_table(data, missing_tokens=tokens, text_columns=ids)
        _, summary = run_recalibration(
            bundle, recent, target_rate=target_rate, out=out, force=force, source=model
        )
    except (MqlmlError, ValueError, OSError) as exc:
        _fail(exc)
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


@app.command()
def demo(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Project config (default: the bundled sample's)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for every output.")] = Path("mqlml-out"),
) -> None:
    """Run the whole job on the bundled synthetic sample: check, train, report, score, monitor."""
    from mqlml.checks import check_leads
    from mqlml.config import load_config
    from mqlml.readers import read_leads
    from mqlml.report import build_report
    from mqlml.scoring import score_file
    from mqlml.train import train as run_training

    try:
        if config is None:
            from mqlml.datasets import example_file

            config = example_file("mqlml.yaml")
        cfg = load_config(config)
        console.rule("1. check the leads")
        leads = read_leads(cfg)
        checked = check_leads(leads, cfg)
        _print_check(checked, cfg.data.path)
        if not checked.ok:
            raise typer.Exit(ATTENTION)
        console.rule("2. train, calibrate, choose the MQL threshold")
        with show.stages(err) as stage:  # each stage with its time, on stderr
            result = run_training(cfg, frame=leads, out=out / "model", progress=stage)
        _print_training(result.summary(), result)
        console.rule("3. compare with the points baseline on the newest leads")
        report, paths = build_report(result.bundle, frame=leads, out=out / "report")
        _print_report(report, paths)
        console.rule("4. score every lead")
        scores = out / "scores.csv"
        summary = score_file(result.bundle, cfg.data.path, scores, reasons="top")
        console.print(
            f"scored {summary.rows:,} leads: {summary.mqls:,} MQLs ({summary.mql_share:.1%}), "
            f"{summary.expected_sqls:,.0f} expected SQLs"
        )
        _print_first_mqls(scores)
        _demo_monitoring(out / "model", out)
    except MqlmlError as exc:
        _fail(exc)
    console.rule("outputs")
    for what, where in (
        ("bundle", out / "model"),
        ("report", paths["html"]),
        ("report (JSON)", paths["json"]),
        ("report (Markdown)", paths["markdown"]),
        ("scores", scores),
        ("recalibrated bundle", out / "model-recalibrated"),
    ):
        console.print(f"{what:>20}: [bold]{where}[/]", highlight=False)


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


def _demo_monitoring(bundle_path: Path, out: Path) -> None:
    """A drifted later period: monitor it, recalibrate on its first half, check the rest."""
    from mqlml.datasets import make_leads
    from mqlml.monitor import monitor as run_monitor
    from mqlml.recalibrate import recalibrate as run_recalibration

    console.rule("5. monitor a later period: base rate doubled, pricing-page visits doubled")
    later = make_leads(
        20_000,
        seed=21,
        start="2026-01-01",
        days=365,
        base_rate_scale=2.0,
        engagement_shift={"pricing_page_visits": 2.0},
    )
    first, rest = later.iloc[:10_000], later.iloc[10_000:]
    report = run_monitor(bundle_path, first, outcomes=first[["lead_id", "converted"]])
    _print_monitor(report)
    console.rule("6. recalibrate on the first half of that period (the trees stay)")
    again = out / "model-recalibrated"
    # a second demo into the same folder replaces its own earlier outputs, this one too
    new, summary = run_recalibration(bundle_path, first, out=again, force=again.exists())
    console.print(f"the new calibration is {summary['verdict']}", highlight=False)
    after = run_monitor(new, rest, outcomes=rest[["lead_id", "converted"]])
    o = after.outcomes
    console.print(
        f"MQL-to-SQL rate on the newest half: {summary['before']['realized_rate']:.1%} before, "
        f"{summary['after']['realized_rate']:.1%} after (target {new.threshold.target_rate:.0%});"
        f" on the next {after.n:,} leads: {o['realized_rate']:.1%} -> {after.recommendation}.",
        highlight=False,
    )


def main() -> None:
    """Entry point of the ``mqlml`` console script."""
    try:
        app(prog_name="mqlml")
    except MqlmlError as exc:  # pragma: no cover - commands catch their own
        err.print(f"error: {exc}")
        sys.exit(USAGE_ERROR)
    except KeyboardInterrupt as exc:  # pragma: no cover - outside a command's own handling
        err.print(f"stopped: {exc or 'interrupted'}")
        sys.exit(getattr(exc, "exit_code", INTERRUPTED))
