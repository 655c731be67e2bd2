"""Dates read one way: one format per column, detected or given, stated by training,
recorded in the bundle and reused when scoring. A date column that lies (formats mixed,
day and month undecidable, numbers without a unit) is refused with one line naming the
column, the format and the rows, and nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.config._config import ProjectConfig, load_config
from mqlml.errors import ConfigError, DataError
from mqlml.io._dates import as_timestamp, check_format, detect_format, looks_like_dates, parse_dates
from mqlml.leads._events import add_event_features
from mqlml.leads._schema import LeadSchema
from mqlml.leads._synthetic import FIT_COLUMNS, make_leads
from mqlml.model._train import train
from mqlml.scoring._scorer import score_frame
from tests.conftest import ROOT

runner = CliRunner()
DAY_FIRST = "%d/%m/%Y %H:%M:%S"


def _dates(*values, **kwargs) -> list:
    return parse_dates(pd.Series(values, dtype=object), "created_at", **kwargs).tolist()


# --- one format per column -----------------------------------------------------------


def test_mixed_formats_are_refused_naming_the_format_the_count_and_the_rows():
    values = ["2024-03-05", "05/03/2024", "03-05-2024", "2024-03-06", "2024-03-07", None]
    with pytest.raises(
        DataError,
        match=r"date column 'created_at' must hold every date in one format; it is read as "
        r"ISO8601 \(year-month-day, the format of most rows\) and 2 of 5 dates are not "
        r"\(row 2: '05/03/2024', row 3: '03-05-2024'\)\. Export every date of the column in "
        r"one format; if it is not this one, give it in the config, e\.g\. "
        r"columns\.date_formats: \{created_at: '%d/%m/%Y'\}\.$",
    ):
        _dates(*values)
    with pytest.raises(DataError, match=r"it is read as ISO8601 \(year-month-day, the format"):
        detect_format(pd.Series(values), "created_at")


def test_more_than_five_offending_rows_are_counted_and_the_first_five_named():
    values = ["2024-03-05"] * 10 + [f"0{d}/03/2024" for d in range(1, 8)]
    with pytest.raises(DataError, match=r"7 of 17 dates are not \(row 11: '01/03/2024', "
                       r"row 12: .* row 15: '05/03/2024', \.\.\.\)"):  # fmt: skip
        _dates(*values)


def test_a_consistent_day_first_column_parses_day_first():
    values = ["05/03/2024", "25/12/2024", " 01/02/2024 ", None, ""]
    assert detect_format(pd.Series(values), "created_at") == "%d/%m/%Y"
    assert _dates(*values)[:3] == [
        pd.Timestamp("2024-03-05"),
        pd.Timestamp("2024-12-25"),
        pd.Timestamp("2024-02-01"),
    ]
    assert pd.isna(_dates(*values)[3]) and pd.isna(_dates(*values)[4])


def test_a_month_first_column_with_times_parses_month_first():
    values = ["03-05-2024 09:30", "12-25-2024 17:05", "01-02-2024 00:00"]
    assert detect_format(pd.Series(values), "created_at") == "%m-%d-%Y %H:%M"
    assert _dates(*values)[0] == pd.Timestamp("2024-03-05 09:30")


def test_day_first_and_month_first_in_one_column_are_refused():
    values = ["25/12/2024", "26/12/2024", "12/27/2024"]
    with pytest.raises(DataError, match=r"read as %d/%m/%Y \(day/month/year, the format of most "
                       r"rows\) and 1 of 3 dates are not \(row 3: '12/27/2024'\)"):  # fmt: skip
        _dates(*values)


def test_an_ambiguous_day_month_column_asks_for_its_format():
    values = ["05/03/2024", "04/03/2024", "12/11/2024"]
    with pytest.raises(
        DataError,
        match=r"time column 'created_at' must tell the day from the month; every "
        r"date of leads\.csv has both fields at 12 or below \(e\.g\. '05/03/2024': day/month "
        r"or month/day\?\)\. Give its format in the config: columns\.date_formats: "
        r"\{created_at: '%d/%m/%Y'\} \(or '%m/%d/%Y'\)\.",
    ):
        _dates(*values, what="time column", source="leads.csv")
    assert _dates(*values, format="%m/%d/%Y")[0] == pd.Timestamp("2024-05-03")
    assert _dates(*values, format="%d/%m/%Y")[0] == pd.Timestamp("2024-03-05")


def test_a_given_format_refuses_rows_in_another_one():
    with pytest.raises(DataError, match=r"read as %d/%m/%Y \(day/month/year\) and 1 of 2 dates "
                       r"are not \(row 2: '2024-03-05'\)\. Export every date of the column as "
                       r"%d/%m/%Y\.$"):  # fmt: skip
        _dates("05/03/2024", "2024-03-05", format="%d/%m/%Y")


def test_text_in_no_date_format_is_refused():
    with pytest.raises(DataError, match=r"'created_at' must hold dates such as 2025-03-01 \(ISO "
                       r"8601\) or 01/03/2025; got 'soon' \(row 1\)\..*'%d %b %Y'"):  # fmt: skip
        _dates("soon", "later")
    assert _dates("05 Mar 2024", format="%d %b %Y") == [pd.Timestamp("2024-03-05")]


def test_epoch_numbers_need_their_unit():
    seconds = pd.Series([1709596800, 1709683200])  # 2024-03-05, 2024-03-06 (UTC)
    with pytest.raises(
        DataError,
        match=r"date column 'created_at' must hold dates, not numbers; got 1709596800 \(row "
        r"1\)\. If these are epoch times, give their unit in the config: "
        r"columns\.date_formats: \{created_at: 'epoch_s'\} \(or epoch_ms, epoch_us, epoch_ns\)",
    ):
        parse_dates(seconds, "created_at")
    with pytest.raises(DataError, match=r"must hold dates, not numbers; got '1709596800'"):
        _dates("1709596800", "1709683200")  # numbers as text too
    expected = [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06")]
    assert parse_dates(seconds, "created_at", format="epoch_s").tolist() == expected
    assert parse_dates(seconds * 1000, "c", format="epoch_ms").tolist() == expected
    assert parse_dates(seconds * 10**9, "c", format="epoch_ns").tolist() == expected
    assert _dates("1709596800", None, format="epoch_s")[0] == expected[0]
    with_missing = parse_dates(pd.Series([1709596800.5, np.nan]), "c", format="epoch_s")
    assert with_missing[0] == pd.Timestamp("2024-03-05 00:00:00.5") and pd.isna(with_missing[1])


def test_an_epoch_unit_that_does_not_fit_is_refused():
    seconds = pd.Series([1709596800, 1709683200])
    for unit in ("epoch_ms", "epoch_us"):  # January 1970
        with pytest.raises(DataError, match=r"'created_at' must hold epoch m\w+ of dates from "
                           r"1971 to 2199; 2 of 2 values are not \(row 1: 1709596800"):  # fmt: skip
            parse_dates(seconds, "created_at", format=unit)
    with pytest.raises(DataError, match=r"epoch seconds of dates .* \(row 1: 1709596800000"):
        parse_dates(seconds * 1000, "created_at", format="epoch_s")  # year 56,000
    with pytest.raises(DataError, match=r"1 of 2 values are not \(row 2: 'soon'\)"):
        _dates("1709596800", "soon", format="epoch_s")


def test_zones_are_read_in_utc_and_must_be_on_every_date_or_none():
    assert _dates("2024-03-05T10:00:00Z", "2024-03-05T10:00:00+02:00") == [
        pd.Timestamp("2024-03-05 10:00"),
        pd.Timestamp("2024-03-05 08:00"),
    ]
    with pytest.raises(DataError, match=r"must hold dates all with a time zone or all without; "
                       r"1 rows have one \(first row 2: '2024-03-05T10:00Z'\) and others none "
                       r"\(row 1: '2024-03-05'\)"):  # fmt: skip
        _dates("2024-03-05", "2024-03-05T10:00Z")


def test_typed_and_empty_columns_are_taken_as_they_are():
    typed = pd.Series(pd.to_datetime(["2024-03-05 10:00"]).tz_localize("Europe/Berlin"))
    assert parse_dates(typed, "c", format="%d/%m/%Y").tolist() == [pd.Timestamp("2024-03-05 09:00")]
    assert detect_format(typed, "c") == "ISO8601"
    empty = pd.Series([np.nan, np.nan])  # an all-empty column read as numbers
    assert parse_dates(empty, "c").isna().all() and detect_format(empty, "c") == "ISO8601"


def test_one_date_given_by_hand_must_be_iso():
    assert as_timestamp(" 2024-03-05 ", "--as-of") == pd.Timestamp("2024-03-05")
    refused = r"--as-of must be a date such as 2025-03-01 or 2025-03-01T09:30 \(ISO 8601\); got "
    with pytest.raises(DataError, match=refused + r"'05/03/2024'\. Write the date year first"):
        as_timestamp("05/03/2024", "--as-of")
    with pytest.raises(DataError, match=r"cutoff must be a date .*; got None"):
        as_timestamp(None, "cutoff")


def test_date_format_names_and_date_like_columns():
    with pytest.raises(ValueError, match=r"must be ISO8601, epoch_s, .* got 'dd/mm/yyyy'"):
        check_format("dd/mm/yyyy")
    assert looks_like_dates(pd.Series(["04/09/2012 10:30", "2014-03-08", "8.3.14"]))
    assert not looks_like_dates(pd.Series([20120904]))
    assert not looks_like_dates(pd.Series(["Google", "2012-09-04", "Email"]))


def test_dates_are_parsed_in_one_place():
    calls = {
        path.relative_to(ROOT / "mqlml").as_posix()
        for path in (ROOT / "mqlml").rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if "to_datetime(" in line and not line.lstrip().startswith((">>>", "..."))
    }
    assert calls == {"io/_dates.py"}


# --- the config ----------------------------------------------------------------------


def test_date_formats_in_the_config_are_checked(write_config):
    base = "data: {path: leads.csv}\ncolumns: {id: id, label: y, time: t, date_formats: %s}\n"
    ok = load_config(write_config(base % "{t: '%d/%m/%Y'}"))
    assert ok.columns.date_formats == {"t": "%d/%m/%Y"}
    with pytest.raises(ConfigError, match=r"columns\.date_formats\.t must be ISO8601, epoch_s, "
                       r"epoch_ms, epoch_us, epoch_ns or a strftime .*got 'dd/mm'"):  # fmt: skip
        load_config(write_config(base % "{t: dd/mm}"))
    with pytest.raises(ConfigError, match=r"columns\.date_formats must name the columns\.time, "
                       r"columns\.converted_at or events\.timestamp_column column \(t, "
                       r"timestamp\); got 'created'\. Fix the name\.$"):  # fmt: skip
        load_config(write_config(base % "{created: epoch_s}"))


# --- training records the formats; later reads use them --------------------------------


def _config(**columns) -> ProjectConfig:
    return ProjectConfig(
        data={"path": "-"},
        columns={"id": "lead_id", "label": "converted", "time": "created_at", **columns},
        model={"kind": "logistic"},
        threshold={"target_rate": 0.3},
    )


@pytest.fixture(scope="module")
def day_first():
    """2,000 leads whose creation times are day-first text (2024-01-01 to 2025-12-30)."""
    leads = make_leads(2_000, seed=2)
    times = pd.to_datetime(leads["created_at"])
    return leads.assign(created_at=times.dt.strftime(DAY_FIRST)), times


def test_the_schema_records_the_detected_format_and_reads_later_frames_with_it(day_first):
    leads, times = day_first
    schema = LeadSchema.resolve(_config(), leads)
    assert schema.date_formats == {"created_at": DAY_FIRST}
    assert f"created_at: dates read as {DAY_FIRST} (detected)" in schema.notes
    again = LeadSchema.from_dict(schema.to_dict())
    assert again.date_formats == schema.date_formats
    # a later frame alone could be either order: it is read as in training
    later = pd.DataFrame({"created_at": ["05/03/2026 10:00:00", "04/03/2026 09:00:00"]})
    assert again.times(later).tolist() == [
        pd.Timestamp("2026-03-05 10:00"),
        pd.Timestamp("2026-03-04 09:00"),
    ]
    assert schema.times(leads).tolist() == times.tolist()


def test_the_schema_names_the_file_when_dates_lie(day_first):
    leads, _ = day_first
    config = _config().model_copy(
        update={"data": _config().data.model_copy(update={"path": Path("/data/leads.csv")})}
    )
    lying = leads.assign(created_at=leads["created_at"].where(leads.index % 50 > 0, "2025-01-01"))
    with pytest.raises(DataError, match=r"time column 'created_at' must hold every date in one "
                       r"format; it is read as %d/%m/%Y %H:%M:%S \(day/month/year, the format of "
                       r"most rows\) and 40 of 2,000 dates of /data/leads\.csv are not \(row 1: "
                       r"'2025-01-01', row 51: '2025-01-01'"):  # fmt: skip
        LeadSchema.resolve(config, lying)
    epoch = leads.assign(created_at=np.arange(len(leads)) + 1_700_000_000)
    with pytest.raises(DataError, match=r"'created_at' must hold dates, not numbers; got "
                       r"1700000000 \(row 1 of /data/leads\.csv\)"):  # fmt: skip
        LeadSchema.resolve(config, epoch)


def test_training_states_and_records_how_dates_were_read(day_first):
    leads, times = day_first
    result = train(_config(), frame=leads)
    summary = result.summary()
    assert summary["date_formats"] == {"created_at": DAY_FIRST}
    bundle = result.bundle
    assert bundle.metadata["date_formats"] == {"created_at": DAY_FIRST}
    assert bundle.config["columns"]["date_formats"] == {"created_at": DAY_FIRST}
    assert bundle.schema.date_formats == {"created_at": DAY_FIRST}
    parts = summary["split"]["parts"]
    assert parts["test"]["to"] == str(times.max())  # not months after the data
    assert parts["train"]["from"] == str(times.min())


def test_epoch_times_train_with_their_unit(day_first):
    _, times = day_first
    leads = make_leads(2_000, seed=2)
    seconds = leads.assign(created_at=times.astype("datetime64[s]").astype("int64"))
    with pytest.raises(DataError, match=r"time column 'created_at' must hold dates, not numbers"):
        train(_config(), frame=seconds)
    result = train(_config(date_formats={"created_at": "epoch_s"}), frame=seconds)
    parts = result.summary()["split"]["parts"]
    assert parts["train"]["from"] == str(times.min())
    assert parts["test"]["to"] == str(times.max())
    assert result.summary()["date_formats"] == {"created_at": "epoch_s"}


def test_scoring_as_of_a_date_reads_the_dates_as_training_did():
    """A bundle trained from an activity log with day-first dates scores leads whose dates
    alone could be month-first exactly as it scores the same leads given as datetimes."""
    leads, events = make_leads(3_000, seed=8, events=True)

    def text(stamps: pd.Series) -> pd.Series:
        return stamps.dt.strftime(DAY_FIRST).where(stamps.notna(), None)

    table = leads[["lead_id", "created_at", *FIT_COLUMNS, "converted", "converted_at"]]
    table = table.assign(created_at=text(table.created_at), converted_at=text(table.converted_at))
    log = events.assign(timestamp=text(events.timestamp))
    config = _config(converted_at="converted_at").with_overrides(
        features={"fit": FIT_COLUMNS, "engagement": "infer"}, events={"snapshot_days": [14]}
    )
    bundle = train(config, frame=table, events=log).bundle
    assert bundle.config["columns"]["date_formats"] == dict.fromkeys(
        ("created_at", "converted_at", "timestamp"), DAY_FIRST
    )
    early = leads[pd.to_datetime(leads.created_at).dt.day <= 12].iloc[:200]
    typed = early[["lead_id", "created_at", *FIT_COLUMNS]]
    as_text = typed.assign(created_at=text(typed.created_at))
    got = score_frame(bundle, as_text, events=log, as_of="2026-01-01")
    expected = score_frame(bundle, typed, events=events, as_of="2026-01-01")
    np.testing.assert_array_equal(got["probability"], expected["probability"])
    frame, _, _ = add_event_features(
        as_text.iloc[:1], log, ProjectConfig.model_validate(bundle.config), cutoff="2026-01-01"
    )
    age = (pd.Timestamp("2026-01-01") - pd.Timestamp(typed.created_at.iloc[0])).days
    assert int(frame["lead_age_days"].iloc[0]) == min(age, 14)  # clamped to the oldest snapshot


# --- through the CLI: one line, exit 2, nothing written ----------------------------------


def _run(folder: Path, args: list[str], pattern: str) -> str:
    before = sorted(folder.rglob("*"))
    result = runner.invoke(app, [str(a) for a in args])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2, result.output
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert re.search(pattern, errors[0]), errors[0]
    assert sorted(folder.rglob("*")) == before, "a file was written"
    return errors[0]


def _project(folder: Path, leads: pd.DataFrame, extra: str = "", name: str = "leads.csv") -> Path:
    data = folder / name
    if name.endswith(".csv"):
        leads.to_csv(data, index=False)
    config = folder / "mqlml.yaml"
    config.write_text(
        f"data: {{path: {name}}}\n"
        f"columns: {{id: lead_id, time: created_at, label: converted{extra}}}\n"
        "model: {kind: logistic}\nthreshold: {target_rate: 0.3}\n"
    )
    return config


def test_cli_train_refuses_mixed_dates_and_unitless_epochs(tmp_path, day_first):
    _, times = day_first
    leads = make_leads(2_000, seed=2)
    formats = ["%Y-%m-%d", "%d/%m/%Y", "%m-%d-%Y"]
    mixed = leads.assign(created_at=[t.strftime(formats[i % 3]) for i, t in enumerate(times)])
    config = _project(tmp_path, mixed)
    out = tmp_path / "model"
    _run(
        tmp_path,
        ["train", "-c", config, "--no-track", "--out", out],
        r"^error: time column 'created_at' must hold every date in one format; "
        r"it is read as ISO8601 \(year-month-day, the format of most rows\) and 1,333 of 2,000 "
        r"dates of .*leads\.csv are not \(row 2: '\d\d/\d\d/2024', row 3: '\d\d-\d\d-2024'",
    )
    epoch = leads.assign(created_at=times.astype("datetime64[s]").astype("int64"))
    config = _project(tmp_path, epoch)
    _run(
        tmp_path,
        ["train", "-c", config, "--no-track", "--out", out],
        r"^error: time column 'created_at' must hold dates, not numbers; got "
        rf"{epoch.created_at.iloc[0]} \(row 1 of .*\)\. If these are epoch times, .*'epoch_s'",
    )


def test_cli_train_says_how_it_read_the_dates(tmp_path, day_first):
    leads, _ = day_first
    config = _project(tmp_path, leads)
    result = runner.invoke(
        app, ["train", "-c", str(config), "--no-track", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert f"dates read: created_at as {DAY_FIRST} (day/month/year)" in result.output
