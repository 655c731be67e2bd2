"""Repeated ids counted exactly in bounded memory (mqlml.scoring._repeats)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mqlml.scoring._repeats import RepeatCounter, hash_ids, present_ids


def test_hashes_are_equal_for_equal_ids_and_differ_otherwise():
    ids = pa.array([f"L{i:07d}" for i in range(50_000)] + ["é", "e", "a" * 700, "a" * 699 + "b"])
    h = hash_ids(ids)
    assert len(np.unique(h)) == len(ids)
    again = hash_ids(pa.concat_arrays([ids.slice(3, 10), ids.slice(3, 10)]).cast(pa.large_string()))
    np.testing.assert_array_equal(again, np.tile(h[3:13], 2))  # slices and offsets alike
    # Thue-Morse strings collide under any polynomial hash mod 2**64; not here
    t = [0]
    for _ in range(10):
        t = t + [1 - v for v in t]
    a = "".join("ab"[v] for v in t)
    b = "".join("ba"[v] for v in t)
    assert hash_ids(pa.array([a]))[0] != hash_ids(pa.array([b]))[0]
    with pytest.raises(ValueError, match="without nulls"):
        hash_ids(pa.array(["x", None]))


@pytest.mark.parametrize("budget", [10**9, 1000, 1])
def test_counts_equal_pandas_whether_spilled_or_not(budget):
    rng = np.random.default_rng(0)
    values = [f"id{v}" for v in rng.integers(0, 30_000, size=40_000)]
    want = int(pd.Series(values).duplicated().sum())
    with RepeatCounter(budget=budget) as counter:
        for start in range(0, len(values), 3_000):
            counter.add(pa.array(values[start : start + 3_000]))
        spilled = counter._folder
        assert counter.count() == want
    assert (spilled is not None) == (budget < len(values))
    if spilled is not None:
        assert not spilled.exists()  # the spill folder is removed


def test_memory_stays_bounded_when_spilling():
    with RepeatCounter(budget=5_000) as counter:
        for k in range(20):
            counter.add(pa.array([f"x{k * 4000 + i}" for i in range(4000)]))
            assert counter._held <= 5_000 + 4_000
        assert counter.count() == 0


def _counted_peak(rows: int, chunk: int = 20_000) -> tuple[int, int]:
    """(repeats counted, peak bytes traced) for ``rows`` ids, a quarter of them repeats."""
    import tracemalloc

    distinct = rows * 3 // 4
    tracemalloc.start()
    try:
        with RepeatCounter(budget=50_000) as counter:
            for start in range(0, rows, chunk):
                ids = np.arange(start, start + chunk) % distinct
                counter.add(pa.array(ids).cast(pa.string()))
            found = counter.count()
        return found, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_counting_memory_does_not_grow_with_the_number_of_ids():
    """Eight times the ids, the same peak: a budget's worth of hashes in memory, then one
    spill file (a 64th of them) at a time; holding them all would need 13 MB more."""
    small, small_peak = _counted_peak(200_000)
    big, big_peak = _counted_peak(1_600_000)
    assert (small, big) == (50_000, 400_000)
    assert big_peak < small_peak + 2**20, (small_peak / 2**20, big_peak / 2**20)


def test_blank_ids_are_set_apart():
    present, blank = present_ids(pa.array(["a", "", None, "  ", "b"]))
    assert present.to_pylist() == ["a", "b"] and blank.tolist() == [1, 2, 3]
