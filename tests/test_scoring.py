import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.errors import BundleError, DataError, MissingColumnError
from mqlml.scoring._explain import feature_contributions
from mqlml.scoring._file import score_file
from mqlml.scoring._scorer import OUTPUT_COLUMNS, Scorer, score_frame


@pytest.fixture(scope="module")
def bundle(trained):
    return trained.bundle


@pytest.fixture(scope="module")
def leads(leads_20k):
    return leads_20k.iloc[:3000].drop(columns="true_probability").reset_index(drop=True)


@pytest.fixture(scope="module")
def scored(bundle, leads):
    """The exact (unrounded) scores: the properties below hold to 1e-9 on them."""
    return score_frame(bundle, leads, reasons="all", exact=True)


def test_columns_and_rows(scored, leads, bundle):
    assert list(scored.columns) == ["lead_id", *OUTPUT_COLUMNS]
    assert scored["lead_id"].tolist() == leads["lead_id"].tolist()
    assert (
        scored["is_mql"].tolist() == (scored["probability"] >= bundle.threshold.threshold).tolist()
    )


def test_score_is_on_the_points_scale_and_monotone(scored, bundle):
    np.testing.assert_allclose(
        scored["score"], bundle.scale.score(scored["probability"]), rtol=0, atol=1e-12
    )
    mql = scored["is_mql"].to_numpy()
    assert (scored["score"][mql] >= 50).all() and (scored["score"][~mql] < 50).all()
    assert ((scored["tier"] == "A") == scored["is_mql"]).all()
    order = np.argsort(scored["probability"].to_numpy(), kind="stable")
    assert np.all(np.diff(scored["score"].to_numpy()[order]) >= 0)
    assert np.all(np.diff(scored["percentile"].to_numpy()[order]) >= 0)
    assert scored["percentile"].between(0, 100).all()


def test_probability_is_the_calibrated_one(scored, bundle, leads):
    X = bundle.schema.features_frame(leads)
    np.testing.assert_allclose(scored["probability"], bundle.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("method", ["path", "shap"])
def test_contributions_plus_base_are_the_log_odds(bundle, leads, method):
    X = bundle.schema.features_frame(leads.iloc[:400])
    contrib, base = feature_contributions(bundle.model, X, method=method)
    np.testing.assert_allclose(
        contrib.sum(axis=1) + base, bundle.model.decision_function(X), atol=1e-9
    )


def test_sub_scores_plus_base_are_the_log_odds(scored, bundle, leads):
    X = bundle.schema.features_frame(leads)
    _, base = feature_contributions(bundle.model, X.iloc[:5])
    log_odds = scored["fit_score"] + scored["engagement_score"] + base[0]
    np.testing.assert_allclose(log_odds, bundle.model.decision_function(X), atol=1e-9)


def test_sub_scores_are_the_group_sums(scored, bundle, leads):
    X = bundle.schema.features_frame(leads)
    contrib, _ = feature_contributions(bundle.model, X)
    np.testing.assert_allclose(
        scored["fit_score"], contrib[list(bundle.schema.fit)].sum(axis=1), atol=1e-9
    )


def test_reasons_name_column_value_and_signed_contribution(scored, bundle, leads):
    pattern = re.compile(r"^[a-z_0-9]+=[^;]+ \([+-]\d+\.\d\d\)$")
    for text in scored["reasons_for"].head(200):
        parts = [p for p in text.split("; ") if p]
        assert len(parts) <= 3 and all(pattern.match(p) for p in parts)
        assert all("(+" in p for p in parts)
    for text in scored["reasons_against"].head(200):
        assert all("(-" in p for p in text.split("; ") if p)
    # The strongest reason for the first lead carries its biggest contribution.
    X = bundle.schema.features_frame(leads.iloc[:1])
    contrib, _ = feature_contributions(bundle.model, X)
    top = contrib.iloc[0].idxmax()
    assert scored["reasons_for"].iloc[0].startswith(f"{top}=")


def test_default_reasons_only_for_the_top_tiers(bundle, leads):
    out = score_frame(bundle, leads)
    has = out["reasons_for"] != ""
    assert set(out.loc[has, "tier"]) <= {"A", "B"}
    assert (out.loc[out["tier"].isin(["C", "D"]), "reasons_against"] == "").all()
    none = score_frame(bundle, leads, reasons="none")
    assert (none["reasons_for"] == "").all()
    np.testing.assert_array_equal(none["probability"], out["probability"])


def test_tiers_follow_the_threshold(scored, bundle):
    t = bundle.threshold.threshold
    assert (scored.loc[scored["probability"] >= t, "tier"] == "A").all()
    assert (scored.loc[scored["probability"] < t / 4, "tier"] == "D").all()


def test_unseen_categories_and_missing_values_are_scored(bundle, leads):
    odd = leads.iloc[:5].copy()
    odd["industry"] = "Space Mining"
    odd.loc[0, "page_views"] = np.nan
    odd.loc[1, "country"] = None
    out = score_frame(bundle, odd, reasons="all")
    assert out["probability"].notna().all() and len(out) == 5
    # every unseen level is the model's rare level: another unseen value scores the same
    other = odd.assign(industry="Asteroid Retail")
    np.testing.assert_array_equal(score_frame(bundle, other)["probability"], out["probability"])
    # a missing value reads "missing" wherever it is a reason, never "nan" or "None"
    reasons = " ".join(out["reasons_for"].tolist() + out["reasons_against"].tolist())
    assert "=nan" not in reasons and "=None" not in reasons
    assert "industry=Space Mining" in reasons or "industry" not in reasons


def test_missing_feature_column_is_named(bundle, leads):
    with pytest.raises(MissingColumnError, match=r"missing \['pricing_page_visits'\]"):
        score_frame(bundle, leads.drop(columns="pricing_page_visits"))


def test_logistic_bundle_scores(sample_config, leads_20k, leads):
    from mqlml.model._train import train

    result = train(sample_config, frame=leads_20k, model="logistic")
    out = score_frame(result.bundle, leads.iloc[:500], reasons="all", exact=True)
    X = result.bundle.schema.features_frame(leads.iloc[:500])
    _, base = feature_contributions(result.bundle.model, X)
    np.testing.assert_allclose(
        out["fit_score"] + out["engagement_score"] + base,
        result.bundle.model.decision_function(X),
        atol=1e-9,
    )


# -- what is written: rounded as a CRM stores it ------------------------------------------
def _decimals(values) -> int:
    """The most decimals any value needs (``72.1`` -> 1, ``0.0697449`` -> 7)."""
    return max(len(repr(float(v)).split("e")[0].partition(".")[2].rstrip("0")) for v in values)


def _significant(values) -> int:
    """The most significant digits any value needs (``0.0697449`` -> 6)."""
    digits = (repr(float(v)).split("e")[0].replace(".", "").lstrip("0") for v in values if v)
    return max(len(d.rstrip("0")) for d in digits)


def test_written_numbers_are_the_nearest_decimals_and_keep_the_order():
    from mqlml.model._points import written_probability, written_score

    rng = np.random.default_rng(3)
    edges = [0.0, 1.0, 0.5, 1e-300, 5e-324, 0.9999999, 9.999995e-4, 0.0010000004]
    p = np.concatenate([rng.random(20_000), 10 ** rng.uniform(-20, 0, 20_000), edges])
    w = written_probability(p)
    assert w.tolist() == [float(f"{v:.6g}") for v in p]  # as text would round them
    order = np.argsort(p, kind="stable")
    assert (np.diff(w[order]) >= 0).all()  # never a higher probability written lower
    s = np.concatenate([rng.random(20_000) * 100, [0.0, 100.0, 49.95, 49.999999999999, 50.0]])
    ws = written_score(s)
    assert ws.tolist() == [float(f"{v:.1f}") for v in ws]  # one decimal, nearest double
    assert ((s - ws >= 0) & (s - ws < 0.1)).all()
    for bound in (30.0, 40.0, 50.0, 0.1, 99.9):  # every bound of one decimal holds
        assert ((ws >= bound) == (s >= bound)).all(), bound


def test_written_scores_are_rounded_and_keep_tiers_and_mqls(scored, bundle, leads):
    from mqlml.model._points import written_probability, written_score

    out = score_frame(bundle, leads, reasons="all")
    assert list(out.columns) == list(scored.columns)
    assert _decimals(out["score"]) == 1 and _decimals(out["percentile"]) == 1
    assert _significant(out["probability"]) == 6
    assert _decimals(out["fit_score"]) <= 4 and _decimals(out["engagement_score"]) <= 4
    exact = scored["score"].to_numpy()
    np.testing.assert_array_equal(out["score"], written_score(exact))
    np.testing.assert_array_equal(out["probability"], written_probability(scored["probability"]))
    assert (out["score"] <= exact).all() and (exact - out["score"] < 0.1).all()
    np.testing.assert_allclose(out["probability"], scored["probability"], rtol=5e-6, atol=0)
    np.testing.assert_allclose(out["percentile"], scored["percentile"], rtol=0, atol=0.05)
    # tiers and MQLs as from the exact probability, and they read the same on the written
    # score: 50 or more is an MQL, 40 to 50 tier B, 30 to 40 tier C
    for name in ("tier", "is_mql", "reasons_for", "reasons_against", "lead_id"):
        assert out[name].tolist() == scored[name].tolist(), name
    assert ((out["score"] >= 50) == out["is_mql"]).all()
    tiers = np.select(
        [out["score"] >= 50, out["score"] >= 40, out["score"] >= 30], list("ABC"), "D"
    )
    assert (tiers == out["tier"]).all()
    near = (exact > 49.9) & (exact < 50)  # a lead just under the line reads under it
    assert (out["score"][near] == 49.9).all()
    # the score is clipped: its ends hold many leads, whose written probability keeps the
    # order the exact one gives them (6 significant digits merge none of its values)
    low = out["score"] == 0
    distinct = scored.loc[low, "probability"].nunique()
    assert low.sum() > 50 and distinct > 10
    assert out.loc[low, "probability"].nunique() == distinct


@pytest.mark.parametrize("predictor", ["lightgbm", "compiled"])
def test_score_file_writes_what_score_frame_gives(tmp_path, bundle, leads, predictor):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    leads.to_csv(src, index=False)
    summary = score_file(bundle, src, dst, chunk_size=700, reasons="all", predictor=predictor)
    if predictor == "compiled" and summary.predictor != "compiled":
        pytest.skip(f"the compiled predictor is unavailable here ({summary.predictor})")
    text = dst.read_text().splitlines()
    header = text[0].replace('"', "").split(",")
    first = dict(zip(header, text[1].split(","), strict=False))
    assert re.fullmatch(r"\d{1,3}\.\d", first["score"]), first["score"]
    assert re.fullmatch(r"0\.\d{1,12}|\d\.\d+e-\d+", first["probability"]), first["probability"]
    written = pd.read_csv(dst)
    want = score_frame(bundle, leads, reasons="all", predictor="lightgbm")
    for name in ("score", "percentile", "probability"):
        np.testing.assert_array_equal(written[name], want[name], err_msg=name)
    for name in ("fit_score", "engagement_score"):  # compiled sums in another order
        np.testing.assert_allclose(written[name], want[name], rtol=0, atol=1e-4, err_msg=name)
    assert written["tier"].tolist() == want["tier"].tolist()
    assert _decimals(written["score"]) == 1 and _significant(written["probability"]) == 6
    # what is summed while scoring is exact: the expected SQLs of the MQLs
    exact = score_frame(bundle, leads, reasons="none", exact=True)
    assert summary.expected_sqls == pytest.approx(
        exact.loc[exact["is_mql"], "probability"].sum(), rel=1e-12
    )


def test_the_mlflow_model_writes_the_same_rounding(bundle, leads):
    pytest.importorskip("mlflow")
    from mqlml.pyfunc import BundleModel

    model = BundleModel(reasons="none")
    model.bundle = bundle  # as load_context leaves it, once the bundle checks out
    served = model.predict(None, leads.head(200))
    want = score_frame(bundle, leads.head(200), reasons="none")
    pd.testing.assert_frame_equal(served, want)
    assert _decimals(served["score"]) == 1


# -- files -------------------------------------------------------------------------------
def _write(frame: pd.DataFrame, path):
    if str(path).endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunk=st.integers(min_value=16, max_value=400),
    rows=st.integers(min_value=0, max_value=250),
    fmt_in=st.sampled_from(["csv", "parquet"]),
    fmt_out=st.sampled_from(["csv", "parquet"]),
)
def test_rows_in_equal_rows_out_in_order(tmp_path, trained, leads, chunk, rows, fmt_in, fmt_out):
    frame = leads.sample(n=rows, random_state=rows) if rows else leads.iloc[:0]
    src, dst = tmp_path / f"in_{chunk}_{rows}.{fmt_in}", tmp_path / f"out_{chunk}_{rows}.{fmt_out}"
    _write(frame, src)
    summary = score_file(trained.bundle, src, dst, chunk_size=chunk, reasons="none")
    out = pd.read_csv(dst) if fmt_out == "csv" else pd.read_parquet(dst)
    assert summary.rows == rows == len(out)
    assert list(out.columns) == ["lead_id", *OUTPUT_COLUMNS]
    assert out["lead_id"].astype(str).tolist() == frame["lead_id"].tolist()
    if rows:
        expected = score_frame(trained.bundle, frame.reset_index(drop=True), reasons="none")
        np.testing.assert_allclose(out["probability"], expected["probability"], rtol=1e-12)


def test_failure_mid_write_leaves_no_output(tmp_path, bundle, leads, monkeypatch):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    leads.to_csv(src, index=False)
    calls = {"n": 0}
    original = Scorer.score_columns  # what score_file calls per chunk

    def failing(self, columns, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(self, columns, **kwargs)

    monkeypatch.setattr(Scorer, "score_columns", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        score_file(bundle, src, dst, chunk_size=500)
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_existing_output_is_kept_when_scoring_fails(tmp_path, bundle, leads):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    dst.write_text("previous run\n")
    leads.drop(columns="industry").to_csv(src, index=False)
    with pytest.raises(MissingColumnError, match="industry"):
        score_file(bundle, src, dst)
    assert dst.read_text() == "previous run\n"


def test_bad_inputs(tmp_path, bundle, leads):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="must not be empty"):
        score_file(bundle, empty, tmp_path / "o.csv")
    bad = tmp_path / "bad.csv"
    frame = leads.iloc[:50].astype({"page_views": object})
    frame.loc[7, "page_views"] = "lots"
    frame.to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"column 'page_views' must hold numbers; line 9 .*'lots'"):
        score_file(bundle, bad, tmp_path / "o.csv")
    with pytest.raises(DataError, match=r"CSV \(\.csv\) or Parquet"):
        score_file(bundle, tmp_path / "leads.xlsx", tmp_path / "o.csv")
    with pytest.raises(BundleError, match="must be a bundle folder"):
        score_file(tmp_path, bad, tmp_path / "o.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "empty.csv"]


def test_header_only_input_gives_header_only_output(tmp_path, bundle, leads):
    src, dst = tmp_path / "h.csv", tmp_path / "o.csv"
    leads.iloc[:0].to_csv(src, index=False)
    summary = score_file(bundle, src, dst)
    assert summary.rows == 0
    assert dst.read_text().strip().replace('"', "") == ",".join(["lead_id", *OUTPUT_COLUMNS])


def test_duplicated_ids_counted_or_refused(tmp_path, bundle, leads):
    src = tmp_path / "dup.parquet"
    frame = leads.iloc[:100].copy()
    frame.loc[50:52, "lead_id"] = frame.loc[0, "lead_id"]
    frame.to_parquet(src)
    summary = score_file(bundle, src, tmp_path / "o.parquet", chunk_size=30)
    assert summary.duplicated_ids == 3
    with pytest.raises(DataError, match="must be unique with --unique-ids; 3 rows"):
        score_file(bundle, src, tmp_path / "o2.parquet", unique_ids=True)
    assert not (tmp_path / "o2.parquet").exists()


def test_keep_passes_columns_through(tmp_path, bundle, leads):
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    leads.iloc[:10].to_parquet(src)
    score_file(bundle, src, dst, keep=["country", "created_at"])
    out = pd.read_parquet(dst)
    assert list(out.columns)[-2:] == ["country", "created_at"]
    with pytest.raises(MissingColumnError, match="'budget'"):
        score_file(bundle, src, dst, keep=["budget"])


def test_cli_score_json_summary(tmp_path, trained, leads):
    src, dst = tmp_path / "in.csv", tmp_path / "out.parquet"
    leads.to_csv(src, index=False)
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--model",
            str(trained.path),
            "--input",
            str(src),
            "--output",
            str(dst),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    out = pd.read_parquet(dst)
    assert summary["rows"] == len(leads) == len(out)
    assert summary["mqls"] == int(out["is_mql"].sum())
    assert summary["expected_sqls"] == pytest.approx(out.loc[out["is_mql"], "probability"].sum())
    (tmp_path / "not-a-bundle").mkdir()
    bad = CliRunner().invoke(
        app,
        [
            "score",
            "--model",
            str(tmp_path / "not-a-bundle"),
            "--input",
            str(src),
            "--output",
            str(tmp_path / "x.csv"),
        ],
    )
    assert bad.exit_code == 2 and "bundle folder" in bad.output
    assert not (tmp_path / "x.csv").exists()
