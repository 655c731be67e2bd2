"""Accounts from lead scores (mqlml.model._accounts): known answers on synthetic accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mqlml.errors import ConfigError, MissingColumnError
from mqlml.leads._synthetic import make_leads
from mqlml.model._accounts import (
    ACCOUNT_COLUMNS,
    INDEPENDENT,
    AccountCalibration,
    account_scores,
    account_table,
    any_converts,
    score_accounts_file,
)
from mqlml.model._train import train
from mqlml.scoring._file import score_file
from mqlml.scoring._scorer import score_frame

from .conftest import leads_config

ACCOUNT = {"account": "account_id"}


def test_any_converts_is_one_minus_the_product():
    p = np.array([0.1, 0.2, 0.3, 0.9, 0.0, 1.0])
    q, names = any_converts(p, ["a", "a", "a", "b", "c", "c"])
    assert names.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(q[0], 1 - 0.9 * 0.8 * 0.7, rtol=1e-12)
    assert q[1] == pytest.approx(0.9) and q[2] == pytest.approx(1.0, abs=1e-9)
    # many small probabilities: log space keeps it exact
    q, _ = any_converts(np.full(10_000, 1e-5), ["x"] * 10_000)
    assert q[0] == pytest.approx(1 - (1 - 1e-5) ** 10_000, rel=1e-9)


def test_account_rows_best_lead_counts_and_reasons():
    scored = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L5"],
            "probability": [0.30, 0.60, 0.10, 0.05, 0.50],
            "is_mql": [True, True, False, False, True],
            "reasons_for": [
                "pricing_page_visits=4 (+0.80); seniority=VP (+0.30)",
                "pricing_page_visits=9 (+1.10); demo_requested=1 (+0.20)",
                "",
                "",
                "seniority=C-level (+0.50)",
            ],
        }
    )
    out = account_scores(scored, ["A", "A", "B", None, " "], account_column="account_id")
    assert out["account_id"].tolist() == ["A", "B"]  # leads without an account left out
    a = out.iloc[0]
    assert a["probability"] == pytest.approx(1 - 0.7 * 0.4)
    assert a["expected_conversions"] == pytest.approx(0.9)
    assert (a["leads"], a["mqls"], a["best_lead"]) == (2, 2, "L2")
    assert a["best_probability"] == pytest.approx(0.6)
    assert a["top_reasons"] == (
        "pricing_page_visits (+1.90, 2 leads); seniority (+0.30, 1 lead); "
        "demo_requested (+0.20, 1 lead)"
    )
    assert a["method"] == INDEPENDENT
    assert out.iloc[1]["top_reasons"] == ""


def test_accounts_near_one_show_expected_conversions_first(logistic_trained):
    # Under independence an account of many likely leads sits at probability 1 (in
    # floating point: 1 - 0.4**40 == 1 - 0.4**60 == 1.0): the expected conversions come
    # first and tell such accounts apart, and order them.
    probabilities = {"mid": [0.6] * 40, "big": [0.6] * 60, "few": [0.123456789, 0.2, 0.3]}
    accounts = [name for name, ps in probabilities.items() for _ in ps]
    p = [v for ps in probabilities.values() for v in ps]
    scored = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(len(p))],
            "probability": p,
            "is_mql": np.asarray(p) > 0.5,
        }
    )
    table, done = account_table(logistic_trained.bundle, scored, accounts, "account_id")
    assert ACCOUNT_COLUMNS[:2] == ("expected_conversions", "probability")
    assert list(table.columns) == ["account_id", *ACCOUNT_COLUMNS]
    assert table["account_id"].tolist() == ["big", "mid", "few"]
    assert table["probability"].tolist()[:2] == [1.0, 1.0]
    assert table["expected_conversions"].tolist() == pytest.approx([36.0, 24.0, 0.623457])
    assert done == {
        "accounts": 3,
        "leads_without_account": 0,
        "method": INDEPENDENT,
        "near_certain": 2,
    }
    # written as the leads' probabilities are: 6 significant digits
    few = table.iloc[2]
    assert few["expected_conversions"] == 0.623457
    assert few["probability"] == float(f"{1 - (1 - 0.123456789) * 0.8 * 0.7:.6g}")
    assert few["best_probability"] == 0.3


def test_account_scores_refuses_scores_without_probability():
    with pytest.raises(MissingColumnError, match=r"probability and is_mql; missing \['is_mql'\]"):
        account_scores(pd.DataFrame({"id": [1], "probability": [0.2]}), ["a"])


def test_account_calibration_recovers_a_known_map_and_needs_outcomes():
    rng = np.random.default_rng(0)
    q = rng.uniform(0.02, 0.9, 20_000)
    logit = np.log(q / (1 - q))
    truth = 1 / (1 + np.exp(-(0.7 * logit - 0.4)))  # buying groups: less than independence
    y = (rng.random(q.size) < truth).astype(int)
    cal = AccountCalibration.fit(q, y)
    assert cal.a == pytest.approx(0.7, abs=0.05) and cal.b == pytest.approx(-0.4, abs=0.05)
    assert np.abs(cal(q) - truth).max() < 0.03
    assert AccountCalibration.from_dict(cal.to_dict()) == cal
    with pytest.raises(ConfigError, match="at least 10 converted and 10 unconverted accounts"):
        AccountCalibration.fit([0.5] * 30, [0] * 25 + [1] * 5)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    frame = make_leads(60_000, seed=5, regions=True, accounts=3)
    config = leads_config(ACCOUNT, model={"kind": "logistic"}, threshold={"target_rate": 0.25})
    return train(config, frame=frame, out=tmp_path_factory.mktemp("acc") / "model").bundle


@pytest.mark.slow
def test_account_probabilities_match_the_known_answer(bundle):
    # Synthetic accounts: the leads of an account convert independently given their
    # features, so an account converts (at least one lead) with 1 - prod(1 - true p).
    fresh = make_leads(60_000, seed=51, truth=True, regions=True, accounts=3, start="2026-01-01")
    assert "account_id" not in bundle.schema.features
    scores = score_frame(bundle, fresh)
    out = account_scores(scores, fresh["account_id"], account_column="account_id")
    truth, names = any_converts(fresh["true_probability"], fresh["account_id"])
    known = pd.Series(truth, index=names)[out["account_id"]].to_numpy()
    p = out["probability"].to_numpy()
    # scored with the true probabilities, the roll-up is the known answer exactly
    exact = account_scores(
        scores.assign(probability=fresh["true_probability"].to_numpy()),
        fresh["account_id"],
        account_column="account_id",
    )
    np.testing.assert_allclose(
        exact["probability"], pd.Series(truth, index=names)[exact["account_id"]], rtol=1e-12
    )
    # with the model's probabilities: close to it, and calibrated against it by decile
    assert np.abs(p - known).mean() < 0.05
    assert np.corrcoef(p, known)[0, 1] > 0.95
    decile = pd.qcut(p, 10, labels=False, duplicates="drop")
    gaps = pd.Series(p - known).groupby(decile).mean().abs()
    assert gaps.max() < 0.035, gaps
    # and on the outcomes: the accounts with at least one conversion (the top decile)
    converted = fresh.groupby("account_id")["converted"].max()[out["account_id"]].to_numpy()
    top = p >= np.quantile(p, 0.9)
    assert abs(converted[top].mean() - p[top].mean()) < 0.03


@pytest.mark.slow
def test_score_accounts_file_writes_one_row_per_account(bundle, tmp_path):
    fresh = make_leads(3_000, seed=52, regions=True, accounts=4, start="2026-01-01", days=30)
    fresh.loc[:9, "account_id"] = None
    leads, scores, accounts = tmp_path / "leads.csv", tmp_path / "s.csv", tmp_path / "a.parquet"
    fresh.to_csv(leads, index=False)
    score_file(bundle, leads, scores)
    done = score_accounts_file(bundle, leads, scores, accounts)
    table = pd.read_parquet(accounts)
    assert done == {
        "accounts": len(table),
        "leads_without_account": 10,
        "method": INDEPENDENT,
        "near_certain": int((table["probability"] >= 0.999).sum()),
        "output": str(accounts),
    }
    assert table["leads"].sum() == len(fresh) - 10
    assert table["account_id"].is_unique and table["probability"].is_monotonic_decreasing
    lead_scores = pd.read_csv(scores)
    best = lead_scores.set_index("lead_id")["probability"]
    np.testing.assert_allclose(best[table["best_lead"]].to_numpy(), table["best_probability"])
    with pytest.raises(MissingColumnError, match=r"account column 'account_id'"):
        fresh.drop(columns="account_id").to_csv(tmp_path / "no.csv", index=False)
        score_accounts_file(bundle, tmp_path / "no.csv", scores, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_scoring_accounts_needs_columns_account(tmp_path, logistic_trained, leads_4k):
    bundle, frame = logistic_trained.bundle, leads_4k
    frame.head(50).to_csv(tmp_path / "l.csv", index=False)
    score_file(bundle, tmp_path / "l.csv", tmp_path / "s.csv")
    with pytest.raises(ConfigError, match=r"columns.account must name the account"):
        score_accounts_file(bundle, tmp_path / "l.csv", tmp_path / "s.csv", tmp_path / "a.csv")


@pytest.mark.slow
def test_cli_trains_segment_lines_and_scores_accounts(tmp_path):
    import json

    from typer.testing import CliRunner

    from mqlml.cli import app

    runner = CliRunner()
    make_leads(20_000, seed=6, regions=True, accounts=3).to_csv(tmp_path / "leads.csv", index=False)
    config = tmp_path / "mqlml.yaml"
    config.write_text(
        "data: {path: leads.csv}\n"
        "columns: {id: lead_id, label: converted, time: created_at, account: account_id}\n"
        "model: {kind: logistic}\n"
        "threshold:\n  target_rate: 0.25\n  segments:\n    column: region\n"
        "    targets: {EMEA: 0.2, AMER: 0.25, APAC: 0.3, LATAM: 0.3}\n"
    )
    out = tmp_path / "model"
    trained = runner.invoke(
        app, ["train", "--config", str(config), "--out", str(out), "--no-track"]
    )
    assert trained.exit_code == 0, trained.output
    assert "segment EMEA: target 20%, line " in trained.output
    assert "in the bundle that scores; backtest line" in trained.output
    # LATAM has no leads: the overall line, with a warning that says so
    assert "segment region='LATAM': too few calibration leads" in trained.output
    scored = runner.invoke(
        app,
        [
            "score",
            "--model",
            str(out),
            "--input",
            str(tmp_path / "leads.csv"),
            "--output",
            str(tmp_path / "scores.csv"),
            "--accounts",
            str(tmp_path / "accounts.csv"),
            "--json",
        ],
    )
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout)
    accounts = pd.read_csv(tmp_path / "accounts.csv")
    assert summary["accounts"]["accounts"] == len(accounts) == fresh_accounts(tmp_path)
    assert list(accounts.columns) == ["account_id", *ACCOUNT_COLUMNS]
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert "threshold" in scores.columns and accounts["mqls"].sum() == scores["is_mql"].sum()


def fresh_accounts(folder):
    return pd.read_csv(folder / "leads.csv")["account_id"].nunique()


@pytest.mark.slow
def test_account_outcomes_calibrate_account_probabilities_and_are_judged_on_the_test_part():
    # Accounts that convert as a unit: an account converts when its first lead does, so
    # 1 - prod(1 - p) over all its leads overstates its chance; the account calibration,
    # fitted on the calibration part's accounts, must bring it back on the test part's.
    frame = make_leads(60_000, seed=9, regions=True, accounts=3)
    first = frame.groupby("account_id")["converted"].transform("first")
    frame["account_converted"] = first
    config = leads_config(
        {**ACCOUNT, "account_label": "account_converted"},
        model={"kind": "logistic"},
        threshold={"target_rate": 0.25},
    )
    result = train(config, frame=frame)
    assert "account_converted" not in result.bundle.schema.features
    judged = result.bundle.metadata["accounts"]
    assert judged["method"] == "calibrated on account outcomes"
    rate, n = judged["calibrated"]["rate"], judged["calibrated"]["accounts"]
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert judged["independent"]["mean_probability"] > rate + 5 * sigma
    assert abs(judged["calibrated"]["mean_probability"] - rate) < 4 * sigma
    assert judged["calibrated"]["brier"] < judged["independent"]["brier"]
    assert judged["calibration"]["a"] < 1.0  # flatter than independence
    # scoring applies the deployed calibration
    fresh = make_leads(5_000, seed=10, regions=True, accounts=3, start="2026-01-01", days=60)
    scores = score_frame(result.bundle, fresh, reasons="none")
    cal = AccountCalibration.from_dict(judged["calibration"])
    out = account_scores(scores, fresh["account_id"], calibration=cal)
    plain = account_scores(scores, fresh["account_id"])
    assert (out["method"] == "calibrated on account outcomes").all()
    assert out["probability"].mean() < plain["probability"].mean()


def test_without_account_outcomes_train_checks_independence_on_the_test_part():
    frame = make_leads(8_000, seed=4, accounts=3)
    config = leads_config(ACCOUNT, model={"kind": "logistic"}, threshold={"target_rate": 0.25})
    judged = train(config, frame=frame).bundle.metadata["accounts"]
    assert judged["method"] == INDEPENDENT and "calibration" not in judged
    checked = judged["independent"]
    assert checked["accounts"] > 500
    lo, hi = checked["interval"]
    assert lo <= checked["rate"] <= hi
