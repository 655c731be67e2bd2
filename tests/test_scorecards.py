"""The scorecard: points that reproduce the model, their exports, and their honest fidelity."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mqlml.errors import ConfigError, DataError, RuleError
from mqlml.rules._baseline import PointsBaseline, load_rules, parse_rules
from mqlml.rules._fit import _round_edge
from mqlml.rules._scorecard import fidelity, report_section, scorecard
from mqlml.rules._sql import sql_expression
from tests.conftest import DATA

duckdb = pytest.importorskip("duckdb")


def _duckdb_points(frame: pd.DataFrame, rules) -> np.ndarray:
    con = duckdb.connect()
    con.register("frame", frame.assign(__row=np.arange(len(frame))))
    con.execute("CREATE TABLE leads AS SELECT * FROM frame")
    query = f"SELECT {sql_expression(rules)} AS points FROM leads ORDER BY __row"
    return con.execute(query).fetchnumpy()["points"].astype(float)


def _test_part(bundle, leads):
    from mqlml.model._prepare import holdout

    return holdout(bundle, leads)


@pytest.fixture(scope="module")
def leads(leads_20k):
    return leads_20k.drop(columns="true_probability")


@pytest.fixture(scope="module")
def card(trained, leads, tmp_path_factory):
    out = tmp_path_factory.mktemp("card")
    return scorecard(trained.bundle, frame=leads, out=out, n_boot=300)


# --- the numbers -------------------------------------------------------------------------


def test_edges_are_round_numbers_above_the_previous_edge():
    assert _round_edge(999.0, 27.0) == 990.0  # pdays: 999 (never) stays above the edge
    assert _round_edge(437.0, 400.0) == 430.0
    assert _round_edge(437.0, 432.0) == 437.0  # not below the previous edge
    assert _round_edge(3.2817, 2.0) == 3.2
    assert _round_edge(0.01234, 0.0) == 0.012
    assert _round_edge(1234.0, 100.0) == 1200.0


def test_fidelity_known_answers():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    model = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    card = np.array([50, 40, 45, 10, 30, 0, 0, 0])
    hand = np.array([0, 30, 30, 30, 0, 0, 30, 0])
    f = fidelity(y, model, 0.55, card, 35, hand, 30, n_boot=100)
    assert f["ranking"]["model"] == pytest.approx(13 / 15)
    assert f["ranking"]["kept"] == pytest.approx(
        (f["ranking"]["scorecard"] - 0.5) / (13 / 15 - 0.5)
    )
    line = f["at_line"]
    assert (line["model"]["n_mql"], line["model"]["conversions"]) == (4, 2)
    assert (line["scorecard"]["n_mql"], line["scorecard"]["conversions"]) == (3, 2)
    assert (line["points"]["n_mql"], line["points"]["conversions"]) == (4, 1)
    vol = f["at_volume"]
    assert vol["n_mql"] == 4
    # The card's top 4 (50, 45, 40, 30) hold 3 conversions; the points' 4 MQLs hold 1.
    assert vol["scorecard"]["conversions"] == 3 and vol["points"]["conversions"] == 1
    assert vol["vs_points"]["difference"] == pytest.approx(0.5)
    lo, hi = line["scorecard"]["interval"]
    assert lo < 2 / 3 < hi
    assert f["agreement"] == pytest.approx(7 / 8)


def test_scorecard_keeps_the_model_and_beats_the_points(card):
    """Done when (synthetic sample): >= 95 % of the AUC above 0.5, <= 40 criteria, and a
    better MQL-to-SQL rate than the hand-set points at their own MQL volume."""
    f = card.fidelity
    assert card.n_criteria <= 40
    assert f["ranking"]["scorecard"] - 0.5 >= 0.95 * (f["ranking"]["model"] - 0.5)
    vol = f["at_volume"]
    assert vol["scorecard"]["rate"] > vol["points"]["rate"]
    assert vol["vs_points"]["interval"][0] > 0  # clearly better, not by chance
    assert f["n"] == 4000 and f["at_line"]["points"]["threshold"] == 50.0


def test_points_follow_the_models_score_and_its_mql_line(card, trained, leads):
    raw, _ = _test_part(trained.bundle, leads)
    judge = trained.bundle.backtest
    p = judge.predict_proba(judge.schema.features_frame(raw))
    t = judge.scale.threshold
    score = 50 + 10 * np.log2((p / (1 - p)) / (t / (1 - t)))
    mine = card.points(raw) + card.offset
    assert np.corrcoef(mine, score)[0, 1] > 0.9
    assert card.threshold_points == int(np.ceil(50 - card.offset - 1e-9))
    line = card.fidelity["at_line"]
    assert abs(line["scorecard"]["n_mql"] / line["model"]["n_mql"] - 1) < 0.15
    assert card.fidelity["agreement"] > 0.85


def _additive_leads(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.random(n) < 0.3
    k = rng.integers(0, 6, n)
    seg = rng.choice(["a", "b", "c"], n)
    logit = -2.5 + 1.5 * x + 0.4 * k + pd.Series(seg).map({"a": 0.0, "b": 0.8, "c": -0.8})
    y = rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))
    return pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "created_at": pd.date_range("2024-01-01", periods=n, freq="37min"),
            "asked": np.where(x, "Yes", "No"),
            "visits": k,
            "segment": seg,
            "converted": y.astype(int),
        }
    )


def test_points_on_a_known_additive_model_double_the_odds_every_ten_points():
    """Known answer: log-odds -2.5 + 1.5 [asked] + 0.4 visits + 0.8 [b] - 0.8 [c]. On the
    score scale one log-odds unit is 10 / ln 2 = 14.4 points (times the calibration's
    slope, near 1 for a logistic model)."""
    from mqlml.config._config import ProjectConfig
    from mqlml.model._train import train

    frame = _additive_leads(30_000, seed=5)
    cfg = ProjectConfig(
        data={"path": "-"},
        columns={"id": "lead_id", "label": "converted", "time": "created_at"},
        threshold={"target_rate": 0.45},
        model={"kind": "logistic", "refit": False},
    )
    bundle = train(cfg, frame=frame).bundle
    card = scorecard(bundle, frame=frame, n_boot=10)
    slope = card.fit["calibration_line"]["slope"]
    assert slope == pytest.approx(1.0, abs=0.15)
    unit = 10 / np.log(2) * slope
    by_name = {r.name: r for r in card.rules.rules}
    assert by_name["asked yes"].points == pytest.approx(1.5 * unit, abs=2.5)
    assert by_name["asked yes"].value == "Yes"  # the spelling of the file, for rule engines
    steps = [r for r in card.rules.rules if r.column == "visits"]
    assert [r.op for r in steps] == [">="] * len(steps)
    assert sum(r.points for r in steps) == pytest.approx(2.0 * unit, abs=3)
    seg = {r.value: r.points for r in card.rules.rules if r.column == "segment"}
    # "c" is the lowest level, so it is the reference (0) and unseen levels score as it does.
    assert set(seg) == {"a", "b"}
    assert seg["a"] == pytest.approx(0.8 * unit, abs=2.5)
    assert seg["b"] == pytest.approx(1.6 * unit, abs=2.5)
    assert card.fidelity["ranking"]["kept"] > 0.99
    assert card.fidelity["at_volume"] is None  # no hand-set points in this config


def test_fitted_on_the_training_leads_only(trained, leads, monkeypatch):
    import mqlml.rules._fit as module

    seen = {}
    original = module._candidates

    def spy(schema, X, raw):
        seen["ids"] = set(raw["lead_id"])
        return original(schema, X, raw)

    monkeypatch.setattr(module, "_candidates", spy)
    scorecard(trained.bundle, frame=leads, max_rules=10, n_boot=10)
    parts = trained.parts
    test_ids = set(leads["lead_id"].iloc[parts.test])
    learned = set(leads["lead_id"].iloc[np.concatenate([parts.train, parts.calibrate])])
    assert seen["ids"] == learned  # the backtest's model learned from train + calibrate
    assert not seen["ids"] & test_ids


def test_fewer_criteria_on_request_with_the_trade_off(trained, leads):
    small = scorecard(trained.bundle, frame=leads, max_rules=8, n_boot=10)
    assert 1 <= small.n_criteria <= 8
    rows = small.tradeoff
    assert [r["n_criteria"] for r in rows] == sorted({r["n_criteria"] for r in rows})
    assert all(r["n_criteria"] <= r["max_rules"] <= 8 for r in rows)
    assert rows[-1]["roc_auc"] == pytest.approx(small.fidelity["ranking"]["scorecard"])
    assert rows[0]["roc_auc"] < rows[-1]["roc_auc"]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "30"])
def test_max_rules_must_be_a_positive_whole_number(trained, leads, bad):
    with pytest.raises(ConfigError, match="max_rules must be a positive whole number"):
        scorecard(trained.bundle, frame=leads, max_rules=bad)


def test_refuses_other_leads(trained, leads):
    changed = leads.assign(page_views=leads["page_views"] + 1)
    with pytest.raises(DataError, match="must be the ones the model was trained on"):
        scorecard(trained.bundle, frame=changed)


def test_refuses_an_output_inside_the_bundle(trained, leads):
    with pytest.raises(DataError, match="--out must not be inside the model folder"):
        scorecard(trained.bundle, frame=leads, out=trained.path / "card")


# --- the exports --------------------------------------------------------------------------


def test_yaml_loads_as_points_rules_and_scores_like_the_card(card, trained, leads):
    rules = load_rules(card.paths["yaml"])
    assert rules.mql_threshold == card.threshold_points
    assert len(rules.rules) == card.n_criteria
    assert all(float(r.points).is_integer() and r.points != 0 for r in rules.rules)
    raw, _ = _test_part(trained.bundle, leads)
    np.testing.assert_array_equal(
        PointsBaseline(rules=rules).fit(raw).decision_function(raw), card.points(raw)
    )


def test_sql_gives_the_yaml_points_on_every_test_lead(card, trained, leads):
    raw, _ = _test_part(trained.bundle, leads)
    expected = card.points(raw)
    np.testing.assert_array_equal(_duckdb_points(raw, card.rules), expected)
    np.testing.assert_array_equal(_sqlite_points(raw, card.rules), expected)
    # The written query runs as is and flags MQLs at the card's line.
    con = duckdb.connect()
    con.register("leads", raw)
    query = card.paths["sql"].read_text()
    scored = con.execute(query.rstrip().rstrip(";")).fetchdf()
    assert scored["lead_id"].tolist() == raw["lead_id"].tolist()
    np.testing.assert_array_equal(scored["points"].to_numpy(dtype=float), expected)
    assert (scored["is_mql"].to_numpy() == (expected >= card.threshold_points)).all()


def test_csv_lists_criterion_column_condition_points(card):
    rows = list(csv.DictReader(io.StringIO(card.paths["csv"].read_text())))
    assert [r["criterion"] for r in rows] == card.rules.rule_names
    assert all(int(r["points"]) == card.rules.rules[i].points for i, r in enumerate(rows))
    step = next(r for r in rows if ">=" in r["condition"])
    assert step["condition"].startswith(step["column"] + " >= ")


def test_json_and_markdown_hold_the_fidelity(card):
    record = json.loads(card.paths["json"].read_text())
    assert record["format"] == "mqlml.scorecard/1"
    assert record["n_criteria"] == card.n_criteria
    assert record["fidelity"]["ranking"] == card.fidelity["ranking"]
    md = card.paths["markdown"].read_text()
    assert f"an MQL at **{card.threshold_points} points**" in md
    assert "## Fewer criteria" in md and "hand-set points" in md


def test_report_compares_the_card_and_shows_its_fidelity(card, trained, leads, tmp_path):
    from mqlml.report._files import build_report

    report, paths = build_report(
        trained.bundle, frame=leads, baseline=card.paths["yaml"], out=tmp_path, n_boot=100
    )
    # The report's points side is the card, judged on the same test leads.
    assert report["ranking"]["points"]["roc_auc"] == pytest.approx(
        card.fidelity["ranking"]["scorecard"]
    )
    assert report["baseline"]["mql_threshold"] == card.threshold_points
    assert report["scorecard"]["fidelity"]["ranking"] == card.fidelity["ranking"]
    md = paths["markdown"].read_text()
    assert "## The scorecard, the model and the hand-set points" in md
    assert "The scorecard, the model and the hand-set points" in paths["html"].read_text()
    hand, _ = build_report(trained.bundle, frame=leads, out=tmp_path / "hand", n_boot=50)
    assert hand["scorecard"] is None


def test_an_edited_card_is_not_reported_as_the_fitted_one(card, trained, tmp_path):
    edited = tmp_path / "scorecard.yaml"
    edited.write_text(card.paths["yaml"].read_text().replace("mql_threshold: ", "mql_threshold: 1"))
    (tmp_path / "scorecard.json").write_text(card.paths["json"].read_text())
    assert report_section(edited, trained.bundle) is None
    assert report_section(card.paths["yaml"], trained.bundle) is not None
    assert report_section(DATA / "rules.yaml", trained.bundle) is None


def test_cli_refuses_a_bundle_whose_data_file_holds_other_leads(trained, tmp_path):
    from mqlml.cli import app

    # The fixture's bundle learned from an in-memory frame; its config names the sample
    # file, which holds other leads: nothing is fitted and nothing written.
    result = CliRunner().invoke(
        app, ["scorecard", "--model", str(trained.path), "--out", str(tmp_path / "card")]
    )
    assert result.exit_code == 2, result.output
    assert "must be the ones the model was trained on" in result.output
    assert not (tmp_path / "card").exists()


def test_cli_on_a_bundle_trained_from_a_file(tmp_path, leads):
    from mqlml.cli import app
    from mqlml.config._config import load_config
    from mqlml.model._train import train

    path = tmp_path / "leads.csv"
    leads.iloc[:6000].to_csv(path, index=False)
    cfg = load_config(DATA / "mqlml.yaml").with_overrides(
        data={"path": path}, model={"kind": "logistic", "refit": False}
    )
    train(cfg, out=tmp_path / "model")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "scorecard",
            "--model",
            str(tmp_path / "model"),
            "--out",
            str(tmp_path / "card"),
            "--max-rules",
            "12",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["n_criteria"] <= 12
    assert set(printed["paths"]) == {"yaml", "csv", "sql", "json", "markdown"}
    assert (tmp_path / "card" / "scorecard.sql").is_file()
    # A leads file named like an output is never overwritten.
    own = tmp_path / "own" / "scorecard.csv"
    own.parent.mkdir()
    path.rename(own)
    with pytest.raises(DataError, match="--out must not hold the leads file"):
        scorecard(tmp_path / "model", data=own, out=own.parent)
    own.rename(path)
    moved = tmp_path / "moved.csv"
    path.rename(moved)
    again = runner.invoke(
        app,
        [
            "scorecard",
            "--model",
            str(tmp_path / "model"),
            "--out",
            str(tmp_path / "c2"),
            "--data",
            str(moved),
        ],
    )
    assert again.exit_code == 0, again.output
    assert "MQL at" in again.output and "scorecard.yaml" in again.output
    bad = runner.invoke(
        app, ["scorecard", "--model", str(tmp_path / "model"), "--out", "x", "--max-rules", "0"]
    )
    assert bad.exit_code == 2 and "max-rules" in bad.output


# --- SQL of any fixed-points rules --------------------------------------------------------


def _sqlite_points(frame: pd.DataFrame, rules) -> np.ndarray:
    con = sqlite3.connect(":memory:")
    frame = frame[list(dict.fromkeys(r.column for r in rules.rules))]
    frame.astype(object).where(frame.notna(), None).to_sql("leads", con, index=False)
    rows = con.execute(f"SELECT {sql_expression(rules)} FROM leads ORDER BY rowid").fetchall()
    return np.asarray([r[0] for r in rows], dtype=float)


def test_sql_matches_the_rules_engine_on_awkward_names_and_values():
    rules = parse_rules(
        {
            "mql_threshold": 10,
            "rules": [
                {
                    "name": "a",
                    "column": 'Lead "Source"',
                    "op": "in",
                    "value": ["O'Brien", "x"],
                    "points": 7,
                },
                {"name": "b", "column": "visits", "op": "between", "value": [2, 4.5], "points": 3},
                {"name": "c", "column": "visits", "op": "missing", "points": -2},
                {"name": "d", "column": "visits", "op": "<", "value": 1, "points": 1.5},
                {"name": "e", "column": 'Lead "Source"', "op": "not missing", "points": 1},
                {"name": "f", "column": "flag", "op": "==", "value": 1, "points": 4},
            ],
        }
    )
    frame = pd.DataFrame(
        {
            'Lead "Source"': ["O'Brien", "x", None, "y", "o'brien"],
            "visits": [0.0, 2.0, np.nan, 4.5, 4.6],
            "flag": [1, 0, 1, 0, 1],
        }
    )
    expected = PointsBaseline(rules=rules).fit(frame).decision_function(frame)
    assert expected.tolist() == [13.5, 11.0, 2.0, 4.0, 5.0]
    np.testing.assert_array_equal(_sqlite_points(frame, rules), expected)
    np.testing.assert_array_equal(_duckdb_points(frame, rules), expected)


def test_sql_refuses_rules_it_cannot_write_alike_everywhere():
    rules = parse_rules(
        {"mql_threshold": 10, "rules": [{"name": "visits", "column": "v", "per_unit": 2}]}
    )
    with pytest.raises(RuleError, match="rule 'visits' must be a fixed-points rule"):
        sql_expression(rules)


# --- the public datasets ------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", ["bank", "xeducation"])
def test_public_datasets(real_data, name, tmp_path):
    """Done when (Bank and X Education): >= 95 % of the AUC above 0.5 with <= 40 criteria,
    better than the hand-set points at their volume, the SQL equal to the YAML."""
    from mqlml.config._config import load_config
    from mqlml.leads._read import read_leads
    from mqlml.model._prepare import holdout
    from mqlml.model._train import train

    cfg = load_config(DATA / f"{name}.yaml")
    if name == "xeducation":  # one LightGBM fit instead of three: the same test part
        cfg = cfg.with_overrides(model={"refit": False})
    frame = read_leads(cfg)
    bundle = train(cfg, frame=frame).bundle
    card = scorecard(bundle, frame=frame, out=tmp_path, n_boot=300)
    f = card.fidelity
    assert card.n_criteria <= 40
    assert f["ranking"]["scorecard"] - 0.5 >= 0.95 * (f["ranking"]["model"] - 0.5)
    vol = f["at_volume"]
    assert vol["scorecard"]["rate"] > vol["points"]["rate"]
    raw, _ = holdout(bundle, frame)
    points = card.points(raw)
    np.testing.assert_array_equal(_duckdb_points(raw, load_rules(card.paths["yaml"])), points)
