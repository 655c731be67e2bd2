"""Categorical level text (mqlml.io._levels): the config's categories whatever their storage."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlml.io._levels import level_key, level_text, match_levels
from mqlml.leads._synthetic import make_leads
from mqlml.model._bundle import load_bundle
from mqlml.model._estimator import LeadScorer
from mqlml.model._segments import segment_values
from mqlml.model._train import train
from mqlml.scoring._encode import ArrowEncoder
from mqlml.scoring._file import score_file
from mqlml.scoring._predict import float_matrix
from mqlml.scoring._scorer import Scorer, score_frame, written
from tests.conftest import leads_config

OUTPUTS = ("probability", "score", "percentile", "fit_score", "engagement_score")
TEXTS = ("tier", "is_mql", "reasons_for", "reasons_against")


# ---------------------------------------------------------------- the level text
@pytest.mark.parametrize(
    "values",
    [
        pd.Series([3, 1, 3], dtype="int8"),
        pd.Series([3, 1, 3], dtype="int64"),
        pd.Series([3, 1, 3], dtype="uint16"),
        pd.Series([3.0, 1.0, 3.0]),
        pd.Series([3, 1, 3], dtype="Int32"),
        pd.Series(pd.Categorical([3, 1, 3])),
        pd.Series(["3", "1", "3"]),
        pd.Series([3, "1", 3.0], dtype=object),
    ],
    ids=["int8", "int64", "uint16", "float", "nullable", "category", "text", "mixed"],
)
def test_level_text_is_the_same_whatever_the_storage(values):
    assert level_text(values).tolist() == ["3", "1", "3"]


def test_level_text_keeps_text_missing_values_and_other_numbers():
    text = pd.Series(["gold", None, " 03 "], index=[5, 6, 7])
    assert level_text(text) is text  # text is left as written
    got = level_text(pd.Series([2.5, np.nan, -0.0, 1e20], index=[4, 3, 2, 1]))
    assert got.index.tolist() == [4, 3, 2, 1] and got.dtype == object
    assert got.iloc[0] == "2.5" and np.isnan(got.iloc[1])
    assert got.iloc[2:].tolist() == ["0", "100000000000000000000"]
    assert level_text(pd.Series([True, False])).tolist() == ["True", "False"]
    assert level_text(pd.Series([None, None], dtype="Int64")).isna().all()


def test_level_key_and_match_levels():
    assert [level_key(v) for v in ("03", "+3", "3.", "3.000", "3e0", " 3 ", 3, 3.0)] == ["3"] * 8
    assert level_key("-2.50") == "-2.5" and level_key("false") == "False"
    assert level_key("9007199254740993") == "9007199254740993"  # integers stay exact
    assert [level_key(v) for v in ("gold", "nan", "inf", "1_000", "", None)] == [None] * 6
    levels = ["3", "007", "gold", "True", "__rare__"]
    values = ["3", "3.0", "7", 7.0, "gold", "Gold", "true", None, "8", "__rare__"]
    assert match_levels(values, levels).tolist() == [0, 0, 1, 1, 2, -1, 3, -1, -1, 4]
    # an equal level wins over one spelling the same number
    assert match_levels(["3.0", "3"], ["3", "3.0"]).tolist() == [1, 0]
    assert match_levels([], levels).tolist() == []


def test_segment_values_match_listed_segments_by_number():
    from mqlml.model._segments import _codes

    text = segment_values([3, "3.0", " 03 ", 4.0, None, "EMEA"])
    assert _codes(text, ["3", "EMEA"]).tolist() == [0, 0, 0, 2, 2, 1]


# ------------------------------------------- a table whose categories are integer codes
CODED = {"company_size": "int64", "industry": "int8", "country": "float64", "lead_source": "int16"}
FIT = ["job_title", "seniority", "company_size", "industry", "country"]
ENGAGEMENT = ["lead_source", "page_views", "pricing_page_visits", "demo_requested"]


def _coded_leads(n: int, seed: int) -> pd.DataFrame:
    """make_leads() with four of its categories stored as integer codes (0: missing in the
    text; country as floats with blanks, as pandas reads a code column with blanks)."""
    frame = make_leads(n, seed=seed)
    for name, dtype in CODED.items():
        codes = frame[name].map({v: i + 1 for i, v in enumerate(_LEVELS[name])})
        frame[name] = codes.fillna(0).astype(dtype)
    frame.loc[frame.index % 17 == 0, "country"] = np.nan
    return frame


_REFERENCE = make_leads(5000, seed=0)
_LEVELS = {name: sorted(_REFERENCE[name].dropna().unique()) for name in CODED}


def _coded_config(**sections):
    return leads_config(
        features={"fit": FIT, "engagement": ENGAGEMENT, "categorical": list(CODED)},
        **sections,
    )


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """A bundle trained (through the library) on leads with integer-coded categories."""
    out = tmp_path_factory.mktemp("coded") / "model"
    config = _coded_config(threshold={"target_rate": 0.3}, model={"n_estimators": 60})
    train(config, frame=_coded_leads(3000, seed=4), out=out)
    return load_bundle(out)


def _assert_same_scores(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    for col in OUTPUTS:
        np.testing.assert_allclose(got[col], want[col], rtol=0, atol=1e-12, err_msg=what)
    for col in TEXTS:
        assert got[col].tolist() == want[col].tolist(), (what, col)


def test_integer_codes_declared_categorical_train_and_score_from_csv_and_parquet(coded, tmp_path):
    assert set(CODED) <= set(coded.model.categorical_features_)  # the config wins
    assert not set(CODED) & set(coded.model.numeric_features_)
    sizes = _coded_leads(3000, seed=4)["company_size"]
    assert coded.model.categories_["company_size"] == sorted(str(v) for v in sizes.unique())
    leads = _coded_leads(800, seed=5).drop(columns="converted")
    leads.loc[3, "industry"] = 99  # a code never seen in training: the rare level
    csv, parquet = tmp_path / "leads.csv", tmp_path / "leads.parquet"
    leads.to_csv(csv, index=False)  # country is written as 3.0, blanks as empty
    assert ",3.0," in csv.read_text() or ",1.0," in csv.read_text()
    pq.write_table(pa.Table.from_pandas(leads, preserve_index=False), parquet)
    want = score_frame(coded, leads, reasons="all")
    for source in (csv, parquet):
        out = tmp_path / f"scores-{source.suffix[1:]}.parquet"
        summary = score_file(coded, source, out, reasons="all", chunk_size=300)
        got = pd.read_parquet(out)
        assert got["lead_id"].tolist() == leads["lead_id"].tolist()
        if source == csv:  # reasons show the values as written: country=5.0 in the CSV
            got[list(TEXTS[2:])] = got[list(TEXTS[2:])].replace(r"=(\d+)\.0 ", r"=\1 ", regex=True)
        _assert_same_scores(got, want, source.suffix)
        unseen = {k: v for k, v in summary.unseen_categories.items() if k in CODED}
        assert unseen == {"industry": 1}
    # the scores follow the known probabilities of these leads
    p = want["probability"].to_numpy()
    truth = make_leads(800, seed=5, truth=True)["true_probability"].to_numpy()
    assert np.corrcoef(p, truth)[0, 1] > 0.7


def test_a_bundle_whose_model_learned_codes_as_numbers_still_scores_on_arrow():
    """Bundles trained before mqlml.io._levels: the schema says categorical, the model numeric."""
    frame = pd.DataFrame({"plan": np.arange(400) % 4, "visits": np.arange(400.0) % 7})
    y = (frame["plan"] + frame["visits"] > 6).to_numpy()
    model = LeadScorer(n_estimators=10, n_jobs=1).fit(frame, y)
    assert model.numeric_features_ == ["plan", "visits"]
    enc = ArrowEncoder(model, {"plan": "categorical", "visits": "numeric"})
    got = enc.encode({"plan": pa.array(["1", "3", None]), "visits": pa.array([1.0, 2.0, 3.0])})
    np.testing.assert_array_equal(got.matrix, [[1.0, 1.0], [3.0, 2.0], [np.nan, 3.0]])


# ------------------------------- properties: every storage type, Arrow and pandas agree
STORAGES = ("int8", "int32", "int64", "nullable", "float64", "text", "dictionary", "int-dictionary")


def _stored(codes: np.ndarray, storage: str) -> tuple[pd.Series, pa.Array]:
    """The same codes (NaN: missing) in one storage: an Arrow array as a Parquet file holds
    it, and the pandas column pandas reads from it."""
    ints = [None if np.isnan(c) else int(c) for c in codes]
    if storage == "float64":
        array = pa.array(codes, pa.float64(), from_pandas=True)
    elif storage in ("text", "dictionary"):
        array = pa.array([None if c is None else str(c) for c in ints], pa.string())
    else:
        kind = {"int8": pa.int8(), "int32": pa.int32()}.get(storage, pa.int64())
        array = pa.array(ints, kind)
    if storage.endswith("dictionary"):
        array = array.dictionary_encode()
    if storage == "nullable":
        return pd.Series(array.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)), array
    return array.to_pandas(), array


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """Integer-coded categories as fit and engagement features, and a coded segment column."""
    frame = _coded_leads(4000, seed=6)
    frame["region"] = np.where(frame.index % 3 == 0, 2, 1)
    config = _coded_config(
        threshold={
            "target_rate": 0.3,
            "segments": {"column": "region", "targets": {"2": 0.35}, "min_leads": 100},
        },
        model={"kind": "lightgbm", "n_estimators": 40},  # the encoder test reads its trees
    )
    out = tmp_path_factory.mktemp("segmented") / "model"
    train(config, frame=frame, out=out)
    return load_bundle(out)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    storages=st.fixed_dictionaries(
        {name: st.sampled_from(STORAGES) for name in ("industry", "lead_source", "region")}
    ),
    numeric=st.sampled_from(("int64", "float64", "text")),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_arrow_and_pandas_paths_agree_on_every_storage(
    segmented, tmp_path_factory, storages, numeric, n, seed
):
    """A fit category (industry), an engagement category (lead_source), a numeric column
    (page_views) and the segment column (region), each in any storage."""
    rng = np.random.default_rng(seed)
    leads = _coded_leads(n, seed=int(rng.integers(1000))).drop(columns="converted")
    codes = {  # 0 and 11 were never seen in training; NaN is missing
        name: np.where(rng.random(n) < 0.15, np.nan, rng.integers(0, 12, size=n)).astype(float)
        for name in ("industry", "lead_source")
    }
    codes["region"] = rng.choice([1.0, 2.0, 3.0, np.nan], size=n)
    frame, columns = leads.copy(), {}
    for name, storage in storages.items():
        frame[name], columns[name] = _stored(codes[name], storage)
    visits = leads["page_views"].to_numpy()
    frame["page_views"] = {"int64": visits, "float64": visits * 1.0, "text": visits.astype(str)}[
        numeric
    ]
    table = pa.Table.from_pandas(frame.drop(columns=list(columns)), preserve_index=False)
    for name, array in columns.items():
        table = table.append_column(name, array)
    folder = tmp_path_factory.mktemp("example")
    pq.write_table(table, folder / "leads.parquet")
    score_file(segmented, folder / "leads.parquet", folder / "scores.parquet", reasons="all")
    got = pd.read_parquet(folder / "scores.parquet")
    _assert_same_scores(got, Scorer(segmented, reasons="all").score(frame), f"{storages}")
    X = segmented.schema.features_frame(frame)
    exact = segmented.predict_proba(X, frame)  # written to 6 significant digits
    want = written({"probability": exact})["probability"]
    np.testing.assert_array_equal(want, got["probability"])
    # ... and the same as the codes stored as plain floats with blanks
    plain = Scorer(segmented, reasons="all").score(leads.assign(**codes))
    _assert_same_scores(got, plain, f"{storages} against plain codes")


def test_the_codes_pandas_and_arrow_give_are_the_model_matrix(segmented):
    model, kinds = segmented.model, segmented.schema.kinds
    codes = np.array([1.0, 2.0, np.nan, 11.0, 3.0])
    leads = _coded_leads(5, seed=1)
    want = None
    for storage in STORAGES:
        series, array = _stored(codes, storage)
        X = segmented.schema.features_frame(leads.assign(industry=series))
        columns = {c: pa.Array.from_pandas(X[c]) for c in X.columns}
        columns["industry"] = array
        got = ArrowEncoder(model, kinds).encode(columns).matrix
        np.testing.assert_array_equal(got, float_matrix(model._prepare(X)[0]), err_msg=storage)
        want = got if want is None else want
        np.testing.assert_array_equal(got, want, err_msg=storage)  # the same for every storage
    j = model._names_.index("industry")
    assert np.isnan(want[2, j]) and want[3, j] == len(model.categories_["industry"])  # rare
