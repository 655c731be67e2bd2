"""Other inputs that lie: a feature in two groups, a config that is not UTF-8, nested
Parquet columns. Each is refused with one line naming the key, byte or column and the
fix, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mqlml.config._config import ProjectConfig, load_config
from mqlml.errors import ConfigError, DataError
from mqlml.io._readers import LeadFile, read_table
from mqlml.leads._read import read_leads
from mqlml.leads._synthetic import make_leads
from mqlml.scoring._scorer import Scorer
from tests.test_dates import _project, _run

# --- the config ------------------------------------------------------------------------


def test_a_feature_in_both_groups_is_refused_when_the_config_is_read(write_config):
    path = write_config(
        "data: {path: leads.csv}\ncolumns: {id: id, label: y}\n"
        "features: {fit: [title, visits], engagement: [visits, webinars]}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"^config .*mqlml\.yaml: key 'features': a feature must be in one group; got "
        r"'visits' in both features\.fit and features\.engagement\. Remove it from one of "
        r"them\.$",
    ) as caught:
        load_config(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=r"got 'visits' in both features\.fit"):
        ProjectConfig(
            data={"path": "x"},
            columns={"label": "y"},
            features={"fit": ["visits"], "engagement": ["visits"]},
        )


def test_a_config_that_is_not_utf8_names_the_byte_and_the_fix(tmp_path):
    data = "data: {path: leads.csv}\ncolumns: {id: id, label: résultat}\n".encode("latin-1")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    with pytest.raises(
        ConfigError,
        match=rf"^config .*latin1\.yaml must be UTF-8 text; byte {offset} \(line 2\) is "
        r"b'\\xe9', which is not\. Save the file as UTF-8\.$",
    ):
        load_config(path)


def test_cli_refuses_a_feature_in_two_groups_and_a_latin1_config(tmp_path):
    config = tmp_path / "mqlml.yaml"
    config.write_text(
        "data: {path: leads.csv}\ncolumns: {id: lead_id, label: converted}\n"
        "features: {fit: [industry], engagement: [industry, page_views]}\n"
    )
    _run(
        tmp_path,
        ["train", "-c", config, "--no-track"],
        r"^error: config .*: key 'features': a feature must be in one group; got 'industry' in "
        r"both features\.fit and features\.engagement\. Remove it from one of them\.$",
    )
    config.write_bytes(b"# r\xe9sum\xe9\ndata: {path: leads.csv}\n")
    _run(
        tmp_path,
        ["check", "-c", config],
        r"^error: config .*mqlml\.yaml must be UTF-8 text; byte 3 \(line 1\) is b'\\xe9', "
        r"which is not\. Save the file as UTF-8\.$",
    )


# --- nested Parquet columns ------------------------------------------------------------


def _nested_leads(folder: Path, leads: pd.DataFrame, name: str = "leads.parquet") -> Path:
    table = pa.Table.from_pandas(leads, preserve_index=False)
    tags = pa.array([{"source": "web", "rank": i % 3} for i in range(len(leads))])
    path = folder / name
    pq.write_table(table.append_column("tags", tags), path)
    return path


def test_nested_parquet_columns_are_refused_when_read_unless_excluded(tmp_path):
    path = _nested_leads(tmp_path, make_leads(50, seed=1))
    message = (
        r"column 'tags' of '.*leads\.parquet' must hold plain values \(numbers, text, dates, "
        r"yes/no\); got the nested type struct<source: string, rank: int64>\. Flatten it into "
        r"plain columns when exporting, or leave it out \(in training, list it under exclude "
        r"in the config\)\.$"
    )
    with pytest.raises(DataError, match=message):
        read_table(path)
    config = ProjectConfig(data={"path": path}, columns={"label": "converted"})
    with pytest.raises(DataError, match=message):
        read_leads(config)
    excluded = config.model_validate({**config.model_dump(), "exclude": {"tags": "nested"}})
    assert "tags" not in read_leads(excluded).columns
    assert read_table(path, columns=["lead_id"]).shape == (50, 1)
    with LeadFile(path) as source:
        assert source.read(["lead_id"]).shape == (50, 1)
        with pytest.raises(DataError, match=message):
            source.batches(columns=["lead_id", "tags"])  # before any batch is read
        with pytest.raises(DataError, match=message):
            source.read(["tags"])


def test_scoring_columns_refuses_a_nested_feature(logistic_trained):
    scorer = Scorer(logistic_trained.bundle, reasons="none")
    columns = {
        name: pa.array([None], pa.string()) for name in logistic_trained.bundle.schema.features
    }
    columns["industry"] = pa.array([["Software", "Retail"]])
    with pytest.raises(DataError, match=r"column 'industry' must hold plain values .*got the "
                       r"nested type list<item: string>"):  # fmt: skip
        scorer.score_columns(columns)


def test_cli_refuses_nested_parquet_columns_in_training_and_scoring(tmp_path, logistic_trained):
    leads = make_leads(300, seed=5)
    _nested_leads(tmp_path, leads)
    config = _project(tmp_path, leads, name="leads.parquet")
    nested = r"column 'tags' of '.*leads\.parquet' must hold plain values .*struct<source"
    _run(tmp_path, ["train", "-c", config, "--no-track", "--out", tmp_path / "m"], nested)
    table = pa.Table.from_pandas(leads.drop(columns="industry"), preserve_index=False)
    industry = pa.array([{"name": str(v)} for v in leads["industry"]])
    pq.write_table(table.append_column("industry", industry), tmp_path / "score.parquet")
    model = logistic_trained.path
    args = ["score", "-m", model, "-i", tmp_path / "score.parquet", "-o", tmp_path / "s.csv"]
    _run(tmp_path, args, r"^error: column 'industry' of .*score\.parquet' must hold plain "
         r"values .*got the nested type struct<name: string>\. Flatten it")  # fmt: skip
