import re

import numpy as np
import pandas as pd
import pytest

from mqlml.scoring._explain import display_values, format_reasons


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.085833, "0.09"),
        (4.0, "4"),
        (-3.0, "-3"),
        (12345.678, "12345.68"),
        (0.0012, "0.001"),
        (-0.00049, "-0.0005"),
        (0.0, "0"),
        (-0.0, "0"),
        (np.nan, "missing"),
        (1e20, "1e+20"),
    ],
)
def test_numbers_are_rounded_for_people(value, text):
    assert display_values(pd.Series([value])).to_pylist() == [text]


def test_other_kinds_of_values():
    frame = pd.DataFrame(
        {
            "s": pd.Series(["EMEA", None], dtype="string"),
            "c": pd.Categorical(["a", None]),
            "i": pd.Series([3, 7]),
            "b": [True, False],
            "o": pd.Series([1, "x"], dtype=object),
        }
    )
    assert display_values(frame["s"]).to_pylist() == ["EMEA", "missing"]
    assert display_values(frame["c"]).to_pylist() == ["a", "missing"]
    assert display_values(frame["i"]).to_pylist() == ["3", "7"]
    assert display_values(frame["b"]).to_pylist() == ["True", "False"]
    assert display_values(frame["o"]).to_pylist() == ["1", "x"]


def test_reasons_skip_contributions_that_round_to_zero():
    raw = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": [0.5, 0.25]})
    contrib = np.array([[0.3, 0.004, -0.0049], [0.0, 0.0, 0.0]])
    f, a = format_reasons(contrib, raw, ["a", "b", "c"])
    assert f.tolist() == ["a=1 (+0.30)", ""]
    assert a.tolist() == ["", ""]


def test_reasons_are_strongest_first_and_at_most_top():
    rng = np.random.default_rng(0)
    n, k = 500, 8
    names = [f"f{j}" for j in range(k)]
    raw = pd.DataFrame(rng.normal(size=(n, k)), columns=names)
    contrib = rng.normal(size=(n, k))
    f, a = format_reasons(contrib, raw, names, top=3)
    pattern = re.compile(r"^(f\d)=(-?[\d.e+]+) \(([+-]\d+\.\d\d)\)$")
    for i in range(n):
        against = [pattern.match(p) for p in a[i].split("; ") if p]
        assert len(against) == min(3, int((contrib[i] < -0.005).sum()))
        assert all(m.group(3).startswith("-") for m in against)
        parts = [pattern.match(p) for p in f[i].split("; ") if p]
        assert len(parts) == min(3, int((contrib[i] > 0.005).sum()))
        if not parts:
            continue
        values = [float(m.group(3)) for m in parts]
        assert values == sorted(values, reverse=True)
        best = int(np.argmax(contrib[i]))
        assert parts[0].group(1) == names[best]
        assert parts[0].group(2) == display_values(raw[names[best]].iloc[[i]]).to_pylist()[0]


def test_no_rows_or_no_columns():
    f, a = format_reasons(np.zeros((0, 2)), pd.DataFrame({"a": [], "b": []}), ["a", "b"])
    assert f.shape == a.shape == (0,)
    f, a = format_reasons(np.zeros((2, 0)), pd.DataFrame(index=range(2)), [])
    assert f.tolist() == a.tolist() == ["", ""]


def test_reasons_land_at_their_positions_and_other_rows_are_empty():
    rng = np.random.default_rng(4)
    names = ["a", "b", "c"]
    raw = pd.DataFrame(rng.normal(size=(40, 3)), columns=names)
    contrib = rng.normal(size=(40, 3))
    f, a = format_reasons(contrib, raw, names)
    positions = np.sort(rng.choice(100, size=40, replace=False))
    sf, sa = format_reasons(contrib, raw, names, positions=positions, length=100, as_arrow=True)
    assert len(sf) == len(sa) == 100
    assert [sf[int(i)].as_py() for i in positions] == f.tolist()
    assert [sa[int(i)].as_py() for i in positions] == a.tolist()
    elsewhere = [int(i) for i in np.setdiff1d(np.arange(100), positions)]
    assert {sf[i].as_py() for i in elsewhere} == {sa[i].as_py() for i in elsewhere} == {""}
