import numpy as np
import pandas as pd
import pytest

from mqlml.config._config import ProjectConfig
from mqlml.errors import ConfigError, DataError, MissingColumnError
from mqlml.leads._schema import LeadSchema


def _config(**sections):
    base = {"data": {"path": "x.csv"}, "columns": {"id": "id", "label": "y", "time": "t"}}
    base.update(sections)
    return ProjectConfig.model_validate(base)


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "t": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"],
            "y": ["yes", "no", "no", "yes"],
            "title": ["CTO", "VP", None, "CTO"],
            "visits": [1, 5, 0, 2],
            "webinar": ["Yes", "No", "No", None],
            "leak": ["won", None, None, "won"],
        }
    )


def test_inference_of_kinds_and_groups(frame):
    schema = LeadSchema.resolve(_config(exclude=[{"column": "leak", "reason": "after"}]), frame)
    assert schema.fit == ("title",)
    assert schema.engagement == ("visits", "webinar")
    assert schema.kinds == {"title": "categorical", "visits": "numeric", "webinar": "boolean"}
    assert any("inferred" in note for note in schema.notes)


def test_one_group_listed_other_takes_the_rest(frame):
    cfg = _config(features={"engagement": ["visits"]}, exclude={"leak": "after"})
    schema = LeadSchema.resolve(cfg, frame)
    assert schema.engagement == ("visits",) and schema.fit == ("title", "webinar")


def test_coercion_keeps_missing_and_maps_yes_no(frame):
    schema = LeadSchema.resolve(_config(exclude={"leak": "after"}), frame)
    x = schema.features_frame(frame)
    assert x["visits"].dtype == np.float64
    assert x["webinar"].tolist()[:3] == [1.0, 0.0, 0.0] and np.isnan(x["webinar"].iloc[3])
    assert pd.isna(x["title"].iloc[2])
    assert schema.labels(frame).tolist() == [1, 0, 0, 1]
    assert schema.times(frame).dt.day.tolist() == [1, 2, 3, 4]


def test_non_numeric_value_names_column_and_row(frame):
    cfg = _config(features={"fit": ["title"], "engagement": ["visits"]})
    schema = LeadSchema.resolve(cfg, frame)
    bad = frame.assign(visits=["1", "2", "many", "3"])
    with pytest.raises(DataError, match=r"column 'visits' must hold numbers; row 3 has 'many'"):
        schema.features_frame(bad)


def test_bad_yes_no_value(frame):
    schema = LeadSchema.resolve(_config(exclude={"leak": "after"}), frame)
    with pytest.raises(DataError, match=r"'webinar' must hold yes/no.*row 2 has 'sometimes'"):
        schema.features_frame(frame.assign(webinar=["Yes", "sometimes", "No", "No"]))


def test_refuses_id_or_time_as_feature(frame):
    with pytest.raises(
        ConfigError, match=r"must not include the id, time or label column; got 'id'"
    ):
        LeadSchema.resolve(_config(features={"fit": ["id"]}), frame)
    with pytest.raises(ConfigError, match="got 't'"):
        LeadSchema.resolve(_config(features={"engagement": ["t"]}), frame)


def test_excluded_and_listed_is_an_error(frame):
    cfg = _config(features={"fit": ["leak"]}, exclude={"leak": "after"})
    with pytest.raises(ConfigError, match="'leak' must be either excluded or a feature"):
        LeadSchema.resolve(cfg, frame)


def test_missing_configured_columns(frame):
    with pytest.raises(MissingColumnError, match=r"columns.label must name a column.*'outcome'"):
        LeadSchema.resolve(_config(columns={"id": "id", "label": "outcome"}), frame)
    with pytest.raises(MissingColumnError, match=r"missing \['budget'\]"):
        LeadSchema.resolve(_config(features={"fit": ["budget"]}), frame)
    schema = LeadSchema.resolve(_config(exclude={"leak": "after"}), frame)
    with pytest.raises(MissingColumnError, match=r"missing \['visits'\]"):
        schema.features_frame(frame.drop(columns="visits"))


def test_duplicated_ids_and_bad_times(frame):
    schema = LeadSchema.resolve(_config(exclude={"leak": "after"}), frame)
    with pytest.raises(DataError, match=r"'id' must be unique; 2 rows share an id \(e.g. 'a'\)"):
        schema.check_unique_ids(frame.assign(id=["a", "a", "c", "d"]))
    with pytest.raises(DataError, match=r"'t' must hold every date in one format; it is read "
                       r"as ISO8601 .* 1 of 4 dates are not \(row 2: 'soon'\)"):  # fmt: skip
        schema.times(frame.assign(t=["2025-01-01", "soon", "2025-01-03", "2025-01-04"]))


def test_row_numbers_are_ids_without_id_column(frame):
    cfg = ProjectConfig.model_validate({"data": {"path": "x"}, "columns": {"label": "y"}})
    schema = LeadSchema.resolve(cfg, frame.drop(columns="id"))
    assert schema.id_name == "row"
    assert schema.ids(frame, offset=10).tolist() == [11, 12, 13, 14]


def test_round_trip_through_dict(frame):
    schema = LeadSchema.resolve(_config(exclude={"leak": "after"}), frame)
    assert LeadSchema.from_dict(schema.to_dict()) == schema
