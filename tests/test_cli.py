"""End to end through the `mqlml` command."""

import json
import logging
import re
import sys

import pandas as pd
from typer.testing import CliRunner

from mqlml.cli import app

from .conftest import DATA, SUMMARY_KEYS

runner = CliRunner()


def test_sample_is_regenerated_bit_for_bit(tmp_path):
    out = tmp_path / "sample.csv"
    result = runner.invoke(app, ["sample", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (DATA / "sample_leads.csv").read_bytes()


def test_check_json_and_exit_codes(tmp_path):
    result = runner.invoke(app, ["check", "--config", str(DATA / "mqlml.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["profile"]["rows"] == 20_000
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {path: x.csv}\ncolumns: {label: y}\nmodle: {}\n")
    result = runner.invoke(app, ["check", "--config", str(bad)])
    assert result.exit_code == 2 and "modle" in result.output


def test_train_json_summary(tmp_path):
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(DATA / "mqlml.yaml"),
            "--out",
            str(out),
            "--no-track",
            "--target-rate",
            "0.3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert summary["target_rate"] == 0.3 and summary["bundle"] == str(out)
    assert (out / "manifest.json").is_file()


def test_train_with_a_guarantee_states_both_rates(tmp_path):
    args = ["train", "-c", str(DATA / "mqlml.yaml"), "--no-track", "--target-rate", "0.25"]
    plain = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--json"])
    sure = runner.invoke(
        app, [*args, "--out", str(tmp_path / "b"), "--confidence", "0.9", "--json"]
    )
    assert plain.exit_code == 0 and sure.exit_code == 0, sure.output
    a, b = json.loads(plain.stdout), json.loads(sure.stdout)
    assert a["confidence"] is None and b["confidence"] == 0.9
    assert b["lower_bound"] >= 0.25 and a["lower_bound"] < b["lower_bound"]
    assert b["guarantee_cost"] > 0 and b["threshold"] > a["threshold"]
    text = runner.invoke(app, [*args, "--out", str(tmp_path / "c"), "--confidence", "0.9"])
    said = re.sub(r"\s+", " ", text.output)
    assert re.search(
        r"expected MQL-to-SQL rate \d+\.\d%; at least 2\d\.\d% with 90% confidence "
        r"\(the guarantee costs [\d,]+ MQLs",
        said,
    ), said


def test_train_states_the_split_the_parts_and_the_monthly_range(tmp_path):
    from mqlml.metrics._rates import monthly_range

    args = ["train", "-c", str(DATA / "mqlml.yaml"), "--no-track", "--out", str(tmp_path / "m")]
    result = runner.invoke(app, [*args, "--json"])
    summary = json.loads(result.stdout)
    parts = summary["split"]["parts"]
    assert summary["split"]["method"] == "time" and list(parts) == ["train", "calibrate", "test"]
    assert [p["rows"] for p in parts.values()] == [12_000, 4_000, 4_000]
    assert parts["train"]["to"] <= parts["calibrate"]["from"] <= parts["test"]["from"]
    monthly = summary["monthly"]
    lo, hi = monthly["rate_range"]
    assert lo < summary["expected_rate"] < hi
    # a month's range is wider than the whole slice's interval: fewer MQLs
    assert hi - lo > 0.02 and monthly_range(250, 1000, 100) != monthly_range(250, 1000, 1000)
    text = re.sub(r"\s+", " ", runner.invoke(app, args).output)
    assert "test part (time split): 4,000 leads, 2025-" in text
    assert "a month's MQL-to-SQL rate should fall between" in text


def test_monthly_range_is_the_beta_binomial_range():
    from scipy.stats import betabinom

    from mqlml.metrics._rates import monthly_range

    lo, hi = monthly_range(250, 1000, 200)
    dist = betabinom(200, 250.5, 750.5)
    assert (lo, hi) == (dist.ppf(0.05) / 200, dist.ppf(0.95) / 200)
    # more MQLs a month, a narrower range
    lo2, hi2 = monthly_range(250, 1000, 2000)
    assert hi2 - lo2 < hi - lo


def test_train_refuses_both_goals():
    result = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(DATA / "mqlml.yaml"),
            "--target-rate",
            "0.3",
            "--capacity",
            "500/month",
        ],
    )
    assert result.exit_code == 2 and "not both" in result.output


def test_demo_runs_the_whole_job(tmp_path, monkeypatch, caplog):
    from mqlml.scoring import _predict as predict

    # Without the compiled engine every step (report, scores, monitoring, recalibration)
    # falls back to LightGBM: the hint is said once for the whole demo, not per step.
    monkeypatch.setitem(sys.modules, "lignum", None)  # import lignum raises ImportError
    monkeypatch.setattr(predict, "_SAID", set())
    out = tmp_path / "demo"
    with caplog.at_level(logging.WARNING, logger="mqlml.scoring._predict"):
        result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    hints = [r.getMessage() for r in caplog.records if "pylignum is missing" in r.getMessage()]
    assert len(hints) == 1, hints
    # training shows its stages on stderr, as `mqlml train` does; results stay on stdout
    for stage in ("fitting the model on the train part", "refitting the deployed model"):
        assert stage in result.stderr and stage not in result.stdout, stage
    for path in (
        "model/manifest.json",
        "report/report.html",
        "report/report.json",
        "report/report.md",
        "scores.csv",
        "model-recalibrated/manifest.json",
    ):
        assert (out / path).is_file(), path
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 20_000
    assert "recommendation" in result.output and str(out / "scores.csv") in result.output


def test_score_refuses_events_on_spark(tmp_path):
    result = runner.invoke(
        app,
        [
            "score",
            "-m",
            str(tmp_path),
            "-i",
            "in.csv",
            "-o",
            "out.csv",
            "--engine",
            "spark",
            "--events",
            "events.csv",
        ],
    )
    assert result.exit_code == 2 and "--events works with --engine local only" in result.output
