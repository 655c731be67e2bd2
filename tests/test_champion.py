"""The new model against the champion: on leads neither trained on, or each one's backtest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mqlml.errors import BundleError
from mqlml.leads._synthetic import make_leads
from mqlml.metrics._evaluate import evaluate
from mqlml.model._prepare import holdout
from mqlml.model._train import train
from mqlml.monitoring._champion import MIN_CONVERSIONS, compare_champion, trained_until
from mqlml.scoring._scorer import score_frame

from .conftest import leads_config

CONFIG = leads_config(model={"kind": "logistic"}, threshold={"target_rate": 0.3})
CHAMPION_UNTIL = pd.Timestamp("2024-10-01")
CHALLENGER_UNTIL = pd.Timestamp("2025-04-01")


@pytest.fixture(scope="module")
def history():
    return make_leads(8_000, seed=21)


@pytest.fixture(scope="module")
def champion_data(history):
    return history[history["created_at"] < CHAMPION_UNTIL].reset_index(drop=True)


@pytest.fixture(scope="module")
def challenger_data(history):
    return history[history["created_at"] < CHALLENGER_UNTIL].reset_index(drop=True)


@pytest.fixture(scope="module")
def champion(champion_data):
    return train(CONFIG, frame=champion_data).bundle


@pytest.fixture(scope="module")
def challenger(challenger_data):
    return train(CONFIG, frame=challenger_data).bundle


def test_both_are_judged_on_leads_neither_was_trained_on(
    history, champion_data, challenger_data, champion, challenger
):
    result = compare_champion(challenger, champion, history, config=CONFIG)
    assert result.basis == "new leads"
    compared = set(result.leads["lead_id"])
    # No lead either model learned from is in the comparison ...
    assert compared.isdisjoint(champion_data["lead_id"])
    assert compared.isdisjoint(challenger_data["lead_id"])
    # ... as the bundles' own metadata says: every lead is newer than both periods.
    ends = [trained_until(challenger), trained_until(champion)]
    assert ends[1] < ends[0] < CHALLENGER_UNTIL
    assert result.cutoff == str(ends[0])
    assert (result.leads["created_at"] > max(ends)).all()
    # ... and every such lead is in it.
    newer = history[history["created_at"] > max(ends)]
    assert compared == set(newer["lead_id"]) and len(compared) > 1_500
    # The old way, the new model's own test part, holds only leads its deployed model
    # was fit on (the refit on every mature lead).
    test_part, _ = holdout(challenger, challenger_data)
    assert len(test_part) > 0 and (test_part["created_at"] <= trained_until(challenger)).all()

    y = newer["converted"].to_numpy()
    for name, bundle in (("new", challenger), ("champion", champion)):
        p = score_frame(bundle, newer, reasons="none")["probability"].to_numpy()
        want = evaluate(y, p, threshold=bundle.threshold.threshold)
        row = result.table.loc[name]
        assert row["roc_auc"] == pytest.approx(want["roc_auc"], abs=1e-12)
        assert row["realized_rate"] == pytest.approx(want["realized_rate"], abs=1e-12)
        assert row["leads"] == len(newer)
    assert result.better == (
        result.table.loc["new", "roc_auc"] > result.table.loc["champion", "roc_auc"]
    )
    assert result.explanation.startswith(f"Judged on the same {len(newer):,} mature leads")
    assert "which neither model was trained on" in result.explanation


def test_without_newer_leads_each_is_judged_by_its_own_backtest(
    challenger_data, champion, challenger
):
    result = compare_champion(challenger, champion, challenger_data, config=CONFIG)
    assert result.basis == "backtests" and result.leads is None
    for name, bundle in (("new", challenger), ("champion", champion)):
        row = result.table.loc[name]
        assert row["roc_auc"] == bundle.metadata["metrics"]["roc_auc"]
        assert row["realized_rate"] == bundle.metadata["metrics"]["realized_rate"]
        judged = bundle.metadata["fits"]["backtest"]["judged_on"]
        assert (row["leads"], row["from"], row["to"]) == (
            judged["rows"],
            judged["from"],
            judged["to"],
        )
    assert result.explanation.startswith(
        "Each model judged by its own backtest: only 0 mature leads (0 converted) were "
        "created after "
    )
    assert "judged on different leads" in result.explanation
    nothing = compare_champion(challenger, champion)
    assert nothing.basis == "backtests"
    assert "no leads were given to look for newer ones in" in nothing.explanation


def test_too_few_newer_conversions_fall_back_to_the_backtests(
    history, challenger_data, champion, challenger
):
    newer = history[history["created_at"] > trained_until(challenger)]
    few = newer[newer["converted"] == 1].head(MIN_CONVERSIONS - 1)
    frame = pd.concat([challenger_data, few, newer[newer["converted"] == 0]])
    result = compare_champion(challenger, champion, frame, config=CONFIG)
    assert result.basis == "backtests"
    assert f"({MIN_CONVERSIONS - 1} converted) were created after" in result.explanation
    assert f"at least {MIN_CONVERSIONS} conversions" in result.explanation


def test_leads_without_creation_times_fall_back_to_the_backtests(challenger_data, challenger):
    no_time = leads_config(
        columns={"time": None}, model={"kind": "logistic"}, threshold={"target_rate": 0.3}
    )
    random_split = train(no_time, frame=challenger_data.drop(columns="created_at")).bundle
    assert trained_until(random_split) is None
    result = compare_champion(challenger, random_split, challenger_data, config=CONFIG)
    assert result.basis == "backtests" and result.cutoff is None
    assert "the champion's leads had no creation times" in result.explanation


def test_a_bundle_without_backtest_numbers_is_refused(champion, challenger):
    bare = dataclasses.replace(
        champion, metadata={k: v for k, v in champion.metadata.items() if k != "metrics"}
    )
    with pytest.raises(BundleError, match=r"the champion's bundle must hold its backtest numbers"):
        compare_champion(challenger, bare)


def test_immature_leads_are_left_out_of_the_comparison():
    """With an outcome window, the newest leads whose window has not closed judge nothing."""
    leads = make_leads(8_000, seed=22, conversion_days=10, observed_until="2025-12-31")
    config = leads_config(
        columns={"converted_at": "converted_at"},
        outcome={"window_days": 30, "as_of": "2025-12-31"},
        model={"kind": "logistic"},
        threshold={"target_rate": 0.3},
    )
    old = train(config, frame=leads[leads["created_at"] < "2024-10-01"]).bundle
    new = train(config, frame=leads[leads["created_at"] < "2025-04-01"]).bundle
    result = compare_champion(new, old, leads, config=config)
    assert result.basis == "new leads"
    mature_until = pd.Timestamp("2025-12-31") - pd.Timedelta(days=30)
    assert (leads["created_at"] > mature_until).sum() > 200  # immature leads exist ...
    assert result.leads["created_at"].max() <= mature_until  # ... and judge nothing
    assert np.isin(result.leads["lead_id"], leads["lead_id"]).all()
