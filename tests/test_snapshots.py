"""Point-in-time snapshots of activity logs: features that cannot see the outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mqlml.model._train as train_module
from mqlml.config._config import ProjectConfig, load_config
from mqlml.errors import ConfigError, DataError
from mqlml.leads._events import AGE_FEATURE, snapshot_features
from mqlml.leads._outcome import snapshot_rows
from mqlml.leads._synthetic import FIT_COLUMNS, make_leads
from mqlml.model._prepare import prepare_leads, split_parts
from mqlml.model._train import train
from mqlml.scoring._scorer import score_frame

from .conftest import leads_config

T0 = pd.Timestamp("2025-01-01")
DAY = pd.Timedelta(days=1)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # Same numbers; on a busy machine LightGBM's threads slowed these fits 50x.
    make = train_module._scorer
    monkeypatch.setattr(train_module, "_scorer", lambda config: make(config).set_params(n_jobs=1))


CONVERTED_AT = {"converted_at": "converted_at"}


def _config(**sections) -> ProjectConfig:
    return leads_config(CONVERTED_AT, features={"fit": ["size"], "engagement": "infer"}, **sections)


def test_snapshot_rows_drop_converted_and_immature_snapshots():
    created = pd.Series([T0, T0, T0 + 50 * DAY])
    converted = pd.Series([T0 + 10 * DAY, T0 + 20 * DAY, pd.NaT])
    lead, age, label, counts = snapshot_rows(
        created, converted, [0, 7, 14], window_days=10, as_of=T0 + 70 * DAY
    )
    # lead 0: converts on day 10 -> label 0 at age 0 (day 10 > 0 + 10? no: within), 1 at 7,
    # dropped at 14 (already converted); lead 1: converts on day 20 -> 0, 0, 1;
    # lead 2: created on day 50, window of age 14 ends on day 74 > 70 -> dropped
    assert list(zip(lead.tolist(), age.tolist(), label.tolist(), strict=True)) == [
        (0, 0.0, 1),
        (0, 7.0, 1),
        (1, 0.0, 0),
        (1, 7.0, 0),
        (1, 14.0, 1),
        (2, 0.0, 0),
        (2, 7.0, 0),
    ]
    assert counts["dropped_converted"] == 1 and counts["dropped_immature"] == 1


def test_identical_events_give_identical_features_whatever_the_outcome():
    # Two leads, the same events at the same ages; A converts on day 5, B never does.
    leads = pd.DataFrame(
        {
            "lead_id": ["A", "B"],
            "created_at": [T0, T0 + 100 * DAY],
            "size": ["big", "big"],
            "converted": [1, 0],
            "converted_at": [T0 + 5 * DAY, pd.NaT],
        }
    )
    offsets = [0.5, 2, 6, 9, 20]  # days after creation, also after A's conversion
    events = pd.DataFrame(
        {
            "lead_id": ["A"] * 5 + ["B"] * 5,
            "timestamp": [c + d * DAY for c in (T0, T0 + 100 * DAY) for d in offsets],
            "event_type": ["visit", "pricing", "visit", "demo", "visit"] * 2,
        }
    )
    cfg = _config(
        events={"snapshot_days": [0, 3, 10, 30]},
        outcome={"as_of": T0 + 200 * DAY},
        checks={"min_leads_error": 1, "min_conversions_error": 1},
    )
    lead = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    age = np.array([0, 3, 10, 30] * 2, dtype=float)
    frame, names, _ = snapshot_features(leads, events, cfg, lead=lead, age=age)
    features = frame[names].to_numpy()
    np.testing.assert_array_equal(features[:4], features[4:])
    assert frame[AGE_FEATURE].tolist() == [0, 3, 10, 30] * 2
    assert frame.loc[2, "visit_count_30d"] == 2  # as of day 10: the visits of day 0.5 and 6
    # Through training's preparation, A's snapshots after its conversion are dropped and
    # its remaining ones keep the same features as B's.
    prepared = prepare_leads(cfg, leads, events)
    rows = prepared.frame
    a = rows[rows["lead_id"] == "A"][names].to_numpy()
    b = rows[rows["lead_id"] == "B"][names].to_numpy()
    np.testing.assert_array_equal(a, b[: len(a)])
    assert len(a) == 2 and prepared.y[: len(a)].tolist() == [1, 1]


def test_horizon_days_is_replaced_by_snapshot_days(write_config):
    base = "data: {path: leads.csv}\ncolumns: {id: id, label: y, time: t}\n"
    with pytest.raises(ConfigError, match=r"events.horizon_days was replaced by events.snapsh"):
        load_config(write_config(base + "events: {horizon_days: 14}\n"))
    with pytest.raises(ConfigError, match=r"snapshot_days must be distinct ages in days >= 0"):
        load_config(write_config(base + "events: {snapshot_days: [0, -7]}\n"))
    assert load_config(write_config(base)).events.snapshot_days is None  # from the data


@pytest.fixture(scope="module")
def log_leads():
    leads, events = make_leads(6_000, seed=8, events=True, days=300)
    columns = ["lead_id", "created_at", *FIT_COLUMNS, "converted", "converted_at"]
    return leads[columns], events


def _log_config(**sections) -> ProjectConfig:
    return leads_config(
        CONVERTED_AT,
        features={"fit": FIT_COLUMNS, "engagement": "infer"},
        model={"kind": "logistic", **sections.pop("model", {})},
        **sections,
    )


def test_training_from_a_log_needs_conversion_times(log_leads):
    leads, events = log_leads
    cfg = _log_config().model_copy(
        update={"columns": _log_config().columns.model_copy(update={"converted_at": None})}
    )
    with pytest.raises(ConfigError, match=r"columns.converted_at must be set to train from an"):
        prepare_leads(cfg, leads.drop(columns="converted_at"), events)
    broken = leads.assign(converted_at=leads["converted_at"].where(leads.index > 50))
    with pytest.raises(DataError, match=r"converted leads have none"):
        prepare_leads(_log_config(), broken, events)


def test_split_keeps_every_snapshot_of_a_lead_in_one_part(log_leads):
    leads, events = log_leads
    cfg = _log_config(outcome={"window_days": 30})
    prepared = prepare_leads(cfg, leads, events)
    parts = split_parts(cfg, prepared)
    owners = [set(prepared.groups[getattr(parts, name)]) for name in ("train", "calibrate", "test")]
    assert not (owners[0] & owners[1]) and not (owners[1] & owners[2])
    assert not (owners[0] & owners[2])
    assert sum(map(len, owners)) == prepared.maturity.snapshots["leads"]
    times = prepared.times
    assert times.iloc[parts.train].max() <= times.iloc[parts.test].min()
    counts = prepared.maturity.to_dict()["snapshots"]
    assert counts["snapshots"] == len(prepared.y)
    # make_leads converts 15 + Gamma(2, 6) days after creation: 99 % within ~55 days
    assert counts["ages"] == [0, 7, 14, 30, 45, 60] and counts["ages_from"] == "data"
    assert 45 < counts["conversion_age"] <= 60


@pytest.mark.slow
def test_scoring_a_lead_created_after_the_date_is_an_error(log_leads):
    leads, events = log_leads
    result = train(_log_config(), frame=leads, events=events)
    sample = leads.iloc[-20:].drop(columns=["converted", "converted_at"])
    when = sample["created_at"].iloc[10]
    with pytest.raises(DataError, match=r"got 9 leads created after it"):
        score_frame(result.bundle, sample, events=events, as_of=when)
    scored = score_frame(result.bundle, sample.iloc[:5], events=events, as_of=when)
    assert len(scored) == 5


@pytest.mark.slow
def test_leads_of_every_age_scored_as_of_one_date_are_calibrated_by_age():
    leads, events = make_leads(12_000, seed=4, events=True, days=300)
    as_of = pd.Timestamp("2024-01-01") + 290 * DAY
    columns = ["lead_id", "created_at", *FIT_COLUMNS, "converted", "converted_at"]
    known = leads.loc[leads["created_at"] < as_of, columns]
    # The table as extracted on as_of: later conversions and events are not known yet.
    late = known["converted_at"] > as_of
    history = known.assign(
        converted=np.where(late, 0, known["converted"]),
        converted_at=known["converted_at"].where(~late),
    )
    log = events[events["timestamp"] <= as_of]
    cfg = _log_config(
        outcome={"window_days": 60, "as_of": as_of},
        events={"snapshot_days": [0, 7, 14, 21, 30, 45, 60, 90]},
        model={"kind": "lightgbm", "n_estimators": 200},
    )
    bundle = train(cfg, frame=history, events=log).bundle
    open_leads = known[~(known["converted_at"] <= as_of)]
    scored = score_frame(
        bundle, open_leads.drop(columns=["converted", "converted_at"]), events=log, as_of=as_of
    )
    window = (open_leads["converted_at"] > as_of) & (open_leads["converted_at"] <= as_of + 60 * DAY)
    age = (as_of - open_leads["created_at"]) / DAY
    table = (
        pd.DataFrame(
            {
                "p": scored["probability"].to_numpy(),
                "y": window.to_numpy(),
                "bucket": pd.cut(age, [0, 7, 30, 90, np.inf], right=False).to_numpy(),
            }
        )
        .groupby("bucket", observed=True)[["p", "y"]]
        .mean()
    )
    # measured: 0.100 vs 0.111, 0.075 vs 0.078, 0.004 vs 0.003, 0.000 vs 0.000
    assert len(table) == 4
    assert (table["p"] - table["y"]).abs().max() <= 0.03
