"""mqlml.scoring._kernels: the compiled C loops give exactly what the numpy fallbacks give."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest

from mqlml.scoring import _kernels as kernels
from mqlml.scoring._explain import PathAttribution


@pytest.fixture
def without_c(monkeypatch):
    """The numpy fallbacks, as on a machine without a C compiler."""
    monkeypatch.setattr(kernels, "_loaded", [None])


@pytest.fixture(scope="module")
def c_loops():
    lib = kernels._library()
    assert lib is not None, "the C loops must build where the tests run (cc is installed)"
    return lib


def _leaves(rng, sizes, n):
    return np.column_stack([rng.integers(0, s, n) for s in sizes])


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 13])  # 1-4: sums held in registers
@pytest.mark.parametrize("kind", [np.float64, np.int32, np.uint16, np.uint8])
def test_path_sums_equal_the_sparse_product_bit_for_bit(c_loops, kind, width, monkeypatch):
    rng = np.random.default_rng(3 + width)
    sizes = rng.integers(2, 40, size=57)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    scale = 10.0 ** rng.integers(-8, 3, size=(1, width))
    flat = rng.normal(size=(sizes.sum(), width)) * scale
    leaves = _leaves(rng, sizes, 3_001).astype(kind)
    got = kernels.path_sums(leaves, offsets, flat)
    by_hand = np.zeros_like(got)
    for t, first in enumerate(offsets):  # tree order, from 0.0
        by_hand += flat[first + leaves[:, t].astype(np.int64)]
    monkeypatch.setattr(kernels, "_loaded", [None])
    assert np.array_equal(got, by_hand)
    assert np.array_equal(kernels.path_sums(leaves, offsets, flat), by_hand)


def test_reason_slots_agree_with_a_stable_sort_ties_and_floor_included(c_loops, monkeypatch):
    rng = np.random.default_rng(5)
    # few distinct values: many ties; some within the floor of 0.005
    values = rng.choice([-0.9, -0.2, -0.004, 0.0, 0.003, 0.2, 0.9], size=(4_000, 9))
    for positive in (True, False):
        for top in (1, 3, 9, 12):
            got = kernels.reason_slots(values, top, positive=positive)
            monkeypatch.setattr(kernels, "_loaded", [None])
            want = kernels.reason_slots(values, top, positive=positive)
            monkeypatch.setattr(kernels, "_loaded", [c_loops])
            for a, b in zip(got, want, strict=True):
                assert np.array_equal(a, b)
    rows, columns, picked, counts = kernels.reason_slots(
        np.array([[0.2, 0.9, 0.9, -0.3, 0.004], [-0.5, -0.5, 0.0, 0.0, 0.0]]), 3, positive=True
    )
    assert rows.tolist() == [0, 0, 0] and columns.tolist() == [1, 2, 0]
    assert counts.tolist() == [3, 0]
    rows, columns, picked, counts = kernels.reason_slots(
        np.array([[-0.5, 0.1, -0.5, -0.006]]), 3, positive=False
    )
    assert columns.tolist() == [2, 0, 3] and picked.tolist() == [-0.5, -0.5, -0.006]


def test_xor_hashes_match_the_numpy_version_for_empty_and_long_strings(c_loops, monkeypatch):
    rng = np.random.default_rng(9)
    lengths = rng.integers(0, 300, size=500).astype(np.int64)
    lengths[:5] = 0
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    data = rng.integers(0, 256, size=int(lengths.sum()), dtype=np.uint8)
    table = rng.integers(0, 2**64, size=(300, 256), dtype=np.uint64)
    got = kernels.xor_hashes(data, firsts, lengths, table)
    monkeypatch.setattr(kernels, "_loaded", [None])
    want = kernels.xor_hashes(data, firsts, lengths, table)
    assert np.array_equal(got, want)
    assert got[:5].tolist() == [0] * 5
    first = int(np.flatnonzero(lengths)[0])
    one = np.bitwise_xor.reduce(
        table[np.arange(lengths[first]), data[firsts[first] : firsts[first] + lengths[first]]]
    )
    assert got[first] == one


def _reasons_both_ways(c_loops, monkeypatch, *args):
    got = kernels.join_reasons(*args)
    monkeypatch.setattr(kernels, "_loaded", [None])
    want = kernels.join_reasons(*args)
    monkeypatch.setattr(kernels, "_loaded", [c_loops])
    assert got.type == want.type == pa.string()
    assert got.to_pylist() == want.to_pylist()
    return got.to_pylist()


def test_join_reasons_writes_what_the_arrow_version_writes(c_loops, monkeypatch):
    rng = np.random.default_rng(11)
    n = 3_000
    counts = rng.integers(0, 4, size=n)
    m = int(counts.sum())
    prefixes = ["visits=", "país=", "", "days_since_last_activity="]
    words = ["4", "0.09", "missing", "", "Ωmega", "12345.68", "-3"]
    texts = pa.array(["unused"] + words * 50)[1:]  # sliced: offset into its buffers
    columns = rng.integers(0, len(prefixes), size=m)
    index = rng.integers(0, len(texts), size=m)
    values = rng.choice([0.81, -0.2, -0.001, 0.004999, 0.125, -0.135, 99.995, -1234.5], size=m)
    values = values * rng.choice([1.0, 1.0, 1.0, 100.0], size=m)  # some past +-100
    got = _reasons_both_ways(c_loops, monkeypatch, counts, columns, values, prefixes, texts, index)
    assert got.count("") == int(np.sum(counts == 0))
    first = int(np.flatnonzero(counts == 2)[0])
    r = int(counts[:first].sum())
    shown = [f"{prefixes[columns[j]]}{texts[int(index[j])].as_py()}" for j in (r, r + 1)]
    signed = [f"{v:+.2f}" for v in values[r : r + 2]]
    assert got[first] == f"{shown[0]} ({signed[0]}); {shown[1]} ({signed[1]})"


def test_join_reasons_signs_rounding_and_empty_texts(c_loops, monkeypatch):
    got = _reasons_both_ways(
        c_loops, monkeypatch, np.array([2, 0, 1, 1]), np.array([0, 1, 0, 1]),
        np.array([-0.001, 0.125, 0.135, -100.0]), ["a=", "b="], pa.array(["", ""]),
        np.array([0, 1, 0, 1]),
    )  # fmt: skip
    # half to even on the cents as numpy rounds them; the sign of a value that rounds to 0
    assert got == ["a= (-0.00); b= (+0.12)", "", "a= (+0.14)", "b= (-100.00)"]
    none = _reasons_both_ways(
        c_loops, monkeypatch, np.zeros(3, np.int64), np.zeros(0, np.int64), np.zeros(0),
        ["a="], pa.array([], pa.string()), np.zeros(0, np.int64),
    )  # fmt: skip
    assert none == ["", "", ""]


@pytest.mark.parametrize(("bits", "trees"), [(1, 60), (5, 228), (8, 13), (12, 40), (17, 9)])
def test_unpack_leaves_reads_back_every_packed_leaf_number(c_loops, monkeypatch, bits, trees):
    rng = np.random.default_rng(bits)
    k = -(-trees // (52 // bits))
    leaves = rng.integers(0, 2**bits, size=(50, trees))
    leaves[0] = 2**bits - 1  # every bit set
    packed = np.zeros((50, k))
    for t in range(trees):  # as the compiled trees sum them: tree t = i * k + j
        packed[:, t % k] += leaves[:, t] * 2.0 ** (bits * (t // k))
    got = kernels.unpack_leaves(packed, trees, bits)
    assert got.dtype == kernels.leaf_type(bits) and got.shape == (50, trees)
    np.testing.assert_array_equal(got, leaves)
    monkeypatch.setattr(kernels, "_loaded", [None])
    np.testing.assert_array_equal(kernels.unpack_leaves(packed, trees, bits), leaves)


def test_without_a_compiler_the_numpy_loops_run_and_say_why(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(kernels, "_loaded", [])
    with caplog.at_level(logging.INFO, logger="mqlml.scoring._kernels"):
        assert kernels._library() is None
    assert "numpy loops used" in caplog.text and "no-such-cc" in caplog.text
    out = kernels.path_sums(np.array([[1, 0]]), np.array([0, 2]), np.arange(8.0).reshape(4, 2))
    assert out.tolist() == [[2.0 + 4.0, 3.0 + 5.0]]
    assert not list(tmp_path.rglob("*.so"))


def test_a_cache_it_may_not_write_still_gets_the_c_loops(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(kernels, "_loaded", [])

    def refused(*args):
        raise PermissionError("read-only cache")

    monkeypatch.setattr(kernels.os, "replace", refused)
    lib = kernels._library()
    assert lib is not None
    out = kernels.path_sums(np.array([[1, 0]]), np.array([0, 2]), np.arange(8.0).reshape(4, 2))
    assert out.tolist() == [[6.0, 8.0]]
    assert not list(tmp_path.rglob("*.so")) and not list(tmp_path.rglob("*.tmp"))


def test_path_attribution_on_one_thread_fills_every_slice(without_c):
    rng = np.random.default_rng(1)
    tables = [rng.normal(size=(4, 3)) for _ in range(300)]
    path = PathAttribution(tables=tables, base=0.0)
    leaves = _leaves(rng, [4] * 300, 20_000)  # several slices of 2e6 // 300 rows
    want = sum(t[leaves[:, i]] for i, t in enumerate(tables))
    for threads in (1, 2):
        got = path.contributions(leaves, threads=threads)
        assert np.allclose(got, want, rtol=0, atol=1e-12)
