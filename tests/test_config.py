from pathlib import Path

import pytest

from mqlml.config._config import ProjectConfig, load_config
from mqlml.errors import ConfigError

MINIMAL = "data: {path: leads.csv}\ncolumns: {id: lead_id, label: converted}\n"


def test_minimal_config_gets_defaults_and_resolves_paths(write_config, tmp_path):
    cfg = load_config(write_config(MINIMAL))
    assert cfg.data.path == tmp_path / "leads.csv"
    assert cfg.split.train == 0.6 and cfg.split.calibrate == 0.2 and cfg.split.test == 0.2
    assert cfg.model.kind == "auto"
    assert cfg.threshold.target_rate == 0.25
    assert cfg.checks.min_leads_error == 200 and cfg.checks.min_conversions_error == 30
    assert cfg.source == (tmp_path / "mqlml.yaml").resolve()


def test_environment_variables_expand_in_paths(write_config, monkeypatch, tmp_path):
    text = "data: {path: '${LEADS_HOME:-fallback}/x.csv'}\ncolumns: {label: y}\n"
    monkeypatch.delenv("LEADS_HOME", raising=False)
    assert load_config(write_config(text)).data.path == tmp_path / "fallback" / "x.csv"
    monkeypatch.setenv("LEADS_HOME", "/srv/leads")
    assert load_config(write_config(text)).data.path == Path("/srv/leads/x.csv")


def test_unset_variable_without_default_is_an_error(write_config, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    text = "data: {path: '${NO_SUCH_VAR}/x.csv'}\ncolumns: {label: y}\n"
    with pytest.raises(ConfigError, match="NO_SUCH_VAR must be set"):
        load_config(write_config(text))


def test_exclusions_as_mapping_or_list(write_config):
    text = MINIMAL + "exclude: {Tags: written by sales}\n"
    cfg = load_config(write_config(text))
    assert cfg.excluded_columns == ["Tags"]
    assert cfg.exclude[0].reason == "written by sales"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (MINIMAL + "modle: {kind: logistic}\n", r"key 'modle' is not a known setting"),
        (MINIMAL + "model: {kind: forest}\n", r"key 'model.kind'.*'forest'"),
        (MINIMAL + "split: {train: 0.7, calibrate: 0.2, test: 0.2}\n", r"must sum to 1"),
        (MINIMAL + "threshold: {target_rate: 1.5}\n", r"key 'threshold.target_rate'"),
        ("data: {path: leads.csv}\ncolumns: {id: lead_id}\n", r"key 'columns.label' is required"),
        ("columns: {label: y}\n", r"key 'data' is required"),
        (MINIMAL + "split: {train: sixty}\n", r"key 'split.train'.*'sixty'"),
        (MINIMAL + "exclude: [{column: Tags}]\n", r"key 'exclude.0.reason' is required"),
        (MINIMAL + "threshold: {target_rate: 0.2, capacity: 500/month}\n", r"not both"),
        ("data: {path: leads.csv}\ncolumns: {id: a, label: b, extra: c}\n", r"key 'columns.extra'"),
    ],
)
def test_bad_configs_name_the_key_and_the_file(write_config, text, match):
    path = write_config(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_empty_and_non_yaml_files(write_config, tmp_path):
    with pytest.raises(ConfigError, match="config file must exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(write_config(""))
    with pytest.raises(ConfigError, match="must be valid YAML"):
        load_config(write_config("data: [unclosed\n"))


def test_config_error_is_also_value_error(write_config):
    with pytest.raises(ValueError):
        load_config(write_config(MINIMAL + "bogus: 1\n"))


def test_with_overrides_validates_again():
    cfg = ProjectConfig(data={"path": "x.csv"}, columns={"label": "y"})
    assert cfg.with_overrides(threshold={"target_rate": 0.3}).threshold.target_rate == 0.3
    with pytest.raises(ValueError, match="target_rate"):
        cfg.with_overrides(threshold={"target_rate": 3})


@pytest.mark.parametrize("name", ["mqlml.yaml", "xeducation.yaml", "bank.yaml"])
def test_shipped_configs_load(name):
    cfg = load_config(Path(__file__).resolve().parents[1] / "data" / name)
    assert cfg.columns.label
    if name != "mqlml.yaml":  # real data: leaky columns excluded with a reason
        assert cfg.exclude and all(e.reason for e in cfg.exclude)


def test_a_key_written_twice_a_huge_or_a_too_deep_config_is_refused(tmp_path):
    from mqlml.config._config import load_config
    from mqlml.errors import ConfigError

    twice = tmp_path / "twice.yaml"
    twice.write_text(
        "data: {path: leads.csv}\ncolumns: {id: id, label: y}\n"
        "model: {kind: lightgbm}\nmodel: {kind: logistic}\n"
    )
    with pytest.raises(ConfigError, match=r"each key once per mapping; got key 'model' a second "
                       r"time at line 4"):  # fmt: skip
        load_config(twice)
    deep = tmp_path / "deep.yaml"
    deep.write_text("data: {path: leads.csv}\ncolumns: {id: id, label: y}\nx: " + "[" * 3000)
    with pytest.raises(ConfigError, match=r"deep.yaml must be (plain|valid) YAML"):
        load_config(deep)
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(3 << 30)  # sparse
    with pytest.raises(ConfigError, match=r"must be at most 16,777,216 bytes; got 3,221,225,472"):
        load_config(huge)
