"""The comparison report: model vs points on the same leads, and the files written."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mqlml.errors import (
    ConfigError,
    DataError,
    InsufficientDataError,
    MissingColumnError,
    RuleError,
)
from mqlml.metrics._evaluate import rate_at_volume
from mqlml.metrics._paired import compare_at_rate, compare_at_volume
from mqlml.model._prepare import holdout
from mqlml.report._compare import REPORT_FORMAT, _baseline_points, compare, percent
from mqlml.report._files import build_report, write_report
from mqlml.report._plots import PLOTS
from mqlml.report._tables import readable
from mqlml.rules._baseline import PointsBaseline

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "report-json.md"


# ---------------------------------------------------------------------------------------
# compare_at_volume and compare_at_rate on hand-made leads
# ---------------------------------------------------------------------------------------

Y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0])
P = np.array([0.9, 0.8, 0.3, 0.2, 0.7, 0.1, 0.15, 0.12, 0.6, 0.05])
POINTS = np.array([0, 60, 60, 0, 50, 0, 55, 0, 0, 0])


def test_at_volume_exact_numbers():
    r = compare_at_volume(Y, P, POINTS, 50, n_boot=100)
    # points MQLs: rows 1, 2, 4, 6 (2 converted); model top 4: rows 0, 1, 4, 8 (4 converted)
    assert r["n_mql"] == 4 and r["n"] == 10 and r["n_converted"] == 4
    assert r["points"] == {
        "n_mql": 4,
        "conversions": 2,
        "rate": 0.5,
        "lift": 1.25,
        "recall": 0.5,
    }
    assert r["model"] == {"n_mql": 4, "conversions": 4, "rate": 1.0, "lift": 2.5, "recall": 1.0}
    assert r["difference"] == 0.5 and r["rate_ratio"] == 2.0 and r["overlap"] == 2
    at = rate_at_volume(Y, P, 4)
    assert (at["conversions"], at["rate"]) == (r["model"]["conversions"], r["model"]["rate"])


def test_at_volume_threshold_counts_points_within_rounding():
    r = compare_at_volume([1, 0, 1], [0.9, 0.5, 0.1], [25 + 24.99, 0, 0], 49.99, n_boot=10)
    assert r["n_mql"] == 1 and r["points"]["conversions"] == 1


def test_at_volume_same_sets_give_a_zero_interval():
    # both sides pass rows 0, 1, 4, 8: every resample gives the same two rates
    r = compare_at_volume(Y, P, [50, 50, 0, 0, 50, 0, 0, 0, 50, 0], 50, n_boot=500)
    assert r["difference"] == 0.0
    assert r["interval"] == [0.0, 0.0]


def _synthetic(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    truth = rng.beta(1, 6, n)
    y = (rng.random(n) < truth).astype(int)
    model_p = np.clip(truth + rng.normal(0, 0.05, n), 0, 1)
    points = np.round((truth + rng.normal(0, 0.15, n)) * 100)
    return y, model_p, points


def test_at_volume_bootstrap_is_deterministic_per_seed_and_contains_the_difference():
    y, p, points = _synthetic()
    a = compare_at_volume(y, p, points, 30, n_boot=1000, seed=3)
    b = compare_at_volume(y, p, points, 30, n_boot=1000, seed=3)
    c = compare_at_volume(y, p, points, 30, n_boot=1000, seed=4)
    assert a == b
    assert a["interval"] != c["interval"]
    lo, hi = a["interval"]
    assert lo < a["difference"] < hi


def test_at_volume_bootstrap_matches_resampling_rows():
    """The multinomial shortcut gives the interval of resampling leads one by one."""
    y, p, points = _synthetic()
    r = compare_at_volume(y, p, points, 30, n_boot=4000, seed=0)
    n, n_mql = y.size, r["n_mql"]
    model_mql = np.zeros(n, bool)
    model_mql[np.argsort(-p, kind="stable")[:n_mql]] = True
    points_mql = points >= 30
    idx = np.random.default_rng(1).integers(0, n, size=(4000, n))
    ym, mm, pm = y[idx], model_mql[idx], points_mql[idx]
    diff = (ym * mm).sum(1) / mm.sum(1) - (ym * pm).sum(1) / pm.sum(1)
    expected = np.quantile(diff, [0.05, 0.95])
    np.testing.assert_allclose(r["interval"], expected, atol=0.006)


def test_at_volume_is_fast_on_many_leads():
    y, p, points = _synthetic(n=200_000)
    r = compare_at_volume(y, p, points, 30, n_boot=1000)
    assert r["n_boot"] == 1000 and r["interval"][0] < r["difference"] < r["interval"][1]


def test_at_volume_without_points_mql_raises():
    with pytest.raises(InsufficientDataError, match=r"points must make at least one MQL.*>= 70"):
        compare_at_volume(Y, P, POINTS, 70)


def test_at_volume_bad_inputs_raise():
    with pytest.raises(DataError, match="points must have one value per lead"):
        compare_at_volume(Y, P, POINTS[:5], 50)
    with pytest.raises(DataError, match="y must contain only 0 and 1"):
        compare_at_volume(Y * 2, P, POINTS, 50)
    with pytest.raises(DataError, match="model_p must be finite"):
        compare_at_volume(Y, np.where(Y == 1, np.nan, P), POINTS, 50)
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        compare_at_volume(Y, P, POINTS, 50, n_boot=0)
    with pytest.raises(ValueError, match="confidence must be in"):
        compare_at_volume(Y, P, POINTS, 50, confidence=1.5)


def test_at_rate_keeps_the_cutoff_with_most_mqls_at_that_rate():
    y = [1, 0, 1, 1, 1, 0]
    p = [0.9, 0.1, 0.8, 0.7, 0.2, 0.6]  # MQLs at 0.5: rows 0, 2, 3, 5 -> 3 of 4 = 0.75
    points = [30, 20, 10, 10, 10, 0]
    # cut-offs: 30 -> 1/1, 20 -> 1/2, 10 -> 4/5, 0 -> 4/6: 10 is the lowest that reaches 0.75
    r = compare_at_rate(y, p, 0.5, points)
    assert r["model"] == {"n_mql": 4, "conversions": 3, "rate": 0.75, "share": 4 / 6}
    assert r["points"] == {
        "cutoff": 10.0,
        "n_mql": 5,
        "conversions": 4,
        "rate": 0.8,
        "share": 5 / 6,
    }
    assert r["more_mqls"] == -1


def test_at_rate_when_no_cutoff_or_no_mql():
    r = compare_at_rate([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2], 0.5, [10, 10, 0, 0])
    assert r["model"]["rate"] == 1.0
    assert r["points"]["cutoff"] is None and r["points"]["n_mql"] == 0
    assert r["more_mqls"] == 2
    r = compare_at_rate([1, 0], [0.3, 0.2], 0.5, [10, 0])
    assert r["model"]["n_mql"] == 0 and r["model"]["rate"] is None and r["more_mqls"] is None


# ---------------------------------------------------------------------------------------
# compare() on the synthetic sample, with data/rules.yaml
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leads(leads_20k):
    return leads_20k.drop(columns="true_probability")


@pytest.fixture(scope="module")
def report(trained, leads):
    return compare(trained.path, leads, n_boot=1000, seed=0)


@pytest.fixture(scope="module")
def test_part(trained, leads):
    bundle = trained.bundle.backtest or trained.bundle  # the report judges by the backtest
    raw, y = holdout(bundle, leads)
    p = bundle.predict_proba(bundle.schema.features_frame(raw))
    points = PointsBaseline.from_yaml(ROOT / "data" / "rules.yaml").fit(raw).decision_function(raw)
    return y, p, points


def test_compare_recomputes_from_the_test_part(report, test_part, trained):
    y, p, points = test_part
    assert report["format"] == REPORT_FORMAT
    assert report["data"]["n"] == y.size == trained.parts.sizes()["test"]
    assert report["baseline"]["evaluated_on"] == "raw"
    assert report["baseline"]["rules_file"] == str(ROOT / "data" / "rules.yaml")
    vol = report["at_volume"]
    n_mql = int((points >= 50).sum())
    assert vol["n_mql"] == n_mql
    assert vol["points"]["rate"] == pytest.approx(y[points >= 50].mean())
    assert vol["model"]["rate"] == pytest.approx(rate_at_volume(y, p, n_mql)["rate"])
    rank = report["ranking"]
    assert rank["points"]["roc_auc"] == pytest.approx(roc_auc_score(y, points))
    assert rank["points"]["pr_auc"] == pytest.approx(average_precision_score(y, points))
    assert rank["model"]["roc_auc"] == pytest.approx(trained.metrics["roc_auc"])
    assert report["calibration"]["ece"] == pytest.approx(trained.metrics["ece"])


def test_model_beats_points_at_equal_volume(report):
    vol = report["at_volume"]
    assert vol["model"]["rate"] > vol["points"]["rate"]
    lo, hi = vol["interval"]
    assert 0 < lo < vol["difference"] < hi
    assert report["headline"].startswith(
        f"The backtest model's MQLs convert at {100 * vol['model']['rate']:.1f} %, the points' at "
        f"{100 * vol['points']['rate']:.1f} %, at the same {vol['n_mql']:,} MQLs ("
    )
    assert "percentage points" in report["headline"]


# The leads are synthetic with known true probabilities: on this test part even the true
# probability reaches only 44.9 % at the points' 535 MQLs, against 38.7 % for the points
# (1.16x); the model reaches 42.8 % (1.11x). No model can reach 1.5x on this generator
# with the classic rules; the test stays as the issue states it.
def test_model_rate_is_at_least_1_5x_points_at_equal_volume(sample_config):
    # The bundled sample (data/sample_leads.csv) with the classic rules (data/rules.yaml).
    from mqlml.model._train import train

    vol = compare(train(sample_config).bundle)["at_volume"]
    assert vol["n_mql"] > 300
    assert vol["model"]["rate"] >= 1.5 * vol["points"]["rate"]
    assert vol["interval"][0] > 0


def test_compare_at_target_threshold(report, test_part, trained):
    y, p, points = test_part
    at = report["at_target"]
    threshold = (trained.bundle.backtest or trained.bundle).threshold.threshold
    mql = p >= threshold
    assert at["model"]["n_mql"] == int(mql.sum())
    bar = y[mql].mean()
    assert at["model"]["rate"] == pytest.approx(bar)
    # brute force: the most MQLs any points cut-off passes at the model's rate or better
    best = max(
        (int((points >= c).sum()), c) for c in np.unique(points) if y[points >= c].mean() >= bar
    )
    assert (at["points"]["n_mql"], at["points"]["cutoff"]) == best
    assert at["more_mqls"] == at["model"]["n_mql"] - best[0]
    assert at["more_mqls"] > 0  # the model passes more MQLs at that rate
    assert any(f"{at['more_mqls']:,} more MQLs" in s for s in report["summary"])


def test_compare_grid_and_drivers(report, test_part, trained):
    y, _, _ = test_part
    grid = report["grid"]
    count = np.array(grid["count"])
    assert count.sum() == y.size and np.array(grid["conversions"]).sum() == y.sum()
    # terciles: about a third of the leads per row and per column
    np.testing.assert_allclose(count.sum(axis=1), y.size / 3, atol=2)
    np.testing.assert_allclose(count.sum(axis=0), y.size / 3, atol=2)
    rate = np.array(grid["rate"], dtype=float)
    assert rate[2, 2] > 3 * rate[0, 0]  # high fit and high engagement convert most
    drivers = report["drivers"]["features"]
    assert {d["feature"] for d in drivers} == set(trained.bundle.schema.features)
    values = [d["mean_abs_contribution"] for d in drivers]
    assert values == sorted(values, reverse=True) and values[0] > 0
    assert "pricing_page_visits" in [d["feature"] for d in drivers[:5]]
    assert {d["group"] for d in drivers if d["feature"] == "seniority"} == {"fit"}


def test_compare_curves(report):
    c = report["curves"]
    gains = c["gains"]
    assert gains["model"][0] == 0.0 and gains["model"][-1] == pytest.approx(1.0)
    assert len(gains["share_of_leads"]) == len(gains["points"]) == 101
    assert gains["baseline_volume_share"] == report["at_volume"]["n_mql"] / report["data"]["n"]
    dist = c["distribution"]
    assert sum(dist["converted"]) == report["data"]["n_converted"]
    assert sum(dist["converted"]) + sum(dist["not_converted"]) == report["data"]["n"]
    assert c["rate"]["mql_share"][0] == 1.0


def test_compare_without_rules_raises(trained, leads):
    config = {**trained.bundle.config, "baseline": {"rules": None}}
    bundle = dataclasses.replace(trained.bundle, config=config)
    with pytest.raises(ConfigError, match=r"baseline.rules must name a rules file.*--baseline"):
        compare(bundle, leads)


def test_compare_with_other_rules(trained, leads, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "name: demo only\nmql_threshold: 30\nrules:\n"
        '  - {name: demo, column: demo_requested, op: "==", value: 1, points: 30}\n'
    )
    r = compare(trained.bundle, leads, baseline=rules, n_boot=200)
    raw, _ = holdout(trained.bundle, leads)
    assert r["baseline"]["name"] == "demo only" and r["baseline"]["n_rules"] == 1
    assert r["at_volume"]["n_mql"] == int((raw["demo_requested"] == 1).sum())
    rules.write_text(
        "mql_threshold: 30\nrules:\n"
        '  - {name: demo, column: demo_request, op: "==", value: 1, points: 30}\n'
    )
    with pytest.raises(MissingColumnError, match=r"column 'demo_request'.*did you mean"):
        compare(trained.bundle, leads, baseline=rules)


def test_points_fall_back_to_coerced_features(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'mql_threshold: 10\nrules:\n  - {name: optin, column: optin, op: ">=", value: 1, '
        "points: 10}\n"
    )
    raw = pd.DataFrame({"id": [1, 2, 3], "optin": ["Yes", "No", "Yes"]})
    features = pd.DataFrame({"optin": [1.0, 0.0, 1.0]})
    _, points, where = _baseline_points(rules, raw, features)
    assert where == "features" and points.tolist() == [10.0, 0.0, 10.0]
    _, points, where = _baseline_points(rules, features, features)
    assert where == "raw"
    rules.write_text(
        "mql_threshold: 10\nrules:\n  - {name: optin, column: optin, op: contains, value: y, "
        "points: 10}\n"
    )
    with pytest.raises(RuleError, match=r"rule 'optin' \(#1\).*must be text for op 'contains'"):
        _baseline_points(rules, features, features)


# ---------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(report, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "sample"
    return write_report(report, out)


_TYPES = {
    "string": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "object": dict,
}


def _documented() -> dict[str, dict[str, str]]:
    """{section path: {field: type}} from the tables of docs/report-json.md."""
    sections: dict[str, dict[str, str]] = {}
    current: list[str] = []
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            current = re.findall(r"`([^`]+)`", line) or [line[3:].strip()]
            for name in current:
                sections[name] = {}
        elif current and (row := re.match(r"\| `([^`]+)` \| ([a-z ]+) \|", line)):
            for name in current:
                sections[name][row.group(1)] = row.group(2)
    return sections


def _at(report: dict, path: str) -> list:
    """The objects at a documented path (``a.b``, ``a.c[]`` for each item of a list)."""
    objects = [report]
    for part in path.split("."):
        many = part.endswith("[]")
        # a section documented as "object or null" has no fields to check when null
        objects = [o[part.removesuffix("[]")] for o in objects if o is not None]
        if many:
            objects = [item for o in objects if o is not None for item in o]
    return [o for o in objects if o is not None]


def _check_type(value, kind: str, where: str) -> None:
    names = kind.split(" or ")
    if value is None:
        assert "null" in names, f"{where} is null but documented as {kind}"
        return
    allowed = tuple(_TYPES[n] for n in names if n != "null")
    ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
    assert ok, f"{where} is {type(value).__name__}, documented as {kind}"


def test_report_json_has_the_documented_structure(written, report):
    data = json.loads(written["json"].read_text())
    assert data == report
    sections = _documented()
    top = sections.pop("Top-level keys")
    assert set(top) == set(data), "top-level keys differ from docs/report-json.md"
    for key, kind in top.items():
        _check_type(data[key], kind, key)
    assert {s.split(".")[0].removesuffix("[]") for s in sections} <= set(top)
    for path, fields in sections.items():
        for obj in _at(data, path):
            assert set(fields) == set(obj), f"{path}: fields differ from the docs"
            for name, kind in fields.items():
                _check_type(obj[name], kind, f"{path}.{name}")
    # every documented object is described
    objects = {k for k, v in top.items() if v == "object"}
    assert objects <= set(sections)
    assert isinstance(data["summary"], list) and 2 <= len(data["summary"]) <= 4


class _Collector(HTMLParser):
    VOID: ClassVar[set[str]] = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.images: list[str] = []
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


def test_report_html_is_self_contained(written):
    text = written["html"].read_text()
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert parser.stack == []  # every element closed, in order
    assert len(parser.images) == len(PLOTS) == 7
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "script" not in parser.tags and "<script" not in text.lower()
    assert not {"link", "iframe", "object", "embed"} & parser.tags
    assert not any(name in ("href", "srcset") for name, _ in parser.attributes)
    assert 'src="http' not in text and "url(" not in text and "@import" not in text
    with_src = [v for name, v in parser.attributes if name == "src"]
    assert all(v.startswith("data:") for v in with_src)


def test_report_md_and_folder(written, report):
    md = written["markdown"].read_text()
    assert report["headline"] in md
    assert "| MQL-to-SQL rate |" in md and str(written["html"]) in md
    folder = written["json"].parent
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json", "report.md"]


def test_write_report_rejects_other_dicts(tmp_path):
    with pytest.raises(DataError, match=r"report must be a dict made by mqlml.report.compare"):
        write_report({"headline": "x"}, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_import_does_not_load_matplotlib():
    code = "import sys, mqlml.report._files; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------
# A bundle saved with its leads file: build_report and the CLI read the leads themselves
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def file_bundle(tmp_path_factory, trained, leads):
    """The trained bundle, its config pointing at a CSV of the leads it was trained on."""
    folder = tmp_path_factory.mktemp("project")
    leads.to_csv(folder / "leads.csv", index=False)
    config = trained.bundle.config
    config = {**config, "data": {**config["data"], "path": str(folder / "leads.csv")}}
    return dataclasses.replace(trained.bundle, config=config).save(folder / "model")


def test_build_report_reads_the_leads_from_the_config(file_bundle, tmp_path):
    report, paths = build_report(str(file_bundle), out=tmp_path / "r", n_boot=200)
    assert report["model"]["path"] == str(file_bundle)
    assert report["data"]["n"] == 4000
    assert set(paths) == {"json", "markdown", "html"} and all(p.is_file() for p in paths.values())
    assert json.loads(paths["json"].read_text())["headline"] == report["headline"]


# CLI
def test_cli_report(file_bundle, tmp_path):
    from typer.testing import CliRunner

    from mqlml.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["report", "--model", str(file_bundle), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["headline"].startswith("The backtest model's MQLs convert at")
    assert printed["paths"]["html"] == str(out / "report.html")
    assert json.loads((out / "report.json").read_text())["model"]["path"] == str(file_bundle)
    no_rules = tmp_path / "missing.yaml"
    result = CliRunner().invoke(
        app, ["report", "--model", str(file_bundle), "--baseline", str(no_rules), "--out", str(out)]
    )
    assert result.exit_code == 2 and "rules file must be an existing file" in result.output


# ---------------------------------------------------------------------------------------
# What a marketing-ops reader needs: rules, periods, tiers, months, segments, names
# ---------------------------------------------------------------------------------------


def test_readable_names():
    assert readable("pricing_page_visits") == "Pricing page visits"
    assert readable("TotalVisits") == "Total visits"
    assert readable("days_since_last_activity") == "Days since last activity"
    assert readable("SQL_date") == "SQL date"
    assert readable("Lead Source") == "Lead Source"
    assert readable("country", {"country": "Country of the lead"}) == "Country of the lead"


def test_rules_table_counts_each_rule_on_the_test_leads(report, trained, leads):
    raw, y = holdout(trained.bundle, leads)
    rules = {r["name"]: r for r in report["rules"]}
    assert list(rules) == PointsBaseline.from_yaml(ROOT / "data" / "rules.yaml").rules.rule_names
    demo = rules["demo request"]
    fired = (raw["demo_requested"] == 1).to_numpy()
    assert (demo["condition"], demo["points"]) == ("demo_requested == 1", 30.0)
    assert demo["leads"] == fired.sum() and demo["conversions"] == y[fired].sum()
    student = rules["student"]
    assert student["points"] == -20.0 and student["leads"] == (raw["seniority"] == "Student").sum()
    assert rules["target seniority"]["condition"] == "seniority is one of C-level, VP, Director"


def test_context_names_the_split_the_test_period_and_versions(report, trained, leads):
    from datetime import datetime

    raw, _ = holdout(trained.bundle, leads)
    ctx = report["context"]
    times = pd.to_datetime(raw["created_at"])
    assert (ctx["test_from"], ctx["test_to"]) == (str(times.min()), str(times.max()))
    assert ctx["split"] == "time"
    assert ctx["parts"] == {"train": 12_000, "calibrate": 4_000, "test": 4_000}
    assert ctx["versions"]["mqlml"] and ctx["trained_versions"]["lightgbm"]
    age = datetime.now(datetime.fromisoformat(ctx["generated_at"]).tzinfo) - datetime.fromisoformat(
        ctx["generated_at"]
    )
    assert age.total_seconds() < 3_600


def test_tier_table_on_the_score_scale(report, test_part, trained):
    y, p, _ = test_part
    bundle = trained.bundle.backtest or trained.bundle
    tiers = report["tiers"]
    assert tiers["mql_score"] == pytest.approx(
        bundle.score(np.array([bundle.threshold.threshold]))[0]
    )
    assert tiers["model"] == "backtest" and tiers["points_to_double_odds"] == 10
    assert tiers["mql_probability"] == pytest.approx(bundle.threshold.threshold)
    rows = tiers["rows"]
    assert [r["tier"] for r in rows] == list(bundle.tiers.names)
    assert sum(r["leads"] for r in rows) == y.size
    assert sum(r["conversions"] for r in rows) == y.sum()
    top = rows[0]
    assert top["mql"] and not any(r["mql"] for r in rows[1:])
    assert (
        top["leads"]
        == report["at_target"]["model"]["n_mql"]
        == (p >= bundle.threshold.threshold).sum()
    )
    assert top["score_from"] == pytest.approx(tiers["mql_score"]) and top["score_to"] == 100.0
    for r in rows:
        inside = (p >= r["probability_from"]) & (p < r["probability_to"])
        if r["probability_to"] == 1.0:
            inside |= p == 1.0
        assert r["leads"] == inside.sum()
        assert r["rate"] == pytest.approx(y[inside].mean())
    rates = [r["rate"] for r in rows]
    # the MQL tier converts most; the bands below it hold few conversions each (noise)
    assert rates[0] > 5 * max(rates[1:])


def test_the_scale_is_the_scoring_bundles(report, written, trained, leads):
    deployed, backtest = trained.bundle, trained.bundle.backtest
    assert deployed.threshold.threshold != pytest.approx(backtest.threshold.threshold, rel=0.01)
    scale = report["scale"]
    assert scale["model"] == "deployed" and not scale["segment_lines"]
    assert scale["mql_probability"] == deployed.threshold.threshold
    assert scale["table"] == deployed.scale.table()
    assert scale["table"][5]["probability"] == pytest.approx(deployed.threshold.threshold)
    assert [t["probability_from"] for t in scale["tiers"]] == [
        *deployed.tiers.cuts[::-1],
        0.0,
    ]
    bounds = [b for t in scale["tiers"] for b in (t["score_from"], t["score_to"])]
    assert bounds == pytest.approx([50, 100, 40, 50, 30, 40, 0, 30])
    # the test leads it clips to 0 and 100, scored as `mqlml score` scores them
    raw, _ = holdout(deployed, leads)
    scores = deployed.score(deployed.predict_proba(deployed.schema.features_frame(raw), raw))
    assert scale["leads"] == len(raw)
    assert (scale["at_0"], scale["at_100"]) == ((scores == 0).sum(), (scores == 100).sum())
    assert scale["at_0"] > 0 and scale["at_100"] > 0
    # the words: the scoring bundle's probabilities, the backtest's named as such
    md = written["markdown"].read_text()
    section = md.split("## The score scale of the bundle that scores")[1].split("## ")[0]

    def pct(p):
        return f"{100 * p:.2f} %" if p < 0.01 else f"{100 * p:.1f} %".replace(".0 %", " %")

    line = deployed.threshold.threshold
    assert f"its MQL line sits at score 50 (a {pct(line)} conversion probability)" in section
    for row in scale["table"]:
        assert f"| {row['score']:g} | {pct(row['probability'])} |" in section
    shown = f"{scale['at_0']:,} ({100 * scale['at_0'] / scale['leads']:.1f} %) sit at 0"
    assert shown in section and "their probability still does" in section
    assert (
        f"The backtest model judged below puts its line at {pct(backtest.threshold.threshold)}"
        in section
    )
    assert f"score 30 = {pct(backtest.scale.probability(30.0))}" not in md
    tiers = md.split("## Tiers on the test leads (backtest model)")[1].split("## ")[0]
    assert f"(the bundle that scores: {pct(line)}, above)" in tiers
    assert "Which model.* Every number on the test leads is from the backtest" in md
    assert "| on the test leads | backtest model | points |" in md


def _exact(k, n):
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
    return [ci.low, ci.high]


def test_monthly_rate_over_the_test_period(report, test_part, trained, leads):
    y, p, _ = test_part
    raw, _ = holdout(trained.bundle, leads)
    monthly = report["monthly"]
    assert monthly["by"] == "creation month" and monthly["target_rate"] == 0.25
    months = pd.to_datetime(raw["created_at"]).dt.to_period("M").astype(str).to_numpy()
    assert [r["period"] for r in monthly["rows"]] == sorted(set(months))
    mql = p >= (trained.bundle.backtest or trained.bundle).threshold.threshold
    for r in monthly["rows"]:
        rows = months == r["period"]
        assert r["leads"] == rows.sum() and r["n_mql"] == (rows & mql).sum()
        assert r["conversions"] == y[rows & mql].sum()
        assert r["interval"] == pytest.approx(_exact(r["conversions"], r["n_mql"]))
    assert sum(r["n_mql"] for r in monthly["rows"]) == report["at_target"]["model"]["n_mql"]


def test_segments_by_lead_source_and_country(report, test_part, trained, leads):
    y, p, _ = test_part
    raw, _ = holdout(trained.bundle, leads)
    mql = p >= (trained.bundle.backtest or trained.bundle).threshold.threshold
    assert [s["column"] for s in report["segments"]] == ["lead_source", "country"]
    source = report["segments"][0]
    assert source["label"] == "Lead source"
    counts = raw["lead_source"].value_counts()
    assert [r["value"] for r in source["rows"]] == list(counts.index)
    for r in source["rows"]:
        rows = (raw["lead_source"] == r["value"]).to_numpy()
        assert r["leads"] == counts[r["value"]] and r["n_mql"] == (rows & mql).sum()
        assert r["base_rate"] == pytest.approx(y[rows].mean())
        if r["n_mql"]:
            assert r["interval"] == pytest.approx(_exact(r["conversions"], r["n_mql"]))
    country = report["segments"][1]
    assert sum(r["leads"] for r in country["rows"]) == y.size
    assert "(missing)" in [r["value"] for r in country["rows"]]


def test_segments_must_be_columns(trained, leads):
    config = {**trained.bundle.config, "report": {"segments": ["region"], "labels": {}}}
    backtest = dataclasses.replace(trained.bundle.backtest, config=config)
    bundle = dataclasses.replace(trained.bundle, config=config, backtest=backtest)
    with pytest.raises(MissingColumnError, match=r"report.segments must name columns.*'region'"):
        compare(bundle, leads, n_boot=50)


def test_driver_labels_and_quantile_curve(report, test_part):
    y, p, _ = test_part
    labels = {d["feature"]: d["label"] for d in report["drivers"]["features"]}
    assert labels["pricing_page_visits"] == "Pricing page visits"  # from report.labels
    assert labels["email_clicks"] == "Email clicks"  # made readable
    curve = report["curves_quantile"]
    assert curve["mql_share"][0] == 1.0 and curve["realized_rate"][0] == pytest.approx(y.mean())
    top = round(0.01 * y.size)
    assert curve["realized_rate"][-1] == pytest.approx(
        y[np.argsort(-p, kind="stable")[:top]].mean()
    )
    bands = report["reliability_intervals"]
    assert len(bands) == len(report["calibration"]["curve"])
    for band, b in zip(bands, report["calibration"]["curve"], strict=True):
        assert band[0] <= b["observed_rate"] <= band[1]


def test_report_md_shows_the_tables(written, report):
    md = written["markdown"].read_text()
    for title in (
        "## The score scale of the bundle that scores",
        "## Tiers on the test leads (backtest model)",
        "## MQL-to-SQL rate by creation month",
        "## By Lead source",
        "## The points rules",
        "## Data and versions",
    ):
        assert title in md
    assert "| demo request | demo_requested == 1 | +30 |" in md
    assert "percentage points" in md and "30.5076" not in md


# ---------------------------------------------------------------------------------------
# The HTML as a reader sees it: rendered by a real headless browser
# ---------------------------------------------------------------------------------------

# Appended to a copy of the page only (the report itself has no script): after loading,
# write what the browser decoded into the DOM that --dump-dom prints.
_PROBE = """<script>
const out = {images: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight,
  i.getBoundingClientRect().width]),
  tables: [...document.querySelectorAll("table")].map(t => t.rows.length),
  headings: [...document.querySelectorAll("h2")].map(h => h.textContent)};
const pre = document.createElement("pre"); pre.id = "probe";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def _browser() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (make chromium installs Debian's)")
    return found


def _render(html_path: Path, tmp_path: Path) -> tuple[dict, Path]:
    """Run headless Chromium on the page: what it decoded, and a screenshot."""
    browser = _browser()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1100,1400",
    ]
    probe = tmp_path / "probe.html"
    probe.write_text(html_path.read_text().replace("</body>", _PROBE + "</body>"))
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"chromium printed no probe: {dom.stderr[-2000:]}"
    import html as html_lib

    result = json.loads(html_lib.unescape(found.group(1)))
    shot = tmp_path / "page.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", html_path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return result, shot


def _assert_rendered(html_path: Path, tmp_path: Path, report: dict) -> None:
    from PIL import Image

    result, shot = _render(html_path, tmp_path)
    expected = len(PLOTS) - (0 if report["monthly"]["rows"] else 1)
    assert len(result["images"]) == expected
    for complete, width, height, shown in result["images"]:
        assert complete and width > 300 and height > 200 and shown > 300  # decoded PNGs
    # comparison, scale, tiers, monthly (when there is an order in time), segments, rules,
    # context
    n_tables = 5 + bool(report["monthly"]["rows"]) + len(report["segments"])
    assert len(result["tables"]) == n_tables
    assert all(rows >= 2 for rows in result["tables"])
    assert "The score scale of the bundle that scores" in result["headings"]
    assert "The points rules" in result["headings"]
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (1400, 1100)
    assert (image < 128).mean() > 0.01  # text and plots drawn, not a blank page


def test_report_renders_in_a_browser(written, report, tmp_path):
    _assert_rendered(written["html"], tmp_path, report)


# Headless Chromium lays a window out at least 500 pixels wide: a phone's 390 is an
# iframe of that width around the page (srcdoc: the same origin as the probe, which reads
# the page's layout once it has loaded).
_PHONE_PROBE = """<script>
window.addEventListener("load", () => {
  const d = document.getElementById("page").contentDocument, w = d.defaultView;
  const box = e => e.getBoundingClientRect();
  const out = {width: w.innerWidth, page: d.documentElement.scrollWidth,
    font: parseFloat(w.getComputedStyle(d.body).fontSize),
    viewport: (d.querySelector("meta[name=viewport]") || {}).content || null,
    tables: [...d.querySelectorAll("table")].map(t => [t.parentElement.className,
      box(t.parentElement).right, w.getComputedStyle(t.parentElement).overflowX, box(t).width]),
    images: [...d.images].map(i => [box(i).right, box(i).width, i.naturalWidth])};
  const pre = document.createElement("pre"); pre.id = "probe";
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""


def _on_a_phone(html_path: Path, tmp_path: Path, width: int = 390) -> tuple[dict, Path]:
    """The page laid out ``width`` pixels wide: its layout as measured, and a screenshot."""
    import html as html_lib

    browser = _browser()
    frame = (
        '<!DOCTYPE html><html><body style="margin:0"><iframe id="page" '
        f'style="border:0;width:{width}px;height:20000px" '
        f'srcdoc="{html_lib.escape(html_path.read_text(), quote=True)}"></iframe>'
    )
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=500,20000",
    ]
    probe = tmp_path / "phone-probe.html"
    probe.write_text(frame + _PHONE_PROBE + "</body></html>")
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"chromium printed no probe: {dom.stderr[-2000:]}"
    page = tmp_path / "phone.html"
    page.write_text(frame + "</body></html>")
    shot = tmp_path / "phone.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=180,
        check=True,
    )
    return json.loads(html_lib.unescape(found.group(1))), shot


def test_report_reads_on_a_phone(written, report, tmp_path):
    from PIL import Image

    result, shot = _on_a_phone(written["html"], tmp_path)
    assert result["width"] == 390
    assert result["viewport"] == "width=device-width, initial-scale=1"
    assert result["page"] <= 390  # nothing pushes the page sideways
    assert result["font"] >= 15
    wide = 0
    for wrapper, right, overflow, width in result["tables"]:
        # each table scrolls inside its own wrapper, which stays on the screen
        assert wrapper == "scroll" and overflow == "auto" and right <= 390
        wide += width > 390
    assert wide >= 1  # the tier table has 7 columns: it scrolls, the page does not
    assert len(result["images"]) == len(PLOTS)
    for right, shown, natural in result["images"]:
        assert right <= 390 and shown >= 340 and natural >= 700  # scaled down, sharp
    image = np.asarray(Image.open(shot).convert("L"))[:, :390]
    assert (image < 128).mean() > 0.005


def test_report_html_fits_any_width(written):
    text = written["html"].read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    # every table sits in a scrolling wrapper of its own
    assert text.count("<table>") == text.count("<div class='scroll'><table>") >= 8
    assert ".scroll{overflow-x:auto" in text
    assert "figure img{display:block;width:100%" in text


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["bank", "xeducation"])
def test_public_dataset_reports_render_in_a_browser(real_data, name, tmp_path):
    from mqlml.config._config import load_config
    from mqlml.model._train import train

    _browser()
    result = train(load_config(ROOT / "data" / f"{name}.yaml"), out=tmp_path / "model")
    report, paths = build_report(result.bundle, out=tmp_path / "report", n_boot=200)
    assert report["segments"] and report["rules"]
    _assert_rendered(paths["html"], tmp_path, report)


def test_monthly_caption_counts_periods_at_target(written, report):
    rows = [r for r in report["monthly"]["rows"] if r["rate"] is not None]
    reached = sum(r["interval"][1] >= 0.25 for r in rows)
    assert [r["at_target"] for r in rows] == [r["interval"][1] >= 0.25 for r in rows]
    md = written["markdown"].read_text()
    assert f"It was at target in {reached} of {len(rows)} periods with MQLs" in md


def test_a_month_whose_interval_holds_the_target_is_at_target(trained):
    # 2025-01: 24 of 100 MQLs converted (24 %, interval about 17-32 %) holds the 25 %
    # target; 2025-02: 10 of 100 (interval about 5.5-16 %) is clearly under it.
    from mqlml.report._files import _monthly_table
    from mqlml.report._tables import _periods

    bundle = trained.bundle.backtest
    assert bundle.threshold.target_rate == 0.25
    created = ["2025-01-15"] * 100 + ["2025-02-15"] * 100
    raw = pd.DataFrame({"created_at": created})
    y = np.r_[np.arange(100) < 24, np.arange(100) < 10].astype(int)
    monthly = _periods(y, np.ones(200, dtype=bool), raw, bundle)
    first, second = monthly["rows"]
    assert first["rate"] == 0.24 and first["interval"][0] < 0.25 < first["interval"][1]
    assert second["interval"][1] < 0.25
    assert [first["at_target"], second["at_target"]] == [True, False]
    _, caption, header, rows = _monthly_table(
        {"monthly": monthly, "backtest": {"numbers_from": "backtest"}}
    )
    assert caption.startswith("The MQL-to-SQL rate of the backtest model's MQLs by creation month")
    assert header[-1] == "at target"
    assert [(r[0], r[-1]) for r in rows] == [("2025-01", "yes"), ("2025-02", "no")]
    assert "It was at target in 1 of 2 periods with MQLs; in 1 clearly below" in caption


def test_plots_on_a_log_odds_score_scale(report):
    # A score on a points scale (50 at the MQL line, 20 points doubling the odds) is not
    # proportional to the probability: the plots draw it on linear axes, and still draw.
    from mqlml.report._plots import _proportional, render_plots

    t = report["tiers"]["mql_probability"]

    def points(p):
        p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
        return np.clip(50 + 20 * np.log2((p / (1 - p)) / (t / (1 - t))), 0, 100)

    curve = report["curves_quantile"]
    assert not _proportional(curve["score"], curve["threshold"])  # the points scale
    assert not _proportional(points(curve["threshold"]), curve["threshold"])
    other = json.loads(json.dumps(report))
    other["curves_quantile"]["score"] = points(curve["threshold"]).tolist()
    hist = other["curves_quantile"]["histogram"]
    hist["score_edges"] = points(hist["edges"]).tolist()
    other["tiers"]["mql_score"] = 50.0
    images = render_plots(other)
    assert [name for name, *_ in images] == list(PLOTS)
    assert all(base64.b64decode(png)[:4] == b"\x89PNG" for *_, png in images)


def _figures(report):
    from mqlml.report._plots import figures

    return {name: figure for name, _, _, figure in figures(report)}


def test_plot_text_is_readable_on_a_phone(report):
    from matplotlib.text import Text

    from mqlml.report._plots import MIN_TEXT_PX, PHONE_WIDTH

    for name, figure in _figures(report).items():
        shown = PHONE_WIDTH / figure.get_figwidth()  # pixels per inch on a phone
        texts = [
            t
            for t in figure.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
        ]
        assert len(texts) > 5, name
        smallest = min(t.get_fontsize() for t in texts) / 72 * shown
        assert smallest >= MIN_TEXT_PX, f"{name}: text {smallest:.1f} px high on a phone"


def _labels(axis) -> list[str]:
    """The tick labels shown: inside the axis' limits (with a little slack for rounding)."""
    lo, hi = sorted(axis.get_view_interval())
    return [
        label.get_text()
        for at, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)
        if label.get_text() and lo * (1 - 1e-9) - 1e-12 <= at <= hi * (1 + 1e-9) + 1e-12
    ]


def test_plot_axes_in_percent_as_the_text_says(report):
    figures = _figures(report)
    gains = figures["gains"].axes[0]
    assert _labels(gains.xaxis)[-1] == "100 %" and _labels(gains.yaxis)[-1] == "100 %"
    rate, share = figures["rate"].axes
    assert all(label.endswith(" %") for label in _labels(rate.yaxis) + _labels(share.yaxis))
    assert "40 %" in _labels(rate.yaxis)
    monthly = figures["monthly"].axes[0]
    assert all(label.endswith(" %") for label in _labels(monthly.yaxis))
    reliability = figures["reliability"].axes[0]
    assert {"1 %", "10 %"} <= set(_labels(reliability.xaxis)) & set(_labels(reliability.yaxis))
    distribution = figures["distribution"].axes[0]
    assert all(label.endswith(" %") for label in _labels(distribution.yaxis))
    colorbar = figures["grid"].axes[1]
    assert all(label.endswith(" %") for label in _labels(colorbar.yaxis))


def test_drivers_axis_is_the_odds_multiplier_its_labels_name(report):
    ax = _figures(report)["drivers"].axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] == 1.0
    ticks = _labels(ax.xaxis)
    assert ticks[0] == "x1" and all(re.fullmatch(r"x\d+(\.\d+)?", t) for t in ticks)
    top = report["drivers"]["features"][:15][::-1]
    ends = sorted((bar.get_y(), bar.get_x() + bar.get_width()) for bar in ax.patches)
    factors = [np.exp(f["mean_abs_contribution"]) for f in top]
    assert [x for _, x in ends] == pytest.approx(factors)
    assert all(bar.get_x() == 1.0 for bar in ax.patches)  # each bar starts at x1
    shown = [t.get_text() for t in ax.texts]
    assert shown == [f"x{f:.2f}" for f in factors]
    # where a label says x2.43, the bar ends at 2.43 on the axis
    assert "log-odds" not in ax.get_xlabel() and "odds multiplier" in ax.get_xlabel()


def test_the_report_states_how_far_the_scoring_line_may_sit_from_the_target(
    report, written, trained
):
    line = trained.bundle.threshold
    lo, hi = line.realized_interval
    assert report["model"]["deployed_line_interval"] == [lo, hi]
    assert report["model"]["deployed_line_mqls"] == line.n_mql > 0
    assert lo < line.target_rate < hi  # the interval around a line chosen for the target
    said = " ".join(written["markdown"].read_text().split())
    assert (
        f"its {line.n_mql:,} MQLs among the leads it was chosen on converted at 90 % between "
        f"{percent(lo)} and {percent(hi)}"
    ) in said
