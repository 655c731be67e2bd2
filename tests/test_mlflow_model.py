"""The logged MLflow model is self-contained: it loads and scores where mqlml is not installed.

A model logged by :func:`mqlml.integrations._tracking.log_training` carries mqlml's sources
(``code_paths``) and pip requirements without mqlml. The test loads the registered
model in a fresh Python process in which ``import mqlml`` cannot find the checkout nor
the installed package (a finder refuses both), with only ``MLFLOW_TRACKING_URI`` set,
as the README says for ``mlflow models serve`` and ``spark_udf``; the scores must equal
the in-process ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest

from .conftest import ROOT

pytestmark = [
    # MLflow's SQLite store triggers this SQLAlchemy deprecation inside MLflow.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

_CHILD = textwrap.dedent(
    """
    import importlib.machinery, importlib.util, json, os, site, sys

    ROOT = sys.argv[1]
    refused = [ROOT, *site.getsitepackages()]

    class RefuseInstalledMqlml:
        # mqlml from the checkout or from site-packages (editable or not) is refused.
        def find_spec(self, name, path=None, target=None):
            if name != "mqlml":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, sys.path)
            if spec is None or any(
                os.path.realpath(spec.origin).startswith(os.path.realpath(p) + os.sep)
                for p in refused
            ):
                raise ImportError("mqlml is refused here")
            return spec

    sys.meta_path.insert(0, RefuseInstalledMqlml())
    try:
        import mqlml  # noqa: F401
        sys.exit("mqlml was importable before loading the model")
    except ImportError:
        pass

    import warnings
    warnings.simplefilter("ignore")
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(sys.argv[2])
    frame = pd.read_parquet(sys.argv[3])
    out = model.predict(frame, params={"reasons": "all"})
    out.to_parquet(sys.argv[4])
    print(json.dumps({"mqlml": sys.modules["mqlml"].__file__}))
    """
)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    from mqlml.integrations._tracking import _plain_column

    return pd.DataFrame({c: _plain_column(frame[c]) for c in frame.columns})


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_registered_model_loads_and_scores_without_mqlml_installed(
    tmp_path, monkeypatch, trained, sample_config, leads_20k
):
    from mqlml.integrations._tracking import _requirements, log_training
    from mqlml.scoring._scorer import score_frame

    store = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    logged = log_training(trained, sample_config, input_example=leads_20k)
    uri = logged["registered_uri"]
    assert uri == "models:/mqlml-lead-scorer/1"

    # What MLflow wrote: the code, and requirements that name no mqlml.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecations (and import-time ones)
        import mlflow
        from mlflow.models import Model

        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "dl"))
        )
        flavor = Model.load(str(local)).flavors["python_function"]
    code = local / flavor["code"]
    assert (code / "mqlml" / "integrations" / "_tracking.py").is_file()
    assert (code / "mqlml" / "scoring" / "_scorer.py").is_file()
    assert (code / "mqlml" / "scoring" / "kernels.c").is_file()
    assert not (code / "mqlml" / "data").exists()
    requirements = [
        line.strip()
        for line in (local / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [r for r in requirements if r.lower().startswith("mqlml")], requirements
    assert set(_requirements()) <= set(requirements), requirements
    assert any(r.startswith("lightgbm==") for r in requirements)

    leads = _plain(leads_20k.drop(columns=["true_probability", "converted"]).head(300))
    leads.to_parquet(tmp_path / "leads.parquet")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_REGISTRY_URI")}
    child = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _CHILD,
            str(ROOT),
            uri,
            str(tmp_path / "leads.parquet"),
            str(tmp_path / "scores.parquet"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "MLFLOW_TRACKING_URI": store},
        timeout=500,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    loaded_from = json.loads(child.stdout.strip().splitlines()[-1])["mqlml"]
    assert "/code/mqlml/" in loaded_from and not loaded_from.startswith(str(ROOT))

    theirs = pd.read_parquet(tmp_path / "scores.parquet")
    ours = score_frame(trained.bundle, leads, reasons="all")
    assert len(theirs) == len(ours) == 300
    assert list(theirs.columns) == list(ours.columns)
    pd.testing.assert_series_equal(
        theirs["probability"], ours["probability"], check_exact=False, rtol=0, atol=1e-12
    )
    for column in ("lead_id", "tier", "is_mql", "reasons_for", "reasons_against"):
        assert theirs[column].astype(str).tolist() == ours[column].astype(str).tolist(), column


@pytest.mark.slow
def test_a_registered_unsaved_result_is_tagged_with_its_digest(
    tmp_path, monkeypatch, trained, sample_config, leads_20k
):
    import dataclasses

    from mqlml.integrations._registry import resolve_model
    from mqlml.integrations._tracking import log_training

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp_path / 'm.db').as_posix()}")
    unsaved = dataclasses.replace(trained, path=None)
    logged = log_training(unsaved, sample_config, input_example=leads_20k)
    # the shared bundle still names its own folder, not the temporary one logged
    assert trained.bundle.path == trained.path
    loaded = resolve_model(logged["registered_uri"])  # checks the tagged digest
    assert loaded.threshold.threshold == trained.bundle.threshold.threshold


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_changed_code_copy_or_bundle_in_the_store_is_refused_on_load(
    tmp_path, monkeypatch, trained, sample_config, leads_20k
):
    """The pyfunc route checks what ``mqlml score models:/`` checks: an appended line in the
    logged code copy never runs, and a bundle edited and rehashed in the store is refused."""
    import hashlib

    from mqlml.integrations._tracking import log_training

    store = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    uri = log_training(trained, sample_config, input_example=leads_20k)["registered_uri"]
    (source,) = [p for p in tmp_path.rglob("code/mqlml/model/_bundle.py")]
    (manifest,) = [p for p in source.parents[3].rglob("artifacts/bundle/manifest.json")]
    leads = _plain(leads_20k.drop(columns=["true_probability", "converted"]).head(50))
    leads.to_parquet(tmp_path / "leads.parquet")
    marker = tmp_path / "ran"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_REGISTRY_URI")}
    env.update(MLFLOW_TRACKING_URI=store, MQLML_TEST_MARKER=str(marker))

    def load() -> subprocess.CompletedProcess:
        arguments = [str(ROOT), uri, str(tmp_path / "leads.parquet"), str(tmp_path / "o.parquet")]
        return subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, *arguments],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=500,
        )  # fmt: skip

    original = source.read_text()
    source.write_text(
        original + "\nimport os as _os\nopen(_os.environ['MQLML_TEST_MARKER'], 'w')\n"
    )
    child = load()
    assert child.returncode != 0 and not marker.exists()
    assert "code copy must match its trust.json" in child.stderr and "bundle.py" in child.stderr
    source.write_text(original)

    saved = manifest.read_bytes()
    edited = json.loads(saved)
    edited["threshold"]["threshold"] = 0.99  # MQLs all but gone
    raw = json.dumps(edited).encode()
    manifest.write_bytes(raw)
    (manifest.parent / "bundle.sha256").write_text(hashlib.sha256(raw).hexdigest())
    child = load()
    assert child.returncode != 0
    assert "must have the digest its trust.json names" in child.stderr
