"""The package's layers, read from its imports: none runs upward and none makes a circle.

The contract is ``[tool.importlinter]`` in pyproject.toml (``lint-imports`` checks it too):
cli -> the demo -> integrations -> the MLflow loader -> (report | monitoring) ->
(scoring | rules) -> model -> leads -> (metrics | config) -> io -> (errors | exitcodes |
trust). Subpackages on one layer are independent of each other, and every module of the
package is on a layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("importlinter", reason="import-linter is a dev dependency")


def test_no_import_runs_upward_and_no_subpackage_is_left_out():
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_the_mlflow_loader_imports_only_the_trust_check_before_it_checks():
    """Importing mqlml.pyfunc (what MLflow unpickles) runs only mqlml/__init__.py,
    mqlml/trust.py (standard library only) and itself: the rest of a logged code copy is
    imported after its files are checked against trust.json."""
    code = (
        "import sys; import mqlml.pyfunc; "
        "print(sorted(m for m in sys.modules if m == 'mqlml' or m.startswith('mqlml.')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.split("\n")[-2] == "['mqlml', 'mqlml.pyfunc', 'mqlml.trust']"
    trust = (ROOT / "mqlml" / "trust.py").read_text(encoding="utf-8")
    assert "from mqlml" not in trust and "import mqlml" not in trust
