"""Scoring on Apache Spark (local[2]) agrees with the local scorer row for row."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install '.[spark]'")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip(
        "Spark needs a Java runtime: install openjdk-17-jre-headless or set JAVA_HOME",
        allow_module_level=True,
    )

from mqlml.errors import DataError, MissingColumnError
from mqlml.integrations.spark import main, score, score_files
from mqlml.leads._synthetic import make_leads
from mqlml.scoring._file import score_file
from mqlml.scoring._scorer import OUTPUT_COLUMNS, score_frame

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.3 warns on each pandas conversion that pandas >= 3 is "not fully
    # supported"; the conversions used are the ones these tests check.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # and its toPandas() passes pandas 3 the deprecated copy= keyword (a warning, no error)
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

N = 10_000
TYPES = [
    ("lead_id", "string"),
    ("probability", "double"),
    ("score", "double"),
    ("percentile", "double"),
    ("tier", "string"),
    ("is_mql", "boolean"),
    ("fit_score", "double"),
    ("engagement_score", "double"),
    ("reasons_for", "string"),
    ("reasons_against", "string"),
]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("mqlml-tests")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "1g")
            # several partitions per file and several Arrow batches per partition
            .config("spark.sql.files.maxPartitionBytes", str(96 * 1024))
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1500")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def leads():
    return make_leads(N, seed=23)


@pytest.fixture(scope="module")
def leads_parquet(leads, tmp_path_factory):
    path = tmp_path_factory.mktemp("spark") / "leads.parquet"
    leads.to_parquet(path, index=False, row_group_size=1000)
    return path


def _frame(spark, leads: pd.DataFrame, n: int):
    """A small Spark DataFrame of leads (created_at left out: pyspark 4.3 cannot hand
    pandas 3 datetimes to Arrow, see the Parquet-based tests for timestamps)."""
    return spark.createDataFrame(leads.head(n).drop(columns="created_at"))


def _same_scores(got: pd.DataFrame, want: pd.DataFrame, key: str) -> None:
    got = got.sort_values(key, kind="stable").reset_index(drop=True)
    want = want.sort_values(key, kind="stable").reset_index(drop=True)
    assert got[key].tolist() == want[key].tolist()
    for name in ("probability", "score", "percentile", "fit_score", "engagement_score"):
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-9, err_msg=name)
    for name in ("is_mql", "tier", "reasons_for", "reasons_against"):
        assert got[name].tolist() == want[name].tolist(), name


def test_spark_equals_local_row_for_row(spark, trained, leads, leads_parquet):
    df = spark.read.parquet(str(leads_parquet))
    assert df.rdd.getNumPartitions() > 2
    out = score(df, trained.path, keep=["converted"])
    assert out.dtypes == [*TYPES, ("converted", "bigint")]
    got = out.toPandas()
    want = score_frame(trained.bundle, leads, keep=["converted"])
    assert list(got.columns) == list(want.columns)
    assert len(got) == N and got["lead_id"].is_unique
    _same_scores(got, want, "lead_id")
    # written as the local routes write them: one decimal, 6 significant digits
    assert (got["score"] == got["score"].round(1)).all()
    assert (got["probability"] == [float(f"{p:.6g}") for p in got["probability"]]).all()
    assert 0 < got["is_mql"].sum() < N
    assert (got["reasons_for"] != "").sum() > got["is_mql"].sum()  # the top two tiers
    assert got["converted"].tolist() == want["converted"].tolist()


def test_without_id_rows_are_numbered_in_file_order(spark, trained, leads, leads_parquet):
    bundle = copy.copy(trained.bundle)
    bundle.schema = dataclasses.replace(bundle.schema, id_column=None)
    out = score(spark.read.parquet(str(leads_parquet)), bundle, reasons="none", keep=["lead_id"])
    assert out.columns[:2] == ["row", "probability"]
    assert out.dtypes[0] == ("row", "bigint")
    got = out.toPandas()  # partitions collected in order, rows in order within each
    assert got["row"].tolist() == list(range(1, N + 1))
    assert got["lead_id"].tolist() == leads["lead_id"].tolist()
    want = score_frame(trained.bundle, leads, reasons="none")
    np.testing.assert_allclose(got["probability"], want["probability"], rtol=0, atol=1e-9)
    assert (got["reasons_for"] == "").all()


def test_missing_column_is_refused_before_any_job(spark, trained, leads):
    small = leads.head(50).drop(columns=["created_at", "pricing_page_visits"])
    with pytest.raises(MissingColumnError) as local:
        score_frame(trained.bundle, small)
    df = spark.createDataFrame(small)
    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup("schema-check", "schema check")
    with pytest.raises(MissingColumnError, match=r"missing \['pricing_page_visits'\]") as remote:
        score(df, trained.bundle)
    assert str(remote.value) == str(local.value)
    with pytest.raises(MissingColumnError, match=r"--keep columns must exist.*\['crm_owner'\]"):
        score(_frame(spark, leads, 50), trained.bundle, keep=["crm_owner"])
    assert tracker.getJobIdsForGroup("schema-check") == []
    spark.sparkContext.setJobGroup("tests", "tests")


def test_model_from_activity_log_needs_its_event_features(spark, trained, leads):
    bundle = copy.copy(trained.bundle)
    bundle.metadata = {**bundle.metadata, "event_types": ["visit"]}
    df = _frame(spark, leads, 20).drop("page_views")
    with pytest.raises(MissingColumnError, match=r"\['page_views'\].*trained from an activity log"):
        score(df, bundle)


def test_bad_arguments_are_refused(spark, trained, leads):
    df = _frame(spark, leads, 20)
    with pytest.raises(ValueError, match="reasons must be 'top', 'all' or 'none'; got 'some'"):
        score(df, trained.bundle, reasons="some")
    with pytest.raises(ValueError, match="num_threads must be a positive integer; got 0"):
        score(df, trained.bundle, num_threads=0)
    renamed = df.withColumnRenamed("converted", "tier")
    with pytest.raises(
        ValueError, match=r"must not be named like an output column; got \['tier'\]"
    ):
        score(renamed, trained.bundle, keep=["tier"])


def test_empty_dataframe_scores_to_empty_result(spark, trained, leads_parquet):
    df = spark.read.parquet(str(leads_parquet)).limit(0)
    out = score(df, trained.path)
    assert out.dtypes == TYPES
    got = out.toPandas()
    assert len(got) == 0
    assert list(got.columns) == [name for name, _ in TYPES]


def test_registry_uri_goes_through_tracking(spark, trained, leads, monkeypatch):
    import mqlml.integrations._registry

    seen = []
    monkeypatch.setattr(
        mqlml.integrations._registry,
        "resolve_model",
        lambda uri: seen.append(uri) or trained.bundle,
    )
    out = score(_frame(spark, leads, 30), "models:/leads@champion")
    assert seen == ["models:/leads@champion"]
    assert out.count() == 30


def test_score_files_csv_matches_local_score_file(spark, trained, leads, tmp_path):
    frame = leads.head(3000).copy()
    frame.loc[::7, "job_title"] = "NA"  # a missing token, shown as "missing" in reasons
    frame.loc[::11, "days_since_last_activity"] = np.nan
    csv = tmp_path / "leads.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "scores.parquet"
    summary = score_files(trained.path, csv, out, reasons="all", keep=["converted"])
    local = score_file(
        trained.path, csv, tmp_path / "local.parquet", reasons="all", keep=["converted"]
    )
    assert (out / "_SUCCESS").is_file()
    got, want = pd.read_parquet(out), pd.read_parquet(tmp_path / "local.parquet")
    assert list(got.columns) == list(want.columns)
    _same_scores(got, want, "lead_id")
    reasons = got["reasons_for"] + got["reasons_against"]
    assert reasons.str.contains("job_title=missing").any()
    assert reasons.str.contains("days_since_last_activity=missing").any()
    assert summary["rows"] == local.rows == 3000
    assert summary["mqls"] == local.mqls == int(want["is_mql"].sum())
    # summed from the written probabilities (6 significant digits), locally from the exact
    assert summary["expected_sqls"] == pytest.approx(local.expected_sqls, rel=1e-6)
    assert summary["duplicated_ids"] == 0
    assert summary["output"] == str(out) and summary["seconds"] > 0


def test_score_files_parquet_to_csv_folder(spark, trained, leads, leads_parquet, tmp_path):
    out = tmp_path / "scores.csv"
    summary = score_files(trained.path, leads_parquet, out, reasons="none")
    parts = sorted(out.glob("part-*.csv"))
    assert parts
    got = pd.concat([pd.read_csv(p, keep_default_na=False) for p in parts], ignore_index=True)
    want = score_frame(trained.bundle, leads, reasons="none")
    assert list(got.columns) == list(want.columns)
    assert summary["rows"] == len(got) == N
    assert summary["mqls"] == int(want["is_mql"].sum())
    got = got.sort_values("lead_id").reset_index(drop=True)
    want = want.sort_values("lead_id").reset_index(drop=True)
    np.testing.assert_allclose(got["probability"], want["probability"], rtol=0, atol=1e-9)
    assert got["tier"].tolist() == want["tier"].tolist()


def test_score_files_csv_escapes_formula_cells_like_locally(spark, trained, leads, tmp_path):
    import csv

    frame = leads.head(200).copy()
    frame.loc[:2, "lead_id"] = ["=1+1", "-5", "@SUM(A1)"]
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)

    def ids(folder):
        rows = []
        for part in sorted(folder.glob("part-*.csv")):
            with open(part, newline="") as handle:
                rows += [row[0] for row in list(csv.reader(handle))[1:]]
        return set(rows)

    score_files(trained.path, source, tmp_path / "escaped.csv", reasons="none")
    assert {"'=1+1", "-5", "'@SUM(A1)"} <= ids(tmp_path / "escaped.csv")
    score_files(trained.path, source, tmp_path / "kept.csv", reasons="none", csv_formulas="keep")
    assert {"=1+1", "-5", "@SUM(A1)"} <= ids(tmp_path / "kept.csv")


def test_score_files_bad_value_is_named_like_locally(spark, trained, leads, tmp_path):
    frame = leads.head(200).astype({"page_views": object})
    frame.loc[150, "page_views"] = "lots"
    csv = tmp_path / "leads.csv"
    frame.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"column 'page_views' must hold numbers.*'lots'"):
        score_files(trained.path, csv, tmp_path / "scores.parquet")


def test_score_files_repeated_ids(spark, trained, leads, tmp_path):
    frame = leads.head(300).copy()
    frame.loc[[10, 20, 30], "lead_id"] = frame.loc[[1, 2, 2], "lead_id"].to_numpy()
    path = tmp_path / "leads.parquet"
    frame.to_parquet(path, index=False)
    out = tmp_path / "scores.parquet"
    with pytest.raises(DataError, match="'lead_id' must be unique with --unique-ids; 3 rows"):
        score_files(trained.path, path, out, unique_ids=True)
    assert not out.exists()
    assert score_files(trained.path, path, out)["duplicated_ids"] == 3


def test_importing_the_module_does_not_start_spark():
    code = "import sys, mqlml.integrations.spark; print('pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_score_files_refuses_bad_paths(trained, tmp_path):
    with pytest.raises(DataError, match=r"input file must exist; got .*nowhere\.csv"):
        score_files(trained.path, tmp_path / "nowhere.csv", tmp_path / "s.parquet")
    (tmp_path / "leads.parquet").write_bytes(b"x")
    with pytest.raises(DataError, match="the output folder must not hold the input"):
        score_files(trained.path, tmp_path / "leads.parquet", tmp_path / "leads.parquet")
    with pytest.raises(DataError, match=r"file type must be CSV \(.csv\) or Parquet"):
        score_files(trained.path, tmp_path / "leads.parquet", tmp_path / "scores.json")


@pytest.fixture(scope="module")
def small_parquet(leads, tmp_path_factory):
    path = tmp_path_factory.mktemp("spark") / "small.parquet"
    leads.head(500).to_parquet(path, index=False)
    return path


def test_module_entry_point(spark, trained, small_parquet, tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    args = ["--model", str(trained.path), "--input", str(small_parquet), "--output", str(out)]
    assert main([*args, "--reasons", "none", "--keep", "converted"]) == 0
    summary = json.loads(capsys.readouterr().out)
    got = pd.read_parquet(out)
    assert summary["rows"] == 500 == len(got)
    assert list(got.columns) == ["lead_id", *OUTPUT_COLUMNS, "converted"]
    assert (got["reasons_for"] == "").all()
    code = main(["-m", str(trained.path), "-i", str(tmp_path / "none.csv"), "-o", str(out)])
    assert code == 2
    assert "input file must exist" in capsys.readouterr().err


@pytest.mark.timeout(600)
def test_spark_submit_prints_only_the_json_summary(trained, small_parquet, tmp_path):
    """Under spark-submit the driver's stderr is merged into stdout: pyspark's pandas 3
    warning (raised while the session starts) must not land there ahead of the JSON."""
    import pyspark

    from .conftest import ROOT

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    out = tmp_path / "scores.parquet"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    done = subprocess.run(
        [
            str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
            str(ROOT / "mqlml" / "integrations" / "spark.py"),
            "--model", str(trained.path), "--input", str(small_parquet), "--output", str(out),
        ],
        capture_output=True, text=True, env=env, timeout=500, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout[:2000]
    assert json.loads(lines[0])["rows"] == 500
    assert "pandas" not in done.stdout + done.stderr


# CLI: needs `--engine spark` on `mqlml score` (fails until the command has it).
def test_cli_score_engine_spark(spark, trained, small_parquet, tmp_path):
    from typer.testing import CliRunner

    from mqlml.cli import app

    out = tmp_path / "scores.parquet"
    args = ["score", "-m", str(trained.path), "-i", str(small_parquet), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--engine", "spark", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 500
    assert list(pd.read_parquet(out).columns) == ["lead_id", *OUTPUT_COLUMNS]


def test_segment_lines_score_on_spark_as_locally(spark, tmp_path):
    # Each lead's own line (threshold.segments) travels with the bundle to the executors.
    from mqlml.config._config import ProjectConfig
    from mqlml.model._train import train

    config = ProjectConfig(
        data={"path": "-"},
        columns={"id": "lead_id", "label": "converted", "time": "created_at"},
        threshold={
            "target_rate": 0.25,
            "segments": {"column": "region", "targets": {"EMEA": 0.2, "AMER": 0.3}},
        },
    )
    result = train(config, frame=make_leads(20_000, seed=31, regions=True), out=tmp_path / "m")
    leads = make_leads(3_000, seed=32, regions=True)
    out = score(_frame(spark, leads, len(leads)), result.path)
    names = [name for name, _ in out.dtypes]
    assert names[names.index("is_mql") + 1] == "threshold"
    got = out.toPandas()
    want = score_frame(result.bundle, leads)
    _same_scores(got, want, "lead_id")
    merged = got.merge(want[["lead_id", "threshold"]], on="lead_id", suffixes=("", "_local"))
    np.testing.assert_array_equal(merged["threshold"], merged["threshold_local"])
    assert merged["threshold"].nunique() == 3  # EMEA, AMER and the rest
