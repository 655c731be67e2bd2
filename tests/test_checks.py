import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mqlml.config._config import ProjectConfig, load_config
from mqlml.leads._checks import (
    check_leads,
    conversion_by_period,
    is_date_like,
    latest_words,
    leak_words,
    single_column_auc,
    spelling_variants,
)
from mqlml.leads._synthetic import ENGAGEMENT_COLUMNS, FIT_COLUMNS, make_leads

from .conftest import DATA


def _config(**extra):
    base = {
        "data": {"path": "x.csv"},
        "columns": {"id": "lead_id", "time": "created_at", "label": "converted"},
    }
    return ProjectConfig.model_validate({**base, **extra})


@pytest.fixture(scope="module")
def leaky_leads():
    return make_leads(20_000, seed=4, leaky=True)


def test_flags_the_leaky_column_and_no_honest_one(leaky_leads):
    report = check_leads(leaky_leads, _config())
    assert report.flagged("leak") == ["sales_disposition"]
    assert not report.ok
    honest = set(FIT_COLUMNS + ENGAGEMENT_COLUMNS)
    assert not {f.column for f in report.findings if f.level != "info"} & honest
    assert report.profile["rows"] == 20_000
    assert report.profile["date_from"] == "2024-01-01"


def test_excluding_the_leak_makes_it_information(leaky_leads):
    cfg = _config(exclude={"sales_disposition": "written by sales after the meeting"})
    report = check_leads(leaky_leads, cfg)
    assert report.ok
    leak = [f for f in report.findings if f.column == "sales_disposition"]
    assert leak and all(f.level == "info" for f in leak)
    assert "written by sales after the meeting" in leak[0].message


def test_too_few_leads_or_conversions():
    small = make_leads(150, seed=2)
    report = check_leads(small, _config())
    (error,) = [f for f in report.findings if f.code == "too-few"]
    assert error.level == "error" and "got 150 leads" in error.message
    medium = make_leads(800, seed=2)
    (warning,) = [f for f in check_leads(medium, _config()).findings if f.code == "few"]
    assert "800 leads" in warning.message


def test_id_like_and_constant_columns():
    frame = make_leads(2_000, seed=3).assign(
        crm_key=[f"K{i}" for i in range(2_000)], source_system="hubspot"
    )
    report = check_leads(frame, _config())
    codes = {(f.column, f.code) for f in report.findings}
    assert ("crm_key", "id-like") in codes and ("source_system", "constant") in codes


def test_single_column_auc_is_out_of_fold():
    rng = np.random.default_rng(0)
    y = rng.binomial(1, 0.2, 5_000)
    unique = pd.Series([f"v{i}" for i in range(5_000)])
    assert single_column_auc(unique, y) < 0.56  # memorising ids does not count
    assert single_column_auc(pd.Series(y * 2.0), y) == 1.0


@pytest.mark.realdata
def test_flags_tags_and_lead_quality_on_x_education(real_data):
    cfg = load_config(DATA / "xeducation.yaml")
    from mqlml.leads._read import read_leads

    leads = read_leads(cfg)
    report = check_leads(leads, cfg)
    assert {"Tags", "Lead Quality"} <= set(report.flagged("leak"))
    assert report.ok  # they are excluded in the shipped config
    # Without the exclusions they are findings that block (Tags) or warn (Lead Quality).
    bare = cfg.model_copy(update={"exclude": []})
    bare = bare.with_overrides(features={"fit": "infer", "engagement": "infer"})
    levels = {(f.column, f.level) for f in check_leads(leads, bare).findings}
    assert ("Tags", "error") in levels and ("Lead Quality", "warning") in levels


@pytest.mark.realdata
def test_every_column_x_education_excludes_as_leaky_or_suspect_is_flagged(real_data):
    """The shipped config excludes 9 columns as leaky or suspect (domain knowledge: Lead
    Profile, the Asymmetrique indexes and scores, Last Activity...); the check finds each."""
    from mqlml.leads._read import read_leads

    cfg = load_config(DATA / "xeducation.yaml")
    known = {e.column for e in cfg.exclude if "leaky" in e.reason or "suspect" in e.reason}
    assert len(known) == 9
    bare = cfg.model_copy(update={"exclude": []})
    bare = bare.with_overrides(features={"fit": "infer", "engagement": "infer"})
    report = check_leads(read_leads(cfg), bare)
    assert set(report.flagged("leak")) == known


# ---------------------------------------------------------------------------------------
# Columns judged the way the model sees them
# ---------------------------------------------------------------------------------------


def _frame(n=6_000, seed=0, **columns):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "lead_id": np.arange(n),
            "created_at": pd.date_range("2024-01-01", periods=n, freq="2h").astype(str),
            "converted": rng.binomial(1, 0.2, n),
            "visits": rng.poisson(3, n),
        }
    )
    return frame.assign(**{k: v(frame, rng) for k, v in columns.items()})


def _codes_with_rates(frame, rng):
    # Traffic-type codes whose conversion rate is not monotone in the code: by code the
    # column ranks leads at random, by category it carries real information.
    rates = {1: 0.05, 2: 0.45, 3: 0.05, 4: 0.05, 5: 0.45, 6: 0.05}  # symmetric about 3.5
    codes = rng.integers(1, 7, len(frame))
    frame["converted"] = rng.binomial(1, [rates[c] for c in codes])
    return codes


def test_integer_codes_declared_categorical_are_ranked_as_categories():
    frame = _frame(traffic_type=_codes_with_rates)
    y = frame["converted"].to_numpy()
    # known answer: the in-sample AUC of the true rate per code (two groups, 0.05 and 0.45)
    truth = roc_auc_score(y, frame["traffic_type"].isin([2, 5]))
    assert single_column_auc(frame["traffic_type"], y) < 0.56
    assert single_column_auc(frame["traffic_type"], y, kind="categorical") == pytest.approx(
        truth, abs=0.01
    )
    cfg = _config(features={"categorical": ["traffic_type"]})
    row = check_leads(frame, cfg).columns.set_index("column").loc["traffic_type"]
    assert row["kind"] == "categorical"
    assert row["single_column_auc"] == pytest.approx(truth, abs=0.01)
    undeclared = check_leads(frame, _config()).columns.set_index("column").loc["traffic_type"]
    assert undeclared["kind"] == "numeric" and undeclared["single_column_auc"] < 0.56


def test_id_time_and_label_have_no_auc_and_time_is_time():
    report = check_leads(_frame(), _config())
    cols = report.columns.set_index("column")
    for name in ("lead_id", "created_at", "converted"):
        assert cols.loc[name, "single_column_auc"] is None
    assert cols.loc["created_at", "kind"] == "time"
    assert cols.loc["visits", "single_column_auc"] is not None
    records = {r["column"]: r for r in report.to_dict()["columns"]}
    assert records["lead_id"]["single_column_auc"] is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Marital_Status", []),
        ("employment status", []),
        ("poutcome", []),
        ("Lead Status", ["Status"]),
        ("LeadStatus", ["Status"]),
        ("lead_stage", ["stage"]),
        ("Tags", ["Tags"]),
        ("Lead Quality", ["Quality"]),
        ("sales_disposition", ["disposition"]),
        ("Statusbar", []),
        ("Lead Score", ["Score"]),
        ("engagementIndex", ["Index"]),
        ("account_grade", ["grade"]),
        ("credit_score", []),
        ("Scoreboard views", []),
    ],
)
def test_leak_words_on_word_boundaries(name, words):
    assert leak_words(name) == words


def test_leak_name_finding_shows_the_word_and_spares_marital_status():
    frame = _frame(
        Marital_Status=lambda f, r: r.choice(["Single", "Married", "Divorced"], len(f)),
        LeadStatus=lambda f, r: r.choice(["Open", "Working", "Nurturing"], len(f)),
    )
    report = check_leads(frame, _config())
    names = [f for f in report.findings if f.code == "leak-name"]
    assert [f.column for f in names] == ["LeadStatus"]
    assert "has the word 'Status' in its name" in names[0].message


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Last Activity", ["Last"]),
        ("last_touch_channel", ["last"]),
        ("LatestStage", ["Latest"]),
        ("Last Name", []),
        ("lastname", []),
        ("Blast emails", []),
    ],
)
def test_latest_words_on_word_boundaries(name, words):
    assert latest_words(name) == words


def _post_outcome_frame(n=6_000, seed=0):
    """Leads with three columns written after the outcome that no single-column AUC
    betrays (each under the "strong" bar), and three honest look-alikes."""

    def sales_note(frame, rng):
        # Filled in for about 30 % of leads, the ones sales worked, most of them converted.
        worked = rng.random(len(frame)) < np.where(frame["converted"] == 1, 0.75, 0.2)
        return np.where(worked, rng.choice(["call back", "sent pricing"], len(frame)), None)

    def survey_answer(frame, rng):
        # Answered by 30 % of leads at random: filled in, but not for the converting ones.
        answered = rng.random(len(frame)) < 0.3
        return np.where(answered, rng.choice(["a", "b", "c"], len(frame)), None)

    return _frame(
        n=n,
        seed=seed,
        **{
            "Sales Note": sales_note,
            "Partner Score": lambda f, r: r.integers(0, 100, len(f)),
            "Last Touch": lambda f, r: r.choice(["Email Opened", "Call", "Chat"], len(f)),
            "survey_answer": survey_answer,
            "days_since_last_touch": lambda f, r: r.exponential(5, len(f)),
            "credit_score": lambda f, r: r.integers(300, 850, len(f)),
        },
    )


def test_columns_written_after_the_outcome_are_flagged_with_why():
    frame = _post_outcome_frame()
    report = check_leads(frame, _config())
    found = {f.column: f for f in report.findings if f.code.startswith("leak")}
    assert sorted(found) == ["Last Touch", "Partner Score", "Sales Note"]
    assert report.flagged("leak") == ["Last Touch", "Partner Score", "Sales Note"]
    assert (found["Sales Note"].code, found["Sales Note"].level) == (
        "leak-partly-filled",
        "warning",
    )
    note = found["Sales Note"].message
    assert "'Sales Note' is filled in for " in note and "probably after contact" in note
    assert found["Partner Score"].code == "leak-name"
    assert "score or rating kept up to date after sales' contact" in found["Partner Score"].message
    assert found["Last Touch"].code == "leak-latest"
    assert (
        "for a converted lead it usually tells what happened after" in found["Last Touch"].message
    )
    assert report.ok  # suspicions to act on, not errors
    aucs = report.columns.set_index("column")["single_column_auc"]
    assert max(aucs[name] for name in found) < 0.85
    # Excluded with a reason, each is information.
    cfg = _config(exclude={name: "written after contact" for name in found})
    excluded = [f for f in check_leads(frame, cfg).findings if f.column in found]
    assert excluded and {f.level for f in excluded} == {"info"}


def test_a_date_used_as_a_feature_is_named_with_the_fix():
    days = pd.Timestamp("2012-07-30") + pd.to_timedelta(np.arange(6_000) % 663, unit="D")
    frame = _frame(Dt_Customer=lambda f, r: days.strftime("%Y-%m-%d"))
    report = check_leads(frame, _config())
    (found,) = [f for f in report.findings if f.code == "date-like"]
    assert found.column == "Dt_Customer" and found.level == "warning"
    assert "663 levels" in found.message and "age in days" in found.message
    assert report.columns.set_index("column").loc["Dt_Customer", "kind"] == "date"
    assert not [f for f in report.findings if f.code == "id-like"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2012-09-04", "2014-03-08"], True),
        (["04/09/2012 10:30", "08-03-2014"], True),
        (["2024-01-05T10:00:00Z", None], True),
        (["Google", "2012-09-04", "Email", "Chat"], False),
        (["1.5", "2.25"], False),
    ],
)
def test_is_date_like(values, expected):
    assert is_date_like(pd.Series(values)) is expected


def test_a_strong_single_column_asks_for_confirmation():
    # Known answer: x ~ N(1.7 y, 1) ranks converted leads with AUC Phi(1.7 / sqrt 2) = 0.885.
    from scipy.stats import norm

    frame = _frame(n=20_000, PageValues=lambda f, r: 1.7 * f["converted"] + r.normal(0, 1, len(f)))
    report = check_leads(frame, _config())
    auc = report.columns.set_index("column").loc["PageValues", "single_column_auc"]
    assert auc == pytest.approx(norm.cdf(1.7 / np.sqrt(2)), abs=0.01)
    (found,) = [f for f in report.findings if f.column == "PageValues"]
    assert (found.code, found.level) == ("strong", "warning")
    assert "Confirm that 'PageValues' is known when a lead is scored" in found.message
    assert report.ok
    # Above the leakage bar it blocks instead.
    leaky = _frame(n=20_000, PageValues=lambda f, r: 4 * f["converted"] + r.normal(0, 1, len(f)))
    codes = {(f.column, f.code, f.level) for f in check_leads(leaky, _config()).findings}
    assert ("PageValues", "leak-auc", "error") in codes


def test_spelling_variants_of_one_category():
    variants = ["Google"] * 900 + ["google"] * 5 + ["Google "] * 3 + ["Direct Traffic"] * 300
    assert spelling_variants(pd.Series(variants)) == [
        [("Google", 900), ("google", 5), ("Google ", 3)]
    ]
    frame = _frame(n=1_208, lead_source=lambda f, r: variants)
    (found,) = [f for f in check_leads(frame, _config()).findings if f.code == "spelling"]
    assert found.column == "lead_source"
    assert "'Google' (900 leads) and 'google' (5 leads) and 'Google ' (3 leads)" in found.message


# ---------------------------------------------------------------------------------------
# The conversion rate across the history
# ---------------------------------------------------------------------------------------


def test_binomial_interval_is_clopper_pearson():
    from scipy.stats import binomtest

    from mqlml.metrics._rates import rate_interval as binomial_interval

    for k, n in ((0, 40), (7, 40), (40, 40), (123, 1_000)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert binomial_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert binomial_interval(0, 0) is None


def test_conversion_by_month_and_by_row_order():
    times = pd.Series(pd.to_datetime(["2024-01-31", "2024-01-01", "2024-03-02", "2024-03-09"]))
    table = conversion_by_period(np.array([1, 1, 0, 1]), times)
    assert table["period"].tolist() == ["2024-01", "2024-03"]  # months without leads skipped
    assert table["leads"].tolist() == [2, 2] and table["rate"].tolist() == [1.0, 0.5]
    by_rows = conversion_by_period(np.r_[np.zeros(50), np.ones(50)], pieces=4)
    assert by_rows["period"].tolist() == ["rows 1-25", "rows 26-50", "rows 51-75", "rows 76-100"]
    assert by_rows["rate"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert by_rows["low"].iloc[2] == pytest.approx(0.05 ** (1 / 25))  # 25 of 25: (a/2)^(1/n)


def _shifting(n=12_000, seed=1, before=0.05, after=0.30):
    rng = np.random.default_rng(seed)
    rate = np.where(np.arange(n) < 0.6 * n, before, after)
    frame = _frame(n=n, seed=seed)
    frame["converted"] = rng.binomial(1, rate)
    return frame


def test_rate_shift_across_the_history_by_time_and_by_order():
    frame = _shifting()
    report = check_leads(frame, _config())
    (found,) = [f for f in report.findings if f.code == "rate-shift"]
    parts = {p["part"]: p for p in report.profile["history"]}
    y = frame["converted"].to_numpy()
    assert parts["train"]["rate"] == pytest.approx(y[:7_200].mean())
    assert parts["test"]["rate"] == pytest.approx(y[9_600:].mean())
    assert parts["test"]["rate"] == pytest.approx(0.30, abs=0.03)
    assert f"{100 * parts['train']['rate']:.1f} % of the oldest 60 % (train part)" in found.message
    assert report.profile["cohorts_by"] == "creation month"
    assert len(report.profile["cohorts"]) == 33  # 12,000 leads two hours apart: 1000 days
    # Without a time column but rows in time order (split.method: order): by row order.
    bare = frame.drop(columns="created_at")
    cfg = ProjectConfig.model_validate(
        {
            "data": {"path": "x.csv"},
            "columns": {"id": "lead_id", "label": "converted"},
            "split": {"method": "order"},
        }
    )
    report = check_leads(bare, cfg)
    assert [f.code for f in report.findings if f.code == "rate-shift"] == ["rate-shift"]
    assert report.profile["cohorts"][0]["period"] == "rows 1-1,200"
    # A random split of rows without time: nothing to say about the history.
    random_cfg = cfg.with_overrides(split={"method": "random"})
    report = check_leads(bare, random_cfg)
    assert report.profile["history"] is None and "rate-shift" not in {
        f.code for f in report.findings
    }


def test_no_rate_shift_on_a_steady_history():
    report = check_leads(_shifting(before=0.2, after=0.2), _config())
    assert "rate-shift" not in {f.code for f in report.findings}


def test_the_synthetic_sample_has_no_findings(sample_config):
    from mqlml.leads._read import read_leads

    report = check_leads(read_leads(sample_config), sample_config)
    assert report.findings == []
    assert report.columns.set_index("column").loc["created_at", "kind"] == "time"


@pytest.mark.realdata
def test_bank_rate_moves_from_4_8_to_30_8_percent(real_data):
    from mqlml.leads._read import read_leads

    cfg = load_config(DATA / "bank.yaml")
    report = check_leads(read_leads(cfg), cfg)
    rates = [round(100 * p["rate"], 1) for p in report.profile["history"]]
    assert rates == [4.8, 11.1, 30.8]
    (found,) = [f for f in report.findings if f.code == "rate-shift"]
    assert "4.8 % of the oldest 60 % (train part)" in found.message
    assert "30.8 % of the newest 20 % (test part)" in found.message
    assert report.ok


@pytest.mark.realdata
def test_x_education_lead_source_mixes_google_and_google(real_data):
    from mqlml.leads._read import read_leads

    cfg = load_config(DATA / "xeducation.yaml")
    report = check_leads(read_leads(cfg), cfg)
    (found,) = [f for f in report.findings if f.code == "spelling"]
    assert found.column == "Lead Source"
    assert "'Google' (2,868 leads) and 'google' (5 leads)" in found.message
    assert report.columns.set_index("column").loc["Lead Number", "single_column_auc"] is None
    assert report.profile["history"] is None  # random split, no creation time


def test_a_spell_of_months_converting_apart_is_a_shift():
    # Two months at 40 % among 33 at 10 %: the oldest and newest parts barely
    # differ (the spell sits in the train part), the months do.
    frame = _frame(n=12_000, seed=3)
    months = pd.to_datetime(frame["created_at"]).dt.to_period("M").astype(str)
    spell = months.isin(["2024-06", "2024-07"]).to_numpy()
    frame["converted"] = np.random.default_rng(3).binomial(1, np.where(spell, 0.4, 0.1))
    report = check_leads(frame, _config())
    parts = report.profile["history"]
    assert parts[0]["rate"] / parts[-1]["rate"] < 1.5
    (found,) = [f for f in report.findings if f.code == "rate-shift"]
    assert "by creation month, from" in found.message
    high = max(report.profile["cohorts"], key=lambda c: c["rate"])
    assert high["period"] in {"2024-06", "2024-07"}
    assert f"{100 * high['rate']:.1f} % ({high['period']})" in found.message
