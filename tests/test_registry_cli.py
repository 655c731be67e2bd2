"""Every command that takes a model takes a bundle folder or a ``models:/`` URI, alike.

The model is registered in a SQLite MLflow store in a temporary folder
(MLFLOW_TRACKING_URI); each command is run once with ``models:/NAME@champion`` (or
``/VERSION``) and gives what it gives with the bundle folder.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.errors import BundleError
from mqlml.integrations._registry import promote, resolve_model
from mqlml.integrations._tracking import log_training
from mqlml.model._bundle import load_bundle

from .conftest import MLFLOW_MODULE

NAME = "mqlml-resolver-test"
CHAMPION = f"models:/{NAME}@champion"

pytestmark = MLFLOW_MODULE
runner = CliRunner()


@pytest.fixture(scope="module")
def registered(mlflow_store, trained, sample_config):
    logged = log_training(trained, sample_config, model_name=NAME)
    promote(logged["name"], logged["version"])
    assert logged["name"] == NAME
    return logged


@pytest.fixture(scope="module")
def later(tmp_path_factory):
    """A later period with a doubled base rate: labelled leads, and the same without labels."""
    from mqlml.leads._synthetic import make_leads

    folder = tmp_path_factory.mktemp("later")
    leads = make_leads(6_000, seed=31, start="2026-01-01", days=180, base_rate_scale=2.0)
    labelled, unlabelled = folder / "labelled.csv", folder / "leads.csv"
    leads.to_csv(labelled, index=False)
    leads.drop(columns="converted").to_csv(unlabelled, index=False)
    return labelled, unlabelled


@pytest.mark.usefixtures("registered")
def test_score_report_and_monitor_take_the_registry_uri(trained, later, tmp_path):
    labelled, unlabelled = later
    runs = {}
    for name, model in (("folder", str(trained.path)), ("uri", CHAMPION)):
        out = tmp_path / f"{name}.csv"
        args = ["score", "-m", model, "-i", str(unlabelled), "-o", str(out), "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        runs[name] = pd.read_csv(out)
        # the fixture's bundle was trained on leads other than its config's file: the
        # report refuses alike, after loading the model either way
        report = runner.invoke(app, ["report", "-m", model, "--out", str(tmp_path / name)])
        said = [line for line in report.stderr.splitlines() if line.startswith("error:")]
        runs[f"report-{name}"] = (report.exit_code, said)
        monitored = runner.invoke(
            app, ["monitor", "-m", model, "-i", str(unlabelled), "--outcomes", str(labelled)]
        )
        runs[f"monitor-{name}"] = monitored.exit_code
        assert "recommendation:" in monitored.stdout
    np.testing.assert_array_equal(runs["folder"]["probability"], runs["uri"]["probability"])
    assert runs["monitor-folder"] == runs["monitor-uri"] == 3  # doubled odds: recalibrate
    assert runs["report-folder"] == runs["report-uri"]
    assert runs["report-uri"][0] == 2 and "the leads must be the ones" in runs["report-uri"][1][0]
    unset = runner.invoke(app, ["report", "-m", f"models:/{NAME}@nobody", "--out", "r"])
    assert unset.exit_code == 2 and "alias 'nobody' of registered model" in unset.stderr


@pytest.mark.usefixtures("registered")
def test_recalibrate_takes_the_registry_uri_and_records_it(trained, later, tmp_path):
    labelled, _ = later
    out = tmp_path / "recalibrated"
    args = ["recalibrate", "-m", f"models:/{NAME}/1", "--data", str(labelled), "--json"]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2
    assert "--out must be given for a registry model" in missing.output
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["written"] and summary["better"] and summary["exit_code"] == 0
    parent = load_bundle(out).metadata["parent"]
    assert parent["source"] == f"models:/{NAME}/1" and parent["path"] is None
    assert parent["digest"] == trained.bundle.digest


@pytest.mark.usefixtures("registered")
def test_spark_and_the_api_load_through_the_one_resolver(trained):
    from mqlml.integrations.spark import _load

    for loaded in (_load(CHAMPION), resolve_model(CHAMPION), resolve_model(trained.path)):
        assert loaded.digest == trained.bundle.digest
    with pytest.raises(BundleError, match=r"got the registry URI .*mqlml\.resolve_model"):
        load_bundle(CHAMPION)


def test_a_registry_uri_with_no_such_alias_is_one_line_and_exit_2(later, tmp_path):
    _, unlabelled = later
    args = ["-m", f"models:/{NAME}-absent@champion", "-i", str(unlabelled)]
    result = runner.invoke(app, ["monitor", *args])
    assert result.exit_code == 2
    assert "must exist in the MLflow registry" in result.output
    assert "Traceback" not in result.output
