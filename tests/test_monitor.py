import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mqlml.errors import DataError, InsufficientDataError, MissingColumnError
from mqlml.leads._synthetic import make_leads
from mqlml.metrics._drift import build_reference
from mqlml.metrics._rates import realized
from mqlml.model._bundle import load_bundle, read_manifest
from mqlml.monitoring._monitor import monitor
from mqlml.monitoring._recalibrate import recalibrate

SHIFT = {"pricing_page_visits": 2.0}
LATER = {"start": "2026-01-01", "days": 365}


@pytest.fixture(scope="module")
def bundle(trained, leads_20k):
    """The trained bundle with drift references (built on its calibration part if absent)."""
    trained_bundle = trained.bundle
    if "features" in trained_bundle.reference:
        return trained_bundle
    schema = trained_bundle.schema
    X = schema.features_frame(leads_20k).iloc[trained.parts.calibrate]
    features = build_reference(X, schema.kinds, trained_bundle.predict_proba(X))
    return replace(trained_bundle, reference={**trained_bundle.reference, "features": features})


@pytest.fixture(scope="module")
def drifted():
    """A later period: base rate doubled, pricing-page visits doubled."""
    return make_leads(20_000, seed=21, base_rate_scale=2.0, engagement_shift=SHIFT, **LATER)


@pytest.fixture(scope="module")
def steady():
    """A later period from the same law as the training leads."""
    return make_leads(10_000, seed=22, **LATER)


def outcomes_of(leads):
    return leads[["lead_id", "converted"]]


def test_drift_scenario_flags_the_shifted_feature(bundle, drifted, steady):
    first = drifted.iloc[:10_000]
    report = monitor(bundle, first)
    top, *rest = report.features
    assert top["feature"] == "pricing_page_visits" and top["group"] == "engagement"
    assert top["psi"] > 0.1 and top["level"] != "fine"
    assert max(row["psi"] for row in rest) < 0.05
    assert report.level in ("warning", "alert") and report.exit_code >= 1
    # more leads look engaged than in a later period of the same law
    assert report.mql["share"] > monitor(bundle, steady).mql["share"] + 0.02
    assert report.outcomes is None
    assert any("pricing_page_visits (PSI" in line for line in report.why)
    assert any("Give outcomes" in line for line in report.why)
    table = report.feature_table()
    assert table["feature"].iloc[0] == "pricing_page_visits" and len(table) == 16


def test_drift_scenario_with_outcomes_flags_the_rate_gap(bundle, drifted):
    first = drifted.iloc[:10_000]
    report = monitor(bundle, first, outcomes=outcomes_of(first))
    o = report.outcomes
    assert o["n"] == 10_000 and o["n_unmatched"] == 0
    # doubled odds: MQLs promised ~27 % convert at ~39 %
    assert o["rate_gap"] > 0.08 and o["rate"] == "off"
    assert o["realized_interval"][0] > o["expected_rate"]
    assert o["ranking"] == "held" and o["roc_auc"] > o["reference_auc"] - 0.05
    assert report.level == "alert" and report.exit_code == 3
    assert report.recommendation == "recalibrate"
    assert "recalibrate" in report.why[0] and "ranking holds" in report.why[0]
    json.dumps(report.to_dict())  # plain JSON, no default needed


def test_recalibrate_on_the_drifted_period_hits_the_target_later(bundle, drifted):
    first, later = drifted.iloc[:10_000], drifted.iloc[10_000:]
    booster = bundle.model.booster_.model_to_string()
    new, summary = recalibrate(bundle, first)
    # the trees stay: the same fitted model object, unchanged
    assert new.model is bundle.model
    assert new.model.booster_.model_to_string() == booster
    assert new.score_map is not bundle.score_map and new.threshold.target_rate == 0.25

    X, y = new.schema.features_frame(later), later["converted"].to_numpy()
    old_rate = realized(bundle.predict_proba(X), y, bundle.threshold.threshold)["realized_rate"]
    new_rate = realized(new.predict_proba(X), y, new.threshold.threshold)["realized_rate"]
    assert old_rate - 0.25 > 0.05  # the drift raised the rate well past the target
    assert abs(new_rate - 0.25) <= 0.03

    assert summary["calibration_rows"] == summary["evaluation_rows"] == 5_000
    assert summary["split"] == "time"
    assert summary["evaluation_from"] > summary["date_from"]
    assert summary["before"]["realized_rate"] - 0.25 > 0.1
    assert abs(summary["after"]["realized_rate"] - 0.25) <= 0.03
    assert summary["after"]["ece"] < summary["before"]["ece"]
    assert summary["threshold_after"] == new.threshold.threshold < bundle.threshold.threshold
    assert summary["bundle"] is None
    assert summary["parent"]["fingerprint"] == bundle.metadata["fingerprint"]
    record = new.metadata["recalibration"]
    assert record["rows"] == 10_000 and record["date_to"] == str(first["created_at"].max())
    assert new.metadata["parent"] == summary["parent"]
    assert new.tiers.cuts[-1] == new.threshold.threshold
    json.dumps(summary)

    # monitoring the later slice with the new bundle: the rate holds, nothing to do
    report = monitor(new, later, outcomes=outcomes_of(later))
    assert report.outcomes["rate"] == "fine"
    assert report.recommendation == "fine"


def test_no_drift_scenario_is_fine(bundle, steady):
    report = monitor(bundle, steady, outcomes=outcomes_of(steady))
    assert max(row["psi"] for row in report.features) < 0.1
    assert report.score["psi"] < 0.1 and report.mql["level"] == "fine"
    assert report.outcomes["rate"] == "fine" and report.outcomes["ranking"] == "held"
    assert abs(report.outcomes["rate_gap"]) < 0.05
    assert report.level == "fine" and report.exit_code == 0
    assert report.recommendation == "fine"
    assert report.why[0] == "Nothing calls for action."


def test_a_moderate_shift_is_a_warning(bundle):
    leads = make_leads(10_000, seed=23, engagement_shift={"pricing_page_visits": 1.7}, **LATER)
    report = monitor(bundle, leads)
    assert report.features[0]["feature"] == "pricing_page_visits"
    assert 0.1 < report.features[0]["psi"] < 0.25
    assert report.level == "warning" and report.exit_code == 1
    assert report.recommendation == "watch"  # never "fine" beside a warning


def test_level_follows_the_recommendation_even_beside_an_alerted_feature(bundle, steady):
    # one feature's reference moved far away: that feature alerts, yet the outcomes hold
    X = bundle.schema.features_frame(steady)
    moved = X.assign(email_opens=X["email_opens"] * 5 + 7)
    shifted = build_reference(moved, bundle.schema.kinds, bundle.predict_proba(X))
    reference = {**bundle.reference["features"], "email_opens": shifted["email_opens"]}
    odd = replace(bundle, reference={**bundle.reference, "features": reference})
    report = monitor(odd, steady, outcomes=outcomes_of(steady))
    assert report.features[0]["feature"] == "email_opens"
    assert report.features[0]["level"] == "alert"
    assert report.outcomes["rate"] == "fine" and report.outcomes["ranking"] == "held"
    assert report.recommendation == "watch"
    assert report.level == "warning" and report.exit_code == 1


def test_lost_ranking_means_retrain(bundle, steady):
    shuffled = outcomes_of(steady).assign(
        converted=np.random.default_rng(0).permutation(steady["converted"].to_numpy())
    )
    report = monitor(bundle, steady, outcomes=shuffled)
    assert report.outcomes["roc_auc"] < 0.55 and report.outcomes["ranking"] == "dropped"
    assert report.recommendation == "retrain" and report.level == "alert"
    assert report.exit_code == 4
    assert report.why[0].startswith("Ranking dropped: ROC AUC 0.")


def test_score_shift_without_outcomes_asks_for_outcomes_then_recalibration(bundle, steady):
    p = bundle.predict_proba(bundle.schema.features_frame(steady))
    hot = steady[p >= np.median(p)]  # only the upper half of the scores
    report = monitor(bundle, hot)
    assert report.score["psi"] > 0.25 and report.score["level"] == "alert"
    assert report.recommendation == "recalibrate" and report.exit_code == 3
    assert "collect the outcomes of these MQLs, then recalibrate" in report.why[0]


def test_outcomes_of_mqls_only_judge_the_rate_but_not_the_ranking(bundle, steady):
    p = bundle.predict_proba(bundle.schema.features_frame(steady))
    mqls = steady[p >= bundle.threshold.threshold]
    report = monitor(bundle, steady, outcomes=outcomes_of(mqls))
    o = report.outcomes
    assert o["n"] == o["n_mql"] == len(mqls)
    assert o["rate"] == "fine" and o["ranking"] == "not judged"
    few = monitor(bundle, steady.iloc[:300], outcomes=outcomes_of(mqls.iloc[:20]))
    assert few.outcomes["rate"] == "not judged" and few.outcomes["rate_gap"] is None
    assert any("Only 20 MQLs have outcomes" in line for line in few.why)


def test_outcome_flags_yes_no_and_sql_status_agree_with_0_1(bundle, steady):
    leads = steady.iloc[:3_000]
    y = leads["converted"].to_numpy()
    extra = make_leads(10, seed=5).assign(lead_id=lambda f: "X" + f["lead_id"])
    plain = monitor(bundle, leads, outcomes=outcomes_of(leads)).outcomes
    as_text = leads[["lead_id"]].assign(converted=np.where(y == 1, "Yes", "no"))
    status = leads[["lead_id"]].assign(sql_status=np.where(y == 1, "SQL", "Rejected"))
    assert monitor(bundle, leads, outcomes=as_text).outcomes == plain
    assert monitor(bundle, leads, outcomes=status).outcomes == plain
    with_unknown_ids = pd.concat([outcomes_of(leads).iloc[:1_000], outcomes_of(extra)])
    partial = monitor(bundle, leads, outcomes=with_unknown_ids).outcomes
    assert partial["n"] == 1_000 and partial["n_unmatched"] == 10


def test_bad_outcomes_are_clear_errors(bundle, steady):
    leads = steady.iloc[:200]
    good = outcomes_of(leads)
    with pytest.raises(
        MissingColumnError, match=r"outcomes must have the lead id column 'lead_id'"
    ):
        monitor(bundle, leads, outcomes=good.rename(columns={"lead_id": "id"}))
    with pytest.raises(MissingColumnError, match=r"outcomes must have a converted flag in one"):
        monitor(bundle, leads, outcomes=good.rename(columns={"converted": "won"}))
    with pytest.raises(DataError, match=r"label column 'converted' must be 0/1, yes/no or true"):
        monitor(bundle, leads, outcomes=good.assign(converted=good["converted"] * 2))
    with pytest.raises(DataError, match=r"label column 'converted' must have a value in every"):
        monitor(bundle, leads, outcomes=good.assign(converted=np.nan))
    with pytest.raises(DataError, match=r"outcomes id column 'lead_id' must be unique; 4 rows"):
        monitor(bundle, leads, outcomes=good.iloc[[0, 0, 1, 1, 2]])
    with pytest.raises(DataError, match=r"outcomes must share lead ids with the leads; none of"):
        monitor(bundle, leads, outcomes=good.assign(lead_id="nobody" + good["lead_id"]))
    with pytest.raises(DataError, match=r"lead id column 'lead_id' must be unique to join"):
        monitor(bundle, pd.concat([leads, leads.iloc[[0]]]), outcomes=good)
    with pytest.raises(InsufficientDataError, match=r"leads must number at least 200 .*got 0"):
        monitor(bundle, leads.iloc[:0])
    with pytest.raises(InsufficientDataError, match=r"leads must number at least 200 .*got 5\."):
        monitor(bundle, leads.iloc[:5])


def test_without_references_monitor_measures_no_drift_and_says_so(bundle, steady):
    bare = replace(bundle, reference={"quantiles": bundle.reference["quantiles"]})
    report = monitor(bare, steady.iloc[:500])
    assert report.features == () and report.score is None
    assert any("keeps no reference distributions" in line for line in report.why)
    assert report.mql["n_mql"] > 0


def test_recalibrate_from_a_saved_bundle_records_its_parent(trained, drifted, tmp_path):
    out = tmp_path / "recalibrated"
    _, summary = recalibrate(trained.path, drifted.iloc[:6_000], target_rate=0.3, out=out)
    assert summary["bundle"] == str(out)
    loaded = load_bundle(out)
    manifest = read_manifest(trained.path)
    parent = loaded.metadata["parent"]
    assert parent["path"] == str(trained.path.resolve())
    assert parent["digest"] == manifest["digest"] and parent["created_at"] == manifest["created_at"]
    assert loaded.threshold.target_rate == 0.3 and loaded.config["threshold"]["target_rate"] == 0.3
    assert (
        loaded.model.booster_.model_to_string() == trained.bundle.model.booster_.model_to_string()
    )
    assert "features" in loaded.reference  # the drift reference of the new calibration


def test_recalibrate_keeps_a_capacity_share(bundle, drifted):
    old = bundle.threshold
    by_capacity = replace(
        bundle, threshold=replace(old, mode="capacity", target_rate=None, capacity=1_000)
    )
    new, _ = recalibrate(by_capacity, drifted.iloc[:10_000])
    # 1,000 MQLs of the old calibration part's leads -> the same share of 5,000 leads
    assert new.threshold.mode == "capacity"
    assert new.threshold.capacity == round(1_000 * 5_000 / old.n)


def test_recalibrate_errors(bundle, drifted):
    with pytest.raises(ValueError, match=r"evaluation_share must be in \(0, 1\); got 1.0"):
        recalibrate(bundle, drifted, evaluation_share=1.0)
    with pytest.raises(InsufficientDataError, match=r"the calibration part of the recent leads"):
        recalibrate(bundle, drifted.iloc[:60])
    with pytest.raises(MissingColumnError, match=r"missing \['converted'\]"):
        recalibrate(bundle, drifted.drop(columns="converted"))


# CLI: needs the `monitor` and `recalibrate` commands of the CLI (mqlml/cli/).
def test_cli_monitor_and_recalibrate(trained, drifted, tmp_path):
    from typer.testing import CliRunner

    from mqlml.cli import app

    first = drifted.iloc[:10_000]
    leads, outcomes = tmp_path / "new.csv", tmp_path / "outcomes.csv"
    first.drop(columns="converted").to_csv(leads, index=False)
    outcomes_of(first).to_csv(outcomes, index=False)
    runner = CliRunner()
    args = ["monitor", "--model", str(trained.path), "--input", str(leads)]
    result = runner.invoke(app, [*args, "--outcomes", str(outcomes), "--json"])
    assert result.exit_code == 3, result.output
    payload = json.loads(result.stdout)
    assert payload["recommendation"] == "recalibrate" and payload["exit_code"] == 3
    assert payload["level"] == "alert"
    result = runner.invoke(app, args)
    said = " ".join(result.stdout.split())
    assert result.exit_code in (1, 3) and "pricing_page_visits" in result.stdout
    assert f"recommendation: {payload['recommendation']}" not in said or result.exit_code == 3
    assert re.search(r"recommendation: (watch \(exit 1\)|recalibrate \(exit 3\))", said), said
    labelled, out = tmp_path / "recent.csv", tmp_path / "recal"
    first.to_csv(labelled, index=False)
    result = runner.invoke(
        app,
        ["recalibrate", "--model", str(trained.path), "--data", str(labelled), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert load_bundle(out).metadata["parent"]["path"] == str(trained.path.resolve())
