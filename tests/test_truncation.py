"""Outcome records that start late (left truncation): found by check and train, fixed by
outcome.recorded_from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mqlml.errors import ConfigError
from mqlml.leads._checks import check_leads
from mqlml.leads._outcome import since_recorded, truncation_finding
from mqlml.leads._synthetic import FIT_COLUMNS, make_leads
from mqlml.model._backtest import cohort_warnings
from mqlml.model._prepare import prepare_leads
from mqlml.model._train import train

from .conftest import leads_config

RECORDED_FROM = pd.Timestamp("2024-07-01")  # the first six months have no outcomes


def _truncate(leads: pd.DataFrame, since: pd.Timestamp = RECORDED_FROM) -> pd.DataFrame:
    """The table as a CRM that recorded deals only from ``since`` exports it."""
    lost = leads["converted_at"] < since
    return leads.assign(
        converted=np.where(lost, 0, leads["converted"]),
        converted_at=leads["converted_at"].where(~lost),
    )


@pytest.fixture(scope="module")
def whole():
    # two years from 2024-01-01; conversions 30 days after creation on average
    return make_leads(6_000, seed=5, conversion_days=30, observed_until="2025-12-31")


@pytest.fixture(scope="module")
def truncated(whole):
    return _truncate(whole)


def _config(converted_at: bool = True, window: float | None = None, **outcome):
    return leads_config(
        {"converted_at": "converted_at"} if converted_at else None,
        features={"fit": FIT_COLUMNS, "engagement": "infer"},
        exclude=[] if converted_at else [{"column": "converted_at", "reason": "outcome"}],
        model={"kind": "logistic"},
        threshold={"target_rate": 0.25},
        outcome={"window_days": window, **outcome},
    )


CASES = [(True, None), (True, 60.0), (False, None), (False, 60.0)]
IDS = ["converted_at", "converted_at+window", "labels only", "labels+window"]


@pytest.mark.parametrize(("converted_at", "window"), CASES, ids=IDS)
def test_check_names_left_truncation_and_its_fix(truncated, converted_at, window):
    report = check_leads(truncated, _config(converted_at, window))
    found = [f for f in report.findings if f.code == "left-truncation"]
    assert len(found) == 1 and found[0].level == "warning"
    message = found[0].message
    if converted_at:  # the date is the first recorded conversion
        assert message.startswith("left truncation: outcomes appear recorded only from 2024-07-01")
        assert "No conversion is recorded before 2024-07-01, 182 days after the first lead" in (
            message
        )
    else:  # the first month converting at the later rate again
        assert "outcomes appear recorded only from about 2024-0" in message
        assert "leads created before 2024-06-01 converted at 0." in message
    assert "set outcome.recorded_from: 2024-0" in message
    assert "created_at >= 2024-0" in message
    # the shift it causes is not blamed on a channel or a campaign
    assert not any(f.code == "rate-shift" for f in report.findings)


@pytest.mark.parametrize(("converted_at", "window"), CASES, ids=IDS)
def test_train_warns_about_left_truncation(truncated, converted_at, window):
    result = train(_config(converted_at, window), frame=truncated)
    said = [w for w in result.warnings if w.startswith("left truncation")]
    assert len(said) == 1 and "outcome.recorded_from" in said[0]
    assert not any("conversion rate moved" in w for w in result.warnings)
    assert said == result.bundle.metadata["outcome_warnings"][:1]


def test_recorded_from_leaves_the_unrecorded_leads_out(truncated):
    cfg = _config(window=60.0, recorded_from=RECORDED_FROM)
    before = int((truncated["created_at"] < RECORDED_FROM).sum())
    report = check_leads(truncated, cfg)
    assert not any(f.code == "left-truncation" for f in report.findings)
    assert report.profile["unrecorded_leads"] == before
    assert report.profile["date_from"] == "2024-07-01"
    result = train(cfg, frame=truncated)
    assert not any(w.startswith("left truncation") for w in result.warnings)
    assert result.outcome["unrecorded_leads"] == before
    assert f"{before:,} leads created before outcome.recorded_from" in result.outcome["reason"]


def test_recorded_from_errors_name_the_setting():
    leads = pd.DataFrame({"t": pd.to_datetime(["2024-01-05", "2024-03-01"]), "y": [0, 1]})
    with pytest.raises(ConfigError, match=r"outcome.recorded_from must come with columns.time"):
        since_recorded(leads, None, "2024-02-01")
    with pytest.raises(ConfigError, match=r"outcome.recorded_from must leave some leads; got"):
        since_recorded(leads, "t", "2024-05-01")
    aware = leads.assign(t=leads["t"].dt.tz_localize("Europe/Paris"))
    assert since_recorded(aware, "t", "2024-02-01")[1] == 1


def test_activity_log_snapshots_are_judged_per_lead():
    leads, events = make_leads(3_000, seed=6, events=True, days=400, conversion_days=20)
    leads = _truncate(leads, pd.Timestamp("2024-05-01"))
    cfg = leads_config(
        {"converted_at": "converted_at"},
        features={"fit": FIT_COLUMNS, "engagement": "infer"},
        outcome={"window_days": 60},
    )
    columns = ["lead_id", "created_at", *FIT_COLUMNS, "converted", "converted_at"]
    prepared = prepare_leads(cfg, leads[columns], events)
    assert [code for code, _ in prepared.findings] == ["left-truncation"]
    assert "recorded only from 2024-05-01" in cohort_warnings(cfg, prepared)[0]


# -- no false alarm ---------------------------------------------------------------------


@pytest.mark.parametrize(("converted_at", "window"), CASES, ids=IDS)
def test_a_table_recorded_from_the_start_gets_no_finding(whole, converted_at, window):
    report = check_leads(whole, _config(converted_at, window))
    assert not any(f.code == "left-truncation" for f in report.findings)


@pytest.mark.parametrize(
    ("start", "end", "kept"),
    [("2024-01-01", "2024-07-01", 0.3), ("2024-07-01", "2025-01-01", 0.05)],
    ids=["first six months at 30 %", "months 7-12 at 5 %"],
)
def test_a_rate_that_merely_dips_is_no_truncation(whole, start, end, kept):
    # conversions thinned at random: fewer, but recorded from the start
    rng = np.random.default_rng(1)
    created = whole["created_at"]
    dip = (created >= start) & (created < end) & (rng.random(len(whole)) > kept)
    leads = whole.assign(
        converted=np.where(dip, 0, whole["converted"]),
        converted_at=whole["converted_at"].where(~dip),
    )
    y = leads["converted"].to_numpy()
    inside = ((created >= start) & (created < end)).to_numpy()
    assert y[inside].mean() < 0.4 * y[~inside].mean()
    assert truncation_finding(y, created, leads["converted_at"]) is None
    assert truncation_finding(y, created) is None
    for converted_at in (True, False):
        report = check_leads(leads, _config(converted_at))
        assert not any(f.code == "left-truncation" for f in report.findings)


def test_a_small_first_month_without_conversions_is_no_truncation():
    t = pd.Series(pd.date_range("2024-01-20", periods=3000, freq="6h"))
    y = (np.arange(3000) % 10 == 0).astype(int)
    y[t < "2024-02-01"] = 0  # 48 leads, about 5 conversions expected: chance
    conv = pd.Series(t + pd.Timedelta(days=20)).where(y == 1)
    assert truncation_finding(y, t) is None
    assert truncation_finding(y, t, conv) is None
    y[t < "2024-04-01"] = 0  # 280 leads, 28 expected: not chance
    assert truncation_finding(y, t)[0] == "left-truncation"
    assert truncation_finding(y, t, conv.where(y == 1))[0] == "left-truncation"


def test_mqlml_check_says_it_and_the_fix_works(tmp_path, truncated):
    from typer.testing import CliRunner

    from mqlml.cli import app

    truncated.to_csv(tmp_path / "leads.csv", index=False)
    base = (
        "data: {path: leads.csv}\n"
        "columns: {id: lead_id, label: converted, time: created_at, converted_at: converted_at}\n"
        "outcome: {window_days: 60%s}\n"
    )
    (tmp_path / "mqlml.yaml").write_text(base % "")
    result = CliRunner().invoke(app, ["check", "--config", str(tmp_path / "mqlml.yaml")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "warning left truncation: outcomes appear recorded only from 2024-07-01" in said
    assert "set outcome.recorded_from: 2024-07-01 in the config" in said
    (tmp_path / "mqlml.yaml").write_text(base % ", recorded_from: 2024-07-01")
    result = CliRunner().invoke(app, ["check", "--config", str(tmp_path / "mqlml.yaml")])
    said = " ".join(result.output.split())
    before = int((truncated["created_at"] < RECORDED_FROM).sum())
    assert f"{before:,} leads created before outcome.recorded_from left out" in said
    assert "left truncation" not in said
