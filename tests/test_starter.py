"""`mqlml init`: a starter config from a lead table, on which check and train run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.config._config import load_config
from mqlml.errors import ConfigError
from mqlml.leads._starter import starter_config
from mqlml.leads._synthetic import example_file, make_leads

runner = CliRunner()


def test_sample_roles_groups_and_reasons(tmp_path):
    proposal = starter_config(example_file("sample_leads.csv"))
    assert (proposal.id, proposal.time, proposal.label) == ("lead_id", "created_at", "converted")
    shipped = load_config(example_file("mqlml.yaml")).features
    assert sorted(proposal.fit) == sorted(shipped.fit)
    assert sorted(proposal.engagement) == sorted(shipped.engagement)
    text = proposal.to_yaml(tmp_path / "mqlml.yaml")
    assert "id: lead_id  # the lead id: unique in every row" in text
    assert "- pricing_page_visits  # numeric, 'page' in its name" in text
    assert "method: auto  # by creation time" in text
    raw = yaml.safe_load(text)
    assert raw["columns"] == {"id": "lead_id", "time": "created_at", "label": "converted"}


def test_leaks_ids_dates_and_constants_are_excluded_with_reasons(tmp_path):
    leads = make_leads(3_000, seed=5, leaky=True)
    leads["crm_key"] = [f"K{i:06d}" for i in range(len(leads))]
    leads["Lead Status"] = "open"
    leads.loc[leads.index[::3], "Lead Status"] = "called"
    leads["constant"] = "x"
    leads["last_contacted_on"] = leads["created_at"] + pd.Timedelta(days=3)
    path = tmp_path / "leads.csv"
    leads.to_csv(path, index=False)
    proposal = starter_config(path)
    excluded = proposal.exclude
    leaky = [
        c
        for c in leads.columns
        if c not in pd.read_csv(example_file("sample_leads.csv"), nrows=1).columns
    ]
    assert "crm_key" in excluded and "identifier" in excluded["crm_key"]
    assert "Status" in excluded["Lead Status"] and "after contact" in excluded["Lead Status"]
    assert "single value" in excluded["constant"]
    assert "a date" in excluded["last_contacted_on"]
    leak = [
        c for c in leaky if c not in {"crm_key", "Lead Status", "constant", "last_contacted_on"}
    ]
    assert leak, leaky
    for name in leak:
        assert excluded[name].startswith("leak suspect"), (name, excluded.get(name))
    cfg_path = tmp_path / "init.yaml"
    cfg_path.write_text(proposal.to_yaml(cfg_path))
    cfg = load_config(cfg_path)
    assert cfg.data.path == path
    assert set(cfg.excluded_columns) == set(excluded)


def test_no_outcome_column_asks_for_label(tmp_path):
    path = tmp_path / "leads.csv"
    pd.DataFrame({"lead": ["a", "b", "c"], "visits": [1, 2, 3]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"the outcome column must be found.*--label COLUMN"):
        starter_config(path)
    with pytest.raises(ConfigError, match=r"--label must name a column of the data; got 'won'"):
        starter_config(path, label="won")


def test_init_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mqlml.yaml").write_text("keep: me\n")
    result = runner.invoke(app, ["init", "--data", str(example_file("sample_leads.csv"))])
    assert result.exit_code == 2 and "--force" in result.output
    assert (tmp_path / "mqlml.yaml").read_text() == "keep: me\n"


def _init_check_train(tmp_path, data, *extra):
    config = tmp_path / "init.yaml"
    made = runner.invoke(app, ["init", "--data", str(data), "--out", str(config), *extra])
    assert made.exit_code == 0, made.output
    assert load_config(config).data.path.resolve() == data.resolve()
    checked = runner.invoke(app, ["check", "--config", str(config), "--json"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["ok"]
    trained = runner.invoke(
        app,
        ["train", "--config", str(config), "--no-track", "--json", "--out", str(tmp_path / "m")],
    )
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert (tmp_path / "m" / "manifest.json").is_file()
    return load_config(config), report, summary


@pytest.mark.slow
def test_init_then_check_and_train_on_the_sample(tmp_path):
    _cfg, report, summary = _init_check_train(tmp_path, example_file("sample_leads.csv"))
    assert report["profile"]["rows"] == 20_000
    assert summary["roc_auc"] > 0.85


@pytest.mark.slow
@pytest.mark.realdata
def test_init_then_check_and_train_on_x_education(tmp_path, real_data):
    data = real_data / "xeducation" / "Leads.csv"
    cfg, _report, summary = _init_check_train(tmp_path, data)
    assert cfg.columns.label == "Converted"
    assert "Tags" in cfg.excluded_columns  # sales' tags: a leak the check finds
    assert "Select" in cfg.missing_tokens
    assert summary["roc_auc"] > 0.8


@pytest.mark.slow
@pytest.mark.realdata
def test_init_then_check_and_train_on_bank(tmp_path, real_data):
    data = real_data / "bank_marketing" / "bank-additional-full.csv"
    cfg, _report, summary = _init_check_train(tmp_path, data)
    assert cfg.columns.label == "y" and cfg.columns.id is None
    assert "campaign" in cfg.features.engagement and "job" in cfg.features.fit
    assert summary["roc_auc"] > 0.7


def test_columns_written_after_the_outcome_are_excluded_with_reasons(tmp_path):
    """A sales note filled in for the leads sales worked, a partner's score and the last
    touch as of the extract: none is strong alone, each is excluded with why."""
    leads = make_leads(4_000, seed=6)
    rng = np.random.default_rng(6)
    worked = rng.random(len(leads)) < np.where(leads["converted"] == 1, 0.8, 0.2)
    leads["Sales Note"] = np.where(worked, rng.choice(["call back", "pricing"], len(leads)), None)
    leads["Partner Score"] = rng.integers(0, 100, len(leads))
    leads["Last Touch"] = rng.choice(["Email Opened", "Call", "Chat"], len(leads))
    path = tmp_path / "leads.csv"
    leads.to_csv(path, index=False)
    proposal = starter_config(path)
    excluded = proposal.exclude
    assert excluded["Sales Note"].startswith("leak suspect: filled in for ")
    assert "probably filled in by sales after contact" in excluded["Sales Note"]
    assert excluded["Partner Score"] == (
        "leak suspect: 'Score' in its name, typical of a score or rating kept up to date "
        "after sales' contact"
    )
    assert excluded["Last Touch"].startswith("leak suspect: 'Last' in its name: the lead's latest")
    # the honest columns keep their roles
    shipped = load_config(example_file("mqlml.yaml")).features
    assert sorted(proposal.fit) == sorted(shipped.fit)
    assert sorted(proposal.engagement) == sorted(shipped.engagement)
    text = proposal.to_yaml(tmp_path / "init.yaml")
    assert "  - column: Last Touch\n    reason: \"leak suspect: 'Last' in its name" in text


@pytest.mark.realdata
def test_init_excludes_what_the_shipped_x_education_config_excludes_as_leaky(real_data):
    """Generic rules find what the shipped config excludes from domain knowledge: every
    column it calls leaky or suspect, each with a reason."""
    shipped = load_config(example_file("xeducation.yaml"))
    known = {e.column for e in shipped.exclude if "leaky" in e.reason or "suspect" in e.reason}
    assert len(known) == 9
    proposal = starter_config(real_data / "xeducation" / "Leads.csv")
    assert known <= set(proposal.exclude), sorted(known - set(proposal.exclude))
    for name in known:
        assert proposal.exclude[name].startswith("leak suspect"), (name, proposal.exclude[name])
    assert not known & {*proposal.fit, *proposal.engagement}
