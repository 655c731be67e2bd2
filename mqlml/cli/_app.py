"""The ``mqlml`` command group every command module registers on, its errors and its entry point.

Results go to stdout, progress and errors to stderr. Exit codes are those of
:mod:`mqlml.exitcodes` (0 ok, 1 attention, 2 usage or input error, 3 recalibrate,
4 retrain). Heavy libraries are imported inside each command so ``mqlml --help`` starts
fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # newer typer carries its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import UsageError

from mqlml.errors import MqlmlError
from mqlml.exitcodes import INTERRUPTED, OK, USAGE_ERROR

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


def fail(exc: Exception) -> None:
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
        from mqlml.io._atomic import file_error

        return str(file_error(exc, exc.filename or "?", ""))
    return str(exc)


def interrupted(exc: KeyboardInterrupt) -> None:
    """One line for SIGINT or SIGTERM, and the shell's exit code for that signal."""
    err.print(f"[bold red]stopped:[/] {exc or 'interrupted; no output was written.'}")
    raise typer.Exit(getattr(exc, "exit_code", INTERRUPTED))


def bundle_of(model: str):
    """A bundle from a folder or the MLflow registry (models:/NAME@ALIAS, models:/NAME/V)."""
    from mqlml.integrations._registry import resolve_model

    return resolve_model(model)


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
