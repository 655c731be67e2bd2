"""Text for the files mqlml writes: plain JSON values, and data made inert in Markdown."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "json_safe",
    "md_text",
]


_MD_SPECIAL = str.maketrans(
    {"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "\n": " ", "\r": " "}
)


def md_text(value: Any) -> str:
    r"""Text from the data (a level, a column, a rule's name) made inert in Markdown.

    HTML special characters become entities (a level ``<img onerror=...>`` shows as
    text, never as an element); table pipes, brackets (links, images) and backslashes
    are escaped, and line breaks become spaces, so a value stays inside its table cell.

    Examples
    --------
    >>> print(md_text("<img src=x onerror=alert(1)> | [a](b)"))
    &lt;img src=x onerror=alert(1)&gt; \| \[a\](b)
    """
    return html.escape(str(value), quote=False).translate(_MD_SPECIAL)


def json_safe(value: Any) -> Any:
    """Plain JSON types only: numpy scalars to Python, NaN and inf to None, paths to str."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value
