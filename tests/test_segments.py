"""Segment lines: a calibration check, calibration and MQL line per segment (mqlml.model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mqlml.config._config import load_config
from mqlml.config._sections import SegmentsConfig, ThresholdConfig
from mqlml.errors import ConfigError, MissingColumnError, UnreachableTargetError
from mqlml.leads._synthetic import REGIONS, make_leads
from mqlml.model._bundle import load_bundle
from mqlml.model._segments import REST, SegmentLines, fit_segment_lines, segment_values
from mqlml.model._threshold import choose_threshold
from mqlml.model._train import train
from mqlml.scoring._scorer import score_frame

from .conftest import leads_config

TARGETS = {"EMEA": 0.20, "AMER": 0.25, "APAC": 0.35}
DATA = Path(__file__).resolve().parents[1] / "data"


def _json(report):
    return json.loads(json.dumps(report))


# -- values and config ----------------------------------------------------------------
def test_segment_values_are_text_with_missing_tokens_missing():
    values = segment_values(["EMEA", " APAC", None, np.nan, 2.0, "NA", ""], ["NA"])
    assert values.tolist() == ["EMEA", "APAC", None, None, "2", None, None]


def test_config_reads_segments_with_text_keys(write_config):
    path = write_config(
        "data: {path: leads.csv}\ncolumns: {id: id, label: y, account: account_id}\n"
        "threshold:\n  target_rate: 0.25\n  segments:\n    column: tier\n"
        "    targets: {1: 0.3, EMEA: 0.2}\n    capacities: {APAC: 100/month}\n"
    )
    config = load_config(path)
    assert config.threshold.segments.targets == {"1": 0.3, "EMEA": 0.2}
    assert config.threshold.segments.capacities == {"APAC": "100/month"}
    assert config.columns.account == "account_id"


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ("{column: region, targets: {EMEA: 1.5}}", r"targets must be rates in \(0, 1\)"),
        (
            "{column: region, targets: {EMEA: 0.2}, capacities: {EMEA: 50}}",
            r"a target or a capacity, not both; got both for \['EMEA'\]",
        ),
        ("{column: region}", "must list targets or capacities"),
        ("{targets: {EMEA: 0.2}}", r"key 'threshold.segments.column' is required"),
    ],
)
def test_config_refuses_bad_segments(write_config, segments, message):
    path = write_config(
        f"data: {{path: x.csv}}\ncolumns: {{label: y}}\nthreshold:\n  segments: {segments}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_config(path)


# -- fitting lines on one slice ---------------------------------------------------------
def _slice(n=12_000, seed=0):
    """Leads with a known probability, three segments of different base rates, a model."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(["EMEA", "AMER", "APAC", "LATAM"], n, p=[0.4, 0.35, 0.2, 0.05])
    x = rng.normal(size=n)
    shift = pd.Series(seg).map({"EMEA": -0.5, "AMER": 0.0, "APAC": 0.6, "LATAM": 0.0})
    p_true = 1 / (1 + np.exp(-(-2.0 + 1.5 * x + shift.to_numpy())))
    y = (rng.random(n) < p_true).astype(int)
    X = pd.DataFrame({"x": x, "apac": seg == "APAC", "emea": seg == "EMEA"}).astype(float)
    model = LogisticRegression().fit(X.iloc[: n // 2], y[: n // 2])
    part = slice(n // 2, n)
    return seg[part], model, X.iloc[part].reset_index(drop=True), y[part]


def _overall(model, X, y, target=0.25):
    from mqlml.model._calibration import fit_score_map

    score_map = fit_score_map(model, X, y, method="sigmoid")
    p = score_map(model.decision_function(X))
    return score_map, choose_threshold(p, target_rate=target, labels=y)


def test_each_segment_threshold_is_choose_threshold_on_its_own_leads():
    seg, model, X, y = _slice()
    score_map, overall = _overall(model, X, y)
    settings = SegmentsConfig(column="region", targets=TARGETS, calibrate_min_leads=10**6)
    lines = fit_segment_lines(
        settings, ThresholdConfig(target_rate=0.25), seg, model, X, y, None, score_map, overall
    )
    assert lines.names == ["EMEA", "AMER", "APAC", REST]
    p = score_map(model.decision_function(X))
    for line in lines.lines[:3]:
        rows = seg == line.value
        expected = choose_threshold(p[rows], target_rate=TARGETS[line.value], labels=y[rows])
        assert line.own_threshold and line.score_map is None
        assert line.threshold == expected
        assert line.threshold.expected_rate >= TARGETS[line.value] - 1e-9
    # LATAM (not listed) is the rest, at the top-level target on its own leads.
    rest = lines.lines[-1]
    assert rest.goal == {"target_rate": 0.25}
    assert rest.n == int((seg == "LATAM").sum())
    codes = lines.codes(["APAC", "LATAM", "MARS", None])
    assert codes.tolist() == [2, 3, 3, 3]


def test_segment_calibration_is_fitted_where_there_are_enough_leads():
    seg, model, X, y = _slice()
    score_map, overall = _overall(model, X, y)
    settings = SegmentsConfig(
        column="region", targets=TARGETS, calibrate_min_leads=1000, calibrate_min_conversions=100
    )
    goal = ThresholdConfig(target_rate=0.25)
    lines = fit_segment_lines(settings, goal, seg, model, X, y, None, score_map, overall)
    by = {line.value: line for line in lines.lines}
    assert by["EMEA"].score_map is not None and by["AMER"].score_map is not None
    codes = lines.codes(seg)
    p = lines.probabilities(model.decision_function(X), codes, score_map)
    for name in ("EMEA", "AMER", "APAC"):
        rows = seg == name
        if by[name].score_map is not None:
            # calibrated in the large on its own leads
            assert abs(p[rows].sum() - y[rows].sum()) < 3 * np.sqrt((p[rows] * (1 - p[rows])).sum())
            assert "expected_after" in by[name].check
        assert set(by[name].check) >= {"expected", "observed", "z", "ok"}


def test_small_segment_falls_back_to_the_overall_line_with_a_warning():
    seg, model, X, y = _slice()
    score_map, overall = _overall(model, X, y)
    settings = SegmentsConfig(column="region", targets={**TARGETS, "LATAM": 0.3}, min_leads=500)
    goal = ThresholdConfig(target_rate=0.25)
    lines = fit_segment_lines(settings, goal, seg, model, X, y, None, score_map, overall)
    latam = lines.lines[lines.names.index("LATAM")]
    assert not latam.own_threshold and latam.threshold == overall
    (warning,) = [w for w in lines.warnings if "LATAM" in w]
    assert "region='LATAM'" in warning and "too few calibration leads" in warning
    assert "instead of its target 30%" in warning
    # no leads outside the listed values: the rest has the overall line, no warning
    assert lines.lines[-1].n == 0 and lines.lines[-1].threshold == overall
    assert not any(REST in w for w in lines.warnings)


def test_unreachable_segment_target_names_the_segment():
    seg, model, X, y = _slice()
    score_map, overall = _overall(model, X, y)
    settings = SegmentsConfig(column="region", targets={"EMEA": 0.999})
    with pytest.raises(UnreachableTargetError, match=r"segment region='EMEA': target_rate must"):
        fit_segment_lines(settings, ThresholdConfig(), seg, model, X, y, None, score_map, overall)


def test_segment_value_that_reads_as_missing_is_refused():
    seg, model, X, y = _slice()
    score_map, overall = _overall(model, X, y)
    settings = SegmentsConfig(column="region", targets={"NA": 0.2})
    with pytest.raises(ConfigError, match=r"must not be missing-value tokens; got \['NA'\]"):
        fit_segment_lines(
            settings,
            ThresholdConfig(),
            seg,
            model,
            X,
            y,
            None,
            score_map,
            overall,
            missing_tokens=["NA"],
        )


def test_lines_round_trip_as_json():
    seg, model, X, y = _slice()
    score_map, overall = _overall(model, X, y)
    settings = SegmentsConfig(column="region", targets=TARGETS, capacities={"LATAM": 40})
    lines = fit_segment_lines(
        settings, ThresholdConfig(), seg, model, X, y, None, score_map, overall
    )
    again = SegmentLines.from_dict(json.loads(json.dumps(lines.to_dict())))
    assert again.names == lines.names
    assert [a.threshold for a in again.lines] == [b.threshold for b in lines.lines]
    latam = again.lines[again.names.index("LATAM")]
    assert latam.goal == {"capacity": 40} and latam.threshold.n_mql >= 40
    lo = model.decision_function(X)
    codes = lines.codes(seg)
    np.testing.assert_array_equal(
        again.probabilities(lo, codes, score_map), lines.probabilities(lo, codes, score_map)
    )


# -- end to end: the done-when ----------------------------------------------------
def _config(exclude=()):
    return leads_config(
        {"account": "account_id"},
        exclude=[{"column": "true_probability", "reason": "the truth"}, *exclude],
        model={"kind": "logistic"},
        threshold={"target_rate": 0.25, "segments": {"column": "region", "targets": TARGETS}},
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    frame = make_leads(150_000, seed=3, truth=True, regions=True, accounts=3)
    result = train(_config(), frame=frame, out=tmp_path_factory.mktemp("seg") / "model")
    result.frame = frame
    return result


@pytest.mark.slow
def test_each_region_meets_its_target_on_fresh_leads(trained):
    # Fresh leads: a new seed and a later period. For the realized rate r of m MQLs,
    # +-3 points is a 3-sigma band when 3 * sqrt(r (1 - r) / m) <= 0.03, i.e. m >=
    # r (1 - r) / 0.01**2: 1,600 MQLs at 20 %, 1,875 at 25 %, 2,275 at 35 %.
    fresh = make_leads(120_000, seed=77, truth=True, regions=True, start="2026-01-01", days=365)
    scores = score_frame(trained.bundle, fresh, reasons="none")
    assert list(scores.columns[:7]) == [
        "lead_id",
        "probability",
        "score",
        "percentile",
        "tier",
        "is_mql",
        "threshold",
    ]
    for region in REGIONS:
        rows = (fresh["region"] == region).to_numpy()
        mql = rows & scores["is_mql"].to_numpy()
        m, target = int(mql.sum()), TARGETS[region]
        assert m >= target * (1 - target) / 0.01**2, (region, m)
        realized = fresh["converted"].to_numpy()[mql].mean()
        assert abs(realized - target) <= 0.03, (region, realized, target)
        # the truth agrees (no sampling noise in the fresh outcomes)
        assert abs(fresh["true_probability"].to_numpy()[mql].mean() - target) <= 0.03


@pytest.mark.slow
def test_scores_follow_each_leads_own_line(trained):
    bundle = trained.bundle
    fresh = make_leads(5_000, seed=8, regions=True, start="2026-01-01", days=60)
    scores = score_frame(bundle, fresh, exact=True)  # the lines themselves, unrounded
    lines = {line.value: line.threshold.threshold for line in bundle.segments.lines}
    expected = fresh["region"].map(lines).to_numpy()
    np.testing.assert_array_equal(scores["threshold"].to_numpy(), expected)
    np.testing.assert_array_equal(
        scores["is_mql"].to_numpy(), scores["probability"].to_numpy() >= expected
    )
    # tier A is exactly the MQLs and the score is 50 at each segment's line
    np.testing.assert_array_equal(scores["tier"].to_numpy() == "A", scores["is_mql"].to_numpy())
    np.testing.assert_array_equal(scores["score"].to_numpy() >= 50, scores["is_mql"].to_numpy())
    tier_b = scores["tier"].to_numpy() == "B"
    score = scores["score"].to_numpy()
    np.testing.assert_array_equal(tier_b, (score >= 40) & (score < 50))
    # the lines differ, so one probability can be an MQL in APAC and not in EMEA
    assert lines["APAC"] > lines["EMEA"] * 1.5
    # without the segment column, scoring says which column is missing
    with pytest.raises(MissingColumnError, match=r"missing \['region'\]"):
        score_frame(bundle, fresh.drop(columns="region"))


@pytest.mark.slow
def test_bundle_keeps_its_lines_and_the_backtest_is_judged_on_the_test_part(trained):
    loaded = load_bundle(trained.path)
    assert loaded.segments.to_dict() == json.loads(json.dumps(trained.bundle.segments.to_dict()))
    assert loaded.backtest.segments.names == trained.bundle.backtest.segments.names
    table = trained.metrics["segments"]
    assert [row["segment"] for row in table] == ["EMEA", "AMER", "APAC", REST]
    for row in table[:3]:
        assert row["own_threshold"] and row["n_mql"] > 500
        lo, hi = row["realized_interval"]
        assert lo <= row["realized_rate"] <= hi
        assert abs(row["realized_rate"] - row["target_rate"]) < 0.04
    assert trained.summary()["segments"] == table
    manifest = json.loads((trained.path / "manifest.json").read_text())
    assert manifest["segments"]["column"] == "region"


def test_a_bundle_without_segments_has_no_segment_entry(logistic_trained, leads_4k):
    result = logistic_trained
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert "segments" not in manifest
    bundle = load_bundle(result.path)
    assert bundle.segments is None
    scores = score_frame(bundle, leads_4k.head(100), reasons="none")
    assert "threshold" not in scores.columns
    assert result.summary()["segments"] is None


def test_training_refuses_a_segment_column_the_leads_lack(leads_4k):
    with pytest.raises(MissingColumnError, match=r"threshold.segments.column must name a column"):
        train(_config().with_overrides(columns={"account": None}), frame=leads_4k)


@pytest.mark.slow
def test_report_has_a_table_per_segment_line_with_the_points_at_equal_volume(trained, tmp_path):
    from mqlml.report._compare import compare
    from mqlml.report._files import write_report

    report = compare(trained.bundle, trained.frame, baseline=DATA / "rules.yaml", n_boot=50)
    lines = report["segment_lines"]
    assert lines["column"] == "region"
    rows = {row["segment"]: row for row in lines["rows"]}
    assert rows == {row["segment"]: row for row in _json(report)["segment_lines"]["rows"]}
    for region in REGIONS:
        row = rows[region]
        assert row["n_mql"] == row["points"]["n_mql"] > 0
        assert row["points"]["rate"] < row["realized_rate"]  # the model beats the points
        assert row["expected_rate"] == pytest.approx(TARGETS[region], abs=0.02)
    # the report's MQLs are each segment's
    assert report["at_target"]["model"]["n_mql"] == sum(r["n_mql"] for r in rows.values())
    written = write_report(report, tmp_path / "report")
    text = written["markdown"].read_text()
    assert "## MQL line by region" in text and "points, same volume" in text


@pytest.mark.slow
def test_monitor_judges_each_segment_against_its_own_line(trained):
    from mqlml.monitoring._monitor import monitor

    later = make_leads(20_000, seed=91, regions=True, start="2026-01-01", days=120)
    report = monitor(trained.bundle, later, outcomes=later[["lead_id", "converted"]])
    by = {row["segment"]: row for row in report.segments}
    assert set(by) == {*REGIONS, REST}
    for region in REGIONS:
        row = by[region]
        assert (
            row["threshold"]
            == trained.bundle.segments.lines[
                trained.bundle.segments.names.index(region)
            ].threshold.threshold
        )
        assert row["rate"] == "fine", row
        assert row["realized_interval"][0] <= TARGETS[region] + 0.03
    assert report.outcomes["rate"] == "fine"
    assert report.to_dict()["segments"][0]["segment"] == "EMEA"


@pytest.mark.slow
def test_a_segment_column_that_is_not_a_feature_is_read_for_scoring(tmp_path):
    from mqlml.scoring._file import score_file

    frame = make_leads(30_000, seed=12, regions=True)
    config = _config(exclude=[{"column": "region", "reason": "territory, not a lead trait"}])
    config = config.with_overrides(columns={"account": None})
    bundle = train(config, frame=frame).bundle
    assert "region" not in bundle.schema.features
    fresh = make_leads(2_000, seed=13, regions=True, start="2026-01-01", days=30)
    fresh.to_csv(tmp_path / "in.csv", index=False)
    summary = score_file(bundle, tmp_path / "in.csv", tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv")
    lines = {line.value: line.threshold.threshold for line in bundle.segments.lines}
    # written to 6 significant digits
    np.testing.assert_allclose(out["threshold"], fresh["region"].map(lines), rtol=5e-6, atol=0)
    assert summary.mqls == int(out["is_mql"].sum())
    fresh.drop(columns="region").to_csv(tmp_path / "no.csv", index=False)
    with pytest.raises(MissingColumnError, match=r"segment column 'region'"):
        score_file(bundle, tmp_path / "no.csv", tmp_path / "no_out.csv")
    assert not (tmp_path / "no_out.csv").exists()


@pytest.mark.slow
def test_recalibration_refits_every_segment_line(trained):
    from mqlml.monitoring._recalibrate import recalibrate

    recent = make_leads(40_000, seed=31, regions=True, start="2026-01-01", days=180)
    new, summary = recalibrate(trained.bundle, recent, evaluation_share=0.5)
    assert new.segments is not None and new.segments.names == trained.bundle.segments.names
    old = {line.value: line.threshold for line in trained.bundle.segments.lines}
    older_half = recent.iloc[: len(recent) // 2]  # make_leads numbers leads in time order
    for line in new.segments.lines[:3]:
        assert line.threshold != old[line.value]  # chosen again on the recent leads
        assert line.threshold.n == int((older_half["region"] == line.value).sum())
        assert line.threshold.expected_rate == pytest.approx(TARGETS[line.value], abs=0.01)
    after = summary["after"]
    assert abs(after["realized_rate"] - after["mean_probability"]) < 0.03


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_lightgbm_segment_bundles_score_files_through_arrow_as_in_memory(tmp_path, fmt):
    # The file path takes each lead's segment from the Arrow batch (a dictionary column
    # in Parquet, text in CSV); every output must equal the in-memory pandas path.
    from mqlml.scoring._file import score_file
    from mqlml.scoring._scorer import Scorer

    frame = make_leads(20_000, seed=21, regions=True)
    config = _config().with_overrides(model={"kind": "lightgbm"}, columns={"account": None})
    bundle = train(config, frame=frame).bundle
    assert "region" in bundle.schema.features
    fresh = make_leads(3_000, seed=22, regions=True, start="2026-01-01", days=30)
    fresh.loc[fresh.index[:40], "region"] = "Antarctica"  # no line of its own: the rest
    source = tmp_path / f"in.{fmt}"
    fresh.to_csv(source, index=False) if fmt == "csv" else fresh.to_parquet(source)
    summary = score_file(bundle, source, tmp_path / "out.parquet", predictor="lightgbm")
    got = pd.read_parquet(tmp_path / "out.parquet")
    want = Scorer(bundle, predictor="lightgbm").score(fresh)
    assert list(got.columns) == list(want.columns)
    assert "threshold" in got.columns and got["threshold"].nunique() == 4
    for name in want.columns:
        if name == "lead_id":
            assert got[name].tolist() == [str(v) for v in want[name]]
        elif not pd.api.types.is_float_dtype(want[name]):  # text and flags
            assert got[name].tolist() == want[name].tolist(), name
        else:
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
    assert summary.mqls == int(want["is_mql"].sum())
    assert (got["tier"] == "A").tolist() == got["is_mql"].tolist()
