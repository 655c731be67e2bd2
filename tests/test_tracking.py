"""MLflow tracking: runs, the pyfunc model, the registry and ``models:/`` URIs.

Every run goes to a SQLite store in a temporary folder (MLFLOW_TRACKING_URI); nothing is
written under the repository.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mqlml.errors import BundleError, DataError, MqlmlError
from mqlml.integrations._mlflow import tracking_uri
from mqlml.integrations._registry import promote, resolve_model
from mqlml.integrations._tracking import _plain_column, log_training
from mqlml.scoring._scorer import OUTPUT_COLUMNS, score_frame

from .conftest import MLFLOW_MODULE

NAME = "mqlml-lead-scorer"

pytestmark = MLFLOW_MODULE


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.md"
    path.write_text("# report\n")
    return path


@pytest.fixture(scope="module")
def logged(mlflow_store, trained, sample_config, report_file) -> dict:
    """One run logged and registered (version 1) in the module's store."""
    return log_training(trained, sample_config, report_paths={"md": report_file})


@pytest.fixture(scope="module")
def leads(leads_20k) -> pd.DataFrame:
    # Extra columns (label, time, true_probability) are dropped by the signature.
    return leads_20k.iloc[:400].reset_index(drop=True)


def _client(store):
    from mlflow import MlflowClient

    return MlflowClient(store, store)


def test_importing_mqlml_and_tracking_does_not_import_mlflow():
    code = (
        "import sys, mqlml, mqlml.integrations._tracking, mqlml.cli\n"
        "assert 'mlflow' not in sys.modules, sorted(m for m in sys.modules if 'mlflow' in m)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_default_uri_is_a_sqlite_store_under_the_current_folder(
    monkeypatch, tmp_path, sample_config
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{tmp_path.as_posix()}/mlruns/mlflow.db"
    assert tracking_uri(sample_config) == f"sqlite:///{tmp_path.as_posix()}/mlruns/mlflow.db"
    custom = sample_config.with_overrides(tracking={"uri": "sqlite:////srv/runs.db"})
    assert tracking_uri(custom) == "sqlite:////srv/runs.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert tracking_uri(custom) == "http://tracking:5000"
    assert not (tmp_path / "mlruns").exists()  # naming the store creates nothing


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        (pd.Series(["a", None, "b"], dtype="category"), object, ["a", None, "b"]),
        (pd.Series([1, 2, 3], dtype="int8"), np.int64, [1, 2, 3]),
        (pd.Series([1, None, 3], dtype="Int64"), np.float64, [1.0, np.nan, 3.0]),
        (pd.Series([0.5, 1.5], dtype="float32"), np.float64, [0.5, 1.5]),
        (pd.Series(pd.to_datetime(["2025-03-01 10:00"])), object, ["2025-03-01T10:00:00"]),
        (pd.Series(["x", "y"], dtype="string"), object, ["x", "y"]),
    ],
)
def test_example_columns_get_plain_types(values, dtype, expected):
    out = _plain_column(values)
    assert out.dtype == np.dtype(dtype)
    assert out.tolist() == expected or np.allclose(out, expected, equal_nan=True)


def test_pyfunc_model_scores_like_the_bundle(logged, trained, leads):
    import mlflow

    model = mlflow.pyfunc.load_model(logged["model_uri"])
    got = model.predict(leads)
    want = score_frame(trained.bundle, leads)
    assert list(got.columns) == ["lead_id", *OUTPUT_COLUMNS]
    assert len(got) == len(leads)
    np.testing.assert_allclose(got["probability"], want["probability"], rtol=0, atol=1e-12)
    assert got["lead_id"].tolist() == leads["lead_id"].tolist()
    assert got["tier"].tolist() == want["tier"].tolist()
    assert got["is_mql"].tolist() == want["is_mql"].tolist()
    assert got["reasons_for"].tolist() == want["reasons_for"].tolist()
    # reasons="none" through the params of the signature
    quiet = model.predict(leads, params={"reasons": "none"})
    assert (quiet["reasons_for"] == "").all()
    np.testing.assert_allclose(quiet["probability"], want["probability"], rtol=0, atol=1e-12)


def test_signature_is_plain_and_the_example_has_five_leads(logged, trained):
    import mlflow

    info = mlflow.models.get_model_info(logged["model_uri"])
    inputs = {spec.name: spec.to_dict()["type"] for spec in info.signature.inputs.inputs}
    assert inputs["lead_id"] == "string"
    assert inputs["job_title"] == "string"
    # numbers take a null (NaN) and int64 alike: MLflow's long and double take only one
    assert inputs["page_views"] == "any"
    assert inputs["days_since_last_activity"] == "any"
    assert list(inputs) == ["lead_id", *trained.bundle.schema.features]
    assert all(spec.required for spec in info.signature.inputs.inputs)
    outputs = [spec.name for spec in info.signature.outputs.inputs]
    assert outputs == ["lead_id", *OUTPUT_COLUMNS]
    assert info.signature.params.to_dict()[0]["default"] == "top"
    assert info.saved_input_example_info is not None
    assert info.saved_input_example_info["type"] == "dataframe"


def _with_nulls(leads: pd.DataFrame) -> pd.DataFrame:
    """Leads with empty engagement counts (pandas makes the int column float NaN), an
    empty number and an empty category, as a CRM export or a JSON request carries them."""
    frame = leads.head(40).copy()
    frame["page_views"] = frame["page_views"].astype(object)
    frame.loc[[0, 3, 7], "page_views"] = None
    frame.loc[[1, 3], "days_since_last_activity"] = np.nan
    frame.loc[[2, 7], "job_title"] = None
    return frame


def test_a_null_count_scores_through_the_pyfunc_as_in_process(logged, trained, leads):
    import mlflow

    frame = _with_nulls(leads)
    frame["page_views"] = frame["page_views"].astype("float64")  # NaN in an integer count
    want = score_frame(trained.bundle, frame, reasons="all")
    assert want["probability"].notna().all()
    model = mlflow.pyfunc.load_model(logged["model_uri"])
    got = model.predict(frame, params={"reasons": "all"})
    np.testing.assert_allclose(got["probability"], want["probability"], rtol=0, atol=1e-12)
    assert got["tier"].tolist() == want["tier"].tolist()
    assert got["reasons_for"].tolist() == want["reasons_for"].tolist()
    # plain int64 counts (no null) are still taken
    clean = leads.head(40)
    assert clean["page_views"].dtype == np.int64
    np.testing.assert_allclose(
        model.predict(clean)["probability"],
        score_frame(trained.bundle, clean)["probability"],
        rtol=0,
        atol=1e-12,
    )


def test_the_scoring_server_takes_a_null_count(logged, trained, leads):
    """What ``mlflow models serve`` runs for a JSON request (no port opened): a null count
    is scored, as ``mqlml score`` scores it, instead of answering HTTP 400."""
    import json

    import mlflow
    from mlflow.pyfunc import scoring_server

    frame = _with_nulls(leads).drop(columns=["converted", "created_at", "true_probability"])
    rows = [
        [None if isinstance(v, float) and np.isnan(v) else v for v in row]
        for row in frame.astype(object).itertuples(index=False)
    ]
    rows = [[v.item() if isinstance(v, np.generic) else v for v in row] for row in rows]
    body = json.dumps({"dataframe_split": {"columns": list(frame.columns), "data": rows}})
    sent = json.loads(body)["dataframe_split"]
    counts = [row[sent["columns"].index("page_views")] for row in sent["data"]]
    assert counts[:4] == [None, *counts[1:3], None] and None not in counts[1:3]
    model = mlflow.pyfunc.load_model(logged["model_uri"])
    answer = scoring_server.invocations(
        body, "application/json", model, model.metadata.get_input_schema()
    )
    assert answer.status == 200, answer.response[:500]
    served = pd.DataFrame(json.loads(answer.response)["predictions"])
    want = score_frame(trained.bundle, frame)
    np.testing.assert_allclose(served["probability"], want["probability"], rtol=0, atol=1e-12)
    assert served["tier"].tolist() == want["tier"].tolist()


def test_run_holds_params_metrics_and_artifacts(logged, trained, mlflow_store, tmp_path):
    client = _client(mlflow_store)
    run = client.get_run(logged["run_id"])
    metrics, params = run.data.metrics, run.data.params
    for key in ("roc_auc", "pr_auc", "brier", "ece", "realized_rate", "mql_share", "lift"):
        assert metrics[key] == pytest.approx(float(trained.metrics[key]), abs=1e-12), key
    assert metrics["threshold"] == pytest.approx(trained.bundle.threshold.threshold, abs=1e-12)
    assert params["model.kind"] == "lightgbm"
    assert params["threshold.target_rate"] == "0.25"
    assert params["rows"] == "20000"
    assert (
        int(params["rows.train"]) + int(params["rows.test"]) + int(params["rows.calibrate"])
        == 20_000
    )
    assert params["data.path"].endswith("sample_leads.csv")
    experiment = client.get_experiment(logged["experiment_id"])
    assert experiment.name == "mqlml"
    # Artifacts of a SQLite store go beside the database, not into the current folder.
    store_folder = Path(mlflow_store[len("sqlite:///") :]).parent
    assert run.info.artifact_uri.startswith((store_folder / "artifacts").as_uri())
    names = {a.path for a in client.list_artifacts(logged["run_id"])}
    assert {"manifest.json", "calibration.json", "config", "report"} <= names
    config_files = {a.path for a in client.list_artifacts(logged["run_id"], "config")}
    assert config_files == {"config/config.json", "config/mqlml.yaml"}
    assert [a.path for a in client.list_artifacts(logged["run_id"], "report")] == [
        "report/report.md"
    ]
    assert logged["name"] == NAME and logged["version"] == 1
    assert logged["registered_uri"] == f"models:/{NAME}/1"


def test_promote_and_load_through_the_alias_and_the_version(logged, trained, leads, mlflow_store):
    assert promote(NAME, logged["version"]) == {
        "name": NAME,
        "alias": "champion",
        "version": 1,
        "previous": None,
    }
    assert promote(NAME, "1")["previous"] == 1
    aliases = _client(mlflow_store).get_registered_model(NAME).aliases
    assert {k: int(v) for k, v in aliases.items()} == {"champion": 1}
    want = score_frame(trained.bundle, leads)["probability"]
    for uri in (f"models:/{NAME}@champion", f"models:/{NAME}/1"):
        bundle = resolve_model(uri)
        got = score_frame(bundle, leads)["probability"]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        assert bundle.threshold.threshold == trained.bundle.threshold.threshold


def test_resolve_model_takes_a_bundle_folder(trained):
    bundle = resolve_model(trained.path)
    assert bundle.metadata["fingerprint"] == trained.bundle.metadata["fingerprint"]


@pytest.mark.usefixtures("logged")
@pytest.mark.parametrize(
    ("uri", "match"),
    [
        (f"models:/{NAME}@nobody", r"alias 'nobody' of registered model .* must be set.*promote"),
        (f"models:/{NAME}/7", r"version of registered model .* must be one of \[1\]; got '7'"),
        (f"models:/{NAME}/latest", r"must be one of \[1\]; got 'latest'"),
        ("models:/no-such-model@champion", r"registered model 'no-such-model' must exist.*UI"),
        ("models:/", r"model URI must be models:/NAME@ALIAS or models:/NAME/VERSION"),
    ],
)
def test_unknown_registry_references_are_bundle_errors(uri, match):
    with pytest.raises(BundleError, match=match):
        resolve_model(uri)


@pytest.mark.usefixtures("logged")
def test_promote_refuses_unknown_versions_and_bad_aliases():
    with pytest.raises(BundleError, match=r"must be one of \[1\]; got '3'"):
        promote(NAME, 3)
    with pytest.raises(BundleError, match="registered model 'nope' must exist"):
        promote("nope", 1)
    with pytest.raises(BundleError, match=r"alias must be .*got 'v2'"):
        promote(NAME, 1, alias="v2")


def test_registry_uri_without_a_store_is_a_bundle_error(tmp_path):
    missing = f"sqlite:///{(tmp_path / 'none.db').as_posix()}"
    with pytest.raises(BundleError, match=r"MLflow store must exist .*none\.db"):
        resolve_model(f"models:/{NAME}@champion", tracking=missing)
    assert not (tmp_path / "none.db").exists()


def test_missing_report_is_refused_before_logging(trained, sample_config, tmp_path):
    with pytest.raises(DataError, match=r"report_paths\['html'\] must be an existing file"):
        log_training(trained, sample_config, report_paths={"html": tmp_path / "no.html"})


def test_unregistered_run_of_an_unsaved_result(trained, sample_config, leads_20k, mlflow_store):
    unsaved = dataclasses.replace(trained, path=None)
    run = log_training(unsaved, sample_config, register=False, input_example=leads_20k)
    assert run["name"] is None and run["version"] is None and run["registered_uri"] is None
    assert {m.name for m in _client(mlflow_store).search_registered_models()} <= {NAME}
    files = {a.path for a in _client(mlflow_store).list_artifacts(run["run_id"])}
    assert "manifest.json" in files and "report" not in files


def test_mlflow_failures_become_mqlml_errors(monkeypatch, trained, sample_config):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus://nowhere")
    with pytest.raises(MqlmlError, match=r"logging the run to MLflow at bogus://nowhere must"):
        log_training(trained, sample_config)


# CLI: `mqlml promote NAME VERSION --alias ALIAS` (fails until the command is in cli.py).
def test_cli_promote(logged):
    from typer.testing import CliRunner

    from mqlml.cli import app

    result = CliRunner().invoke(app, ["promote", NAME, "1", "--alias", "challenger"])
    assert result.exit_code == 0, result.output
    assert "challenger" in result.output
    bad = CliRunner().invoke(app, ["promote", NAME, "9"])
    assert bad.exit_code == 2
    assert "must be one of [1]" in bad.output


def test_a_registry_artifact_replaced_by_a_pickle_or_another_bundle_is_refused(
    trained, sample_config, tmp_path, monkeypatch
):
    import hashlib
    import pickle
    import shutil

    store = f"sqlite:///{(tmp_path / 'store' / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    logged = log_training(trained, sample_config)
    uri = logged["registered_uri"]
    manifests = sorted((tmp_path / "store").rglob("manifest.json"))
    assert manifests, "the logged model holds the bundle's files"
    from mqlml.model._bundle import bundle_digest

    registered = bundle_digest(trained.path)
    assert resolve_model(uri).digest == registered

    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    folders = [m.parent for m in manifests if not m.parent.name == "backtest"]
    for folder in folders:  # every file of the stored bundle becomes the same pickle
        payload = pickle.dumps(Exploit())
        for path in folder.iterdir():
            if path.is_file():
                path.write_bytes(payload)
    with pytest.raises(BundleError):
        resolve_model(uri)
    assert not marker.exists()

    # A consistent, valid bundle swapped in after registration: the digest tag refuses it.
    other = dataclasses.replace(trained.bundle, metadata={**trained.bundle.metadata, "x": 1})
    for folder in folders:
        shutil.rmtree(folder)
        other.save(folder)
    digest = hashlib.sha256((folders[0] / "manifest.json").read_bytes()).hexdigest()
    assert digest != registered
    with pytest.raises(BundleError, match=r"must hold the bundle registered with it"):
        resolve_model(uri)
