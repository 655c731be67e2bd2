"""Other inputs that lie: a feature in two groups, a config that is not UTF-8. Each is
refused with one line naming the key or byte and the fix, and nothing is written."""

from __future__ import annotations

import pytest

from mqlml.config import ProjectConfig, load_config
from mqlml.errors import ConfigError
from tests.test_dates import _run

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
