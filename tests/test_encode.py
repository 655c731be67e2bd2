"""Arrow columns into the model's matrix (mqlml.scoring._encode) and the Arrow scoring path."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mqlml.errors import DataError
from mqlml.leads._synthetic import make_leads
from mqlml.model._estimator import RARE_LEVEL, LeadScorer
from mqlml.scoring._encode import ArrowEncoder
from mqlml.scoring._file import score_file
from mqlml.scoring._predict import float_matrix
from mqlml.scoring._scorer import score_frame


def _odd(n: int, seed: int) -> pd.DataFrame:
    """Leads with missing numbers and categories, unseen and rare levels, a literal __rare__."""
    frame = make_leads(n, seed=seed).drop(columns=["converted"])
    rng = np.random.default_rng(seed)
    for name in ("pricing_page_visits", "days_since_last_activity", "job_title", "country"):
        frame.loc[rng.random(n) < 0.1, name] = None
    frame.loc[rng.random(n) < 0.03, "job_title"] = "Chief Unseen Officer"
    frame.loc[rng.random(n) < 0.02, "industry"] = RARE_LEVEL
    frame.loc[rng.random(n) < 0.02, "industry"] = "Rare Industry"
    return frame


@pytest.fixture(scope="module")
def model(rare_model):
    """A scorer whose training data has a level too rare to keep and missing values."""
    return rare_model


def _kinds(model):
    cats = set(model.categorical_features_)
    return {n: "categorical" if n in cats else "numeric" for n in model.feature_names_in_}


def _want(model, frame):
    return float_matrix(model._prepare(frame[list(model.feature_names_in_)])[0])


def _columns(frame, text_type=pa.string(), dictionary=False):
    out = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            array = pa.array(values.astype(object).where(values.notna(), None), text_type)
            out[name] = array.dictionary_encode() if dictionary else array
        else:
            out[name] = pa.Array.from_pandas(values)
    return out


@pytest.mark.parametrize(
    "text_type, dictionary",
    [(pa.string(), False), (pa.large_string(), False), (pa.string(), True)],
    ids=["string", "large_string", "dictionary"],
)
def test_codes_equal_the_pandas_path(model, text_type, dictionary):
    frame = _odd(3000, seed=5)
    enc = ArrowEncoder(model, _kinds(model))
    got = enc.encode(_columns(frame, text_type, dictionary))
    want = _want(model, frame)
    assert got.matrix.flags.c_contiguous and got.matrix.dtype == np.float64
    np.testing.assert_array_equal(got.matrix, want)  # NaN where NaN, codes bit for bit
    rare = {}
    for name, kept in model.categories_.items():
        values = frame[name].dropna()
        rare[name] = int((~values.isin(kept)).sum())
    assert got.rare == rare
    assert got.rare["job_title"] > 0 and got.rare["industry"] > 0  # the cases are there
    assert got.filled == dict.fromkeys(model.feature_names_in_, True)


def test_predictions_from_the_matrix_equal_lightgbm_on_pandas(model):
    frame = _odd(2000, seed=6)
    matrix = ArrowEncoder(model, _kinds(model)).encode(_columns(frame)).matrix
    got = model.booster_.predict(matrix, raw_score=True, num_iteration=model.best_iteration_)
    assert np.max(np.abs(got - model.decision_function(frame))) <= 1e-12


def test_tokens_infinities_and_empty_columns(model):
    frame = _odd(200, seed=7)
    frame["country"] = frame["country"].where(frame.index % 5 != 0, "Select")
    frame["page_views"] = frame["page_views"].astype(float)
    frame.loc[[3, 4], "page_views"] = np.inf
    frame["seniority"] = None
    enc = ArrowEncoder(model, _kinds(model), missing_tokens=["Select"])
    got = enc.encode(_columns(frame.assign(seniority=pd.Series([None] * 200, dtype=object))))
    j = list(model.feature_names_in_).index("country")
    assert np.isnan(got.matrix[::5, j]).all()
    assert got.non_finite["page_views"] == 2
    assert got.filled["seniority"] is False and got.filled["country"] is True


def test_yes_no_text_numbers_declared_categorical_and_bad_values():
    rng = np.random.default_rng(1)
    n = 600
    frame = pd.DataFrame(
        {
            "plan": rng.choice([1, 2, 3], size=n),  # numbers declared categorical
            "demo": rng.choice(["yes", "no"], size=n),
            "visits": rng.integers(0, 9, size=n).astype(float),
        }
    )
    y = (frame["visits"] + rng.normal(size=n) > 5).to_numpy()
    train = frame.assign(demo=(frame["demo"] == "yes").astype(float))
    model = LeadScorer(
        n_estimators=20, categorical_features=["plan"], min_category_count=5, n_jobs=1
    ).fit(train, y)
    kinds = {"plan": "categorical", "demo": "boolean", "visits": "numeric"}
    enc = ArrowEncoder(model, kinds)
    scoring = frame.assign(demo=np.where(np.arange(n) % 3 == 0, " Yes", frame["demo"]))
    scoring.loc[7, "plan"] = 9  # unseen
    got = enc.encode(
        {
            "plan": pa.array(scoring["plan"]),
            "demo": pa.array(scoring["demo"].tolist()),
            "visits": pa.array(scoring["visits"]),
        }
    )
    want = float_matrix(model._prepare(train.assign(plan=scoring["plan"]))[0])
    want[:, 1] = np.where(scoring["demo"].str.strip().str.lower() == "yes", 1.0, 0.0)
    np.testing.assert_array_equal(got.matrix, want)
    assert got.rare == {"plan": 1}
    bad = scoring["demo"].tolist()
    bad[41] = "perhaps"
    with pytest.raises(DataError, match=r"column 'demo' must hold yes/no.*row 142 has 'perhaps'"):
        enc.encode(
            {"plan": pa.array(scoring["plan"]), "demo": pa.array(bad), "visits": pa.array(y)},
            row_offset=100,
        )


# ------------------------------------------------------------- through score_file
@pytest.fixture(scope="module")
def bundle(trained):
    return trained.bundle


@pytest.fixture(scope="module")
def cache(compiled_cache):
    return compiled_cache


def _odd_bundle_leads(n, seed):
    frame = _odd(n, seed).copy()
    frame["country"] = frame["country"].where(frame.index % 11 != 0, "N/A")
    frame["demo_requested"] = np.where(frame.index % 4 == 0, "yes", "no")
    return frame


@pytest.mark.parametrize("predictor", ["lightgbm", "compiled"])
@pytest.mark.parametrize("source", ["csv", "parquet", "parquet-dictionary"])
def test_score_file_equals_score_frame(bundle, tmp_path, cache, predictor, source):
    frame = _odd_bundle_leads(1500, seed=9)
    if source == "csv":
        path = tmp_path / "leads.csv"
        frame.to_csv(path, index=False)
    else:
        path = tmp_path / "leads.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if source == "parquet-dictionary":  # stored as Arrow dictionaries (pandas categories)
            table = pa.Table.from_pandas(
                frame.astype({c: "category" for c in ("job_title", "industry", "country")}),
                preserve_index=False,
            )
        pq.write_table(table, path, row_group_size=400)
    out = tmp_path / "scores.parquet"
    summary = score_file(
        bundle, path, out, reasons="all", predictor=predictor, chunk_size=500, cache_dir=cache
    )
    if predictor == "compiled" and summary.predictor != "compiled":
        pytest.skip(f"the compiled predictor is unavailable here ({summary.predictor})")
    got = pd.read_parquet(out)
    # the file's values as score_file shows them: numbers as numbers, tokens as missing
    tokens = list(bundle.schema.missing_tokens)
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])]
    read_back = frame.assign(**{c: frame[c].mask(frame[c].isin(tokens)) for c in text})
    want = score_frame(bundle, read_back, reasons="all", predictor="lightgbm")
    assert got["lead_id"].tolist() == frame["lead_id"].astype(str).tolist()
    for col in ("probability", "score", "percentile", "fit_score", "engagement_score"):
        assert np.max(np.abs(got[col].to_numpy() - want[col].to_numpy())) <= 1e-12, col
    for col in ("tier", "is_mql", "reasons_for", "reasons_against"):
        assert got[col].tolist() == want[col].tolist(), col
    assert summary.unseen_categories["job_title"] > 0
