"""``mqlml promote``: point a registered model's alias at a version (:func:`mqlml.promote`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mqlml.cli._app import app, console, fail
from mqlml.cli._options import (
    JsonOpt,
)
from mqlml.errors import MqlmlError


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
    from mqlml.config._config import load_config
    from mqlml.integrations._registry import promote as set_alias

    try:
        cfg = load_config(config) if config is not None else None
        done = set_alias(name, version, alias, tracking=cfg)
    except MqlmlError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(done))
        return
    was = "" if done["previous"] is None else f" (was version {done['previous']})"
    console.print(
        f"{name}@{alias} -> version {done['version']}{was}; load it as models:/{name}@{alias}",
        highlight=False,
        soft_wrap=True,
    )
