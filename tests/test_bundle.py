"""The bundle is data: it round-trips exactly, and loading it can never run code."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mqlml.config._config import ProjectConfig
from mqlml.errors import BundleError
from mqlml.leads._synthetic import make_leads
from mqlml.model._bundle import SIGNING_KEY_ENV, Bundle, bundle_digest, load_bundle, read_manifest
from mqlml.model._train import train
from mqlml.scoring._scorer import score_frame

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / "mqlml-pickle-ran"


class _Exploit:
    """A pickle that creates MARKER when it is loaded."""

    def __reduce__(self):
        return (Path.touch, (MARKER,))


def _malicious() -> bytes:
    return pickle.dumps(_Exploit())


@pytest.fixture(autouse=True)
def _no_marker():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a pickle ran while a bundle was loaded"


@pytest.fixture(scope="module", params=["lightgbm", "logistic"])
def saved(request, tmp_path_factory):
    cfg = ProjectConfig(
        data={"path": "-"},
        columns={"id": "lead_id", "label": "converted", "time": "created_at"},
        model={"kind": request.param},
    )
    leads = make_leads(6000, seed=3)
    result = train(cfg, frame=leads, out=tmp_path_factory.mktemp(request.param) / "b")
    return result.bundle, leads


def _copy(saved, tmp_path) -> Path:
    bundle, _ = saved
    target = tmp_path / "copy"
    shutil.copytree(bundle.path, target)
    return target


def test_round_trip_scores_bit_for_bit(saved, tmp_path):
    bundle, leads = saved
    loaded = load_bundle(_copy(saved, tmp_path))
    pd.testing.assert_frame_equal(
        score_frame(loaded, leads.iloc[:500], reasons="all"),
        score_frame(bundle, leads.iloc[:500], reasons="all"),
    )
    assert loaded.threshold == bundle.threshold and loaded.tiers == bundle.tiers
    assert loaded.schema == bundle.schema and loaded.metadata == json.loads(
        json.dumps(bundle.metadata, default=str)
    )
    assert loaded.digest == bundle.digest == bundle_digest(loaded.path)


def test_the_folder_holds_only_data_files(saved):
    bundle, _ = saved
    names = sorted(p.name for p in bundle.path.iterdir())  # no cache beside it
    expected = [
        "bundle.sha256",
        "calibration.json",
        "manifest.json",
        "model.json",
        "reference.json",
        "backtest",  # the deployed bundle keeps its backtest, a bundle of the same files
    ]
    if bundle.model.model == "lightgbm":
        expected.append("model.txt")
    assert names == sorted(expected)
    files = [p for p in bundle.path.rglob("*") if p.is_file()]
    assert len(files) == 2 * (len(expected) - 1)
    for path in files:
        name = path.name
        data = path.read_bytes()
        assert b"\x80\x04" not in data[:2]  # no pickle protocol header
        if name.endswith(".json"):
            json.loads(data)


def test_a_backtest_bundle_is_saved_and_loaded_inside(saved, tmp_path):
    bundle, leads = saved
    folder = _copy(saved, tmp_path)
    loaded = load_bundle(folder)
    assert loaded.backtest is not None and loaded.backtest.backtest is None
    assert (folder / "backtest" / "manifest.json").is_file()
    np.testing.assert_array_equal(
        score_frame(loaded.backtest, leads.iloc[:50])["probability"],
        score_frame(bundle.backtest, leads.iloc[:50])["probability"],
    )
    data = bytearray((folder / "backtest" / "calibration.json").read_bytes())
    data[-3] ^= 0x01
    (folder / "backtest" / "calibration.json").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"calibration\.json must match the sha256"):
        load_bundle(folder)
    with pytest.raises(BundleError, match="must not hold a backtest of its own"):
        Bundle(**{**bundle.backtest.__dict__, "backtest": bundle}).save(tmp_path / "nested")


@pytest.mark.parametrize("name", ["model.json", "model.txt", "calibration.json", "reference.json"])
def test_a_changed_byte_in_any_file_is_refused(saved, tmp_path, name):
    folder = _copy(saved, tmp_path)
    path = folder / name
    if not path.exists():
        pytest.skip(f"{name} is only in LightGBM bundles")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=re.escape(name) + " must match the sha256"):
        load_bundle(folder)


def test_an_edited_threshold_in_the_manifest_is_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["threshold"]["threshold"] = 0.999
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"manifest .* must match its digest in bundle\.sha256"):
        load_bundle(folder)


def test_a_consistently_rewritten_manifest_is_what_scores(saved, tmp_path):
    # Without a signing key the digest only guards against accidents: whoever rewrites
    # the manifest and its digest together changes the bundle, and that edit is then
    # used (never silently ignored). Signing is what refuses it (next tests).
    folder = _copy(saved, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["threshold"]["threshold"] = 0.999
    data = json.dumps(manifest).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "bundle.sha256").write_text(hashlib.sha256(data).hexdigest())
    assert load_bundle(folder).threshold.threshold == 0.999


def test_signed_bundles_verify_and_tampering_is_refused(saved, tmp_path, monkeypatch):
    bundle, _ = saved
    copy = load_bundle(bundle.path)  # saving sets .path: keep the fixture's as it is
    monkeypatch.setenv(SIGNING_KEY_ENV, "s3cret")
    signed = copy.save(tmp_path / "signed")
    assert (signed / "signature.json").is_file()
    assert load_bundle(signed).threshold == bundle.threshold
    tampered = tmp_path / "tampered"
    shutil.copytree(signed, tampered)
    manifest = json.loads((tampered / "manifest.json").read_text())
    manifest["threshold"]["threshold"] = 0.999
    data = json.dumps(manifest).encode()
    (tampered / "manifest.json").write_bytes(data)
    (tampered / "bundle.sha256").write_text(hashlib.sha256(data).hexdigest())
    with pytest.raises(BundleError, match="must carry a valid signature"):
        load_bundle(tampered)
    monkeypatch.setenv(SIGNING_KEY_ENV, "another key")
    with pytest.raises(BundleError, match="must carry a valid signature"):
        load_bundle(signed)


def test_an_unsigned_bundle_is_refused_when_a_key_is_set(saved, tmp_path, monkeypatch):
    folder = _copy(saved, tmp_path)
    monkeypatch.setenv(SIGNING_KEY_ENV, "s3cret")
    with pytest.raises(BundleError, match=r"must be signed because MQLML_SIGNING_KEY is set"):
        load_bundle(folder)


@pytest.mark.parametrize(
    "name",
    [
        "manifest.json",
        "bundle.sha256",
        "model.json",
        "model.txt",
        "calibration.json",
        "reference.json",
        "bundle.joblib",
    ],
)
def test_a_malicious_pickle_in_place_of_any_file_never_runs(saved, tmp_path, name):
    folder = _copy(saved, tmp_path)
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    (folder / name).write_bytes(_malicious())
    if name in ("manifest.json", "bundle.sha256", "bundle.joblib"):
        with pytest.raises(BundleError):
            read_manifest(folder)
    if name in listed or name in ("manifest.json", "bundle.sha256", "bundle.joblib"):
        with pytest.raises(BundleError):
            load_bundle(folder)
    else:  # a file the manifest does not list is never read
        assert load_bundle(folder).digest == bundle_digest(folder)


def test_every_file_a_pickle_with_matching_checksums_never_runs(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    payload = _malicious()
    for name in manifest["files"]:
        (folder / name).write_bytes(payload)
        manifest["files"][name] = hashlib.sha256(payload).hexdigest()
        manifest["sizes"][name] = len(payload)
    data = json.dumps(manifest).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "bundle.sha256").write_text(hashlib.sha256(data).hexdigest())
    with pytest.raises(BundleError, match="must hold a model, calibration and threshold"):
        load_bundle(folder)


def test_an_old_pickle_bundle_is_refused_without_unpickling(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "bundle.joblib").write_bytes(_malicious())
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "sha256": "x"}))
    with pytest.raises(BundleError, match=r"old pickle format .* Retrain the model"):
        load_bundle(folder)


def test_saving_never_overwrites_a_folder_of_other_files(saved, tmp_path):
    bundle, _ = saved
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "leads.csv").write_text("keep me")
    with pytest.raises(BundleError, match="must be new, empty or a bundle"):
        bundle.save(folder)
    assert (folder / "leads.csv").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no staging left


def test_not_a_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match=r"must be a bundle folder holding manifest\.json"):
        load_bundle(tmp_path)


def test_saving_never_replaces_a_folder_with_files_that_are_not_the_bundles(trained, tmp_path):
    import copy

    from mqlml.model._bundle import copy_bundle

    lookalike = tmp_path / "webapp"
    (lookalike / "src").mkdir(parents=True)
    (lookalike / "manifest.json").write_text("{}")
    (lookalike / "src" / "app.js").write_text("x")
    bundle = copy.copy(trained.bundle)
    with pytest.raises(BundleError, match=r"holds 'src', not a bundle's file"):
        bundle.save(lookalike)
    assert (lookalike / "src" / "app.js").read_text() == "x"
    # a bundle with a user's file beside it (or in its backtest) is not replaced either
    mine = copy_bundle(trained.path, tmp_path / "mine")
    (mine / "backtest" / "notes.txt").write_text("keep")
    with pytest.raises(BundleError, match=r"holds 'backtest/notes.txt'"):
        bundle.save(mine)
    (mine / "backtest" / "notes.txt").unlink()
    assert bundle.save(mine) == mine and load_bundle(mine).digest == bundle.digest
