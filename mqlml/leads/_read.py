"""The leads file a project config names, read with the config's format and missing tokens."""

from __future__ import annotations

import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.io._readers import read_table

__all__ = [
    "read_leads",
]


def read_leads(config: ProjectConfig) -> pd.DataFrame:
    """Read the leads file a project config names, with its format and missing tokens.

    The id column is read as text exactly as written (no value of it is missing); nested
    Parquet columns the config excludes are not read (others are an error).
    """
    data = config.data
    return read_table(
        data.path,
        format=data.format,
        delimiter=data.delimiter,
        encoding=data.encoding,
        missing_tokens=config.missing_tokens,
        text_columns=[config.columns.id] if config.columns.id else (),
        skip_nested=config.excluded_columns,
    )
