"""Running mqlml unattended: exit codes, CLI conventions, progress, safe recalibration, Spark
output folders."""

from __future__ import annotations

import gzip
import io
import json
import re

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from mqlml import exitcodes
from mqlml.cli import app
from mqlml.cli._progress import rows, stages
from mqlml.errors import DataError
from mqlml.io._atomic import check_destination, check_output_folder
from mqlml.io._readers import estimate_rows
from mqlml.leads._synthetic import make_leads
from mqlml.monitoring._recalibrate import recalibrate

from .conftest import DATA, ROOT

runner = CliRunner()
CONFIG = str(DATA / "mqlml.yaml")


# -- exit codes -----------------------------------------------------------------------
def test_exit_codes_are_distinct_and_the_readme_table_lists_each():
    codes = {
        name: getattr(exitcodes, name)
        for name in exitcodes.__all__
        if isinstance(getattr(exitcodes, name), int)
    }
    assert len(set(codes.values())) == len(codes)
    assert (exitcodes.OK, exitcodes.ATTENTION, exitcodes.USAGE_ERROR) == (0, 1, 2)
    assert exitcodes.RECOMMENDATION_CODES == {"fine": 0, "watch": 1, "recalibrate": 3, "retrain": 4}
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Exit codes") :]
    for code in codes.values():
        assert re.search(rf"^\| {code} \|", table, re.M), code


def test_exit_codes_are_named_where_the_package_exits():
    """No literal code where the package exits: each is a name from mqlml.exitcodes."""
    import ast
    import signal

    from mqlml.io._atomic import Interrupted

    def codes(node):  # the expressions that become an exit code
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("sys.exit", "typer.Exit", "SystemExit", "exit", "os._exit"):
                return node.args
            if name == "getattr" and ast.unparse(node.args[1]) == "'exit_code'":
                return node.args[2:]
        if isinstance(node, ast.FunctionDef) and node.name in ("main", "_main"):
            return [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value]
        return []

    literal = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:60]}"
        for path in sorted((ROOT / "mqlml").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if any(isinstance(c, ast.Constant) and isinstance(c.value, int) for c in codes(node))
    ]
    assert literal == []
    assert Interrupted(signal.SIGINT).exit_code == exitcodes.INTERRUPTED
    assert Interrupted(signal.SIGTERM).exit_code == exitcodes.TERMINATED


# -- CLI conventions ------------------------------------------------------------------
def test_version_and_short_help():
    from mqlml import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"mqlml {__version__}"
    for args in (["-h"], ["check", "-h"], ["score", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "-h, --help" in result.stdout
        assert "<bool>" not in result.stdout  # flags take no value, and help says so
    assert "Exit codes: 0 ok, 1 attention needed" in runner.invoke(app, ["-h"]).stdout
    bare = runner.invoke(app, [])
    assert bare.exit_code == 2 and "Commands:" in bare.stderr and "error:" not in bare.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["train", "-c", CONFIG, "--model", "xgboost"],
            "--model must be one of auto, lightgbm, logistic",
        ),
        (["check", "-c", CONFIG, "--json", "true"], "flags such as --json take no value"),
        (
            ["score", "-m", "m", "-i", "a.csv", "-o", "b.csv", "--predictor", "fast"],
            "--predictor must be one of auto, lightgbm, compiled; got 'fast'",
        ),
        (
            ["score", "-m", "m", "-i", "a.csv", "-o", "b.csv", "--attribution", "lime"],
            "--attribution must be one of path, shap; got 'lime'",
        ),
        (["train", "-c", CONFIG, "--target-rate", "2"], "--target-rate must be a rate between"),
        (["check"], "--config must be given; got nothing"),
        (["chek"], "No such command 'chek'. Did you mean 'check'?"),
    ],
)
def test_usage_errors_are_one_line_naming_the_flag_and_exit_2(args, said):
    result = runner.invoke(app, args)
    assert result.exit_code == exitcodes.USAGE_ERROR
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and said in lines[0]
    assert lines[0].endswith("-h` for the options.")
    assert result.stdout == ""  # errors go to stderr
    for noise in ("Traceback", "validation error", "pydantic", "╭", "Usage:"):
        assert noise not in result.output


def test_python_dash_m_runs_the_command():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "mqlml", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and done.stdout.startswith("mqlml ")


# -- progress -------------------------------------------------------------------------
def _plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_row_totals_from_parquet_metadata_and_csv_size(tmp_path):
    leads = make_leads(30_000, seed=5)
    parquet, csv, gz = tmp_path / "a.parquet", tmp_path / "a.csv", tmp_path / "a.csv.gz"
    leads.to_parquet(parquet, index=False)
    leads.to_csv(csv, index=False)
    with gzip.open(gz, "wt") as handle:
        leads.head(100).to_csv(handle, index=False)
    assert estimate_rows(parquet) == (30_000, True)
    guess, exact = estimate_rows(csv)
    assert csv.stat().st_size > 2**20 and not exact  # estimated from the first megabyte
    assert abs(guess - 30_000) / 30_000 < 0.05
    small = tmp_path / "small.csv"
    leads.head(7).to_csv(small, index=False)
    assert estimate_rows(small) == (7, True)
    assert estimate_rows(gz) == (None, False)
    assert estimate_rows(tmp_path / "absent.parquet") == (None, False)


def test_plain_progress_lines_give_the_share_and_the_time_left():
    console, buffer = _plain_console()
    with rows(console, 1_000, exact=False) as advance:
        advance(250)
        advance(1_000)
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("250 of ~1,000 rows scored (25%), about ")
    assert lines[0].endswith(" left") and lines[1] == "1,000 of ~1,000 rows scored (100%)"
    console, buffer = _plain_console()
    with rows(console, None) as advance:
        advance(12_345)
    assert buffer.getvalue().strip() == "12,345 rows scored"
    console, buffer = _plain_console()
    with stages(console) as stage:
        stage("fitting")
        stage("saving")
    assert re.fullmatch(r"\[ +\d+\.\d s\] fitting\n\[ +\d+\.\d s\] saving\n", buffer.getvalue())
    console, buffer = _plain_console()
    with stages(console, enabled=False) as stage, rows(console, 5, enabled=False) as advance:
        stage("fitting")
        advance(3)
    assert buffer.getvalue() == ""


def test_score_progress_goes_to_stderr_with_a_total_and_one_rows_per_second(trained, tmp_path):
    leads = make_leads(1_000, seed=6, start="2026-01-01")
    source, out = tmp_path / "leads.parquet", tmp_path / "scores.csv"
    leads.to_parquet(source, index=False)
    args = ["score", "-m", str(trained.path), "-i", str(source), "-o", str(out), "--no-reasons"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1,000 of 1,000 rows scored (100%)" in result.stderr
    assert "rows scored" not in result.stdout
    # one rows/s figure, in the result line on stdout
    assert len(re.findall(r"rows/s", result.output)) == 1
    assert re.search(r"scored 1,000 leads in [\d.]+ s \([\d,]+ rows/s\)", result.stdout)
    quiet = runner.invoke(app, [*args[:-1], "--json"])
    assert quiet.stderr == "" and json.loads(quiet.stdout)["rows"] == 1_000


# -- recalibration that cannot make things worse ------------------------------------------
@pytest.fixture(scope="module")
def drift_then_back():
    """Doubled base rate for a while, then back to the training law: a recalibration
    fitted on the drifted older part must lose to the current bundle on the newer part."""
    first = make_leads(5_000, seed=41, start="2026-01-01", days=90, base_rate_scale=2.0)
    second = make_leads(5_000, seed=42, start="2026-04-01", days=90)
    second["lead_id"] = "N" + second["lead_id"]
    return pd.concat([first, second], ignore_index=True)


def test_recalibration_that_would_be_worse_writes_nothing(trained, drift_then_back, tmp_path):
    out = tmp_path / "worse"
    new, summary = recalibrate(trained.path, drift_then_back, out=out)
    before, after = summary["before"], summary["after"]
    assert after["log_loss"] > before["log_loss"]
    # the drifted calibration promises too much on the newer part: its MQLs fall short
    assert after["realized_rate"] < before["realized_rate"]
    assert not summary["better"] and not summary["written"] and summary["bundle"] is None
    assert summary["verdict"].startswith("not better: log loss")
    assert not out.exists()
    assert new.threshold.threshold != trained.bundle.threshold.threshold  # returned, not saved
    forced = tmp_path / "forced"
    _, summary = recalibrate(trained.path, drift_then_back, out=forced, force=True)
    assert summary["written"] and summary["forced"] and (forced / "manifest.json").is_file()


def test_recalibration_that_is_better_is_written(trained, tmp_path):
    shift = {"pricing_page_visits": 2.0}
    drifted = make_leads(
        10_000, seed=21, start="2026-01-01", days=180, base_rate_scale=2.0, engagement_shift=shift
    )
    out = tmp_path / "better"
    _, summary = recalibrate(trained.path, drifted, out=out)
    before, after = summary["before"], summary["after"]
    assert after["log_loss"] < before["log_loss"]
    assert before["realized_interval"][0] > 0.3  # the drift: MQLs promised 25 % convert at 37 %
    assert after["realized_interval"][0] <= 0.25 <= after["realized_interval"][1]
    assert summary["better"] and summary["written"] and (out / "manifest.json").is_file()
    assert summary["verdict"].startswith("better: log loss")
    assert "log loss" in summary["measure"]


def test_a_lower_log_loss_with_mqls_clearly_below_the_target_is_not_better(trained):
    # doubled base rate alone: the new calibration fits better, yet its threshold's MQLs
    # convert at 23 % (90 % interval wholly below the 25 % target) where the current
    # bundle's over-deliver
    drifted = make_leads(10_000, seed=43, start="2026-01-01", days=180, base_rate_scale=2.0)
    _, summary = recalibrate(trained.path, drifted)
    before, after = summary["before"], summary["after"]
    assert after["log_loss"] < before["log_loss"]
    assert after["realized_interval"][1] < 0.25 < before["realized_interval"][0]
    assert not summary["better"] and not summary["written"]
    assert "falls clearly (90 % interval) below the 25% target" in summary["verdict"]


def test_cli_recalibrate_prints_both_and_exits_1_when_not_written(
    trained, drift_then_back, tmp_path
):
    data, out = tmp_path / "recent.csv", tmp_path / "new-bundle"
    drift_then_back.to_csv(data, index=False)
    args = ["recalibrate", "-m", str(trained.path), "--data", str(data), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == exitcodes.ATTENTION, result.output
    said = " ".join(result.stdout.split())
    assert "current" in said and "new" in said and "log loss (the judge)" in said
    assert "The new calibration is not better: log loss" in said
    assert "nothing written" in said and not out.exists()
    forced = runner.invoke(app, [*args, "--force", "--json"])
    assert forced.exit_code == exitcodes.OK, forced.output
    summary = json.loads(forced.stdout)
    assert summary["written"] and summary["forced"] and summary["exit_code"] == 0
    assert (out / "manifest.json").is_file()


# -- Spark output folders -------------------------------------------------------------
def test_spark_output_folder_checks(tmp_path):
    leads, model = tmp_path / "leads.csv", tmp_path / "model"
    leads.write_text("id\n1\n")
    model.mkdir()
    (model / "manifest.json").write_text("{}")
    sources = {"input": leads, "model": model}
    with pytest.raises(DataError, match=r"output folder must not hold the input; .*replaces"):
        check_output_folder(tmp_path, sources)
    with pytest.raises(DataError, match=r"must not be inside the model folder"):
        check_output_folder(model / "scores.parquet", sources)
    with pytest.raises(DataError, match=r"must not hold the model"):
        check_output_folder(tmp_path / "model", {"model": model})
    with pytest.raises(DataError, match=r"output folder must name a folder, not a file"):
        check_output_folder(leads, {})
    other = tmp_path / "reports"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"holds 1 other entries \(e\.g\. 'notes\.txt'\)"):
        check_output_folder(other, sources)
    previous = tmp_path / "scores.parquet"
    previous.mkdir()
    for name in ("part-00000-x.snappy.parquet", ".part-00000-x.snappy.parquet.crc", "_SUCCESS"):
        (previous / name).write_text("")
    check_output_folder(previous, sources)  # a previous Spark output may be replaced
    check_output_folder(tmp_path / "new" / "scores.parquet", sources)


def test_output_checks_share_the_source_rules(tmp_path):
    """A file and a folder output are refused inside a source folder alike; each its own way
    otherwise, and a missing source (None) is no source."""
    leads, model = tmp_path / "leads.csv", tmp_path / "model"
    leads.write_text("id\n1\n")
    (model / "trees").mkdir(parents=True)
    sources = {"input": leads, "activity log": None, "model": model}
    inner = model / "trees" / "scores.parquet"
    for check in (check_destination, check_output_folder):
        with pytest.raises(DataError, match=r"must not be inside the model folder; .*trees"):
            check(inner, sources)
        check(tmp_path / "out" / "scores.parquet", sources)  # beside the sources: fine
        check(inner, {"model": None})
    with pytest.raises(DataError, match=r"output must not be inside the model folder"):
        check_destination(model, sources)  # the bundle folder itself, as a file target
    with pytest.raises(DataError, match=r"output folder must not hold the model; .*replaces"):
        check_output_folder(model, sources)
    with pytest.raises(DataError, match=r"output must not be the input; .*another file"):
        check_destination(tmp_path / "." / "leads.csv", sources)
    with pytest.raises(DataError, match=r"output folder must not hold the input"):
        check_output_folder(tmp_path / "." / "leads.csv", sources)  # a source file named as it
    assert leads.read_text() == "id\n1\n" and sorted(p.name for p in model.iterdir()) == ["trees"]


# -- the score drift reference of a refit bundle ---------------------------------------
def test_score_reference_is_the_deployed_models_own_probabilities(sample_config):
    from mqlml.metrics._drift import SCORE_KEY, psi, reference_distribution
    from mqlml.model._train import train
    from mqlml.monitoring._monitor import monitor

    leads = make_leads(3_000, seed=1)
    result = train(sample_config, frame=leads)
    bundle = result.bundle
    X_test = bundle.schema.features_frame(leads).iloc[result.parts.test]
    reference = bundle.reference["features"][SCORE_KEY]
    # the reference is built from what the deployed bundle gives its reference leads
    assert reference == reference_distribution(bundle.predict_proba(X_test), "numeric")
    same_law = make_leads(5_000, seed=101, start="2026-01-01", days=180)
    p_new = bundle.predict_proba(bundle.schema.features_frame(same_law))
    assert psi(reference, p_new) < 0.05
    # ... not what the backtest's model gives them with the deployed calibration
    calibrating = bundle.score_map(bundle.backtest.model.decision_function(X_test))
    assert reference != reference_distribution(calibrating, "numeric")
    report = monitor(bundle, same_law)
    assert report.score["level"] == "fine" and report.recommendation == "fine"
