"""Monitoring before outcomes are final, end to end: a bundle trained with conversion times
keeps its delay curve; young MQLs are judged by their early rate, mature ones as final."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mqlml.leads._synthetic import make_leads
from mqlml.model._train import train
from mqlml.monitoring._monitor import monitor

from .conftest import leads_config

START = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)


def _history() -> pd.DataFrame:
    return make_leads(
        12_000, seed=1, days=600, conversion_days=15, observed_until=str(START + 600 * DAY)
    )


@pytest.fixture(scope="module")
def delayed_bundle():
    history = _history()
    config = leads_config(
        {"converted_at": "converted_at"},
        outcome={"window_days": 60},
        threshold={"target_rate": 0.3},
        model={"kind": "logistic"},
    )
    return train(config, frame=history).bundle


def _two_weeks(scale: float, seed: int) -> pd.DataFrame:
    """Leads of the 14 days after the history, as read on day 614 (conversions so far)."""
    return make_leads(
        4_000,
        seed=seed,
        start=str(START + 600 * DAY),
        days=14,
        conversion_days=15,
        observed_until=str(START + 614 * DAY),
        base_rate_scale=scale,
    )


def test_the_bundle_keeps_its_delay_curve_and_calibration_bins(delayed_bundle):
    delay = delayed_bundle.metadata["delay"]
    assert delay["horizon_days"] == 60
    # delays 1 + Gamma(2, 7): median about 12.7 days
    assert 11 <= delay["median_days"] <= 14
    bins = delayed_bundle.reference["calibration_bins"]
    assert sum(bins["leads"]) > 1000 and len(bins["edges"]) == len(bins["leads"]) + 1


def test_a_drop_is_caught_by_the_early_rate_two_weeks_in(delayed_bundle):
    batch = _two_weeks(0.35, seed=2)
    report = monitor(delayed_bundle, batch, outcomes=batch[["lead_id", "converted"]],
                     as_of=START + 614 * DAY)  # fmt: skip
    early = report.early
    assert report.outcomes is None  # no MQL is mature yet: nothing to judge as final
    assert early["rate"] == "off" and early["target_verdict"] == "below target"
    assert early["interval"][1] < early["expected_rate"] - 0.05
    assert report.recommendation == "recalibrate" and report.exit_code == 3
    assert "younger than the 60-day window" in report.why[0]


def test_young_zeros_no_longer_read_as_a_collapse_of_the_rate(delayed_bundle):
    """Without a drop, counting the young MQLs' outcomes as final reads as a collapse on
    every batch; their early rate raises the alarm on few."""
    alarms, as_final = 0, 0
    for seed in range(10, 20):
        batch = _two_weeks(1.0, seed=seed)
        report = monitor(delayed_bundle, batch, outcomes=batch[["lead_id", "converted"]],
                         as_of=START + 614 * DAY)  # fmt: skip
        alarms += report.early["rate"] == "off"
        seen = batch["converted"].to_numpy()[_mqls(delayed_bundle, batch)].mean()
        as_final += seen < report.early["expected_rate"] - 0.05
    assert as_final == 10 and alarms <= 4, (as_final, alarms)  # measured: 10 and 3


def _mqls(bundle, batch) -> np.ndarray:
    return bundle.predict_proba(bundle.schema.features_frame(batch)) >= bundle.threshold.threshold


def test_the_unlabelled_estimate_says_what_it_expects_and_what_it_cannot_see(delayed_bundle):
    batch = _two_weeks(1.0, seed=4)
    report = monitor(delayed_bundle, batch)
    est = report.estimate
    mql = _mqls(delayed_bundle, batch)
    p = delayed_bundle.predict_proba(delayed_bundle.schema.features_frame(batch))
    assert est["n_mql"] == mql.sum() and est["expected_rate"] == pytest.approx(p[mql].mean())
    assert est["covers"] == "outcomes and calibration"
    lo, hi = est["interval"]
    assert lo < est["expected_rate"] < hi and hi - lo < 0.2
    # the truth of these leads, once their windows close, sits inside (known probabilities)
    final = make_leads(4_000, seed=4, start=str(START + 600 * DAY), days=14, truth=True)
    assert lo <= final["true_probability"].to_numpy()[mql].mean() * 0.95 <= hi or (
        lo <= final["true_probability"].to_numpy()[mql].mean() <= hi
    )
    assert "only outcomes reveal it" in est["invisible"]
    assert report.to_dict()["estimate"]["target_verdict"] in (
        "below target", "holds the target", "above target"
    )  # fmt: skip


def test_the_cli_reports_the_expected_and_the_early_rate(delayed_bundle, tmp_path):
    from typer.testing import CliRunner

    from mqlml.cli import app

    model = delayed_bundle.save(tmp_path / "model")
    batch = _two_weeks(0.35, seed=2)
    leads, outcomes = tmp_path / "new.csv", tmp_path / "outcomes.csv"
    batch.drop(columns=["converted", "converted_at"]).to_csv(leads, index=False)
    batch[["lead_id", "converted"]].to_csv(outcomes, index=False)
    args = ["monitor", "-m", str(model), "-i", str(leads), "--outcomes", str(outcomes)]
    result = CliRunner().invoke(app, [*args, "--as-of", str(START + 614 * DAY)])
    said = " ".join(result.stdout.split())
    assert result.exit_code == 3, result.output
    assert re.search(r"early rate of [\d,]+ young MQLs [\d.]+% \(90 % [\d.]+% to [\d.]+%\)", said)
    assert "expected MQL-to-SQL rate of these MQLs" in said
    # as of a date before the newest lead: refused, naming the fix
    result = CliRunner().invoke(app, [*args, "--as-of", str(START + 605 * DAY)])
    assert result.exit_code != 0 and "as_of must not be before a lead's creation" in result.output


def test_the_report_says_how_long_conversions_take(delayed_bundle, tmp_path):
    from pathlib import Path

    from mqlml.report._compare import compare
    from mqlml.report._files import write_report

    rules = Path(__file__).resolve().parents[1] / "data" / "rules.yaml"
    report = compare(delayed_bundle, _history(), baseline=rules, n_boot=50)
    delay = report["model"]["delay"]
    assert delay == delayed_bundle.metadata["delay"] and delay["horizon_days"] == 60
    files = write_report(report, tmp_path / "report")
    said = " ".join(files["markdown"].read_text().split())
    assert (
        f"half of the conversions arrive within {delay['median_days']:g} days of creation, "
        f"90 % within {delay['days_to_90']:g}"
    ) in said
