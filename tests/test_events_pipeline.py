"""Training and scoring from an activity log (config data.events) end to end."""

import numpy as np
import pandas as pd
import pytest

from mqlml.config._config import load_config
from mqlml.errors import MissingColumnError
from mqlml.leads._checks import check_leads
from mqlml.leads._events import feature_names
from mqlml.leads._synthetic import FIT_COLUMNS, make_leads
from mqlml.model._prepare import holdout
from mqlml.model._train import train
from mqlml.scoring._file import score_file
from mqlml.scoring._scorer import score_frame


@pytest.fixture(scope="module")
def log_project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events")
    leads, events = make_leads(30_000, seed=8, events=True)
    # The leads table as a CRM exports it: who the lead is, when it arrived and converted;
    # what the lead did is only in the activity log.
    leads[["lead_id", "created_at", *FIT_COLUMNS, "converted", "converted_at"]].to_parquet(
        folder / "leads.parquet"
    )
    events.to_parquet(folder / "events.parquet")
    (folder / "mqlml.yaml").write_text(
        "data: {path: leads.parquet, events: events.parquet}\n"
        "columns: {id: lead_id, time: created_at, label: converted, converted_at: converted_at}\n"
        f"features: {{fit: {FIT_COLUMNS}, engagement: infer}}\n"
        "events: {snapshot_days: [14]}\n"
    )
    return folder, leads, events


def test_model_from_the_log_matches_the_aggregate_columns(log_project, sample_config):
    folder, leads, _ = log_project
    from_log = train(load_config(folder / "mqlml.yaml"))
    from_columns = train(sample_config, frame=leads.drop(columns="converted_at"))
    names = feature_names(from_log.bundle.metadata["event_types"], (7, 30, 90))
    assert set(names) <= set(from_log.bundle.schema.engagement)
    assert abs(from_log.metrics["roc_auc"] - from_columns.metrics["roc_auc"]) <= 0.02


def test_scoring_and_holdout_use_the_log(log_project, tmp_path):
    folder, leads, events = log_project
    config = load_config(folder / "mqlml.yaml")
    result = train(config)
    sample = leads.iloc[:500][["lead_id", "created_at", *FIT_COLUMNS]]
    as_of = "2026-01-01"
    scored = score_frame(result.bundle, sample, events=events, as_of=as_of)
    assert scored["lead_id"].tolist() == sample["lead_id"].tolist()
    source = tmp_path / "leads.csv"
    sample.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    score_file(
        result.bundle, source, out, events=folder / "events.parquet", as_of=as_of, chunk_size=128
    )
    streamed = pd.read_csv(out)
    np.testing.assert_allclose(streamed["probability"], scored["probability"], rtol=1e-12)
    test_frame, y = holdout(result.bundle)
    assert len(test_frame) == len(y) == result.parts.sizes()["test"]
    with pytest.raises(MissingColumnError, match="trained from an activity log"):
        score_frame(
            result.bundle.__class__(
                **{
                    **result.bundle.__dict__,
                    "config": {**result.bundle.config, "data": {"path": "x.csv"}},
                }
            ),
            sample,
        )


def test_check_sees_the_log_features(log_project):
    folder, _, _ = log_project
    config = load_config(folder / "mqlml.yaml")
    from mqlml.leads._read import read_leads

    report = check_leads(read_leads(config), config)
    assert "page_view_count_7d" in report.profile["engagement_features"]
    assert report.ok
