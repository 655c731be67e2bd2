"""The options several commands share, and the checks of their values (each names the flag)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mqlml.errors import MqlmlError

__all__ = [
    "ConfigOpt",
    "CsvFormulasOpt",
    "JsonOpt",
    "ModelOpt",
]


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Project config (YAML).")]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


ModelOpt = typer.Option(
    "--model", "-m", help="Bundle folder, or models:/NAME@ALIAS or models:/NAME/VERSION."
)


def check_rate(value: str | None) -> float | None:
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


def check_capacity(value: str | None) -> str | None:
    if value is None:
        return value
    from mqlml.config._capacity import parse_capacity

    try:
        parse_capacity(int(value) if value.strip().isdigit() else value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace("capacity must be", "must be")) from None
    return value


def check_positive(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"must be a positive number of rows, e.g. 100000; got {value}.")
    return value


def one_of(*choices: str):
    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(f"must be one of {', '.join(choices)}; got {value!r}.")
        return value

    return check


def check_encoding(value: str) -> str:
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


def check_delimiter(value: str) -> str:
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
        callback=one_of("escape", "keep"),
    ),
]


def check_date(value: str) -> str:
    if value == "now":
        return value
    from mqlml.io._dates import as_timestamp

    try:
        as_timestamp(value, "--as-of")
    except MqlmlError:
        raise typer.BadParameter(
            f"must be 'now' or a date such as 2026-03-01 (ISO 8601, year first); got {value!r}."
        ) from None
    return value
