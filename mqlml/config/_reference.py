"""The config reference, generated from the config models: ``docs/config.md`` and a JSON Schema.

Every key of :class:`mqlml.config.ProjectConfig`, its type, default and meaning (the
models' field descriptions) goes into one Markdown page; the same models give a JSON
Schema (``docs/config.schema.json``) that editors use for completion and checking, e.g.
with the YAML language server::

    # yaml-language-server: $schema=../docs/config.schema.json

``make docs`` (``python -m mqlml.config``) writes both; a test fails when the
committed files differ from what the models give.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from mqlml.config._config import ProjectConfig, valid_keys

__all__ = ["json_schema", "main", "markdown", "write"]

_INTRO = """\
# Config reference

One YAML file describes a project: where the leads are, which columns are the id, the
creation time and the outcome, the features, how to split, the model, the MQL goal and
more. Only `data` and `columns` are required; every other key has the default below.
`mqlml init --data FILE` writes a starter config from a lead table, each choice explained.

- Relative paths are resolved against the config file's folder; `${VAR}` and
  `${VAR:-default}` in a path are read from the environment.
- An unknown key is an error naming the closest valid key and listing the valid ones.
- `features: infer` is shorthand for `features: {fit: infer, engagement: infer}`;
  `exclude` may be a list of `{column, reason}` or a mapping `column: reason`.
- Editors: `docs/config.schema.json` is the JSON Schema of this file (for the YAML
  language server, start the config with
  `# yaml-language-server: $schema=<path to>/config.schema.json`).

This page is generated from the config models (`mqlml/config/`) by `make docs`; do not
edit it by hand.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        text = " or ".join(names)
        return f"{text} or null" if type(None) in args else text
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    names = {str: "text", int: "integer", float: "number", bool: "true/false", Path: "path"}
    if annotation is datetime:
        return "date-time"
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, Path):
        value = str(value)
    return f"`{json.dumps(value)}`"


def _section(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _section(arg)
        if found is not None:
            return found
    return None


def _constraints(field: Any) -> str:
    words = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None:
                words.append(f"{sign} {value:g}")
    return f" ({', '.join(words)})" if words else ""


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name in valid_keys(model):
        field = model.model_fields[name]
        text = " ".join((field.description or "").split()).replace("|", "\\|")
        kind = _type_name(field.annotation) + _constraints(field)
        rows.append(f"| `{prefix}{name}` | {kind} | {_default(field)} | {text} |")
    return rows


def markdown() -> str:
    """The config reference page: one table per section, every key with type and default.

    Returns
    -------
    str

    Examples
    --------
    >>> "| `columns.label` |" in markdown()
    True
    """
    lines = [_INTRO, "## Sections", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    lines += _rows(ProjectConfig, "")
    for name in valid_keys(ProjectConfig):
        field = ProjectConfig.model_fields[name]
        section = _section(field.annotation)
        if section is None:
            continue
        title = f"`{name}`" + (" (a list of these)" if typing.get_origin(field.annotation) else "")
        doc = " ".join((section.__doc__ or "").split())
        lines += ["", f"## {title}", "", doc, ""]
        prefix = f"{name}[]." if typing.get_origin(field.annotation) is list else f"{name}."
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        lines += _rows(section, prefix)
    return "\n".join(lines) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file (draft 2020-12), for editors and validators.

    The shorthands the loader accepts are in it: ``features: infer`` and ``exclude`` as a
    mapping of column to reason.

    Returns
    -------
    dict

    Examples
    --------
    >>> schema = json_schema()
    >>> schema["required"]
    ['data', 'columns']
    >>> "source" in schema["properties"]
    False
    """
    schema = ProjectConfig.model_json_schema()
    schema["properties"].pop("source", None)
    props = schema["properties"]
    props["features"] = {
        "anyOf": [{"$ref": "#/$defs/FeaturesConfig"}, {"const": "infer"}],
        "description": props["features"].get("description", ""),
    }
    props["exclude"] = {
        "anyOf": [
            {"type": "array", "items": {"$ref": "#/$defs/Exclusion"}},
            {"type": "object", "additionalProperties": {"type": "string"}},
        ],
        "description": props["exclude"].get("description", ""),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mqlml project config",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def write(folder: str | Path) -> list[Path]:
    """Write ``config.md`` and ``config.schema.json`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "config.md"
    page.write_text(markdown(), encoding="utf-8")
    schema = folder / "config.schema.json"
    schema.write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")
    return [page, schema]


def main(argv: list[str] | None = None) -> None:
    """``python -m mqlml.config [FOLDER]``: write the reference (default docs/)."""
    args = sys.argv[1:] if argv is None else argv
    for path in write(args[0] if args else "docs"):
        print(f"wrote {path}")
