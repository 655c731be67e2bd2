"""The package as it is installed: shipped data, the LICENSE, `sample`, the built wheel.

The slow test builds the wheel, installs it into a fresh virtual environment (its
dependencies from the committed constraints file, through pip's cache) and runs
`mqlml demo` in an empty folder: it proves that the wheel holds the code, the sample and
its configs, that its declared dependencies resolve to a working set, and that nothing
reads the checkout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.config._config import load_config
from mqlml.errors import ConfigError
from mqlml.leads._synthetic import EXAMPLE_FILES, example_file

from .conftest import DATA, ROOT

runner = CliRunner()


def test_license_is_the_apache_text():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


def test_example_files_are_inside_the_package():
    package = Path(__import__("mqlml").__file__).resolve().parent
    for name in EXAMPLE_FILES:
        path = example_file(name)
        assert path.is_file() and path.parent == package / "data", name
    # data/ in the checkout is the same folder, so every documented path still works.
    assert (DATA / "mqlml.yaml").resolve() == example_file("mqlml.yaml")
    cfg = load_config(example_file("mqlml.yaml"))
    assert cfg.data.path == example_file("sample_leads.csv")
    assert cfg.baseline.rules == example_file("rules.yaml")
    with pytest.raises(ConfigError, match=r"example file must be one of mqlml.yaml, .*'nope'"):
        example_file("nope")


def test_sample_defaults_to_the_current_folder_and_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = example_file("sample_leads.csv").stat().st_mtime_ns
    result = runner.invoke(app, ["sample", "--rows", "300"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "sample_leads.csv"
    assert len(written.read_text().splitlines()) == 301
    assert example_file("sample_leads.csv").stat().st_mtime_ns == before

    again = runner.invoke(app, ["sample", "--rows", "200"])
    assert again.exit_code == 2
    assert "--out must not be an existing file" in again.output and "--force" in again.output
    assert len(written.read_text().splitlines()) == 301

    forced = runner.invoke(app, ["sample", "--rows", "200", "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(written.read_text().splitlines()) == 201

    folder = runner.invoke(app, ["sample", "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.output


# The README's commands to build the wheel in the repository and install it: the tests
# below run these (on a copy of the sources, with the wheel's path, into a fresh venv).
README_BUILD = "python -m pip wheel --no-deps -w dist ."
README_INSTALL = "python -m pip install -c constraints.txt dist/{wheel}"


def test_the_readme_installs_the_wheel_it_builds_never_a_name_from_an_index():
    """mqlml is not published: `pip install mqlml` would fail, or install someone else's
    package. The README's install commands are the ones these tests run."""
    import re

    from mqlml import __version__

    readme = (ROOT / "README.md").read_text()
    wheel = f"mqlml-{__version__}-py3-none-any.whl"
    assert README_BUILD in readme
    assert README_INSTALL.format(wheel=wheel) in readme
    named = re.findall(r"pip install[^\n`]*?(?<![./\w-])mqlml(?:\[[\w,]+\])?(?=[\s'\"`]|$)", readme)
    assert named == [], named


def _build_wheel(dest: Path) -> Path:
    """Build the wheel as the README says, in a copy of the sources (the checkout gets no
    build/ or dist/ folder)."""
    source = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "mqlml", source / "mqlml", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    _, *build = README_BUILD.split()
    subprocess.run(
        [sys.executable, *build[:-1], "-q", build[-1]],
        check=True,
        capture_output=True,
        text=True,
        cwd=source,
    )
    (wheel,) = (source / "dist").glob("mqlml-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_wheel_holds_the_code_the_data_and_the_license(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in EXAMPLE_FILES:
        assert f"mqlml/data/{name}" in names, name
    assert "mqlml/cli/__init__.py" in names and "mqlml/config/_reference.py" in names
    assert "mqlml/scoring/kernels.c" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "bench/", "notebooks/")) for n in names)


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_constraints_satisfy_every_declared_dependency_and_pin_this_environment():
    pins = _constraints()
    declared = [Requirement(r) for r in metadata.requires("mqlml") or ()]
    assert len(declared) > 15
    for req in declared:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt (run `make lock`)"
        assert req.specifier.contains(pins[name], prereleases=True), (str(req), pins[name])
    for name in ("pandas", "numpy", "scikit-learn", "lightgbm", "mlflow", "pyarrow", "pyspark"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            assert metadata.version(name) == pins[name], f"{name}: installed vs constraints.txt"


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo(wheel, tmp_path):
    """The wheel alone, in a fresh venv, runs the demo from an empty folder.

    By default the wheel is installed with --no-deps and the venv reads its dependencies
    from this environment's site-packages (a path, not a site dir, so no editable mqlml
    comes with them); the test above checks that those are the constraints' versions.
    MQLML_FULL_INSTALL=1 installs the dependencies too, from the constraints (minutes).
    """
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    full = os.environ.get("MQLML_FULL_INSTALL") == "1"
    # README_INSTALL with this venv's python and the wheel's path (and --no-deps unless full)
    _, *install_args = README_INSTALL.split()
    assert install_args[:5] == ["-m", "pip", "install", "-c", "constraints.txt"]
    pip = [str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt")]
    install = subprocess.run(
        [*pip, *([] if full else ["--no-deps"]), str(wheel)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=1400,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    if not full:
        (site,) = (env_dir / "lib").glob("python3*/site-packages")
        ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
        (site / "zz_dependencies.pth").write_text("\n".join(ours) + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import mqlml; print(mqlml.__file__)"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=empty,
        check=True,
    )
    assert str(env_dir) in where.stdout and str(ROOT) not in where.stdout
    demo = subprocess.run(
        [str(env_dir / "bin" / "mqlml"), "demo"],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "120"},
        cwd=empty,
        timeout=1500,  # generous: the demo trains three models
    )
    assert demo.returncode == 0, (demo.stdout[-2000:], demo.stderr[-2000:])
    assert (empty / "mqlml-out" / "report" / "report.html").is_file()
    assert (empty / "mqlml-out" / "scores.csv").is_file()
    assert "recalibrated bundle" in demo.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["mqlml-out"]
