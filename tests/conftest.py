"""Shared fixtures: where the public data lives, small configs written to tmp folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def data_dir() -> Path:
    """The public datasets folder: $MQLML_DATA_DIR, else ../shared/data beside the repo."""
    return Path(os.environ.get("MQLML_DATA_DIR") or ROOT.parent / "shared" / "data")


@pytest.fixture
def real_data() -> Path:
    folder = data_dir()
    if not (folder / "xeducation" / "Leads.csv").is_file():
        pytest.skip(f"public datasets not found in {folder} (set MQLML_DATA_DIR)")
    return folder


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config text into tmp_path and return its path."""

    def write(text: str, name: str = "mqlml.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
