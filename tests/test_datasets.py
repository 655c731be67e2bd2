"""Tests of the synthetic lead generator against its known truth."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.metrics import roc_auc_score

from mqlml.errors import ConfigError
from mqlml.leads._synthetic import (
    ENGAGEMENT_COLUMNS,
    ENGAGEMENT_HORIZON_DAYS,
    EVENT_TYPES,
    FIT_COLUMNS,
    ID_COLUMN,
    LABEL_COLUMN,
    SHIFTABLE_FEATURES,
    TIME_COLUMN,
    make_leads,
    write_sample,
)

COUNT_COLUMNS = [c for c in ENGAGEMENT_COLUMNS if c != "days_since_last_activity"]


@pytest.fixture(scope="module")
def leads50k() -> pd.DataFrame:
    return make_leads(50_000, seed=0, truth=True, leaky=True)


@pytest.fixture(scope="module")
def with_events() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_leads(5_000, seed=3, events=True)


def _single_column_auc(frame: pd.DataFrame, column: str) -> float:
    """AUC of one column alone, orientation-free: values if numeric, else target encoding."""
    y = frame[LABEL_COLUMN]
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.astype("int64")
    if not pd.api.types.is_numeric_dtype(values):
        values = y.groupby(values.fillna("<NA>")).transform("mean")
    auc = roc_auc_score(y, values)
    return max(auc, 1.0 - auc)


def test_columns_dtypes_and_ranges():
    leads = make_leads(20_000, seed=1, truth=True, leaky=True)
    expected = [ID_COLUMN, TIME_COLUMN, *FIT_COLUMNS, *ENGAGEMENT_COLUMNS, LABEL_COLUMN]
    assert list(leads.columns) == [*expected, "true_probability", "sales_disposition"]
    assert list(make_leads(10).columns) == expected
    assert leads[ID_COLUMN].iloc[0] == "L0000001"
    assert leads[ID_COLUMN].iloc[-1] == "L0020000"
    assert leads[ID_COLUMN].is_unique
    created = leads[TIME_COLUMN]
    assert created.dtype.kind == "M" and created.is_monotonic_increasing
    assert created.min() >= pd.Timestamp("2024-01-01")
    assert created.max() < pd.Timestamp("2024-01-01") + pd.Timedelta(days=730)
    weekend = created.dt.day_of_week >= 5
    assert 0.10 < weekend.mean() < 0.18  # 2 of 7 days at 0.4 weight: 0.8 / 5.8 = 0.138
    for col in [*COUNT_COLUMNS, LABEL_COLUMN]:
        assert leads[col].dtype == np.int64, col
        assert (leads[col] >= 0).all(), col
    assert set(leads["demo_requested"].unique()) == {0, 1}
    assert set(leads[LABEL_COLUMN].unique()) == {0, 1}
    assert (leads["email_clicks"] <= leads["email_opens"]).all()
    assert (leads["visits_last_7d"] <= leads["page_views"]).all()
    days = leads["days_since_last_activity"]
    assert days.dtype == np.float64
    assert days.gt(0).all() and days.le(ENGAGEMENT_HORIZON_DAYS).all()
    assert set(leads["company_size"].dropna()) == {
        "1-10",
        "11-50",
        "51-200",
        "201-1000",
        "1001-5000",
        "5000+",
    }
    assert leads["seniority"].nunique() == 6 and leads["department"].nunique() == 7
    assert 8 <= leads["industry"].nunique() <= 10
    assert 10 <= leads["country"].nunique() <= 15
    assert leads["lead_source"].nunique() == 8
    students = leads["seniority"] == "Student"
    assert set(leads.loc[students, "job_title"].dropna()) == {"Student"}
    assert leads.loc[leads["seniority"] == "VP", "job_title"].dropna().str.startswith("VP ").all()
    for col in ("country", "industry"):
        assert 0.02 < leads[col].isna().mean() < 0.04, col
    assert leads[["seniority", "department", "lead_source"]].notna().all().all()
    assert leads["true_probability"].between(0, 1).all()


def test_same_seed_same_frame_other_seed_differs():
    first = make_leads(3_000, seed=7, truth=True, leaky=True)
    assert_frame_equal(first, make_leads(3_000, seed=7, truth=True, leaky=True))
    other = make_leads(3_000, seed=8, truth=True, leaky=True)
    assert not first["true_probability"].equals(other["true_probability"])
    assert not first[TIME_COLUMN].equals(other[TIME_COLUMN])


def test_optional_columns_do_not_change_the_rest():
    plain = make_leads(2_000, seed=4)
    full = make_leads(2_000, seed=4, truth=True, leaky=True)
    assert_frame_equal(full[plain.columns], plain)


def test_base_rate_in_band(leads50k):
    assert 0.08 <= leads50k[LABEL_COLUMN].mean() <= 0.12
    assert 0.08 <= leads50k["true_probability"].mean() <= 0.12


def test_labels_follow_true_probability(leads50k):
    p = leads50k["true_probability"]
    bins = pd.qcut(p, 10, labels=False)
    by_bin = leads50k.groupby(bins).agg(
        rate=(LABEL_COLUMN, "mean"), p=("true_probability", "mean"), n=(LABEL_COLUMN, "size")
    )
    se = np.sqrt(by_bin["p"] * (1 - by_bin["p"]) / by_bin["n"])
    # 4 binomial standard errors, plus 4 events' worth where p is tiny (Poisson counts)
    assert ((by_bin["rate"] - by_bin["p"]).abs() <= 4 * se + 4 / by_bin["n"]).all(), by_bin
    assert by_bin["rate"].iloc[-1] > 5 * by_bin["rate"].iloc[0]


def test_truth_is_learnable_but_not_trivial(leads50k):
    auc = roc_auc_score(leads50k[LABEL_COLUMN], leads50k["true_probability"])
    assert 0.88 <= auc <= 0.96  # strong but not perfect: fit weighs most in B2B


def test_no_honest_column_separates_but_the_leak_does(leads50k):
    honest = [TIME_COLUMN, *FIT_COLUMNS, *ENGAGEMENT_COLUMNS]
    aucs = {col: _single_column_auc(leads50k, col) for col in honest}
    assert max(aucs.values()) < 0.95, aucs
    assert aucs["page_views"] > 0.65  # engagement carries signal
    assert _single_column_auc(leads50k, "sales_disposition") >= 0.95
    disposition = leads50k["sales_disposition"]
    converted = leads50k[LABEL_COLUMN] == 1
    assert 0.95 < disposition[converted].notna().mean() < 0.99
    assert 0.01 < disposition[~converted].notna().mean() < 0.03
    assert set(disposition[~converted].dropna()) == {"No response"}


def test_engagement_depends_on_fit(leads50k):
    big_senior = leads50k["company_size"].isin(["1001-5000", "5000+"]) & leads50k["seniority"].isin(
        ["C-level", "VP", "Director"]
    )
    student = leads50k["seniority"] == "Student"
    pricing = leads50k["pricing_page_visits"]
    assert pricing[big_senior].mean() > 2 * pricing[student].mean()
    # a demo request lifts the log-odds of a student less than of anyone else (both
    # differences also carry the interest that makes demo requesters engage more)
    p = leads50k["true_probability"]
    logit = np.log(p / (1 - p))
    demo = leads50k["demo_requested"] == 1
    lift_student = logit[student & demo].mean() - logit[student & ~demo].mean()
    lift_other = logit[~student & demo].mean() - logit[~student & ~demo].mean()
    assert lift_other > lift_student + 0.2


def test_events_match_aggregates_exactly(with_events):
    leads, events = with_events
    assert list(events.columns) == [ID_COLUMN, "timestamp", "event_type", "value"]
    assert events["timestamp"].dtype.kind == "M"
    assert events["timestamp"].is_monotonic_increasing
    assert set(events["event_type"]) == set(EVENT_TYPES)
    assert events["value"].dtype == np.float64 and (events["value"] == 1.0).all()
    assert len(events) == leads[COUNT_COLUMNS[:6]].to_numpy().sum() + leads["demo_requested"].sum()

    horizon = pd.Timedelta(days=ENGAGEMENT_HORIZON_DAYS)
    cutoff = (leads[TIME_COLUMN] + horizon).set_axis(leads[ID_COLUMN])
    created = leads.set_index(ID_COLUMN)[TIME_COLUMN]
    event_lead = events[ID_COLUMN]
    assert (events["timestamp"].to_numpy() >= created.loc[event_lead].to_numpy()).all()
    assert (events["timestamp"].to_numpy() < cutoff.loc[event_lead].to_numpy()).all()

    counts = (
        events.groupby([ID_COLUMN, "event_type"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=leads[ID_COLUMN], columns=EVENT_TYPES, fill_value=0)
    )
    for column, event_type in zip(SHIFTABLE_FEATURES[:6], EVENT_TYPES[:6], strict=True):
        np.testing.assert_array_equal(leads[column].to_numpy(), counts[event_type].to_numpy())
    np.testing.assert_array_equal(
        leads["demo_requested"].to_numpy(), (counts["demo_request"] > 0).astype(int).to_numpy()
    )
    last = events.groupby(ID_COLUMN)["timestamp"].max().reindex(leads[ID_COLUMN])
    last = last.fillna(created)  # no events: counted from creation, the full horizon
    days = (cutoff - last).dt.total_seconds() / 86_400
    np.testing.assert_array_equal(leads["days_since_last_activity"].to_numpy(), days.to_numpy())
    assert (leads.loc[counts.sum(axis=1).to_numpy() == 0, "days_since_last_activity"] == 14).all()

    views = events[events["event_type"] == "page_view"]
    recent = views["timestamp"].to_numpy() >= (cutoff.loc[views[ID_COLUMN]] - pd.Timedelta(days=7))
    last_7d = views[recent.to_numpy()].groupby(ID_COLUMN).size()
    last_7d = last_7d.reindex(leads[ID_COLUMN], fill_value=0)
    np.testing.assert_array_equal(leads["visits_last_7d"].to_numpy(), last_7d.to_numpy())


def test_events_mode_leaves_leads_unchanged_and_dates_conversions(with_events):
    leads, _ = with_events
    assert list(leads.columns)[-1] == "converted_at"
    assert_frame_equal(leads.drop(columns="converted_at"), make_leads(5_000, seed=3))
    converted = leads[LABEL_COLUMN] == 1
    cutoff = leads[TIME_COLUMN] + pd.Timedelta(days=ENGAGEMENT_HORIZON_DAYS)
    assert leads.loc[~converted, "converted_at"].isna().all()
    delay = leads.loc[converted, "converted_at"] - cutoff[converted]
    assert (delay >= pd.Timedelta(days=1)).all()
    assert delay.median() < pd.Timedelta(days=30)


def test_engagement_shift_moves_only_the_named_feature():
    base = make_leads(50_000, seed=2, truth=True)
    shifted = make_leads(50_000, seed=2, truth=True, engagement_shift={"pricing_page_visits": 2.0})
    ratio = shifted[COUNT_COLUMNS].mean() / base[COUNT_COLUMNS].mean()
    assert 1.9 <= ratio["pricing_page_visits"] <= 2.1
    for col in ["page_views", "content_downloads", "webinars_attended", "email_opens"]:
        assert abs(ratio[col] - 1) < 0.03, (col, ratio[col])
    # the law of converted given the features is unchanged: leads with the same features
    # in both frames get the same logit once the drift over time (-0.2 over 730 days) is
    # removed (such twins are leads without any activity)
    assert shifted["true_probability"].mean() > base["true_probability"].mean()
    keys = [*FIT_COLUMNS, *ENGAGEMENT_COLUMNS]
    twins = [frame.dropna(subset=FIT_COLUMNS).drop_duplicates(keys) for frame in (base, shifted)]
    shared = twins[0].merge(twins[1], on=keys, suffixes=("", "_s"))
    assert len(shared) >= 20

    def logit_without_drift(p: pd.Series, created: pd.Series) -> np.ndarray:
        t = (created - pd.Timestamp("2024-01-01")) / pd.Timedelta(days=730)
        return np.log(p / (1 - p)).to_numpy() + 0.2 * t.to_numpy()

    np.testing.assert_allclose(
        logit_without_drift(shared["true_probability"], shared[TIME_COLUMN]),
        logit_without_drift(shared["true_probability_s"], shared[f"{TIME_COLUMN}_s"]),
        rtol=0,
        atol=1e-9,
    )


def test_engagement_shift_on_a_probability_feature():
    base = make_leads(50_000, seed=2)
    shifted = make_leads(50_000, seed=2, engagement_shift={"demo_requested": 2.0})
    assert 1.8 <= shifted["demo_requested"].mean() / base["demo_requested"].mean() <= 2.2


def test_engagement_shift_rejects_unknown_feature():
    with pytest.raises(ValueError, match=r"must be one of page_views, .*got 'price_visits'"):
        make_leads(100, engagement_shift={"price_visits": 2.0})
    with pytest.raises(ConfigError, match=r"got 'visits_last_7d'"):
        make_leads(100, engagement_shift={"visits_last_7d": 2.0})


@pytest.mark.parametrize("factor", [0, -1.0, float("nan"), "2"])
def test_engagement_shift_rejects_bad_factor(factor):
    with pytest.raises(ConfigError, match=r"engagement_shift\['page_views'\] must be a finite"):
        make_leads(100, engagement_shift={"page_views": factor})


def test_base_rate_scale_multiplies_the_odds():
    base = make_leads(50_000, seed=5, truth=True)
    doubled = make_leads(50_000, seed=5, truth=True, base_rate_scale=2.0)
    assert_frame_equal(
        base[FIT_COLUMNS + ENGAGEMENT_COLUMNS], doubled[FIT_COLUMNS + ENGAGEMENT_COLUMNS]
    )
    p, q = base["true_probability"], doubled["true_probability"]
    np.testing.assert_allclose((q / (1 - q)) / (p / (1 - p)), 2.0, rtol=1e-9)
    # doubling every lead's odds raises the base rate by less than 2x, the more so the
    # more spread the probabilities: here by ~1.4x
    expected = q.mean() / p.mean()
    assert 1.25 < expected < 1.9
    observed = doubled[LABEL_COLUMN].mean() / base[LABEL_COLUMN].mean()
    assert abs(observed - expected) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, r"n must be an integer >= 1; got 0"),
        ({"n": 2.5}, r"n must be an integer >= 1; got 2.5"),
        ({"days": 0}, r"days must be an integer >= 1; got 0"),
        ({"start": "not a date"}, r"start must be a date .*got 'not a date'"),
        ({"start": None}, r"start must be a date .*got None"),
        ({"base_rate_scale": 0.0}, r"base_rate_scale must be a finite number > 0; got 0.0"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_leads(**kwargs)


def test_start_and_days_place_the_leads():
    leads = make_leads(2_000, start="2023-06-15", days=30)
    assert leads[TIME_COLUMN].min() >= pd.Timestamp("2023-06-15")
    assert leads[TIME_COLUMN].max() < pd.Timestamp("2023-07-15")


def test_drift_lowers_the_rate_mildly():
    leads = make_leads(200_000, seed=11, truth=True)
    quarter = len(leads) // 4
    first, last = leads.iloc[:quarter], leads.iloc[-quarter:]
    p_first, p_last = first["true_probability"].mean(), last["true_probability"].mean()
    assert 0.005 < p_first - p_last < 0.03
    y_first, y_last = first[LABEL_COLUMN].mean(), last[LABEL_COLUMN].mean()
    assert 0.003 < y_first - y_last < 0.03


def test_write_sample_is_reproducible_and_rereads(tmp_path):
    first = write_sample(tmp_path / "a" / "leads.csv", rows=3_000, seed=9, truth=True)
    second = write_sample(tmp_path / "b.csv", rows=3_000, seed=9, truth=True)
    assert first == tmp_path / "a" / "leads.csv"
    data = first.read_bytes()
    assert data == second.read_bytes()
    assert b"\r" not in data
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b.csv", "leads.csv"]
    header, row = data.decode().splitlines()[:2]
    assert header.split(",")[:2] == [ID_COLUMN, TIME_COLUMN]
    assert row.split(",")[1].count("T") == 1  # ISO timestamp
    back = pd.read_csv(first, parse_dates=[TIME_COLUMN])
    expected = make_leads(3_000, seed=9, truth=True)
    assert list(back.columns) == list(expected.columns)
    floats = ["days_since_last_activity", "true_probability"]
    assert_frame_equal(back.drop(columns=floats), expected.drop(columns=floats), check_dtype=False)
    np.testing.assert_allclose(back[floats], expected[floats].round(6), atol=1e-12, rtol=0)


def test_write_sample_overwrites_in_place(tmp_path):
    target = tmp_path / "leads.csv"
    target.write_text("old")
    write_sample(target, rows=50)
    assert target.read_text().startswith("lead_id,created_at,")
    assert [p.name for p in tmp_path.iterdir()] == ["leads.csv"]


def test_hundred_thousand_leads_with_events_is_fast():
    started = time.perf_counter()
    leads, events = make_leads(100_000, seed=0, events=True)
    elapsed = time.perf_counter() - started
    assert len(leads) == 100_000 and len(events) > 500_000
    assert elapsed < 6.0  # about 1 s on 2 cores
