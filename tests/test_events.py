"""Tests of mqlml.leads._events: point-in-time engagement features from an activity log."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlml.errors import ConfigError, DataError, MissingColumnError
from mqlml.leads import _events as events_module
from mqlml.leads._events import engagement_features, feature_names

T0 = pd.Timestamp("2024-03-01")  # midnight, so whole-day ages fall on distinct days
DAY = pd.Timedelta(days=1)


def _log(rows: list[tuple]) -> pd.DataFrame:
    """Events from (lead_id, timestamp, event_type) or (..., value) tuples."""
    columns = ["lead_id", "timestamp", "event_type", "value"][: len(rows[0]) if rows else 3]
    frame = pd.DataFrame(rows, columns=columns)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def _leads(ids, created=None, converted=None) -> pd.DataFrame:
    frame = pd.DataFrame({"lead_id": ids})
    frame["created_at"] = pd.to_datetime(created if created is not None else [T0] * len(ids))
    if converted is not None:
        frame["converted_at"] = pd.to_datetime(converted)
    return frame


def _reference(events, leads, cut, types, windows, half_life, value_column=None):
    """Straightforward per-lead computation to compare the engine with."""
    rows = []
    for lead_id, c in zip(leads["lead_id"], cut, strict=True):
        ev = events[
            (events["lead_id"] == lead_id)
            & (events["timestamp"] < c)
            & events["event_type"].isin(types)
        ]
        age = (c - ev["timestamp"]).dt.total_seconds().to_numpy() / 86400.0
        row = {"lead_id": lead_id}
        for t in types:
            mask = (ev["event_type"] == t).to_numpy()
            a = age[mask]
            for w in windows:
                row[f"{t}_count_{w}d"] = float(np.sum(a <= w))
            v = ev[value_column].to_numpy()[mask] if value_column else np.ones(len(a))
            row[f"{t}_decayed"] = float(np.sum(v * 0.5 ** (a / half_life)))
            row[f"{t}_days_since_last"] = float(a.min()) if len(a) else math.nan
        recent = ev["timestamp"][age <= max(windows)]
        row["active_days"] = float(recent.dt.normalize().nunique())
        row["days_since_first_touch"] = float(age.max()) if len(age) else math.nan
        row["events_total"] = float(len(age))
        rows.append(row)
    return pd.DataFrame(rows, index=leads.index)


# --- column names ---------------------------------------------------------------------


def test_feature_names_order():
    assert feature_names(["b", "a"], windows=(7, 0.5)) == [
        "b_count_7d",
        "b_count_0.5d",
        "b_decayed",
        "b_days_since_last",
        "a_count_7d",
        "a_count_0.5d",
        "a_decayed",
        "a_days_since_last",
        "active_days",
        "days_since_first_touch",
        "events_total",
    ]


# --- exact values on hand-made logs -------------------------------------------------


def test_window_counts_decay_and_recency_exact():
    cutoff = T0 + 200 * DAY
    ages = [1, 6.5, 20, 100]
    events = _log([("L1", cutoff - a * DAY, "visit") for a in ages])
    out = engagement_features(events, _leads(["L1"]), cutoff=cutoff)
    row = out.iloc[0]
    assert (row["visit_count_7d"], row["visit_count_30d"], row["visit_count_90d"]) == (2, 3, 3)
    assert row["visit_decayed"] == pytest.approx(sum(0.5 ** (a / 14) for a in ages), abs=1e-9)
    assert row["visit_days_since_last"] == pytest.approx(1.0, abs=1e-12)
    assert row["days_since_first_touch"] == pytest.approx(100.0, abs=1e-12)
    assert row["events_total"] == 4
    # ages 1, 6.5 and 20 are on three distinct calendar days; 100 is outside 90 days
    assert row["active_days"] == 3


def test_half_life_and_value_weights():
    cutoff = T0 + 50 * DAY
    events = _log([("L1", cutoff - 10 * DAY, "dl", 2.0), ("L1", cutoff - 30 * DAY, "dl", 0.5)])
    out = engagement_features(
        events, _leads(["L1"]), cutoff=cutoff, half_life_days=10, value_column="value"
    )
    assert out.loc[0, "dl_decayed"] == pytest.approx(2.0 * 0.5 + 0.5 * 0.125, abs=1e-12)


def test_window_lower_bound_is_inclusive():
    cutoff = T0 + 50 * DAY
    events = _log(
        [("L1", cutoff - 7 * DAY, "v"), ("L1", cutoff - 7 * DAY - pd.Timedelta(seconds=1), "v")]
    )
    out = engagement_features(events, _leads(["L1"]), cutoff=cutoff, windows=(7,))
    assert out.loc[0, "v_count_7d"] == 1


def test_strict_cutoff():
    cutoff = T0 + 10 * DAY
    at_cutoff = _log([("L1", cutoff, "v")])
    out = engagement_features(at_cutoff, _leads(["L1"]), cutoff=cutoff)
    assert out.loc[0, "events_total"] == 0
    assert np.isnan(out.loc[0, "v_days_since_last"])

    just_before = _log([("L1", cutoff - pd.Timedelta(seconds=1), "v")])
    out = engagement_features(just_before, _leads(["L1"]), cutoff=cutoff)
    assert out.loc[0, "v_count_7d"] == 1
    assert out.loc[0, "v_days_since_last"] == pytest.approx(1 / 86400, rel=1e-12)


def test_converted_lead_sees_only_events_before_conversion():
    leads = _leads(["conv", "open"], converted=[T0 + 5 * DAY, pd.NaT])
    base = [
        ("conv", T0 + 1 * DAY, "v"),
        ("conv", T0 + 3 * DAY, "v"),
        ("conv", T0 + 5 * DAY, "v"),  # at the conversion: excluded
        ("open", T0 + 6 * DAY, "v"),
        ("open", T0 + 13 * DAY, "v"),
        ("open", T0 + 14 * DAY, "v"),  # at created + horizon: excluded
    ]
    kwargs = {"horizon_days": 14, "converted_column": "converted_at"}
    out = engagement_features(_log(base), leads, **kwargs)
    assert out["events_total"].tolist() == [2, 2]
    assert out.loc[0, "v_days_since_last"] == pytest.approx(2.0)
    assert out.loc[1, "v_days_since_last"] == pytest.approx(1.0)

    later = _log([*base, ("conv", T0 + 6 * DAY, "v")])
    pd.testing.assert_frame_equal(engagement_features(later, leads, **kwargs), out)

    ignoring_conversion = engagement_features(later, leads, horizon_days=14)
    assert ignoring_conversion.loc[0, "events_total"] == 4


def test_events_before_creation_count():
    events = _log([("L1", T0 - 3 * DAY, "v"), ("L1", T0 + DAY, "v")])
    out = engagement_features(events, _leads(["L1"]), horizon_days=2)
    assert out.loc[0, "events_total"] == 2
    assert out.loc[0, "days_since_first_touch"] == pytest.approx(5.0)


def test_active_days_counts_calendar_days_once():
    cutoff = T0 + 30 * DAY
    events = _log(
        [
            ("L1", T0 + 2 * DAY + pd.Timedelta(hours=1), "a"),
            ("L1", T0 + 2 * DAY + pd.Timedelta(hours=23), "b"),
            ("L1", T0 + 3 * DAY, "a"),
            ("L1", T0 - 100 * DAY, "a"),  # older than the largest window
        ]
    )
    out = engagement_features(events, _leads(["L1"]), cutoff=cutoff, windows=(7, 60))
    assert out.loc[0, "active_days"] == 2
    assert out.loc[0, "events_total"] == 4


def test_active_days_sort_fallback_matches_bitmap(monkeypatch):
    rng = np.random.default_rng(3)
    leads = _leads([f"L{i}" for i in range(40)])
    events = pd.DataFrame(
        {
            "lead_id": rng.choice(leads["lead_id"].to_numpy(), 500),
            "timestamp": T0 + pd.to_timedelta(rng.uniform(-60, 30, 500), unit="D"),
            "event_type": rng.choice(["a", "b"], 500),
        }
    )
    bitmap = engagement_features(events, leads, horizon_days=20)
    monkeypatch.setattr(events_module, "_BITMAP_MAX_CELLS", 0)
    fallback = engagement_features(events, leads, horizon_days=20)
    pd.testing.assert_frame_equal(bitmap, fallback)
    assert bitmap["active_days"].sum() > 40


def test_matches_reference_on_random_log():
    rng = np.random.default_rng(0)
    n_leads, n_events = 60, 1500
    created = T0 + pd.to_timedelta(rng.uniform(0, 100, n_leads), unit="D")
    converted = pd.Series(created + pd.to_timedelta(rng.uniform(0, 40, n_leads), unit="D"))
    converted[rng.random(n_leads) < 0.6] = pd.NaT
    leads = _leads([f"L{i}" for i in rng.permutation(n_leads)], created, converted)
    events = pd.DataFrame(
        {
            "lead_id": rng.choice([*leads["lead_id"], "ghost"], n_events),
            "timestamp": T0 + pd.to_timedelta(rng.uniform(-50, 150, n_events), unit="D"),
            "event_type": rng.choice(["visit", "pricing", "webinar", "spam"], n_events),
            "value": rng.uniform(0, 3, n_events),
        }
    )
    types, windows = ["webinar", "visit", "pricing"], (3, 30)
    out = engagement_features(
        events,
        leads,
        horizon_days=21,
        converted_column="converted_at",
        windows=windows,
        half_life_days=5,
        event_types=types,
        value_column="value",
    )
    cut = leads["created_at"] + pd.Timedelta(days=21)
    cut = cut.where(leads["converted_at"].isna() | (cut < leads["converted_at"]))
    cut = cut.fillna(leads["converted_at"])
    expected = _reference(events, leads, cut, types, windows, 5, value_column="value")
    pd.testing.assert_frame_equal(out, expected, rtol=1e-10)
    assert out.attrs["unmatched_events"] == int((events["lead_id"] == "ghost").sum())


# --- nothing at or after the cutoff matters (property) --------------------------------

_TYPES = ["a", "b", "c"]


@st.composite
def _logs_and_late_events(draw):
    n = draw(st.integers(1, 4))
    created = draw(st.lists(st.integers(0, 60 * 24), min_size=n, max_size=n))  # hours
    converted = draw(
        st.lists(st.one_of(st.none(), st.integers(-48, 60 * 24)), min_size=n, max_size=n)
    )
    early = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(-2000, 3000), st.sampled_from(_TYPES)),
            max_size=25,
        )
    )
    late = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, 10**6), st.sampled_from(_TYPES)),
            min_size=1,
            max_size=25,
        )
    )
    return n, created, converted, early, late


@given(case=_logs_and_late_events(), horizon=st.sampled_from([0, 3, 14]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_events_at_or_after_cutoff_never_change_features(case, horizon):
    n, created_h, converted_h, early, late = case
    hour = pd.Timedelta(hours=1)
    ids = [f"L{i}" for i in range(n)]
    created = [T0 + h * hour for h in created_h]
    converted = [pd.NaT if c is None else created[i] + c * hour for i, c in enumerate(converted_h)]
    leads = _leads(ids, created, converted)
    cut = [
        min(created[i] + horizon * DAY, converted[i]) if converted_h[i] is not None else None
        for i in range(n)
    ]
    cut = [c if c is not None else created[i] + horizon * DAY for i, c in enumerate(cut)]
    base = _log([(ids[i], created[i] + m * pd.Timedelta(minutes=10), t) for i, m, t in early])
    # minutes at or after the lead's cutoff, from 0 (exactly at the cutoff) on
    extra = _log([(ids[i], cut[i] + m * pd.Timedelta(minutes=1), t) for i, m, t in late])
    kwargs = {
        "horizon_days": horizon,
        "converted_column": "converted_at",
        "event_types": _TYPES,
    }
    before = engagement_features(base, leads, **kwargs)
    mixed = pd.concat([extra, base]).sample(frac=1, random_state=len(late))
    after = engagement_features(mixed, leads, **kwargs)
    pd.testing.assert_frame_equal(after, before, rtol=1e-12)


# --- rows, order, ids, columns --------------------------------------------------------


def test_rows_in_equal_rows_out_in_order_with_shuffled_leads():
    rng = np.random.default_rng(1)
    ids = [f"L{i}" for i in range(30)]
    events = pd.DataFrame(
        {
            "lead_id": rng.choice(ids, 300),
            "timestamp": T0 - pd.to_timedelta(rng.uniform(0, 60, 300), unit="D"),
            "event_type": rng.choice(["x", "y"], 300),
        }
    )
    leads = _leads(ids)
    shuffled = leads.sample(frac=1, random_state=7)
    out = engagement_features(events, leads, cutoff=T0)
    out_shuffled = engagement_features(events, shuffled, cutoff=T0)
    assert len(out_shuffled) == len(shuffled)
    assert out_shuffled["lead_id"].tolist() == shuffled["lead_id"].tolist()
    assert out_shuffled.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(out_shuffled.loc[out.index], out, rtol=1e-12)
    assert out_shuffled.columns[0] == "lead_id"
    assert set(out.dtypes.iloc[1:]) == {np.dtype("float64")}


def test_integer_ids_keep_their_dtype_and_the_index():
    events = _log([(7, T0 - DAY, "v"), (9, T0 - 2 * DAY, "v"), (8, T0 - DAY, "v")])
    leads = _leads([9, 7]).set_index(pd.Index([100, 200]))
    out = engagement_features(events, leads, cutoff=T0)
    assert out["lead_id"].dtype == np.int64
    assert out.index.tolist() == [100, 200]
    assert out["v_days_since_last"].tolist() == [2.0, 1.0]
    assert out.attrs["unmatched_events"] == 1


def test_leads_without_events_and_unmatched_events():
    events = _log([("L1", T0 - DAY, "v"), ("nobody", T0 - DAY, "v"), ("nobody", T0 - 2 * DAY, "w")])
    out = engagement_features(events, _leads(["L0", "L1", "L2"]), cutoff=T0)
    assert out.attrs["unmatched_events"] == 2
    empty = out.set_index("lead_id").loc[["L0", "L2"]]
    assert (empty.filter(like="count") == 0).all().all()
    assert (empty[["w_decayed", "v_decayed", "active_days", "events_total"]] == 0).all().all()
    assert empty[["v_days_since_last", "w_days_since_last"]].isna().all().all()
    assert empty["days_since_first_touch"].isna().all()
    assert out.loc[1, "events_total"] == 1


def test_event_types_fix_the_columns():
    events = _log([("L1", T0 - DAY, "visit"), ("L1", T0 - DAY, "new_type")])
    out = engagement_features(
        events, _leads(["L1"]), cutoff=T0, event_types=["visit", "demo"], windows=(7,)
    )
    assert out.columns.tolist() == ["lead_id", *feature_names(["visit", "demo"], (7,))]
    assert out.loc[0, "events_total"] == 1  # the unknown type is ignored everywhere
    assert out.loc[0, "demo_count_7d"] == 0

    default = engagement_features(events, _leads(["L1"]), cutoff=T0, windows=(7,))
    assert default.columns.tolist() == ["lead_id", *feature_names(["new_type", "visit"], (7,))]


def test_custom_column_names_categorical_types_and_string_times():
    events = pd.DataFrame(
        {
            "who": ["a", "a"],
            "when": ["2024-02-28 12:00:00", "2024-02-20 00:00:00"],
            "kind": pd.Categorical(["open", "click"]),
        }
    )
    leads = pd.DataFrame({"who": ["a"], "born": ["2024-02-01"]})
    out = engagement_features(
        events,
        leads,
        horizon_days=29,
        id_column="who",
        created_column="born",
        timestamp_column="when",
        type_column="kind",
    )
    assert out.columns[0] == "who"
    assert out.loc[0, "open_days_since_last"] == pytest.approx(1.5)
    assert out.loc[0, "click_count_30d"] == 1


def test_timezone_aware_times_are_compared_in_utc():
    events = _log([("L1", "2024-03-01 10:00", "v")])
    events["timestamp"] = events["timestamp"].dt.tz_localize("Europe/Berlin")  # 09:00 UTC
    out = engagement_features(events, _leads(["L1"]), cutoff=pd.Timestamp("2024-03-01 12:00"))
    assert out.loc[0, "v_days_since_last"] == pytest.approx(3 / 24)
    aware = pd.Timestamp("2024-03-01 12:00", tz="UTC")
    same = engagement_features(events, _leads(["L1"]), cutoff=aware)
    pd.testing.assert_frame_equal(same, out)


def test_cutoff_now_sees_all_past_events():
    events = _log([("L1", pd.Timestamp.now() - 2 * DAY, "v")])
    out = engagement_features(events, _leads(["L1"]), cutoff="now")
    assert out.loc[0, "v_days_since_last"] == pytest.approx(2.0, abs=0.01)


def test_empty_log_and_empty_leads():
    events = _log([("L1", T0, "v")]).iloc[:0]
    out = engagement_features(events, _leads(["L1"]), cutoff=T0, event_types=["v"])
    assert out.loc[0, "v_count_7d"] == 0
    assert np.isnan(out.loc[0, "days_since_first_touch"])
    none = engagement_features(_log([("L1", T0, "v")]), _leads([]), cutoff=T0)
    assert len(none) == 0
    assert none.attrs["unmatched_events"] == 1


# --- errors ---------------------------------------------------------------------------


def test_cutoff_and_horizon_exactly_one():
    events, leads = _log([("L1", T0, "v")]), _leads(["L1"])
    with pytest.raises(ConfigError, match="exactly one of cutoff and horizon_days"):
        engagement_features(events, leads)
    with pytest.raises(ValueError, match=r"cutoff=.*horizon_days=14"):
        engagement_features(events, leads, cutoff=T0, horizon_days=14)


def test_bad_cutoff():
    with pytest.raises(ConfigError, match="cutoff must be a date or 'now'; got 'tomorrow-ish'"):
        engagement_features(_log([("L1", T0, "v")]), _leads(["L1"]), cutoff="tomorrow-ish")


def test_duplicated_lead_ids():
    with pytest.raises(DataError, match=r"unique ids; got 'L1' 3 times \(2 duplicated"):
        engagement_features(
            _log([("L1", T0, "v")]), _leads(["L1", "L2", "L1", "L2", "L1"]), cutoff=T0
        )


def test_missing_lead_id():
    with pytest.raises(DataError, match="missing id in row 1"):
        engagement_features(_log([("L1", T0, "v")]), _leads(["L1", None]), cutoff=T0)


@pytest.mark.parametrize(
    ("table", "column", "kwargs"),
    [
        ("events", "timestamp", {}),
        ("events", "event_type", {}),
        ("events", "value", {"value_column": "value"}),
        ("leads", "lead_id", {}),
        ("leads", "created_at", {"horizon_days": 3}),
        ("leads", "converted_at", {"converted_column": "converted_at"}),
    ],
)
def test_missing_columns(table, column, kwargs):
    events, leads = _log([("L1", T0, "v")]), _leads(["L1"])
    if table == "events":
        events = events.drop(columns=column, errors="ignore")
    else:
        leads = leads.drop(columns=column, errors="ignore")
    kwargs = {"cutoff": T0, **kwargs} if "horizon_days" not in kwargs else kwargs
    with pytest.raises(MissingColumnError, match=f"column '{column}' must be in the {table}"):
        engagement_features(events, leads, **kwargs)


def test_unparsable_timestamp_names_column_and_row():
    events = pd.DataFrame(
        {
            "lead_id": ["L1"] * 3,
            "timestamp": ["2024-01-01", "2024-01-02", "not a date"],
            "event_type": ["v"] * 3,
        }
    )
    with pytest.raises(
        DataError,
        match=r"column 'timestamp' must hold every date in one format.* of the events table "
        r"are not \(row 3: 'not a date'\)",
    ):
        engagement_features(events, _leads(["L1"]), cutoff=T0)


def test_missing_timestamp_and_missing_created_at():
    events = _log([("L1", T0, "v"), ("L1", None, "v")])
    with pytest.raises(DataError, match=r"'timestamp' .* 1 missing, the first in row 1"):
        engagement_features(events, _leads(["L1"]), cutoff=T0)
    leads = _leads(["L1", "L2"], created=[T0, None])
    with pytest.raises(DataError, match=r"'created_at' of the leads .* first in row 1"):
        engagement_features(_log([("L1", T0, "v")]), leads, horizon_days=3)


def test_bad_values():
    events = _log([("L1", T0, "v", 1.0), ("L1", T0, "v", np.nan)])
    with pytest.raises(DataError, match=r"'value' of the events table must be finite; got nan"):
        engagement_features(events, _leads(["L1"]), cutoff=T0, value_column="value")
    events["value"] = ["1", "2"]
    with pytest.raises(DataError, match="'value' of the events table must be numeric"):
        engagement_features(events, _leads(["L1"]), cutoff=T0, value_column="value")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"windows": ()}, "windows must hold at least one window"),
        ({"windows": (7, 0)}, r"windows must be a finite number > 0 of days; got 0"),
        ({"windows": (7, 7.0)}, "windows must be distinct"),
        ({"half_life_days": -1.0}, r"half_life_days must be .*; got -1.0"),
        ({"half_life_days": float("inf")}, "half_life_days must be a finite number"),
        ({"event_types": "visit"}, "event_types must be a list"),
        ({"event_types": ["v", "v"]}, "event_types must be distinct; got 'v'"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        engagement_features(_log([("L1", T0, "v")]), _leads(["L1"]), cutoff=T0, **kwargs)


def test_bad_horizon():
    with pytest.raises(ConfigError, match=r"horizon_days must be a finite number >= 0"):
        engagement_features(_log([("L1", T0, "v")]), _leads(["L1"]), horizon_days=-2)
