"""A scheduler-like shell script runs the whole job and branches on exit codes only.

check -> train -> score -> monitor -> recalibrate on small synthetic leads, each step a
fresh ``python -m mqlml`` process, as cron or Airflow would run them. The script prints
the branch it took; the test asserts each one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from mqlml.leads._synthetic import make_leads

from .conftest import ROOT

pytestmark = pytest.mark.slow  # seven fresh processes and a training: about half a minute

SCRIPT = r"""
set -u
mqlml() { "$PY" -m mqlml "$@"; }

mqlml check -c project.yaml --json > check.json
case $? in
  0) echo "branch: check ok" ;;
  1) echo "branch: check found errors"; exit 10 ;;
  *) echo "branch: check failed"; exit 11 ;;
esac

mqlml train -c project.yaml --no-track --out model > train.txt 2> train.log \
  && echo "branch: trained" || { echo "branch: train failed"; exit 12; }

mqlml score -m model -i week.csv -o scores.csv --no-reasons 2> score.log \
  && echo "branch: scored" || { echo "branch: score failed"; exit 13; }

mqlml monitor -m model -i week.csv --outcomes outcomes.csv --json > monitor.json
case $? in
  0) echo "branch: monitor fine" ;;
  1) echo "branch: monitor watch" ;;
  3) echo "branch: monitor recalibrate"
     mqlml recalibrate -m model --data labelled.csv --out model-v2 --json > recalibrate.json
     case $? in
       0) echo "branch: recalibrated, deploy model-v2" ;;
       1) echo "branch: recalibration not better, keep model" ;;
       *) echo "branch: recalibrate failed"; exit 14 ;;
     esac ;;
  4) echo "branch: monitor retrain" ;;
  *) echo "branch: monitor failed"; exit 15 ;;
esac

mqlml monitor -m model -i no-such-file.csv 2> missing.log
case $? in
  2) echo "branch: input error seen" ;;
  *) echo "branch: input error missed"; exit 16 ;;
esac
echo "branch: done"
"""

CONFIG = """
data: {path: leads.csv}
columns: {id: lead_id, time: created_at, label: converted}
features: {fit: infer, engagement: infer}
threshold: {target_rate: 0.25}
model: {refit: false}
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_scheduler_script_branches_on_exit_codes(tmp_path):
    make_leads(6_000, seed=51).to_csv(tmp_path / "leads.csv", index=False)
    # a later week: the base rate tripled, so the probabilities are off, the ranking holds
    week = make_leads(4_000, seed=52, start="2026-01-01", days=90, base_rate_scale=3.0)
    week.drop(columns="converted").to_csv(tmp_path / "week.csv", index=False)
    week[["lead_id", "converted"]].to_csv(tmp_path / "outcomes.csv", index=False)
    week.to_csv(tmp_path / "labelled.csv", index=False)
    (tmp_path / "project.yaml").write_text(CONFIG)
    env = {
        **os.environ,
        "PY": sys.executable,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "MLFLOW_TRACKING_URI": f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}",
    }
    done = subprocess.run(
        ["bash", "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    branches = [line for line in done.stdout.splitlines() if line.startswith("branch: ")]
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert branches == [
        "branch: check ok",
        "branch: trained",
        "branch: scored",
        "branch: monitor recalibrate",
        "branch: recalibrated, deploy model-v2",
        "branch: input error seen",
        "branch: done",
    ], (done.stdout, done.stderr)
    # the evidence behind the branches, from stdout alone
    assert json.loads((tmp_path / "check.json").read_text())["ok"]
    monitor = json.loads((tmp_path / "monitor.json").read_text())
    assert monitor["recommendation"] == "recalibrate" and monitor["exit_code"] == 3
    assert monitor["level"] == "alert" and monitor["outcomes"]["rate"] == "off"
    summary = json.loads((tmp_path / "recalibrate.json").read_text())
    assert summary["written"] and summary["after"]["log_loss"] < summary["before"]["log_loss"]
    assert (tmp_path / "model-v2" / "manifest.json").is_file()
    # progress went to stderr, one line per training stage (not a terminal)
    assert "bundle saved to model" in (tmp_path / "train.txt").read_text()
    train_log = (tmp_path / "train.log").read_text()
    assert "] fitting the model on the train part (" in train_log
    assert "] saving the bundle" in train_log
    assert "rows scored (100%)" in (tmp_path / "score.log").read_text()
    assert (tmp_path / "missing.log").read_text().startswith("error: ")
