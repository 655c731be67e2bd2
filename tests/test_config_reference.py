"""The config reference is complete and current; shorthands and unknown keys read well."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mqlml.config._config import ProjectConfig, load_config, valid_keys
from mqlml.config._reference import _section, json_schema, markdown
from mqlml.config._sections import ColumnsConfig
from mqlml.errors import ConfigError

from .conftest import DATA, ROOT

DOCS = ROOT / "docs"
MINIMAL = "data: {path: leads.csv}\ncolumns: {id: lead_id, label: converted}\n"


def _every_key() -> list[tuple[str, object]]:
    keys = []
    for name in valid_keys(ProjectConfig):
        field = ProjectConfig.model_fields[name]
        keys.append((name, field))
        section = _section(field.annotation)
        if section is not None:
            sep = "[]." if name == "exclude" else "."
            keys += [(f"{name}{sep}{k}", section.model_fields[k]) for k in valid_keys(section)]
    return keys


def test_committed_reference_is_current():
    # Regenerate with `make docs` when this fails.
    assert (DOCS / "config.md").read_text(encoding="utf-8") == markdown(), "run `make docs`"
    committed = json.loads((DOCS / "config.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "run `make docs`"


def test_every_key_has_a_meaning_and_a_row():
    page = markdown()
    keys = _every_key()
    assert len(keys) > 80
    for key, field in keys:
        assert field.description, f"{key} has no description"
        assert f"| `{key}` |" in page, key
    assert "| `data.path` | path | required |" in page
    assert "| `split.train` | number (> 0, < 1) | `0.6` |" in page
    assert '| `model.kind` | `auto` \\| `lightgbm` \\| `logistic` | `"auto"` |' in page
    assert "`source`" not in page  # set by the loader, refused in a file


@pytest.mark.parametrize("name", ["mqlml.yaml", "xeducation.yaml", "bank.yaml"])
def test_shipped_configs_match_the_json_schema(name):
    raw = yaml.safe_load((DATA / name).read_text())
    jsonschema.validate(raw, json_schema())


def test_json_schema_refuses_what_the_loader_refuses():
    schema = json_schema()
    base = yaml.safe_load(MINIMAL)
    jsonschema.validate({**base, "features": "infer", "exclude": {"Tags": "sales"}}, schema)
    for bad in ({**base, "modle": {}}, {**base, "model": {"kind": "forest"}}, {"data": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_features_infer_is_shorthand_for_both_groups(write_config):
    cfg = load_config(write_config(MINIMAL + "features: infer\n"))
    assert cfg.features.fit == "infer" and cfg.features.engagement == "infer"
    with pytest.raises(ConfigError, match=r"key 'features'"):
        load_config(write_config(MINIMAL + "features: everything\n"))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "data: {path: leads.csv}\ncolumns: {label: converted, positive: [won]}\n",
            r"key 'columns.positive' is not a known setting; did you mean "
            r"'columns.positive_labels'\? the keys of 'columns' are id, label, time, "
            r"converted_at, account, account_label, positive_labels",
        ),
        (MINIMAL + "modle: {kind: logistic}\n", r"did you mean 'model'\? the top-level keys are"),
        (MINIMAL + "exclude: [{column: a, reasn: b}]\n", r"did you mean 'exclude.0.reason'\?"),
        (
            MINIMAL + "threshold: {zzz: 1}\n",
            r"key 'threshold.zzz' is not a known setting; remove it or check its spelling; "
            r"the keys of 'threshold' are target_rate, confidence, capacity",
        ),
    ],
)
def test_unknown_keys_name_the_closest_and_list_the_valid(write_config, text, match):
    path = write_config(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_valid_keys_are_the_models_fields():
    assert valid_keys(ColumnsConfig) == list(ColumnsConfig.model_fields)
    assert "source" not in valid_keys(ProjectConfig)


def test_a_config_through_a_link_resolves_paths_from_the_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "p.yaml").write_text("data: {path: leads.csv}\ncolumns: {label: y}\n")
    (tmp_path / "here").symlink_to(real)
    cfg = load_config(tmp_path / "here" / "p.yaml")
    assert cfg.data.path == tmp_path / "here" / "leads.csv"


def test_capacity_per_period_without_time_fails_before_reading(tmp_path):
    from mqlml.model._train import train

    cfg = ProjectConfig(data={"path": str(tmp_path / "absent.csv")}, columns={"label": "y"})
    with pytest.raises(
        ConfigError,
        match=r"threshold.capacity '100/month' \(--capacity\).*"
        r"columns.time must name",
    ):
        train(cfg, capacity="100/month")
    assert not Path(tmp_path / "absent.csv").exists()
