"""Bad input, as a careless user or an attacker would give it: every case exits 2 (or
raises the named error) with a message naming the column, flag or path and the fix, and
writes nothing."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.errors import DataError, InsufficientDataError, MissingColumnError
from mqlml.io._atomic import check_destination
from mqlml.scoring._file import score_file
from tests.conftest import DATA

runner = CliRunner()


@pytest.fixture(scope="module")
def small(leads_20k):
    return leads_20k.drop(columns="true_probability").iloc[:300].reset_index(drop=True)


@pytest.fixture(scope="module")
def history(leads_20k):
    return leads_20k.drop(columns="true_probability").iloc[:2000].reset_index(drop=True)


def _config(folder: Path, data: Path, extra: str = "") -> Path:
    text = (DATA / "mqlml.yaml").read_text()
    text = text.replace("path: sample_leads.csv", f"path: {data}")
    text = text.replace("rules: rules.yaml", f"rules: {DATA / 'rules.yaml'}")
    path = folder / "cfg.yaml"
    path.write_text(text + extra)
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its bytes (caches included: none
    may appear beside a bundle)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_symlink() or path.is_dir():
            out[str(path.relative_to(folder))] = "link" if path.is_symlink() else "dir"
    return out


def _flat(text: str) -> str:
    """CLI output on one line: Rich boxes and wrapping removed."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", text)


# --- each case: set up files in a folder, return the CLI arguments --------------------


def _leads(folder, small, name="leads.csv", frame=None, **csv):
    path = folder / name
    (small if frame is None else frame).to_csv(path, index=False, **csv)
    return path


def _score(folder, model, small, out="scores.csv", *extra, frame=None, name="leads.csv"):
    src = _leads(folder, small, name=name, frame=frame)
    return ["score", "-m", str(model), "-i", str(src), "-o", str(folder / out), *extra]


def _with(small, **changes):
    frame = small.copy()
    for column, (rows, value) in changes.items():
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value
    return frame


def case_output_is_input(f, m, s):
    src = _leads(f, s)
    return ["score", "-m", m, "-i", str(src), "-o", str(src)]


def case_output_is_input_dot_spelling(f, m, s):
    src = _leads(f, s)
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "." / "leads.csv")]


def case_output_is_input_parent_spelling(f, m, s):
    src = _leads(f, s)
    return ["score", "-m", m, "-i", str(src), "-o", str(f / ".." / f.name / "leads.csv")]


def case_output_is_input_by_symlink(f, m, s):
    src = _leads(f, s)
    (f / "alias.csv").symlink_to(src)
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "alias.csv")]


def case_output_is_input_by_hard_link(f, m, s):
    src = _leads(f, s)
    os.link(src, f / "hard.csv")
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "hard.csv")]


def case_output_is_a_folder(f, m, s):
    (f / "scores.csv").mkdir()
    return _score(f, m, s, "scores.csv")


def case_output_is_an_existing_plain_folder(f, m, s):
    return _score(f, m, s, ".")


def case_output_inside_the_bundle(f, m, s):
    return ["score", "-m", m, "-i", str(_leads(f, s)), "-o", str(Path(m) / "scores.csv")]


def case_output_folder_is_a_file(f, m, s):
    (f / "taken").write_text("a file\n")
    return _score(f, m, s, "taken/scores.csv")


def _another_bundle(f, m, name="other"):
    """A copy of the bundle in the work folder (a bundle that is not --model)."""
    shutil.copytree(m, f / name, ignore=shutil.ignore_patterns(".compiled"))
    return f / name


def case_output_inside_another_bundle(f, m, s):
    return _score(f, m, s, f"{_another_bundle(f, m).name}/scores.csv")


def _earlier_scores(f):
    """Scores an earlier run wrote: a refused run must leave them byte for byte."""
    (f / "scores.csv").write_text("lead_id,probability\nL1,0.5\n")


def case_accounts_is_the_input(f, m, s):
    _earlier_scores(f)
    return _score(f, m, s, "scores.csv", "--accounts", str(f / "leads.csv"))


def case_accounts_is_the_output(f, m, s):
    _earlier_scores(f)
    return _score(f, m, s, "scores.csv", "--accounts", str(f / "." / "scores.csv"))


def case_accounts_inside_the_bundle(f, m, s):
    _earlier_scores(f)
    return _score(f, m, s, "scores.csv", "--accounts", str(Path(m) / "accounts.csv"))


def case_accounts_inside_another_bundle(f, m, s):
    other = _another_bundle(f, m)
    return _score(f, m, s, "scores.csv", "--accounts", str(other / "accounts.csv"))


def case_accounts_is_a_folder(f, m, s):
    _earlier_scores(f)
    (f / "accounts.csv").mkdir()
    return _score(f, m, s, "scores.csv", "--accounts", str(f / "accounts.csv"))


def case_accounts_folder_is_a_file(f, m, s):
    _earlier_scores(f)
    (f / "taken").write_text("a file\n")
    return _score(f, m, s, "scores.csv", "--accounts", str(f / "taken" / "accounts.csv"))


def case_accounts_without_columns_account(f, m, s):
    _earlier_scores(f)  # the model's config names no columns.account
    return _score(f, m, s, "scores.csv", "--accounts", str(f / "accounts.csv"))


def case_csv_formulas_unknown(f, m, s):
    return _score(f, m, s, "scores.csv", "--csv-formulas", "strip")


def case_keep_score(f, m, s):
    return _score(f, m, s, "scores.csv", "--keep", "score", frame=s.assign(score=1))


def case_keep_tier_and_is_mql(f, m, s):
    return _score(
        f, m, s, "scores.csv", "--keep", "tier,is_mql", frame=s.assign(tier="A", is_mql=1)
    )


def case_keep_probability(f, m, s):
    return _score(f, m, s, "o.csv", "--keep", "country,probability", frame=s.assign(probability=0))


def case_keep_prefix_makes_a_collision(f, m, s):
    return _score(f, m, s, "o.csv", "--keep", "ore", "--keep-prefix", "sc", frame=s.assign(ore=1))


def case_keep_missing_column(f, m, s):
    return _score(f, m, s, "scores.csv", "--keep", "no_such_column")


def case_unique_ids_blank_id(f, m, s):
    return _score(f, m, s, "o.csv", "--unique-ids", frame=_with(s, lead_id=([40], "")))


def case_unique_ids_spaces_id(f, m, s):
    return _score(f, m, s, "o.csv", "--unique-ids", frame=_with(s, lead_id=([3], "   ")))


def case_unique_ids_repeated(f, m, s):
    return _score(f, m, s, "o.csv", "--unique-ids", frame=_with(s, lead_id=([7, 9], "L1")))


def case_input_missing(f, m, s):
    return ["score", "-m", m, "-i", str(f / "absent.csv"), "-o", str(f / "o.csv")]


def case_input_is_a_folder(f, m, s):
    (f / "in.csv").mkdir()
    return ["score", "-m", m, "-i", str(f / "in.csv"), "-o", str(f / "o.csv")]


def case_input_empty(f, m, s):
    (f / "leads.csv").write_bytes(b"")
    return ["score", "-m", m, "-i", str(f / "leads.csv"), "-o", str(f / "o.csv")]


def case_input_unknown_suffix(f, m, s):
    (f / "leads.xlsx").write_bytes(b"PK\x03\x04")
    return ["score", "-m", m, "-i", str(f / "leads.xlsx"), "-o", str(f / "o.csv")]


def case_output_unknown_suffix(f, m, s):
    return _score(f, m, s, "scores.json")


def case_missing_feature(f, m, s):
    return _score(f, m, s, frame=s.drop(columns="pricing_page_visits"))


def case_missing_id(f, m, s):
    return _score(f, m, s, frame=s.drop(columns="lead_id"))


def case_text_in_numeric(f, m, s):
    return _score(f, m, s, frame=_with(s, page_views=([7], "lots")))


def case_text_in_numeric_late_chunk(f, m, s):
    return _score(f, m, s, "o.csv", "--chunk-size", "10", frame=_with(s, email_opens=([250], "7x")))


def case_bad_yes_no(f, m, s):
    return _score(f, m, s, frame=_with(s, demo_requested=([5], "perhaps")))


def case_latin1_without_encoding(f, m, s):
    frame = _with(s, country=([2], "São Tomé"))
    src = _leads(f, s, frame=frame, encoding="latin-1")
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "o.csv")]


def case_bad_encoding_flag(f, m, s):
    return _score(f, m, s, "o.csv", "--encoding", "klingon-8")


def case_two_character_delimiter(f, m, s):
    return _score(f, m, s, "o.csv", "--delimiter", ";;")


def case_empty_delimiter(f, m, s):
    return _score(f, m, s, "o.csv", "--delimiter", "")


def case_chunk_size_zero(f, m, s):
    return _score(f, m, s, "o.csv", "--chunk-size", "0")


def case_chunk_size_negative(f, m, s):
    return _score(f, m, s, "o.csv", "--chunk-size", "-5")


def case_unknown_engine(f, m, s):
    return _score(f, m, s, "o.csv", "--engine", "gpu")


def case_as_of_not_a_date(f, m, s):
    return _score(f, m, s, "o.csv", "--as-of", "next tuesday-ish")


def case_parquet_garbage(f, m, s):
    (f / "leads.parquet").write_bytes(os.urandom(2048))
    return ["score", "-m", m, "-i", str(f / "leads.parquet"), "-o", str(f / "o.csv")]


def case_parquet_truncated(f, m, s):
    s.to_parquet(f / "full.parquet")
    data = (f / "full.parquet").read_bytes()
    (f / "full.parquet").unlink()
    (f / "leads.parquet").write_bytes(data[: len(data) // 2])
    return ["score", "-m", m, "-i", str(f / "leads.parquet"), "-o", str(f / "o.csv")]


def case_parquet_corrupt_page(f, m, s):
    s.to_parquet(f / "leads.parquet", compression="snappy", row_group_size=50)
    data = bytearray((f / "leads.parquet").read_bytes())
    for i in range(200, len(data) // 2, 7):  # damage the pages, keep the footer
        data[i] ^= 0xFF
    (f / "leads.parquet").write_bytes(bytes(data))
    return ["score", "-m", m, "-i", str(f / "leads.parquet"), "-o", str(f / "o.csv")]


def case_gzip_truncated(f, m, s):
    raw = gzip.compress(s.to_csv(index=False).encode())
    (f / "leads.csv.gz").write_bytes(raw[: len(raw) // 2])
    return ["score", "-m", m, "-i", str(f / "leads.csv.gz"), "-o", str(f / "o.csv")]


def case_gzip_not_gzip(f, m, s):
    (f / "leads.csv.gz").write_bytes(b"lead_id,x\n1,2\n")
    return ["score", "-m", m, "-i", str(f / "leads.csv.gz"), "-o", str(f / "o.csv")]


def case_model_missing(f, m, s):
    return _score(f, f / "no-model", s)


def case_model_not_a_bundle(f, m, s):
    (f / "fake").mkdir()
    (f / "fake" / "readme.txt").write_text("not a bundle")
    return _score(f, f / "fake", s)


def case_duplicated_feature_header(f, m, s):
    src = f / "leads.csv"
    text = s.to_csv(index=False).splitlines()
    text = [line + ",3" if i else line + ",page_views" for i, line in enumerate(text)]
    src.write_text("\n".join(text) + "\n")
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "o.csv")]


def case_duplicated_id_header(f, m, s):
    src = f / "leads.csv"
    text = s.to_csv(index=False).splitlines()
    text = [line + ",X" if i else line + ",lead_id" for i, line in enumerate(text)]
    src.write_text("\n".join(text) + "\n")
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "o.csv")]


def case_ragged_row(f, m, s):
    src = _leads(f, s)
    with open(src, "a") as fh:
        fh.write("L9,1,2,3\n")
    return ["score", "-m", m, "-i", str(src), "-o", str(f / "o.csv")]


def case_binary_garbage_csv(f, m, s):
    (f / "leads.csv").write_bytes(b"\x00\xff\xfe" * 500)
    return ["score", "-m", m, "-i", str(f / "leads.csv"), "-o", str(f / "o.csv")]


def case_header_only_missing_columns(f, m, s):
    (f / "leads.csv").write_text("lead_id,country\n")
    return ["score", "-m", m, "-i", str(f / "leads.csv"), "-o", str(f / "o.csv")]


def case_spark_with_events(f, m, s):
    return _score(f, m, s, "o.csv", "--engine", "spark", "--events", str(f / "e.csv"))


def case_spark_with_encoding(f, m, s):
    return _score(f, m, s, "o.csv", "--engine", "spark", "--encoding", "latin-1")


# --- train, recalibrate, monitor, check ------------------------------------------------


def _train(f, h, *extra, frame=None, config_extra=""):
    data = _leads(f, h, name="history.csv", frame=frame)
    return ["train", "-c", str(_config(f, data, config_extra)), "--no-track", "--out",
            str(f / "bundle"), *extra]  # fmt: skip


def case_train_target_rate_above_one(f, m, s, h):
    return _train(f, h, "--target-rate", "1.5")


def case_train_target_rate_zero(f, m, s, h):
    return _train(f, h, "--target-rate", "0")


def case_train_target_rate_text(f, m, s, h):
    return _train(f, h, "--target-rate", "high")


def case_train_capacity_text(f, m, s, h):
    return _train(f, h, "--capacity", "lots")


def case_train_capacity_zero(f, m, s, h):
    return _train(f, h, "--capacity", "0")


def case_train_capacity_bad_period(f, m, s, h):
    return _train(f, h, "--capacity", "10/fortnight")


def case_train_capacity_above_the_leads(f, m, s, h):
    return _train(f, h, "--capacity", "99999")


def case_train_capacity_per_month_above_the_leads(f, m, s, h):
    return _train(f, h, "--capacity", "99999/month")


def case_train_unknown_model(f, m, s, h):
    return _train(f, h, "--model", "xgboost")


def case_train_both_goals(f, m, s, h):
    return _train(f, h, "--target-rate", "0.2", "--capacity", "100")


def case_train_label_copy(f, m, s, h):
    frame = h.assign(page_views=h["converted"] * 3 + 1)
    return _train(f, h, frame=frame)


def case_train_mostly_numeric(f, m, s, h):
    frame = _with(h, email_clicks=([4, 1500], "n/a?"))
    return _train(f, h, frame=frame)


def case_train_mixed_time_zones(f, m, s, h):
    frame = _with(h, created_at=([10], "2024-02-01T08:00:00+01:00"))
    return _train(f, h, frame=frame)


def case_check_mixed_time_zones(f, m, s, h):
    frame = _with(h, created_at=([10], "2024-02-01T08:00:00Z"))
    data = _leads(f, h, name="history.csv", frame=frame)
    return ["check", "-c", str(_config(f, data))]


def case_config_target_rate_above_one(f, m, s, h):
    return _train(f, h, config_extra="\nchecks: {leakage_auc: 1.5}\n")


def case_recalibrate_onto_the_model(f, m, s, h):
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--out", m]


def case_recalibrate_onto_the_model_other_spelling(f, m, s, h):
    other = str(Path(m).parent / ".." / Path(m).parent.name / Path(m).name)
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--out", other]


def case_recalibrate_inside_the_model(f, m, s, h):
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--out", str(Path(m) / "new")]


def case_recalibrate_around_the_model(f, m, s, h):
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--out", str(Path(m).parent)]


def case_recalibrate_onto_an_existing_bundle(f, m, s, h):
    other = _another_bundle(f, m, "model-v2")
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--out", str(other)]


def case_recalibrate_inside_another_bundle(f, m, s, h):
    other = _another_bundle(f, m)
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--out", str(other / "v2")]


def case_report_inside_the_bundle(f, m, s, h):
    return ["report", "-m", m, "--out", str(Path(m) / "report")]


def case_report_into_a_folder_with_other_files(f, m, s, h):
    (f / "reports").mkdir()
    (f / "reports" / "notes.txt").write_text("my notes\n")
    return ["report", "-m", m, "--out", str(f / "reports")]


def case_report_onto_the_rules(f, m, s, h):
    rules = f / "rules" / "rules.yaml"
    rules.parent.mkdir()
    rules.write_text((DATA / "rules.yaml").read_text())
    return ["report", "-m", m, "--baseline", str(rules), "--out", str(rules.parent)]


def case_scorecard_inside_the_bundle(f, m, s, h):
    return ["scorecard", "-m", m, "--out", str(Path(m) / "card")]


def case_scorecard_into_a_folder_with_other_files(f, m, s, h):
    (f / "card").mkdir()
    (f / "card" / "scorecard.csv.bak").write_text("criterion\n")
    return ["scorecard", "-m", m, "--out", str(f / "card")]


def case_scorecard_csv_formulas_unknown(f, m, s, h):
    return ["scorecard", "-m", m, "--out", str(f / "card"), "--csv-formulas", "no"]


def case_recalibrate_target_rate_negative(f, m, s, h):
    return ["recalibrate", "-m", m, "-d", str(_leads(f, h)), "--target-rate", "-0.2"]


def case_monitor_five_leads(f, m, s, h):
    return ["monitor", "-m", m, "-i", str(_leads(f, s, frame=s.iloc[:5]))]


def case_monitor_header_only(f, m, s, h):
    return ["monitor", "-m", m, "-i", str(_leads(f, s, frame=s.iloc[:0]))]


SCORE_CASES = {
    case_output_is_input: r"output must not be the input; got .*leads\.csv.*Write to another file",
    case_output_is_input_dot_spelling: r"output must not be the input; got .*leads\.csv",
    case_output_is_input_parent_spelling: r"output must not be the input; got .*\.\./",
    case_output_is_input_by_symlink: r"output must not be the input; got .*alias\.csv",
    case_output_is_input_by_hard_link: r"output must not be the input; got .*hard\.csv",
    case_output_is_a_folder: r"output must be a file, not a folder; got .*scores\.csv.*Add a file",
    case_output_is_an_existing_plain_folder: r"output must be a file, not a folder",
    case_output_inside_the_bundle: r"output must not be inside the model folder.*another folder",
    case_output_folder_is_a_file: r"output's folder must be a folder; .*taken.* is a file",
    case_output_inside_another_bundle: r"output must not be inside a bundle folder; .*other",
    case_accounts_is_the_input: r"--accounts must not be the input; got .*leads\.csv",
    case_accounts_is_the_output: r"output must not be the accounts output; got .*scores\.csv",
    case_accounts_inside_the_bundle: r"--accounts must not be inside the model folder",
    case_accounts_inside_another_bundle: r"--accounts must not be inside a bundle folder",
    case_accounts_is_a_folder: r"--accounts must be a file, not a folder; got .*accounts\.csv",
    case_accounts_folder_is_a_file: r"output's folder must be a folder; .*taken.* is a file",
    case_accounts_without_columns_account: r"columns\.account must name the account .*retrain",
    case_csv_formulas_unknown: r"--csv-formulas must be one of escape, keep; got 'strip'",
    case_keep_score: r"--keep columns must not share a name .*\['score'\].*--keep-prefix input_",
    case_keep_tier_and_is_mql: r"must not share a name .*\['tier', 'is_mql'\].*input_tier",
    case_keep_probability: r"must not share a name .*\['probability'\]",
    case_keep_prefix_makes_a_collision: r"must not share a name with an output column; got \['ore",
    case_keep_missing_column: r"--keep columns must exist in the input; missing \['no_such",
    case_unique_ids_blank_id: r"id column 'lead_id' must have a value in every row .*row 41.*Fill",
    case_unique_ids_spaces_id: r"id column 'lead_id' must have a value .*first at row 4\)",
    case_unique_ids_repeated: r"id column 'lead_id' must be unique with --unique-ids; 1 rows",
    case_input_missing: r"input file must exist; got .*absent\.csv.*Check the path",
    case_input_is_a_folder: r"input must be a file; .*in\.csv.* is a folder",
    case_input_empty: r"input file must not be empty; .*leads\.csv.* has 0 bytes",
    case_input_unknown_suffix: r"file type must be CSV .*leads\.xlsx.*Rename the file",
    case_output_unknown_suffix: r"file type must be CSV .*scores\.json.*Rename",
    case_missing_feature: r"missing \['pricing_page_visits'\]\. Add them to the input",
    case_missing_id: r"missing \['lead_id'\]\. Add them",
    case_text_in_numeric: r"column 'page_views' must hold numbers; line 9 of .*leads\.csv.*'lots'",
    case_text_in_numeric_late_chunk: r"column 'email_opens' must hold numbers; line 252 .*'7x'",
    case_bad_yes_no: r"column 'demo_requested' must hold yes/no.*'perhaps'",
    case_latin1_without_encoding: r"must be encoded as utf-8; line 4 .*--encoding latin-1",
    case_bad_encoding_flag: r"--encoding must be a text encoding .*klingon-8",
    case_two_character_delimiter: r"--delimiter must be one character.*';;'",
    case_empty_delimiter: r"--delimiter must be one character.*''",
    case_chunk_size_zero: r"--chunk-size must be a positive number .*got 0",
    case_chunk_size_negative: r"--chunk-size .*got -5",
    case_unknown_engine: r"--engine must be one of local, spark; got 'gpu'",
    case_as_of_not_a_date: r"--as-of must be 'now' or a date",
    case_parquet_garbage: r"leads\.parquet.* must be a Parquet file; .*Export it again",
    case_parquet_truncated: r"must be a Parquet file; .*Export it again",
    case_parquet_corrupt_page: r"leads\.parquet.*(readable, uncorrupted|must hold|must be)",
    case_gzip_truncated: r"leads\.csv\.gz.* must be a readable, uncorrupted table.*Export",
    case_gzip_not_gzip: r"leads\.csv\.gz.* must be a readable, uncorrupted table",
    case_model_missing: r"no-model",
    case_model_not_a_bundle: r"must be a bundle folder",
    case_duplicated_feature_header: r"header names the model uses must appear once; \['page_v",
    case_duplicated_id_header: r"must appear once; \['lead_id'\].*Rename or drop",
    case_ragged_row: r"leads\.csv.* must be a readable, uncorrupted table; .*columns",
    case_binary_garbage_csv: r"leads\.csv",
    case_header_only_missing_columns: r"must have every column the model was trained on; missing",
    case_spark_with_events: r"--events works with --engine local only",
    case_spark_with_encoding: r"--encoding and --delimiter work with --engine local only",
}

OTHER_CASES = {
    case_train_target_rate_above_one: r"--target-rate must be a rate .*'1\.5'",
    case_train_target_rate_zero: r"--target-rate must be a rate .*got '0'",
    case_train_target_rate_text: r"--target-rate must be a rate .*'high'",
    case_train_capacity_text: r"--capacity must be a positive .*'lots'",
    case_train_capacity_zero: r"--capacity must be a positive",
    case_train_capacity_bad_period: r"--capacity.*'10/fortnight'",
    case_train_capacity_above_the_leads: r"capacity must be fewer MQLs than the 400 leads .*99,999",
    case_train_capacity_per_month_above_the_leads: r"capacity must be fewer MQLs than the leads "
    r"that arrive; got 99,999/month",
    case_train_unknown_model: r"--model must be one of auto, lightgbm, logistic",
    case_train_both_goals: r"give --target-rate or --capacity, not both",
    case_train_label_copy: r"feature 'page_views' must not predict the outcome almost perfectly.*"
    r"checks\.allow_strong_features",
    case_train_mostly_numeric: r"column 'email_clicks' must be numbers or categories.*rows \[5, "
    r"1501\].*features\.categorical",
    case_train_mixed_time_zones: r"time column 'created_at' must hold dates all with a time zone "
    r"or all without.*row 11.*UTC",
    case_check_mixed_time_zones: r"time column 'created_at' must hold dates all with a time zone",
    case_config_target_rate_above_one: r"key 'checks\.leakage_auc'.*1\.5",
    case_recalibrate_onto_the_model: r"--out must not hold the model; got .*write to a new folder",
    case_recalibrate_onto_the_model_other_spelling: r"--out must not hold the model",
    case_recalibrate_inside_the_model: r"--out must not be inside the model folder",
    case_recalibrate_around_the_model: r"--out must not hold the model; got .*, which holds",
    case_recalibrate_onto_an_existing_bundle: r"--out must not exist yet; .*model-v2.* exists\. "
    r"Pass --force to replace it",
    case_recalibrate_inside_another_bundle: r"--out must not be inside a bundle folder; .*other",
    case_report_inside_the_bundle: r"--out must not be inside the model folder",
    case_report_into_a_folder_with_other_files: r"--out must be new or a previous report; .*"
    r"holds 1 other entries \(e\.g\. 'notes\.txt'\)",
    case_report_onto_the_rules: r"--out must not hold the rules file; .*rules\.yaml",
    case_scorecard_inside_the_bundle: r"--out must not be inside the model folder",
    case_scorecard_into_a_folder_with_other_files: r"--out must be new or a previous scorecard; "
    r".*'scorecard\.csv\.bak'",
    case_scorecard_csv_formulas_unknown: r"--csv-formulas must be one of escape, keep; got 'no'",
    case_recalibrate_target_rate_negative: r"--target-rate.*-0\.2",
    case_monitor_five_leads: r"leads must number at least 200 to judge drift; got 5",
    case_monitor_header_only: r"leads must number at least 200 to judge drift; got 0",
}


@pytest.fixture(scope="module")
def model(trained):
    return str(trained.path)


def _run_and_check(tmp_path, model, args, pattern):
    work = tmp_path
    before = _snapshot(work)
    model_before = _snapshot(Path(model))
    result = runner.invoke(app, [str(a) for a in args])
    text = _flat(result.output)
    assert result.exit_code == 2, text
    assert re.search(pattern, text), text
    assert "Traceback" not in text and "pydantic.dev" not in text and "http" not in text
    after = _snapshot(work)
    assert after == before, "a file was written or changed"
    assert _snapshot(Path(model)) == model_before, "the bundle changed"


@pytest.mark.parametrize("case", list(SCORE_CASES), ids=lambda c: c.__name__[5:])
def test_score_refuses_bad_input(case, tmp_path, model, small):
    args = case(tmp_path, model, small)
    _run_and_check(tmp_path, model, args, SCORE_CASES[case])


@pytest.mark.parametrize("case", list(OTHER_CASES), ids=lambda c: c.__name__[5:])
def test_other_commands_refuse_bad_input(case, tmp_path, model, small, history):
    args = case(tmp_path, model, small, history)
    _run_and_check(tmp_path, model, args, OTHER_CASES[case])


def test_the_suite_counts_at_least_sixty_cases():
    assert len(SCORE_CASES) + len(OTHER_CASES) >= 60


# --- library calls: the error type and message ----------------------------------------


def test_destination_may_not_be_the_activity_log(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text("lead_id,event\n")
    with pytest.raises(DataError, match=r"output must not be the activity log; got .*events"):
        check_destination(tmp_path / "." / "events.csv", {"activity log": log})
    assert log.read_text() == "lead_id,event\n"


def test_score_file_refuses_a_keep_collision_before_reading(tmp_path, trained, small):
    src = _leads(tmp_path, small, frame=small.assign(tier="hot"))
    with pytest.raises(DataError, match=r"must not share a name .*\['tier'\].*--keep-prefix"):
        score_file(trained.bundle, src, tmp_path / "o.csv", keep=["tier"])
    out = score_file(trained.bundle, src, tmp_path / "o.csv", keep=["tier"], keep_prefix="in_")
    written = pd.read_csv(tmp_path / "o.csv", keep_default_na=False)
    assert written["in_tier"].eq("hot").all() and set(written["tier"]) <= set("ABCD")
    assert out.rows == len(small)


def test_missing_ids_are_counted_and_named_without_unique_ids(tmp_path, trained, small):
    frame = _with(small, lead_id=([3, 8], ""))
    src = _leads(tmp_path, small, frame=frame)
    summary = score_file(trained.bundle, src, tmp_path / "o.csv")
    assert summary.missing_ids == 2 and summary.duplicated_ids == 0
    assert summary.warnings[0] == "2 rows have no id in id column 'lead_id' (written empty)"


def test_missing_value_tokens_are_ids(tmp_path, trained, small):
    ids = ["NA", "None", "null", "NULL", "nan", "N/A", " 007", "007"]
    frame = small.iloc[: len(ids)].assign(lead_id=ids)
    src = _leads(tmp_path, small, frame=frame)
    summary = score_file(trained.bundle, src, tmp_path / "o.parquet", unique_ids=True)
    assert pd.read_parquet(tmp_path / "o.parquet")["lead_id"].tolist() == ids
    assert summary.missing_ids == 0 and summary.duplicated_ids == 0


def test_late_non_empty_kept_and_id_columns_do_not_crash(tmp_path, trained, small):
    frame = small.assign(note=[""] * 200 + ["late text"] * 100)
    frame["lead_id"] = frame["lead_id"].astype(object)
    frame.loc[:99, "lead_id"] = ""
    src = _leads(tmp_path, small, frame=frame)
    for out in ("o.csv", "o.parquet"):
        summary = score_file(trained.bundle, src, tmp_path / out, chunk_size=50, keep=["note"])
        assert summary.rows == 300 and summary.missing_ids == 100
    got = pd.read_parquet(tmp_path / "o.parquet")
    assert got["note"].tolist() == frame["note"].tolist()


def test_parquet_late_non_empty_kept_column(tmp_path, trained, small):
    frame = small.assign(note=[None] * 200 + ["late"] * 100)
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=50)
    score_file(trained.bundle, tmp_path / "in.parquet", tmp_path / "o.csv", chunk_size=50,
               keep=["note"])  # fmt: skip
    got = pd.read_csv(tmp_path / "o.csv")
    assert got["note"].isna().sum() == 200 and (got["note"].iloc[200:] == "late").all()


def test_oddities_are_counted_in_the_summary(tmp_path, trained, small):
    frame = _with(small, country=([1, 2, 3], "Atlantis"), page_views=([4], "inf"))
    frame["email_clicks"] = ""
    src = tmp_path / "leads.csv"
    text = frame.to_csv(index=False).splitlines()
    src.write_text("\n".join(line + (",x" if i else ",extra") for i, line in enumerate(text)))
    text = src.read_text().splitlines()
    src.write_text("\n".join(line + (",y" if i else ",extra") for i, line in enumerate(text)))
    summary = score_file(trained.bundle, src, tmp_path / "o.csv")
    assert summary.unseen_categories["country"] >= 3
    assert summary.non_finite == {"page_views": 1}
    assert summary.empty_features == ["email_clicks"]
    assert summary.duplicated_columns == ["extra"]
    payload = summary.to_dict()
    assert payload["non_finite"] == {"page_views": 1}
    assert any("'email_clicks'" in w for w in payload["warnings"])
    result = runner.invoke(
        app, ["score", "-m", str(trained.path), "-i", str(src), "-o", str(tmp_path / "p.csv")]
    )
    text = _flat(result.output)
    assert result.exit_code == 0, text
    assert "infinite number" in text and "'extra'" in text and "Atlantis" not in text


def test_unseen_categories_count_only_values_the_model_lacks(tmp_path, trained, small):
    summary = score_file(trained.bundle, _leads(tmp_path, small), tmp_path / "o.csv")
    known = trained.bundle.model.categories_
    for column, n in summary.unseen_categories.items():
        values = small[column].dropna().astype(str)
        assert n == int((~values.isin([str(v) for v in known[column]])).sum())


def test_encoding_delimiter_and_gzip_from_the_cli(tmp_path, trained, small):
    frame = _with(small, country=([2], "São Tomé"))
    src = tmp_path / "leads.csv.gz"
    with gzip.open(src, "wt", encoding="latin-1") as fh:
        frame.to_csv(fh, index=False, sep=";")
    out = tmp_path / "o.csv.gz"
    args = ["score", "-m", str(trained.path), "-i", str(src), "-o", str(out)]
    result = runner.invoke(app, [*args, "--encoding", "latin-1", "--delimiter", ";", "--json"])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    assert got["lead_id"].tolist() == small["lead_id"].tolist()
    plain = score_file(trained.bundle, _leads(tmp_path, small, frame=frame), tmp_path / "p.csv")
    assert plain.rows == len(got)
    np.testing.assert_allclose(got["probability"], pd.read_csv(tmp_path / "p.csv")["probability"])


def test_train_allows_a_strong_feature_when_told(tmp_path, history):
    from mqlml.config._config import load_config
    from mqlml.leads._checks import check_before_training

    data = _leads(tmp_path, history, name="h.csv")
    cfg = load_config(_config(tmp_path, data))
    y = history["converted"].to_numpy()
    X = pd.DataFrame({"copy": y.astype(float), "noise": np.arange(len(y)) % 7})
    with pytest.raises(DataError, match=r"feature 'copy' must not predict the outcome"):
        check_before_training(cfg, X, y)
    allowed = cfg.with_overrides(checks={"allow_strong_features": ["copy"]})
    check_before_training(allowed, X, y)  # no error


def test_capacity_check_counts_the_calibration_part(tmp_path, history):
    from mqlml.config._config import load_config
    from mqlml.leads._checks import check_before_training

    cfg = load_config(_config(tmp_path, _leads(tmp_path, history, name="h.csv")))
    y = history["converted"].to_numpy()
    X = pd.DataFrame({"noise": np.arange(len(y)) % 7})

    def goal(capacity):
        return cfg.with_overrides(threshold={"capacity": capacity, "target_rate": None})

    check_before_training(goal(399), X, y)
    with pytest.raises(InsufficientDataError, match=r"fewer MQLs than the 400 leads"):
        check_before_training(goal(400), X, y)


def test_missing_column_error_type(tmp_path, trained, small):
    src = _leads(tmp_path, small, frame=small.drop(columns="country"))
    with pytest.raises(MissingColumnError, match=r"missing \['country'\]"):
        score_file(trained.bundle, src, tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


def test_score_output_to_a_new_nested_folder_works(tmp_path, trained, small):
    out = tmp_path / "a" / "b" / "scores.csv"
    score_file(trained.bundle, _leads(tmp_path, small), out)
    assert len(pd.read_csv(out)) == len(small)
    shutil.rmtree(tmp_path / "a")


def test_ids_that_look_missing_are_kept_at_training_and_monitoring(tmp_path, history):
    from mqlml.config._config import load_config
    from mqlml.io._readers import read_table
    from mqlml.leads._read import read_leads

    frame = _with(history, lead_id=([0, 1, 2], "NA"))
    frame.loc[1, "lead_id"], frame.loc[2, "lead_id"] = "null", "None"
    cfg = load_config(_config(tmp_path, _leads(tmp_path, history, name="h.csv", frame=frame)))
    read = read_leads(cfg)
    assert read["lead_id"].iloc[:3].tolist() == ["NA", "null", "None"]
    assert read["lead_id"].notna().all()
    assert read["job_title"].isna().sum() == frame["job_title"].isna().sum()
    plain = read_table(tmp_path / "h.csv", missing_tokens=["NA"], text_columns=["absent"])
    assert plain["lead_id"].isna().sum() == 1
