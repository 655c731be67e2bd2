"""The package as users meet it: light import, public names, console script."""

import subprocess
import sys
from importlib import metadata

import mqlml


def test_import_is_light():
    code = (
        "import sys, mqlml; heavy = [m for m in ('mlflow', 'matplotlib', 'pyspark', 'lightgbm',"
        " 'sklearn') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_does_not_import_mlflow():
    code = "import sys; from mqlml.cli import app; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_public_name_resolves():
    for name in mqlml.__all__:
        assert getattr(mqlml, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        mqlml.nope  # noqa: B018


def test_console_script_is_declared():
    scripts = {e.name: e.value for e in metadata.entry_points(group="console_scripts")}
    assert scripts.get("mqlml") == "mqlml.cli:main"
