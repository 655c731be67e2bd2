import json
import math

import numpy as np
import pandas as pd
import pytest

from mqlml.errors import DataError, MissingColumnError
from mqlml.metrics._drift import (
    MAX_LEVELS,
    N_KEY,
    PSI_EPSILON,
    SCORE_KEY,
    bin_shares,
    build_reference,
    psi,
    psi_level,
    reference_distribution,
)


def test_numeric_bins_are_reference_quantiles_with_a_missing_bin():
    ref = reference_distribution(np.arange(10.0), "numeric", bins=2)
    assert ref == {"kind": "numeric", "n": 10, "missing": 0.0, "edges": [4.0], "shares": [0.5, 0.5]}
    with_missing = reference_distribution([1.0, 2.0, None, np.nan], "numeric", bins=2)
    assert with_missing["missing"] == 0.5
    assert with_missing["edges"] == [1.0]
    assert with_missing["shares"] == [0.25, 0.25]


def test_counts_get_one_bin_per_small_value_and_repeated_cuts_merge():
    values = [0] * 60 + [1] * 20 + [2] * 10 + [5] * 10
    ref = reference_distribution(values, "numeric", bins=10)
    # deciles 0.1-0.6 are 0, 0.7-0.8 are 1, 0.9 is 2: cut points 0, 1, 2
    assert ref["edges"] == [0.0, 1.0, 2.0]
    assert ref["shares"] == [0.6, 0.2, 0.1, 0.1]
    # a value equal to a cut point falls in the bin below it
    assert bin_shares(ref, [0, 0.5, 1, 2, 2.5, 9]).tolist() == pytest.approx(
        [1 / 6, 2 / 6, 1 / 6, 2 / 6, 0.0]
    )


def test_all_missing_reference_has_one_empty_value_bin():
    ref = reference_distribution([None, None], "numeric")
    assert ref["edges"] == [] and ref["shares"] == [0.0] and ref["missing"] == 1.0
    assert psi(ref, [None, np.nan]) == 0.0


def test_identical_distributions_have_zero_psi():
    values = np.random.default_rng(0).gamma(2.0, 3.0, 5_000)
    assert psi(reference_distribution(values, "numeric"), values) == 0.0
    levels = ["a", "b", "b", None, "c"] * 10
    assert psi(reference_distribution(levels, "categorical"), levels) == 0.0


def test_psi_of_a_hand_computed_numeric_shift_with_missing_values():
    ref = reference_distribution(np.arange(10.0), "numeric", bins=2)  # <=4: 0.5, >4: 0.5
    new = [0, 1, 2, 3, 4, 5, 6, 7, None, None]  # 0.5, 0.3 and 0.2 missing (reference 0)
    assert bin_shares(ref, new).tolist() == pytest.approx([0.5, 0.3, 0.2])
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.2 - PSI_EPSILON) * math.log(0.2 / PSI_EPSILON)
    assert psi(ref, new) == pytest.approx(expected, rel=1e-12)
    assert psi(ref, new) == pytest.approx(1.62159, abs=1e-5)


def test_psi_of_a_hand_computed_categorical_shift():
    ref = reference_distribution(["a"] * 5 + ["b"] * 3 + [None] * 2, "categorical")
    assert ref["levels"] == ["a", "b"]
    assert ref["shares"] == [0.5, 0.3, 0.0] and ref["missing"] == 0.2
    new = ["a"] * 2 + ["b"] * 6 + [None] * 2
    expected = (0.2 - 0.5) * math.log(0.2 / 0.5) + (0.6 - 0.3) * math.log(0.6 / 0.3)
    assert psi(ref, new) == pytest.approx(expected, rel=1e-12)


def test_unseen_categories_go_to_other():
    ref = reference_distribution(["DE", "US", "US", "FR"], "categorical")
    assert ref["levels"] == ["US", "DE", "FR"]
    shares = bin_shares(ref, ["US", "BR", "JP", None])
    assert shares.tolist() == [0.25, 0.0, 0.0, 0.5, 0.25]  # US, DE, FR, other, missing


def test_only_the_most_frequent_levels_are_kept():
    # level k appears k + 1 times; ties do not occur, so the top levels are known
    values = [f"L{k:02d}" for k in range(25) for _ in range(k + 1)]
    ref = reference_distribution(values, "categorical")
    assert len(ref["levels"]) == MAX_LEVELS == 20
    assert ref["levels"][:2] == ["L24", "L23"] and ref["levels"][-1] == "L05"
    rest = sum(k + 1 for k in range(5))  # L00..L04 share the other bin
    assert ref["shares"][-1] == pytest.approx(rest / len(values))
    assert bin_shares(ref, ["L00", "L04", "L24", "L24"]).tolist()[-2] == 0.5


def test_boolean_values_are_levels_and_match_across_dtypes():
    ref = reference_distribution(pd.Series([1.0, 0.0, 0.0, 0.0]), "boolean")
    assert ref["levels"] == ["0.0", "1.0"]
    assert bin_shares(ref, np.array([1, 1, 0, 1])).tolist() == [0.25, 0.75, 0.0, 0.0]


def test_half_a_standard_deviation_shift_gives_psi_near_its_j_divergence():
    rng = np.random.default_rng(3)
    ref = reference_distribution(rng.normal(size=20_000), "numeric")
    # J-divergence of N(0, 1) and N(0.5, 1) is 0.5^2 = 0.25; ten bins catch most of it
    assert 0.2 < psi(ref, rng.normal(0.5, 1.0, 20_000)) < 0.26
    assert psi(ref, rng.normal(size=20_000)) < 0.01


def test_psi_levels():
    assert [psi_level(v) for v in (0.0, 0.1, 0.1001, 0.25, 0.2501)] == [
        "fine",
        "fine",
        "warning",
        "warning",
        "alert",
    ]


def test_build_reference_keeps_every_feature_the_score_and_n():
    frame = pd.DataFrame(
        {"visits": [0.0, 1.0, 2.0, 5.0], "country": ["DE", "US", "US", None], "demo": [0.0] * 4}
    )
    kinds = {"country": "categorical", "visits": "numeric", "demo": "boolean"}
    ref = build_reference(frame, kinds, [0.1, 0.2, 0.3, 0.4], bins=2)
    assert list(ref) == ["country", "visits", "demo", SCORE_KEY, N_KEY]
    assert ref[N_KEY] == 4
    assert ref[SCORE_KEY]["edges"] == [0.2] and ref[SCORE_KEY]["shares"] == [0.5, 0.5]
    assert ref["country"]["missing"] == 0.25
    assert json.loads(json.dumps(ref)) == ref  # plain JSON


def test_build_reference_errors():
    frame = pd.DataFrame({"visits": [0.0, 1.0]})
    with pytest.raises(MissingColumnError, match=r"missing \['country'\]"):
        build_reference(frame, {"visits": "numeric", "country": "categorical"}, [0.1, 0.2])
    with pytest.raises(DataError, match=r"probability must have one value per lead; got shape"):
        build_reference(frame, {"visits": "numeric"}, [0.1, 0.2, 0.3])


def test_reference_distribution_errors():
    with pytest.raises(ValueError, match=r"kind must be one of numeric, categorical, boolean"):
        reference_distribution([1.0], "text")
    with pytest.raises(ValueError, match=r"bins must be an integer of at least 2; got 1"):
        reference_distribution([1.0], "numeric", bins=1)
    with pytest.raises(DataError, match=r"values must hold at least one value"):
        reference_distribution([], "numeric")
    with pytest.raises(DataError, match=r"must be numbers; got 'many' at position 1"):
        reference_distribution([1, "many", 3], "numeric")
    ref = reference_distribution([1.0, 2.0], "numeric")
    with pytest.raises(DataError, match=r"must be numbers; got 'x' at position 0"):
        psi(ref, ["x"])
    with pytest.raises(DataError, match=r"values must hold at least one value"):
        psi(ref, [])
    with pytest.raises(DataError, match=r"reference must be a distribution made by"):
        psi({"kind": "numeric", "shares": [1.0]}, [1.0])
