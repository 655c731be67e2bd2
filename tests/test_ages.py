"""Every age a model scores, it has seen: snapshot ages from the data, old leads clamped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mqlml.model._train as train_module
from mqlml.config._config import ProjectConfig
from mqlml.leads._events import scoring_ages
from mqlml.leads._outcome import snapshot_ages
from mqlml.model._prepare import prepare_leads
from mqlml.model._train import train
from mqlml.scoring._file import score_file

from .conftest import leads_config

T0 = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)
WINDOW = 60.0
WITHIN = 90.0  # every conversion happens within 90 days of creation


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # Same numbers; on a busy machine LightGBM's threads slowed these fits 50x.
    make = train_module._scorer
    monkeypatch.setattr(train_module, "_scorer", lambda config: make(config).set_params(n_jobs=1))


def age_world(n: int, days: float, *, seed: int = 1, within: float = WITHIN):
    """Leads with an activity log whose conversions all happen within ``within`` days.

    A lead converts with probability ``p`` (its company size and a hidden interest),
    ``Uniform(1, within)`` days after creation. Interest also drives visits, soon after
    creation; newsletters are opened all the lead's life long, so old leads pile up
    events (the trap: an old dead lead looks busy). Returns the leads, the log, ``p``.
    """
    rng = np.random.default_rng(seed)
    created = np.sort(rng.uniform(0, days, n))
    size = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    interest = rng.normal(0, 1, n)
    p = 1 / (1 + np.exp(-(-2.6 + np.array([0.0, 0.7, 1.4])[size] + interest)))
    converts = rng.random(n) < p
    conv = np.where(converts, created + rng.uniform(1.0, within, n), np.nan)
    visits = rng.poisson(3.0 * np.exp(0.8 * interest))
    v_lead = np.repeat(np.arange(n), visits)
    v_time = created[v_lead] + rng.exponential(10.0, v_lead.size)
    life = days + 2 * within - created
    e_lead = np.repeat(np.arange(n), rng.poisson(0.1 * life))
    e_time = created[e_lead] + rng.uniform(0, 1, e_lead.size) * life[e_lead]
    ids = np.array([f"L{i:06d}" for i in range(n)])
    leads = pd.DataFrame(
        {
            "lead_id": ids,
            "created_at": T0 + pd.to_timedelta(created, unit="D"),
            "size": np.array(["small", "mid", "large"])[size],
            "converted": converts.astype(int),
            "converted_at": T0 + pd.to_timedelta(conv, unit="D"),
        }
    )
    lead = np.concatenate([v_lead, e_lead])
    when = np.concatenate([v_time, e_time])
    order = np.argsort(when, kind="stable")
    events = pd.DataFrame(
        {
            "lead_id": ids[lead[order]],
            "timestamp": T0 + pd.to_timedelta(when[order], unit="D"),
            "event_type": np.array(["visit"] * v_lead.size + ["email_open"] * e_lead.size)[order],
        }
    )
    return leads, events, p


def true_rate(p: np.ndarray, age: np.ndarray) -> np.ndarray:
    """P(converts in the WINDOW days after ``age`` | not converted by ``age``)."""

    def done(x):
        return np.clip((x - 1.0) / (WITHIN - 1.0), 0, 1)

    return p * (done(age + WINDOW) - done(age)) / (1 - p * done(age))


def _config(**sections) -> ProjectConfig:
    return leads_config(
        {"converted_at": "converted_at"},
        features={"fit": ["size"], "engagement": "infer"},
        model={"kind": "lightgbm", "n_estimators": 200},
        **sections,
    )


# -- the ages -------------------------------------------------------------------------


def _delays(delay_days: np.ndarray, *, days: float = 600.0):
    n = len(delay_days)
    created = pd.Series(T0 + pd.to_timedelta(np.linspace(0, days, n), unit="D"))
    return created, created + pd.to_timedelta(delay_days, unit="D")


def test_default_ages_reach_the_age_by_which_conversions_stop():
    rng = np.random.default_rng(0)
    created, conv = _delays(rng.uniform(1, 90, 3000))
    as_of = T0 + 700 * DAY
    ages, info = snapshot_ages(created, conv, window_days=60, as_of=as_of)
    # 99 % of the conversions within ~89 days: the grid up to 90, the first age past it
    assert ages == [0, 7, 14, 30, 45, 60, 90]
    assert 87 < info["conversion_age"] < 90
    # a tenth of the leads converting 150-250 days after creation: up to 270 days ...
    slow = np.where(np.arange(3000) % 10 == 0, rng.uniform(150, 250, 3000), 20.0)
    created, conv = _delays(slow)
    assert snapshot_ages(created, conv, window_days=60, as_of=as_of)[0][-2:] == [180, 270]
    # ... unless the history cannot show it: (700 - 60) / 2 = 320 days, (400 - 60) / 2 = 170
    ages, info = snapshot_ages(created, conv, window_days=60, as_of=T0 + 400 * DAY)
    assert ages[-1] == 120 and info["longest_age"] == 170
    # no conversion times: the former default
    none = pd.Series(pd.NaT, index=created.index, dtype="datetime64[ns]")
    ages, info = snapshot_ages(created, none, window_days=None, as_of=as_of)
    assert ages == [0, 7, 14, 30] and info["conversion_age"] is None


def test_conversion_ages_are_measured_on_the_older_half_of_the_history():
    # The newest leads' slow conversions are not in the data yet: only fast ones are seen.
    n = 2000
    created, _ = _delays(np.zeros(n), days=400)
    delay = np.where(np.arange(n) < n // 2, 100.0, 10.0)
    conv = created + pd.to_timedelta(delay, unit="D")
    ages, info = snapshot_ages(created, conv, window_days=30, as_of=T0 + 420 * DAY)
    assert info["conversion_age"] == pytest.approx(100.0) and ages[-1] == 120


def test_explicit_snapshot_days_win_and_data_ages_are_said():
    leads, events, _ = age_world(1500, 400, seed=3)
    leads = leads[leads["created_at"] < T0 + 380 * DAY]
    leads = leads.assign(converted_at=leads["converted_at"].where(leads["converted"] == 1))
    mine = prepare_leads(_config(events={"snapshot_days": [0, 10]}), leads, events)
    assert mine.maturity.snapshots["ages"] == [0, 10]
    assert "at ages 0, 10 days (events.snapshot_days)" in mine.maturity.to_dict()["reason"]
    found = prepare_leads(_config(), leads, events)
    snap = found.maturity.snapshots
    assert snap["ages"] == [0, 7, 14, 30, 45, 60, 90] and snap["ages_from"] == "data"
    reason = found.maturity.to_dict()["reason"]
    assert 85 < snap["conversion_age"] < 90
    reach = f"{snap['conversion_age']:.0f}"
    assert f"(from the data: 99 % of the conversions within {reach} days of creation)" in reason
    assert found.X["lead_age_days"].max() == 90


def test_scoring_ages_are_clamped_to_the_oldest_snapshot():
    cfg = _config(events={"snapshot_days": [0, 7, 90]})
    leads = pd.DataFrame({"created_at": T0 + pd.to_timedelta([0, 300, 310, 395, 400], unit="D")})
    ages, older = scoring_ages(leads, cfg, T0 + 400 * DAY)
    assert ages.tolist() == [90, 90, 90, 5, 0] and older == 2
    # without ages (a config, not a bundle's), nothing is clamped
    ages, older = scoring_ages(leads, _config(), T0 + 400 * DAY)
    assert ages.tolist() == [400, 100, 90, 5, 0] and older == 0


# -- the promise, by age --------------------------------------------------------------


def _by_age(probability: np.ndarray, truth: np.ndarray, age: np.ndarray) -> pd.DataFrame:
    bucket = pd.cut(age, [0, 7, 30, 90, np.inf], right=False)
    frame = pd.DataFrame({"p": probability, "true": truth, "bucket": bucket})
    return frame.groupby("bucket", observed=True).agg(
        n=("p", "size"), p=("p", "mean"), true=("true", "mean")
    )


def test_leads_of_every_age_scored_as_of_one_date_get_their_rate(tmp_path):
    # History: days 0-420, extracted on day 420. Scored: the leads of days 420-600 still
    # open on day 600, 0 to 180 days old, against the truth of the next 60 days.
    leads, events, p = age_world(12_000, 600)
    cut, as_of = T0 + 420 * DAY, T0 + 600 * DAY
    history = leads[leads["created_at"] < cut]
    unknown = history["converted_at"] > cut
    history = history.assign(
        converted=np.where(unknown, 0, history["converted"]),
        converted_at=history["converted_at"].where(~unknown),
    )
    scored_rows = (leads["created_at"] >= cut) & ~(leads["converted_at"] <= as_of)
    scored = leads[scored_rows]
    age = ((as_of - scored["created_at"]) / DAY).to_numpy()
    truth = true_rate(p[scored_rows.to_numpy()], age)
    scored[["lead_id", "created_at", "size"]].to_parquet(tmp_path / "open.parquet")
    events[events["timestamp"] <= as_of].to_parquet(tmp_path / "events.parquet")

    def run(**sections):
        config = _config(outcome={"window_days": WINDOW, "as_of": cut}, **sections)
        bundle = train(config, frame=history, events=events[events["timestamp"] <= cut]).bundle
        out = tmp_path / "scores.parquet"
        summary = score_file(
            bundle,
            tmp_path / "open.parquet",
            out,
            events=tmp_path / "events.parquet",
            as_of=as_of,
            reasons="none",
            predictor="lightgbm",
        )
        table = _by_age(pd.read_parquet(out)["probability"].to_numpy(), truth, age)
        return bundle, summary, table

    bundle, summary, table = run()
    # measured: 0.075 / 0.095, 0.108 / 0.110, 0.054 / 0.054, 0.001 / 0.000
    assert len(table) == 4 and (table["p"] - table["true"]).abs().max() <= 0.03
    assert table["p"].iloc[-1] < 0.005  # dead leads are dead
    assert bundle.config["events"]["snapshot_days"] == [0, 7, 14, 30, 45, 60, 90]
    assert summary.older_than_snapshots == int((age > 90).sum()) > 0
    assert summary.oldest_snapshot_days == 90
    assert f"{summary.older_than_snapshots:,} leads are older than the oldest snapshot" in (
        " ".join(summary.warnings)
    )
    # The former default, set explicitly (the config wins), stops at 30 days: every older
    # lead is extrapolated, and the leads 90+ days old, which never convert, get ~0.04.
    _, summary, table = run(events={"snapshot_days": [0, 7, 14, 30]})
    assert table["p"].iloc[-1] - table["true"].iloc[-1] > 0.03
    assert summary.oldest_snapshot_days == 30
