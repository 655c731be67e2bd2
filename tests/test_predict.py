import io
import logging
import pickle
import re
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.leads._synthetic import make_leads
from mqlml.model._estimator import RARE_LEVEL, LeadScorer
from mqlml.scoring import _predict as predict
from mqlml.scoring._ahead import ahead, cores
from mqlml.scoring._explain import group_matrix
from mqlml.scoring._file import score_file
from mqlml.scoring._predict import (
    CompiledPredictor,
    LightGBMPredictor,
    PredictorError,
    float_matrix,
    make_predictor,
)
from mqlml.scoring._scorer import Scorer

lignum = pytest.importorskip("lignum", reason="the fast extra (pylignum) is not installed")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")


def _odd_leads(n: int, seed: int) -> pd.DataFrame:
    """Leads with missing numbers and categories, rare and unseen levels, a literal __rare__."""
    frame = make_leads(n, seed=seed).drop(columns=["converted"])
    rng = np.random.default_rng(seed)
    for name in ("pricing_page_visits", "days_since_last_activity", "job_title", "country"):
        if name in frame:
            frame.loc[rng.random(n) < 0.1, name] = None
    frame.loc[rng.random(n) < 0.02, "job_title"] = "Chief Unseen Officer"
    frame.loc[rng.random(n) < 0.01, "industry"] = RARE_LEVEL
    return frame


@pytest.fixture(scope="module")
def cache(compiled_cache):
    if shutil.which("cc") is None:
        pytest.skip("compiling trees needs a C compiler (cc)")
    return compiled_cache


def _groups(model):
    names = list(model.feature_names_in_)
    half = len(names) // 2
    return group_matrix(names, {"a": names[:half], "b": names[half:]})


@pytest.fixture(scope="module")
def predictors(rare_model, cache):
    groups = _groups(rare_model)
    compiled = make_predictor(rare_model, "compiled", groups=groups, cache_dir=cache)
    return compiled, make_predictor(rare_model, "lightgbm", groups=groups)


@pytest.fixture(scope="module")
def prepared(rare_model):
    frame = _odd_leads(4000, seed=8)
    frame["industry"] = frame["industry"].where(frame.index % 7 != 0, "Rare Industry")
    data, _ = rare_model._prepare(frame[list(rare_model.feature_names_in_)])
    return data


def test_rare_model_has_the_cases_the_parity_must_cover(rare_model, prepared):
    assert "Rare Industry" not in rare_model.categories_["industry"]
    industry = prepared[f"f{list(rare_model.feature_names_in_).index('industry')}"]
    assert (industry == RARE_LEVEL).sum() > 0  # rare, unseen and literal __rare__ all land here
    assert industry.isna().any() and prepared.isna().any().any()


def test_compiled_log_odds_equal_lightgbm(predictors, prepared, rare_model):
    compiled, lightgbm = predictors
    assert isinstance(compiled, CompiledPredictor) and compiled.note == ""
    got = compiled.raw(compiled.inputs(prepared))
    want = rare_model.booster_.predict(
        prepared, raw_score=True, num_iteration=rare_model.best_iteration_
    )
    assert np.max(np.abs(got - want)) <= 1e-12
    np.testing.assert_array_equal(got, lightgbm.raw(lightgbm.inputs(prepared)))


def test_compiled_sub_scores_and_contributions_equal_the_path_attribution(predictors, prepared):
    compiled, lightgbm = predictors
    a, b = compiled.inputs(prepared), lightgbm.inputs(prepared)
    raw_c, sub_c = compiled.scores(a)
    raw_l, sub_l = lightgbm.scores(b)
    np.testing.assert_array_equal(raw_l, lightgbm.raw(b))  # booster.predict's own sums
    np.testing.assert_array_equal(raw_c, raw_l)
    np.testing.assert_array_equal(sub_c, sub_l)
    np.testing.assert_allclose(sub_c.sum(axis=1) + compiled.base, raw_c, atol=1e-12)
    rows = np.arange(0, len(prepared), 5)
    np.testing.assert_array_equal(compiled.contributions(a, rows), lightgbm.contributions(b, rows))


def test_float_matrix_is_what_lightgbm_sees(prepared, rare_model):
    matrix = float_matrix(prepared)
    assert matrix.flags.c_contiguous and matrix.dtype == np.float64
    kwargs = {"raw_score": True, "num_iteration": rare_model.best_iteration_}
    np.testing.assert_array_equal(
        rare_model.booster_.predict(matrix, **kwargs),
        rare_model.booster_.predict(prepared, **kwargs),
    )


def test_cache_is_keyed_by_the_model_text_and_reused(rare_model, cache, monkeypatch):
    import hashlib

    text = rare_model.booster_.model_to_string(num_iteration=rare_model.best_iteration_)
    key = hashlib.sha256(text.encode()).hexdigest()
    make_predictor(rare_model, "compiled", groups=_groups(rare_model), cache_dir=cache)
    names = sorted(p.name for p in cache.iterdir())
    assert any(n.startswith(f"{key}.scores.") and n.endswith(".so") for n in names)
    assert any(n.startswith(f"{key}.scores.") and n.endswith(".bin") for n in names)
    assert not [n for n in names if n.endswith(".tmp")]

    def no_compile(self, *args, **kwargs):
        raise AssertionError("compiled again despite the cache")

    monkeypatch.setattr(lignum.Model, "compile", no_compile)
    again = make_predictor(rare_model, "compiled", groups=_groups(rare_model), cache_dir=cache)
    assert isinstance(again, CompiledPredictor)


@needs_cc
def test_path_tables_are_cached_as_plain_arrays_and_rebuilt_when_damaged(
    rare_model, tmp_path, monkeypatch
):
    from mqlml.scoring._explain import PathAttribution

    want = PathAttribution.from_booster(rare_model.booster_, rare_model.best_iteration_)
    groups = _groups(rare_model)
    make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    (saved,) = tmp_path.glob("*.path.*.npz")
    with np.load(saved, allow_pickle=False) as arrays:  # data, not a pickle
        assert sorted(arrays.files) == ["base", "sizes", "tables"]

    def no_dump(self, *args, **kwargs):
        raise AssertionError("the tables were built again despite the cache")

    with monkeypatch.context() as patch:
        patch.setattr(type(rare_model.booster_), "dump_model", no_dump)
        again = make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    assert isinstance(again, CompiledPredictor)
    assert again.path.base == want.base
    assert len(again.path.tables) == len(want.tables)
    assert all(np.array_equal(a, b) for a, b in zip(again.path.tables, want.tables, strict=True))
    saved.write_bytes(b"damaged")
    rebuilt = make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(rebuilt.path.tables, want.tables, strict=True))
    with np.load(saved, allow_pickle=False) as arrays:
        assert arrays["base"] == want.base


@needs_cc
def test_lightgbms_parity_answers_are_cached_and_the_compiled_side_still_checked(
    rare_model, tmp_path, monkeypatch
):
    import lightgbm

    groups = _groups(rare_model)
    first = make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    first.contributions(first._parity["inputs"][:3], np.arange(3))  # builds the leaves engine
    (saved,) = tmp_path.glob("*.parity.*.npz")
    inputs = first._parity["inputs"]
    with np.load(saved, allow_pickle=False) as arrays:  # data, not a pickle
        assert sorted(arrays.files) == ["inputs", "leaves", "raw", "sub"]
        booster = rare_model.booster_
        kwargs = {"num_iteration": rare_model.best_iteration_}
        assert np.array_equal(arrays["inputs"], inputs, equal_nan=True)  # NaN rows too
        assert np.array_equal(arrays["raw"], booster.predict(inputs, raw_score=True, **kwargs))
        assert np.array_equal(arrays["leaves"], booster.predict(inputs, pred_leaf=True, **kwargs))
        raw, leaves = arrays["raw"], arrays["leaves"]

    def no_lightgbm(self, *args, **kwargs):
        raise AssertionError("LightGBM asked again despite the cache")

    with monkeypatch.context() as patch:
        patch.setattr(type(rare_model.booster_), "predict", no_lightgbm)
        again = make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
        again.contributions(inputs[:3], np.arange(3))  # the leaves engine checked as well
    # Answers edited in place (negated sub-scores) fail their keyed hash: asked again.
    tampered = {name: first._parity[name] for name in ("inputs", "raw", "leaves")}
    np.savez(saved, sub=-first._parity["sub"], **tampered)
    rebuilt = make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    assert np.array_equal(rebuilt._parity["sub"], first._parity["sub"])
    # The compiled side runs on every load: answers that disagree with it (written with a
    # valid keyed hash, as a broken LightGBM would) are refused.
    buffer = io.BytesIO()
    np.savez(buffer, inputs=inputs, raw=raw + 1e-6, sub=first._parity["sub"], leaves=leaves)
    first.cache.write(saved.name, buffer.getvalue())
    with pytest.raises(PredictorError, match=r"max abs difference of 1e-06 on 2\d{3} parity"):
        make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    # Another LightGBM version, other groups or a damaged file: LightGBM is asked again.
    monkeypatch.setattr(lightgbm, "__version__", "0.0")
    make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    make_predictor(rare_model, "compiled", groups=groups[:, ::-1], cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.parity.*.npz"))) == 3
    saved.write_bytes(b"damaged")
    monkeypatch.undo()
    assert isinstance(
        make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path),
        CompiledPredictor,
    )
    with np.load(saved, allow_pickle=False) as arrays:
        assert np.array_equal(arrays["raw"], raw)


@needs_cc
def test_a_corrupt_cached_library_is_rebuilt(rare_model, tmp_path):
    groups = _groups(rare_model)
    make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    (raw,) = tmp_path.glob("*.scores.*.so")
    raw.write_bytes(b"not a library")
    rebuilt = make_predictor(rare_model, "compiled", groups=groups, cache_dir=tmp_path)
    assert isinstance(rebuilt, CompiledPredictor)
    assert raw.stat().st_size > 100


def test_compiled_predictor_pickles_as_its_recipe(predictors, prepared):
    compiled, _ = predictors
    back = pickle.loads(pickle.dumps(compiled))
    assert isinstance(back, CompiledPredictor)
    a = compiled.inputs(prepared)
    np.testing.assert_array_equal(back.raw(a), compiled.raw(a))


def test_engine_missing_falls_back_with_one_line(rare_model, cache, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "lignum", None)  # import lignum raises ImportError
    monkeypatch.setattr(predict, "_SAID", set())  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="mqlml.scoring._predict"):
        got = make_predictor(rare_model, "auto", groups=_groups(rare_model), cache_dir=cache)
        # a second predictor (the next step of one job) says the same reason no more
        again = make_predictor(rare_model, "auto", groups=_groups(rare_model), cache_dir=cache)
    assert isinstance(got, LightGBMPredictor)
    assert re.search(r"predictor auto: using lightgbm, because .*pylignum is missing", got.note)
    assert again.note == got.note
    assert [r.getMessage() for r in caplog.records] == [got.note]
    with pytest.raises(PredictorError, match=r"must have its engine installed; pylignum is"):
        make_predictor(rare_model, "compiled", groups=_groups(rare_model), cache_dir=cache)


def test_compilation_failure_falls_back(rare_model, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("cc: command not found")

    monkeypatch.setattr(lignum.Model, "compile", broken)
    got = make_predictor(rare_model, "auto", groups=_groups(rare_model), cache_dir=tmp_path)
    assert isinstance(got, LightGBMPredictor)
    assert "must compile to native code; cc: command not found" in got.note
    with pytest.raises(PredictorError, match=r"trees must compile to native code; cc: command"):
        make_predictor(rare_model, "compiled", groups=_groups(rare_model), cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.tmp"))


def test_parity_failure_falls_back(rare_model, cache, monkeypatch):
    real = lignum.Model.predict

    def off(self, X, raw_score=False, **kwargs):
        return real(self, X, raw_score=raw_score, **kwargs) + 1e-6

    monkeypatch.setattr(lignum.Model, "predict", off)
    got = make_predictor(rare_model, "auto", groups=_groups(rare_model), cache_dir=cache)
    assert isinstance(got, LightGBMPredictor)
    assert re.search(r"within 1e-09 of LightGBM's; got a max abs difference of 1e-06", got.note)
    with pytest.raises(PredictorError, match=r"compiled log-odds must be within 1e-09"):
        make_predictor(rare_model, "compiled", groups=_groups(rare_model), cache_dir=cache)


def test_compiled_leaves_that_differ_from_lightgbm_are_refused(
    rare_model, tmp_path, monkeypatch, caplog
):
    compiled = make_predictor(
        rare_model, "compiled", groups=_groups(rare_model), cache_dir=tmp_path
    )
    real = CompiledPredictor._compiled_leaves

    def one_leaf_off(self, engine, matrix):
        out = real(self, engine, matrix).copy()
        out[::7, 3] += 1
        return out

    auto = make_predictor(rare_model, "auto", groups=_groups(rare_model), cache_dir=tmp_path)
    monkeypatch.setattr(CompiledPredictor, "_compiled_leaves", one_leaf_off)
    rows = np.zeros((2, len(rare_model.feature_names_in_)))
    with pytest.raises(PredictorError, match=r"leaf numbers must equal LightGBM's pred_leaf; \d+"):
        compiled.contributions(rows, np.array([0]))
    # auto reads the leaves from LightGBM instead, saying why once
    monkeypatch.setattr(predict, "_SAID", set())  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="mqlml.scoring._predict"):
        got = auto.contributions(rows, np.array([0, 1]))
        auto.contributions(rows, np.array([1]))
    want = auto.path.contributions(auto._lightgbm_leaves(rows))
    np.testing.assert_array_equal(got, want)
    assert [r.getMessage() for r in caplog.records] == [auto.note]
    assert re.search(r"reasons use LightGBM's leaves, because compiled leaf numbers", auto.note)


def test_bad_predictor_name_and_logistic_model(rare_model):
    with pytest.raises(ValueError, match=r"predictor must be one of auto, lightgbm, compiled"):
        make_predictor(rare_model, "fast", groups=_groups(rare_model))
    logistic = LeadScorer(model="logistic")
    logistic.model = "logistic"
    with pytest.raises(ValueError, match=r"a predictor needs model='lightgbm'; got 'logistic'"):
        make_predictor(logistic, groups=np.zeros((1, 1)))


# ------------------------------------------------------- through the scorer and the CLI
@pytest.fixture(scope="module")
def bundle(trained):
    return trained.bundle


@pytest.fixture(scope="module")
def odd_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("odd") / "leads.parquet"
    _odd_leads(5000, seed=21).to_parquet(path)
    return path


@pytest.mark.parametrize("reasons", ["none", "all"])
def test_scorer_outputs_equal_across_predictors(bundle, cache, reasons):
    frame = _odd_leads(3000, seed=13)
    out = {}
    for name in ("lightgbm", "compiled"):
        scorer = Scorer(bundle, reasons=reasons, predictor=name, cache_dir=cache)
        assert scorer.predictor.name == name
        out[name] = scorer.score(frame)
    pd.testing.assert_frame_equal(out["lightgbm"], out["compiled"], check_exact=True)


@needs_cc
def test_cli_predictors_agree_and_shap_cost_is_printed(trained, odd_file, tmp_path):
    runner = CliRunner()
    model = str(trained.path)
    frames = {}
    for name in ("lightgbm", "compiled"):
        out = tmp_path / f"{name}.parquet"
        args = ["score", "-m", model, "-i", str(odd_file), "-o", str(out), "--predictor", name]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        frames[name] = pd.read_parquet(out)
    pd.testing.assert_frame_equal(frames["lightgbm"], frames["compiled"], check_exact=True)
    out = tmp_path / "shap.parquet"
    args = ["score", "-m", model, "-i", str(odd_file), "-o", str(out), "--attribution", "shap"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"exact TreeSHAP for [\d,]+ leads with reasons took [\d.]+ s", result.output)
    bad = runner.invoke(
        app, ["score", "-m", model, "-i", str(odd_file), "-o", str(out), "--predictor", "gpu"]
    )
    assert bad.exit_code == 2
    assert "--predictor must be one of auto, lightgbm, compiled" in bad.output


def test_score_file_reports_the_predictor(trained, odd_file, tmp_path, cache):
    summary = score_file(
        trained.bundle, odd_file, tmp_path / "o.parquet", predictor="compiled", cache_dir=cache
    )
    assert summary.predictor == "compiled" and summary.rows == 5000


def test_explain_gives_the_same_across_predictors(predictors, prepared):
    compiled, lightgbm = predictors

    def select(log_odds):
        return np.flatnonzero(log_odds > np.quantile(log_odds, 0.7))

    a = compiled.explain(compiled.inputs(prepared), select)
    b = lightgbm.explain(lightgbm.inputs(prepared), select)
    np.testing.assert_array_equal(a[2], b[2])
    assert 0 < len(a[2]) < len(prepared)
    # log-odds and sub-scores bit for bit: both sum the same leaf values in tree order
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert np.max(np.abs(a[3] - b[3])) <= 1e-12
    assert compiled.explain(compiled.inputs(prepared))[3] is None


def test_compiled_explain_walks_every_leaf_once_or_the_scores_with_the_same_numbers(
    predictors, prepared, monkeypatch
):
    compiled, _ = predictors
    inputs = compiled.inputs(prepared)
    walks = []
    real = compiled._predict

    def counted(engine, matrix):
        walks.append(("scores" if engine is compiled._scores else "leaves", len(matrix)))
        return real(engine, matrix)

    def most(log_odds):  # 60 % of the rows get reasons
        return np.flatnonzero(log_odds > np.quantile(log_odds, 0.4))

    monkeypatch.setattr(compiled, "_predict", counted)

    def one_walk_of_the_leaves():  # slice by slice
        assert {w[0] for w in walks} == {"leaves"} and sum(w[1] for w in walks) == len(inputs)
        walks.clear()

    monkeypatch.setattr(predict, "LEAVES_SLICE", len(compiled._text.trees) * 999)
    every_leaf = compiled.explain(inputs, most)
    assert len(walks) == 5  # slices of 999 rows
    one_walk_of_the_leaves()  # scores, sub-scores and reasons
    trees, per = len(compiled._text.trees), 52 // compiled._bits
    assert trees > per and trees % -(-trees // per)  # packed, with padding trees
    no_reasons = compiled.explain(inputs)
    one_walk_of_the_leaves()
    # a batch whose leaves would not fit the budget walks the scores, then the leaves of
    # the rows with reasons: the same numbers bit for bit
    monkeypatch.setattr(predict, "LEAVES_BUDGET", len(inputs) - 1)
    scores_first = compiled.explain(inputs, most)
    assert walks[0] == ("scores", len(inputs))
    assert sum(w[1] for w in walks if w[0] == "leaves") == len(every_leaf[2])
    for got, want in zip(every_leaf, scores_first, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(no_reasons[0], every_leaf[0])
    np.testing.assert_array_equal(no_reasons[1], every_leaf[1])
    walks.clear()
    compiled.explain(inputs)  # without reasons no leaves are kept: the budget does not apply
    one_walk_of_the_leaves()


@needs_cc
def test_two_batches_at_once_give_the_file_one_batch_at_a_time_gives(
    trained, odd_file, tmp_path, cache, monkeypatch
):
    import mqlml.scoring._file as scoring

    used = []

    def counting(items, work, workers=1):
        used.append(workers)
        return ahead(items, work, workers)

    monkeypatch.setattr(scoring, "ahead", counting)
    out, summaries = {}, {}
    for name in ("lightgbm", "compiled"):
        target = tmp_path / f"{name}.parquet"
        summaries[name] = score_file(
            trained.bundle, odd_file, target, reasons="all", chunk_size=250,
            predictor=name, cache_dir=cache,
        )  # fmt: skip
        out[name] = pd.read_parquet(target)
    # LightGBM one batch at a time, compiled trees two where there are two cores
    assert used == [1, 2 if cores() > 1 else 1]
    a, b = out["lightgbm"], out["compiled"]
    assert a["lead_id"].tolist() == pd.read_parquet(odd_file)["lead_id"].astype(str).tolist()
    assert b["lead_id"].tolist() == a["lead_id"].tolist()
    assert np.max(np.abs(a["probability"] - b["probability"])) <= 1e-12
    pd.testing.assert_frame_equal(
        a[["reasons_for", "reasons_against"]], b[["reasons_for", "reasons_against"]]
    )
    assert summaries["compiled"].reason_rows == summaries["lightgbm"].reason_rows == 5000
