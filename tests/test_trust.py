"""One trust boundary: nothing beside a bundle or in a cache runs or changes a score unchecked.

A planted shared library (with a constructor that leaves a marker file when it is
loaded) stands for native code an attacker puts where mqlml used to look for its compiled
trees; crafted model text stands for an edited, rehashed, unsigned bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlml.errors import BundleError
from mqlml.model._bundle import copy_bundle, load_bundle
from mqlml.model._estimator import LeadScorer
from mqlml.model._model_text import ModelTextError, check_model_text
from mqlml.scoring._cache import PrivateCache

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")

_PLANTED_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    const char *path = getenv("MQLML_TEST_MARKER");
    if (path) { FILE *f = fopen(path, "w"); if (f) fclose(f); }
}
"""


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """A shared library that writes $MQLML_TEST_MARKER when loaded."""
    folder = tmp_path_factory.mktemp("planted")
    (folder / "planted.c").write_text(_PLANTED_C)
    library = folder / "planted.so"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(library), str(folder / "planted.c")], check=True
    )
    return library


def _score(model: Path, leads: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mqlml", "score", "-m", str(model), "-i", str(leads)]
    return subprocess.run(
        [*command, "-o", str(out), "--predictor", "compiled"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def _leads(tmp_path: Path, leads_20k: pd.DataFrame) -> Path:
    path = tmp_path / "leads.parquet"
    leads_20k.drop(columns=["true_probability", "converted"]).head(500).to_parquet(path)
    return path


@needs_cc
@pytest.mark.slow
def test_libraries_planted_beside_the_bundle_or_in_the_cache_never_run(
    trained, leads_20k, planted, tmp_path
):
    pytest.importorskip("lignum")
    bundle = copy_bundle(trained.path, tmp_path / "bundle")
    leads, marker = _leads(tmp_path, leads_20k), tmp_path / "ran"
    cache = tmp_path / "xdg"
    env = {"XDG_CACHE_HOME": str(cache), "MQLML_TEST_MARKER": str(marker)}
    first = _score(bundle, leads, tmp_path / "first.parquet", env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert sorted(p.name for p in bundle.rglob("*")) == sorted(
        p.name for p in trained.path.rglob("*")
    ), "scoring wrote nothing into the bundle"
    libraries = sorted(cache.rglob("*.so"))
    assert {p.parent.name for p in libraries} == {"compiled", "kernels"}

    # Under every name the old bundle-side cache used, and in the private cache itself.
    beside = bundle / ".compiled"
    beside.mkdir()
    for library in libraries:
        shutil.copyfile(planted, beside / library.name)
        shutil.copyfile(planted, library)
    again = _score(bundle, leads, tmp_path / "again.parquet", env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not marker.exists(), "a planted library was loaded"
    assert "failed its keyed hash" in again.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "first.parquet"), pd.read_parquet(tmp_path / "again.parquet")
    )
    for library in libraries:  # rebuilt over the planted files
        assert library.read_bytes() != planted.read_bytes()

    # A cache folder that is a symbolic link elsewhere is not used at all.
    elsewhere = tmp_path / "elsewhere"
    shutil.move(cache / "mqlml" / "compiled", elsewhere)
    (cache / "mqlml" / "compiled").symlink_to(elsewhere)
    for library in elsewhere.glob("*.so"):
        shutil.copyfile(planted, library)
    linked = _score(bundle, leads, tmp_path / "linked.parquet", env)
    assert linked.returncode == 0, linked.stderr[-2000:]
    assert not marker.exists()
    assert "must not be a symbolic link" in linked.stderr


# -- the private cache ----------------------------------------------------------------
def test_cache_entries_are_verified_and_bad_ones_removed(tmp_path):
    cache = PrivateCache("compiled", tmp_path / "c")
    assert cache.note == "" and oct((tmp_path / "c").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "c" / "key").stat().st_mode & 0o777) == "0o600"
    cache.write("entry.npz", b"numbers")
    assert cache.read("entry.npz") == b"numbers"
    cache.path("entry.npz").write_bytes(b"other numbers")  # edited in place
    assert cache.read("entry.npz") is None
    assert not cache.path("entry.npz").exists()  # removed, to be rebuilt
    # An entry with its hash copied from another cache (another key) is refused too.
    other = PrivateCache("compiled", tmp_path / "d")
    other.write("entry.npz", b"numbers")
    for name in ("entry.npz", "entry.npz.hmac"):
        shutil.copyfile(other.path(name), cache.folder / name)
    assert cache.read("entry.npz") is None
    with pytest.raises(ValueError, match="must be a plain file name"):
        cache.path("../outside.so")


@pytest.mark.parametrize(
    ("spoil", "match"),
    [
        (lambda f: f.chmod(0o777), "must not be writable by group or others"),
        (lambda f: os.chown(f, 4242, -1), "must belong to this user"),
        (lambda f: (f / "key").chmod(0o644), "must belong to this user and be mode 0600"),
        (lambda f: (f / "key").write_bytes(b"short"), "must hold 32 bytes"),
    ],
)
def test_a_cache_that_is_not_private_is_not_used(tmp_path, spoil, match):
    folder = tmp_path / "cache"
    PrivateCache("compiled", folder).write("entry", b"1")
    if os.getuid() != 0 and "belong to this user" in match and "key" not in match:
        pytest.skip("only root can give a folder to another user")
    spoil(folder)
    cache = PrivateCache("compiled", folder)
    assert match in cache.note
    assert cache.folder != folder and cache.read("entry") is None  # a scratch folder
    cache.write("entry", b"2")
    assert cache.read("entry") == b"2"


def test_a_cache_under_a_symbolic_link_is_not_used(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert "must not be a symbolic link" in PrivateCache("x", tmp_path / "link").note


# -- model text -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model() -> LeadScorer:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "visits": rng.poisson(3, 2000).astype(float),
            "country": rng.choice(["US", "DE", "FR", "UK"], 2000),
            "size": rng.normal(size=2000),
        }
    )
    y = rng.random(2000) < 1 / (1 + np.exp(2 - 0.3 * frame["visits"]))
    return LeadScorer(n_estimators=8, num_leaves=6, min_category_count=5).fit(frame, y)


def _edit_tree(text: str, tree: int, key: str, value: str) -> str:
    lines = text.split("\n")
    start = lines.index(f"Tree={tree}")
    for i in range(start, len(lines)):
        if lines[i].startswith(f"{key}="):
            lines[i] = f"{key}={value}"
            return "\n".join(lines)
    raise AssertionError(key)


def _tree_field(text: str, tree: int, key: str) -> list[str]:
    lines = text.split("\n")
    start = lines.index(f"Tree={tree}")
    line = next(x for x in lines[start:] if x.startswith(f"{key}="))
    return line.split("=", 1)[1].split(" ")


def _rehashed(bundle: Path, text: str) -> Path:
    """The bundle with another model.txt, its manifest and digest made to match (unsigned)."""
    data = text.encode()
    (bundle / "model.txt").write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["model.txt"] = hashlib.sha256(data).hexdigest()
    manifest["sizes"]["model.txt"] = len(data)
    raw = json.dumps(manifest).encode()
    (bundle / "manifest.json").write_bytes(raw)
    (bundle / "bundle.sha256").write_text(hashlib.sha256(raw).hexdigest())
    return bundle


def _two_split_tree(text: str) -> int:
    for tree in range(50):
        if len(_tree_field(text, tree, "left_child")) >= 2:
            return tree
    raise AssertionError("no tree with two splits")


def _set_first(key: str, value: str):
    def edit(text: str, tree: int) -> str:
        return _edit_tree(text, tree, key, " ".join([value, *_tree_field(text, tree, key)[1:]]))

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_set_first("left_child", "99"), "left_child must be in"),
        (_set_first("split_feature", "999"), "split_feature must be in"),
        (_set_first("right_child", "0"), "reach node 0 only once"),
        (_set_first("leaf_value", "nan"), "leaf_value must hold finite numbers"),
        (_set_first("decision_type", "13"), "decision_type must be in"),
        (lambda t, i: _edit_tree(t, i, "num_leaves", "1000000"), "num_leaves must be in"),
        (
            lambda t, i: re.sub("max_feature_idx=\\d+", "max_feature_idx=400", t),
            "max_feature_idx must be",
        ),
        (lambda t, i: t.replace("is_linear=0", "is_linear=1", 1), "linear trees are not supported"),
        (lambda t, i: t.replace("end of trees", "end of forest"), "one line 'end of trees'"),
        # forms Python reads as numbers and LightGBM's parser as 0 (a crash before)
        (_set_first("left_child", "0_4"), "left_child must be a whole number in plain digits"),
        (_set_first("left_child", "\t4"), "left_child must be a whole number in plain digits"),
        (_set_first("left_child", "\u0664"), "left_child must be a whole number in plain"),
        (lambda t, i: _edit_tree(t, i, "num_cat", "\uff12"), "num_cat must be a whole number"),
        (_set_first("leaf_value", "1_0"), "leaf_value must hold plain numbers"),
        (lambda t, i: re.sub(r"feature_infos=\S+", "feature_infos=[5:", t), "feature_infos must"),
    ],
)
def test_crafted_model_text_is_refused_before_lightgbm_reads_it(trained, tmp_path, edit, match):
    bundle = copy_bundle(trained.path, tmp_path / "bundle")
    text = (bundle / "model.txt").read_text()
    crafted = edit(text, _two_split_tree(text))
    assert crafted != text
    with pytest.raises(BundleError, match=match):
        load_bundle(_rehashed(bundle, crafted))


def test_wrong_tree_sizes_are_dropped_and_the_model_predicts_as_before(small_model):
    _, text = small_model.to_state()
    lines = text.split("\n")
    sizes = next(i for i, line in enumerate(lines) if line.startswith("tree_sizes="))
    lines[sizes] = "tree_sizes=" + " ".join(["7"] * 8)
    checked = check_model_text("\n".join(lines), 3)
    assert "tree_sizes=" not in checked
    again = lightgbm.Booster(model_str=checked)
    frame = small_model._prepare(
        pd.DataFrame({"visits": [1.0, 9.0], "country": ["US", "FR"], "size": [0.1, -2.0]})
    )[0]
    assert np.array_equal(again.predict(frame), small_model.booster_.predict(frame))


_TRICKY = ["-1000000000", "-3", "-1", "0", "1", "2", "5", "1000000000", "nan", "inf", "-inf",
           "x", "", "1e400", "0.5", "-0", "0_2", "\t4", "\u0664", "\uff12", "-0_1"]  # fmt: skip
_FIELDS = ["num_leaves", "num_cat", "split_feature", "threshold", "decision_type", "left_child",
           "right_child", "leaf_value", "cat_boundaries", "cat_threshold", "shrinkage"]  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 7),
            st.sampled_from(_FIELDS),
            st.integers(0, 12),
            st.sampled_from([*_TRICKY, "<drop>", "<repeat>"]),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_fuzzed_model_text_gives_a_clean_error_or_a_working_model(small_model, edits):
    """Whatever the edit, LightGBM never sees text that crashes it (a crash ends the run)."""
    _, text = small_model.to_state()
    for tree, key, position, value in edits:
        try:
            words = _tree_field(text, tree, key)
        except (StopIteration, ValueError):
            continue
        position %= max(len(words), 1)
        if value == "<drop>":
            words = words[:position] + words[position + 1 :]
        elif value == "<repeat>":
            words = words + words[:1]
        else:
            words[position] = value
        text = _edit_tree(text, tree, key, " ".join(words))
    try:
        checked = check_model_text(text, 3)
    except ModelTextError:
        return
    booster = lightgbm.Booster(model_str=checked)
    rows = np.array([[0.0, 0.0, 0.0], [5.0, 2.0, -1.0], [np.nan, np.nan, np.nan]])
    assert np.isfinite(booster.predict(rows, raw_score=True)).all()


# -- sizes ----------------------------------------------------------------------------
def test_a_huge_bundle_file_is_refused_before_it_is_read(trained, tmp_path):
    bundle = copy_bundle(trained.path, tmp_path / "bundle")
    with open(bundle / "calibration.json", "r+b") as f:
        f.truncate(3 << 30)  # sparse: 3 GB that take no disk
    with pytest.raises(BundleError, match=r"must be [\d,]+ bytes as its manifest says"):
        load_bundle(bundle)
    # With the manifest edited to claim that size (rehashed, unsigned): the cap holds.
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["sizes"]["calibration.json"] = 3 << 30
    raw = json.dumps(manifest).encode()
    (bundle / "manifest.json").write_bytes(raw)
    (bundle / "bundle.sha256").write_text(hashlib.sha256(raw).hexdigest())
    with pytest.raises(BundleError, match=r"at most 1,073,741,824 bytes\); got 3,221,225,472"):
        load_bundle(bundle)


def test_copy_bundle_takes_only_the_bundles_own_files(trained, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(trained.path, source)
    (source / ".compiled").mkdir()
    (source / ".compiled" / "x.so").write_bytes(b"native")
    (source / "notes.txt").write_text("stray")
    copy = copy_bundle(source, tmp_path / "copy")
    names = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    assert ".compiled/x.so" not in names and "notes.txt" not in names
    assert "model.txt" in names and "manifest.json" in names
    assert load_bundle(copy).digest == load_bundle(source).digest


# -- the logged model's trust.json ----------------------------------------------------
def test_trust_document_checks_the_code_copy_and_the_signature(tmp_path, monkeypatch):
    from mqlml.trust import TrustError, check_model, trust_document

    code = tmp_path / "code" / "mqlml"
    code.mkdir(parents=True)
    (code / "bundle.py").write_text("x = 1\n")
    (code / "kernels.c").write_text("int f(void) { return 1; }\n")
    trust = tmp_path / "trust.json"
    monkeypatch.setenv("MQLML_SIGNING_KEY", "k1")
    trust.write_text(json.dumps(trust_document("d" * 64, code)))
    assert check_model(trust, code) == "d" * 64
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "bundle.cpython-311.pyc").write_bytes(b"planted")
    assert check_model(trust, code) == "d" * 64
    assert not (code / "__pycache__").exists(), "compiled caches are dropped after the check"
    monkeypatch.setenv("MQLML_SIGNING_KEY", "k2")
    with pytest.raises(TrustError, match="must carry a valid signature"):
        check_model(trust, code)
    monkeypatch.delenv("MQLML_SIGNING_KEY")
    (code / "bundle.py").write_text("x = 1\nimport os\n")
    with pytest.raises(TrustError, match=r"1 file\(s\) differ.*\(mqlml/bundle.py\)"):
        check_model(trust, code)
    (code / "bundle.py").write_text("x = 1\n")
    (code / "extra.py").write_text("")
    with pytest.raises(TrustError, match=r"\(mqlml/extra.py\)"):
        check_model(trust, code)
    # Signed with no key, then checked with one: refused (a signature is required).
    (code / "extra.py").unlink()
    (code.parent / "lightgbm.py").write_text("import os\n")  # beside the package: checked too
    with pytest.raises(TrustError, match=r"\(lightgbm.py\)"):
        check_model(trust, code)
    (code.parent / "lightgbm.py").unlink()
    with pytest.raises(TrustError, match=r"must keep its bundle in artifacts/bundle"):
        check_model(trust, None)
    trust.write_text(json.dumps(trust_document("d" * 64, code)))
    monkeypatch.setenv("MQLML_SIGNING_KEY", "k1")
    with pytest.raises(TrustError, match="it is missing or does not match"):
        check_model(trust, code)
